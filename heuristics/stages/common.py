"""What the F3 online policies share: what a policy may observe, and the result wrapper.

Online means: the VMs serving window t are launched ``cold_start_s`` before t starts, so the
policy decides them at time ``t W - cold_start_s`` and sees only the per-second arrivals before
that instant (``cold_start_s`` of the stage's VM type: with per-stage types, each stage has its
own decision instants). :func:`observed_rates` gives, per window, the mean rate of the last W
seconds before its decision instant (NaN when nothing has been observed yet). A policy may also use the
instance's static profile: service times, exit probabilities (hence each stage's reach), prices
and the planning model's caps and memories (:meth:`StagesInstance.plan`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from optgap.formulations.stages.plan import check_params, plan_cost, slo_of, solution
from optgap.solvers.result import Result, SolveOptions, Status


def observed_rates(inst, cold_start_s: float | None = None) -> np.ndarray:
    """Per window, what a policy whose VMs boot in ``cold_start_s`` (default: the default VM
    type's) has seen at its decision instant."""
    cold = inst.vm.cold_start_s if cold_start_s is None else cold_start_s
    W = inst.window_s
    csum = np.concatenate(([0], np.cumsum(inst.per_second)))
    out = np.full(inst.n_windows, np.nan)
    for t in range(inst.n_windows):
        end = int(math.floor(t * W - cold))
        if end <= 0:
            continue
        start = max(0, end - W)
        out[t] = (csum[end] - csum[start]) / (end - start)
    return out


FORECASTS = ("last", "trend")


def forecast_rates(inst, kind: str = "last", cold_start_s: float | None = None) -> np.ndarray:
    """Per window, the rate a policy expects (NaN before any observation).

    ``last``: the last observed rate. ``trend``: that rate extrapolated linearly from the two
    last observations (W seconds apart) to the middle of the target window, cold_start_s + W
    seconds after the middle of the last observation; never below 0."""
    cold = inst.vm.cold_start_s if cold_start_s is None else cold_start_s
    obs = observed_rates(inst, cold)
    if kind == "last":
        return obs
    lead = (cold + inst.window_s) / inst.window_s
    out = obs.copy()
    for t in range(1, len(obs)):
        if np.isfinite(obs[t]) and np.isfinite(obs[t - 1]):
            out[t] = max(0.0, obs[t] + (obs[t] - obs[t - 1]) * lead)
    return out


def safe_vms(inst, s: int, slo_ms: float, peak_so_far: float, reach: float) -> int:
    """VMs for a stage whose functions cannot meet the SLO: the peak rate seen so far plus 25 %
    headroom (an online policy has no fallback there; the evaluator judges the result)."""
    sp = inst.plan(slo_ms).stages[s]
    if not sp.vm_ok or not np.isfinite(peak_so_far):
        return 0
    return math.ceil(1.25 * peak_so_far * reach / sp.cap - 1e-12)


Policy = Callable[[object, float], list[list[int]] | None]


def run_policy(
    inst, options: SolveOptions, name: str, policy: Policy, allowed: tuple[str, ...] = ()
) -> Result:
    check_params(options, allowed)
    slo = slo_of(inst, options)
    plan = inst.plan(slo)
    if plan.infeasible:
        return Result("", "", "python", Status.INFEASIBLE, message=plan.infeasible)
    vms = policy(inst, slo)
    mt = inst.vm.max_total
    if mt is not None:  # cut each window down to the quota: first where functions can take
        # the traffic (the largest such stage first), stages without usable functions last
        for t in range(inst.n_windows):
            while sum(vms[s][t] for s in range(len(vms))) > mt:
                s = max(
                    (q for q in range(len(vms)) if vms[q][t] > 0),
                    key=lambda q: (plan.stages[q].fn_memory is not None, vms[q][t]),
                )
                vms[s][t] -= 1
    return Result(
        "",
        "",
        "python",
        Status.FEASIBLE,
        objective=plan_cost(inst, vms, slo),
        solution=solution(inst, vms, slo, name),
    )
