"""SERFLOW-style stage-wise cost-indifference policy, and its stage-agnostic ablation.

Cost indifference: a VM costs p per second; the traffic r it takes off functions would cost
c_s r per second (c_s: $ per query at the stage's cheapest fitting memory). So the i-th VM of a
stage pays off iff the load it would carry, min(κ_s, λ̂_s - (i-1) κ_s), reaches the indifference
rate r* = p / c_s -- or p (1 + k/W) / c_s for a VM that must be launched (its boot of k seconds
amortised over the window). λ̂_s = r_s λ̂: the forecast (the last observed window's rate, or with
``--param forecast=trend`` its linear extrapolation to the target window) times
the fraction of queries that reach the stage -- SERFLOW's stage-wise provisioning. Functions take
whatever exceeds the VMs' capped load (the balancer does this by ingestion rate).

``stage-agnostic`` applies the same rule with r_s = 1 at every stage: each stage provisioned for
all traffic, as a uniform configuration that ignores early exits.
"""

from __future__ import annotations

import numpy as np
from optgap.heuristics.stages.common import (
    FORECASTS,
    forecast_rates,
    observed_rates,
    run_policy,
    safe_vms,
)
from optgap.solvers.errors import InputError
from optgap.solvers.result import Result, SolveOptions


def indifference_vms(inst, s: int, slo_ms: float, rate: float, prev: int) -> int:
    """VMs whose marginal load beats the indifference rate (``prev``: VMs already running)."""
    sp = inst.plan(slo_ms).stages[s]
    if not sp.vm_ok or rate <= 0 or sp.fn_memory is None:
        return 0
    per_s = inst.vm_price_s(s)
    boot = inst.stage_vm(s).cold_start_s / inst.window_s
    v = 0
    while True:
        load = min(sp.cap, rate - v * sp.cap)
        if load <= 0:
            return v
        need = per_s * (1.0 + (boot if v + 1 > prev else 0.0))  # $/s the VM must save
        if sp.fn_cost * load < need:
            return v
        v += 1


def _policy(stagewise: bool, forecast: str = "last"):
    def policy(inst, slo_ms: float) -> list[list[int]]:
        plan = inst.plan(slo_ms)
        out = []
        for s in range(len(inst.stages)):
            cold = inst.stage_vm(s).cold_start_s
            obs = observed_rates(inst, cold)
            guess = forecast_rates(inst, forecast, cold)
            reach = inst.reach[s] if stagewise else 1.0
            row, prev, peak = [], 0, -np.inf
            for t in range(inst.n_windows):
                if np.isfinite(obs[t]):
                    peak = max(peak, obs[t])
                if plan.stages[s].fn_memory is None:
                    v = safe_vms(inst, s, slo_ms, peak, reach)
                elif np.isfinite(guess[t]):
                    v = indifference_vms(inst, s, slo_ms, guess[t] * reach, prev)
                else:
                    v = 0
                row.append(v)
                prev = v
            out.append(row)
        return out

    return policy


def serflow_vms(inst, slo_ms: float) -> list[list[int]]:
    return _policy(True)(inst, slo_ms)


def _forecast(options: SolveOptions) -> str:
    kind = options.param("forecast", "last")
    if kind not in FORECASTS:
        raise InputError(f"--param forecast={kind}: expected one of {', '.join(FORECASTS)}")
    return kind


def serflow(inst, options: SolveOptions) -> Result:
    """``--param forecast=last|trend`` (default last)."""
    kind = _forecast(options)
    return run_policy(inst, options, "serflow", _policy(True, kind), ("forecast",))


def stage_agnostic(inst, options: SolveOptions) -> Result:
    """``--param forecast=last|trend`` (default last)."""
    kind = _forecast(options)
    return run_policy(inst, options, "stage-agnostic", _policy(False, kind), ("forecast",))
