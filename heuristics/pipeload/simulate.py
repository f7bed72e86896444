"""An event-driven simulation of loading agents and one inference agent, shared by every F4
heuristic (they differ in the rules given to it).

Rules: loads are issued in layer order; load i starts at the first decision time (µs grid) when
an agent is free, the memory fits (fixed + held + mem_i <= cap, where a layer is held from its
load start until its run ends, or to the end if ``free`` is off) and, for ``one_at_a_time``,
the previous run has ended. Runs start as soon as their layer is loaded and the previous run has
ended (or, for ``run_after_all``, once every load has ended). With a shared disk the loads in
progress read at their solo rates scaled by min(1, disk / sum of rates); their ends are exact
rationals and whatever waits for them starts on the next µs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from optgap.formulations.pipeload.instance import (
    PipeloadInstance,
    below_latency_bound,
    below_minimum,
    latency_bound_us,
    latency_lower_bound_us,
    params,
    schedule_solution,
)
from optgap.solvers.result import Result, SolveOptions, Status


class HeuristicFailure(Exception):
    """The rules cannot place a load (memory never fits); the message says why."""


@dataclass
class Schedule:
    k: int
    load_start: list[int]
    load_end: list[Fraction]
    run_start: list[int]
    agent: list[int]
    run_end: list[int]
    peak_kb: int

    @property
    def latency_us(self) -> int:
        return self.run_end[-1]


def simulate(
    inst: PipeloadInstance,
    k: int,
    cap_kb: int | None,
    *,
    free: bool = True,
    one_at_a_time: bool = False,
    run_after_all: bool = False,
) -> Schedule:
    layers = inst.layers
    n = len(layers)
    fixed = inst.fixed_kb(k)
    cap = math.inf if cap_kb is None else cap_kb
    disk = inst.disk_kb_per_us
    ls = [0] * n
    le: list[Fraction | None] = [None] * n
    rs = [0] * n
    re: list[int | None] = [None] * n
    agent = [0] * n
    agent_free = [0] * k  # µs at which each agent may start its next load
    active: dict[int, Fraction] = {}  # loads in progress: kB still to read
    rate = {i: Fraction(x.mem_kb, x.load_us) for i, x in enumerate(layers) if x.load_us > 0}
    # a load of nothing asks nothing of the disk: it takes its profiled time, like no disk
    shares_disk = [disk is not None and x.load_us > 0 and x.mem_kb > 0 for x in layers]
    held: dict[int, float] = {}  # layer -> release time (inf until its run is placed / never)
    held_kb = peak = 0
    nxt_load = nxt_run = 0
    t = 0
    while nxt_run < n:
        progress = True
        while progress:
            progress = False
            # release what has been freed by now
            for i in [i for i, r in held.items() if r <= t]:
                held_kb -= layers[i].mem_kb
                del held[i]
            # the next run first: at one instant memory is freed before it is taken
            i = nxt_run
            ready = le[i] is not None and le[i] <= t
            if run_after_all:
                ready = nxt_load == n and all(e is not None and e <= t for e in le)
            if ready and (i == 0 or re[i - 1] <= t):
                rs[i] = t
                re[i] = t + layers[i].compute_us
                if free:
                    held[i] = re[i]
                nxt_run += 1
                if nxt_run >= n:
                    break
                progress = True
                continue  # release a zero-time run's layer before any load at this instant
            # loads, in layer order
            while nxt_load < n:
                i = nxt_load
                a = min(range(k), key=lambda j: (agent_free[j], j))
                if agent_free[a] > t or fixed + held_kb + layers[i].mem_kb > cap:
                    break
                if one_at_a_time and i > 0 and (re[i - 1] is None or re[i - 1] > t):
                    break
                ls[i], agent[i] = t, a
                held[i] = math.inf
                held_kb += layers[i].mem_kb
                peak = max(peak, held_kb)
                if layers[i].load_us == 0:
                    le[i] = Fraction(t)
                elif not shares_disk[i]:
                    le[i] = Fraction(t + layers[i].load_us)
                    agent_free[a] = t + layers[i].load_us
                else:
                    active[i] = Fraction(layers[i].mem_kb)
                    agent_free[a] = math.inf  # known when the load ends
                nxt_load += 1
                progress = True
        if nxt_run >= n:
            break
        # the next decision time: a run ends, an agent frees, a load ends (rounded up)
        cands = [r for r in held.values() if t < r < math.inf]
        cands += [f for f in agent_free if t < f < math.inf]
        cands += [math.ceil(e) for e in le if e is not None and e > t]
        if nxt_run > 0 and re[nxt_run - 1] > t:
            cands.append(re[nxt_run - 1])
        if active:
            cands.append(math.ceil(t + _first_end(active, rate, disk)))
        if not cands:
            i = nxt_load
            raise HeuristicFailure(
                f"memory never fits layer {layers[i].name} ({layers[i].mem_kb / 1000:g} MB) "
                f"with {held_kb / 1000:g} MB held and {fixed / 1000:g} MB fixed, cap "
                f"{cap / 1000:g} MB"
            )
        t_next = min(cands)
        if active:
            _advance(active, rate, disk, Fraction(t), Fraction(t_next), le, agent, agent_free)
        t = t_next
    return Schedule(k, ls, [Fraction(e) for e in le], rs, agent, [int(r) for r in re], fixed + peak)


def _factor(active: dict[int, Fraction], rate: dict[int, Fraction], disk: Fraction) -> Fraction:
    return min(Fraction(1), disk / sum(rate[i] for i in active))


def _first_end(active, rate, disk) -> Fraction:
    f = _factor(active, rate, disk)
    return min(active[i] / (rate[i] * f) for i in active)


def _advance(active, rate, disk, t: Fraction, t_end: Fraction, le, agent, agent_free) -> None:
    """Progress the shared-disk loads from t to t_end, ending those that finish on the way."""
    while active and t < t_end:
        f = _factor(active, rate, disk)
        step = min(min(active[i] / (rate[i] * f) for i in active), t_end - t)
        t += step
        for i in list(active):
            active[i] -= rate[i] * f * step
            if active[i] <= 0:
                le[i] = t
                agent_free[agent[i]] = math.ceil(t)
                del active[i]


# ------------------------------------------------------------------------------ results


def latency_result(inst: PipeloadInstance, options: SolveOptions, run) -> Result:
    """Latency objective: ``run(cap_kb) -> Schedule`` under the budget in force."""
    p = params(inst, options)
    budget = p.budget_kb
    if budget is not None and budget < inst.min_budget_kb():
        return Result("", "", "python", Status.INFEASIBLE, message=below_minimum(inst, budget))
    try:
        s = run(budget)
    except HeuristicFailure as e:
        return Result("", "", "python", Status.ERROR, message=str(e))
    if budget is not None and s.peak_kb > budget:
        return Result(
            "",
            "",
            "python",
            Status.ERROR,
            message=f"needs {s.peak_kb / 1000:g} MB, above the budget {budget / 1000:g} MB",
        )
    budget_mb = None if budget is None else budget / 1000
    return Result(
        "",
        "",
        "python",
        Status.FEASIBLE,
        objective=s.latency_us / 1000,
        solution=schedule_solution(inst, "latency", s, {"budget_mb": budget_mb}),
        stats={"agents": s.k, "peak_mb": s.peak_kb / 1000, "latency_ms": s.latency_us / 1000},
    )


def memory_result(inst: PipeloadInstance, options: SolveOptions, run) -> Result:
    """Memory objective: ``run(bound_us) -> Schedule`` meeting the latency bound."""
    bound = latency_bound_us(inst, params(inst, options))
    if bound < latency_lower_bound_us(inst):
        return Result("", "", "python", Status.INFEASIBLE, message=below_latency_bound(inst, bound))
    try:
        s = run(bound)
    except HeuristicFailure as e:
        return Result("", "", "python", Status.ERROR, message=str(e))
    if s.latency_us > bound:
        return Result(
            "",
            "",
            "python",
            Status.ERROR,
            message=f"latency {s.latency_us / 1000:g} ms exceeds the bound {bound / 1000:g} ms",
        )
    return Result(
        "",
        "",
        "python",
        Status.FEASIBLE,
        objective=s.peak_kb / 1000,
        solution=schedule_solution(inst, "memory", s, {"latency_bound_ms": bound / 1000}),
        stats={"agents": s.k, "peak_mb": s.peak_kb / 1000, "latency_ms": s.latency_us / 1000},
    )


def most_agents(inst: PipeloadInstance, options: SolveOptions) -> int:
    """``--param k=`` if given, else the most agents whose buffers leave room under the budget
    for the largest layer (the instance's maximum when there is no budget)."""
    p = params(inst, options)
    if p.k is not None:
        return p.k
    budget = p.budget_kb if options.objective != "memory" else None
    biggest = max(x.mem_kb for x in inst.layers)
    fits = [k for k in inst.agents_range if budget is None or inst.fixed_kb(k) + biggest <= budget]
    return max(fits, default=inst.k_min)
