"""The baselines Hermes measures PIPELOAD against, on the same simulator.

- ``pipeswitch``: the pipeline baseline (PipeSwitch-style pipelined loading): the fewest agents
  the instance allows (PipeSwitch has one loading stream), loads back to back in layer order,
  each layer runs as soon as it is loaded, and nothing is freed: the whole model ends resident.
- ``load-all``: k agents (``--param k=`` or the most that fit the budget) load the whole model in layer
  order, then the layers run; the whole model resident, no overlap of loading and compute.
- ``one-at-a-time``: load a layer, run it, free it, then load the next (fewest agents): the
  least memory any schedule can use (resident + agents + the largest layer), the most latency.
"""

from __future__ import annotations

from optgap.formulations.pipeload.instance import PipeloadInstance, params
from optgap.heuristics.pipeload.simulate import latency_result, memory_result, most_agents, simulate
from optgap.solvers.result import Result, SolveOptions, Status


def _baseline(inst: PipeloadInstance, options: SolveOptions, k: int, **rules) -> Result:
    if options.objective == "memory":
        r = memory_result(inst, options, lambda _bound: simulate(inst, k, None, **rules))
    else:
        budget = params(inst, options).budget_kb
        whole = inst.fixed_kb(k) + inst.model_kb
        if budget is not None and not rules.get("free", True) and whole > budget:
            return Result(
                "",
                "",
                "python",
                Status.ERROR,
                message=f"keeps the whole model: {whole / 1000:g} MB with {k} agent(s), above "
                f"the budget {budget / 1000:g} MB",
            )
        r = latency_result(inst, options, lambda cap: simulate(inst, k, cap, **rules))
    if r.solution is not None and not rules.get("free", True):
        r.solution["free_after_run"] = False  # nothing is freed: the evaluator holds to the end
    return r


def pipeswitch(inst: PipeloadInstance, options: SolveOptions) -> Result:
    return _baseline(inst, options, inst.k_min, free=False)


def load_all(inst: PipeloadInstance, options: SolveOptions) -> Result:
    k = most_agents(inst, options)
    return _baseline(inst, options, k, free=False, run_after_all=True)


def one_at_a_time(inst: PipeloadInstance, options: SolveOptions) -> Result:
    return _baseline(inst, options, inst.k_min, one_at_a_time=True)
