"""Baselines: functions only, and VMs only sized for the peak.

``functions-only``: no VM, except at a stage whose functions cannot meet the SLO (there it must
use VMs: the peak seen so far + 25 %). ``vm-peak``: every stage runs VMs for the highest window
rate observed so far times its reach, rounded up -- the capacity-planning default; functions
only take what exceeds them (at the start, before any observation, that is everything).
"""

from __future__ import annotations

import math

import numpy as np

from heuristics.stages.common import observed_rates, run_policy, safe_vms
from solvers.result import Result, SolveOptions


def functions_only_vms(inst, slo_ms: float) -> list[list[int]]:
    obs = observed_rates(inst)
    plan = inst.plan(slo_ms)
    out = []
    for s, sp in enumerate(plan.stages):
        row, peak = [], -np.inf
        for t in range(inst.n_windows):
            if np.isfinite(obs[t]):
                peak = max(peak, obs[t])
            row.append(
                safe_vms(inst, s, slo_ms, peak, inst.reach[s]) if sp.fn_memory is None else 0
            )
        out.append(row)
    return out


def vm_peak_vms(inst, slo_ms: float) -> list[list[int]]:
    obs = observed_rates(inst)
    plan = inst.plan(slo_ms)
    out = []
    for s, sp in enumerate(plan.stages):
        row, peak = [], -np.inf
        for t in range(inst.n_windows):
            if np.isfinite(obs[t]):
                peak = max(peak, obs[t])
            if sp.fn_memory is None:
                row.append(safe_vms(inst, s, slo_ms, peak, inst.reach[s]))
            elif not sp.vm_ok or not np.isfinite(peak):
                row.append(0)
            else:
                row.append(math.ceil(peak * inst.reach[s] / sp.cap - 1e-12))
        out.append(row)
    return out


def functions_only(inst, options: SolveOptions) -> Result:
    return run_policy(inst, options, "functions-only", functions_only_vms)


def vm_peak(inst, options: SolveOptions) -> Result:
    return run_policy(inst, options, "vm-peak", vm_peak_vms)
