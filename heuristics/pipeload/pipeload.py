"""PIPELOAD (Hermes, arXiv 2409.04249) and its planner's search for the number of agents.

PIPELOAD: k loading agents issue loads in layer order; a load starts when an agent is free and
the layer fits in memory (resident + agents + held layers + this layer <= budget); the inference
agent runs each layer as soon as it is loaded and the previous one has run; a daemon frees the
layer right after its run. Latency objective: the budget in force caps memory. Memory
objective: the least budget (binary search on the kB grid) whose PIPELOAD schedule meets the
latency bound — the simulated latency is not always monotone in the budget, so this is a
heuristic answer, never a claim of optimality.

Planner: Hermes profiles the layers and picks the number of agents for the memory limit; here
it simulates PIPELOAD for every k of the instance's range and keeps the fastest schedule (ties:
less memory) — or, in the memory objective, the one with the least peak that meets the bound.
"""

from __future__ import annotations

from optgap.formulations.pipeload.instance import PipeloadInstance
from optgap.heuristics.pipeload.simulate import (
    HeuristicFailure,
    Schedule,
    latency_result,
    memory_result,
    most_agents,
    simulate,
)
from optgap.solvers.result import Result, SolveOptions


def pipeload_schedule(inst: PipeloadInstance, k: int, cap_kb: int | None) -> Schedule:
    return simulate(inst, k, cap_kb)


def least_budget(inst: PipeloadInstance, k: int, bound_us: int) -> Schedule:
    """The PIPELOAD schedule of the least budget (kB) whose latency meets the bound."""
    hi = inst.fixed_kb(k) + inst.model_kb  # no memory pressure at all
    best = simulate(inst, k, hi)
    if best.latency_us > bound_us:
        return best  # the caller reports the bound as missed
    lo = inst.fixed_kb(k) + max(x.mem_kb for x in inst.layers)
    while lo < hi:  # invariant: budget hi meets the bound
        mid = (lo + hi) // 2
        s = simulate(inst, k, mid)
        if s.latency_us <= bound_us:
            hi, best = min(mid, s.peak_kb), s
        else:
            lo = mid + 1
    return best


def pipeload(inst: PipeloadInstance, options: SolveOptions) -> Result:
    """PIPELOAD with k agents: ``--param k=`` or the most agents that fit the budget."""
    k = most_agents(inst, options)
    if options.objective == "memory":
        return memory_result(inst, options, lambda bound: least_budget(inst, k, bound))
    return latency_result(inst, options, lambda cap: simulate(inst, k, cap))


def planner(inst: PipeloadInstance, options: SolveOptions) -> Result:
    """Hermes's planner: PIPELOAD for every k of the range, the best kept."""
    ks = list(inst.agents_range)
    if options.objective == "memory":

        def run_memory(bound: int) -> Schedule:
            tried = [least_budget(inst, k, bound) for k in ks]
            ok = [s for s in tried if s.latency_us <= bound]
            return min(ok or tried, key=lambda s: (s.peak_kb, s.latency_us, s.k))

        return memory_result(inst, options, run_memory)

    def run_latency(cap: int | None) -> Schedule:
        tried = []
        for k in ks:
            if cap is not None and inst.fixed_kb(k) + max(x.mem_kb for x in inst.layers) > cap:
                continue  # this many agents' buffers leave no room for the largest layer
            try:
                tried.append(simulate(inst, k, cap))
            except HeuristicFailure:
                continue
        if not tried:
            raise HeuristicFailure("no number of agents fits the budget")
        return min(tried, key=lambda s: (s.latency_us, s.peak_kb, s.k))

    return latency_result(inst, options, run_latency)
