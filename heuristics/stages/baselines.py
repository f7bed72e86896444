"""Baselines: functions only, and VMs only sized for the peak.

``functions-only``: no VM, except at a stage whose functions cannot meet the SLO (there it must
use VMs: the peak seen so far + 25 %). ``vm-peak``: every stage runs VMs for the highest window
rate observed so far times its reach, rounded up -- the capacity-planning default; functions
only take what exceeds them (at the start, before any observation, that is everything).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from optgap.heuristics.stages.common import observed_rates, run_policy, safe_vms
from optgap.solvers.result import Result, SolveOptions


def _by_running_peak(inst, slo_ms: float, vms: Callable[[int, Any, float], int]) -> list[list[int]]:
    """VMs per stage and window from the highest rate observed so far (-inf before any): a stage
    whose functions cannot meet the SLO must use VMs (``safe_vms``); the others get
    ``vms(stage, stage plan, peak)``."""
    out = []
    for s, sp in enumerate(inst.plan(slo_ms).stages):
        obs = observed_rates(inst, inst.stage_vm(s).cold_start_s)
        row, peak = [], -np.inf
        for t in range(inst.n_windows):
            if np.isfinite(obs[t]):
                peak = max(peak, obs[t])
            if sp.fn_memory is None:
                row.append(safe_vms(inst, s, slo_ms, peak, inst.reach[s]))
            else:
                row.append(vms(s, sp, peak))
        out.append(row)
    return out


def functions_only_vms(inst, slo_ms: float) -> list[list[int]]:
    return _by_running_peak(inst, slo_ms, lambda s, sp, peak: 0)


def vm_peak_vms(inst, slo_ms: float) -> list[list[int]]:
    def vms(s: int, sp: Any, peak: float) -> int:
        if not sp.vm_ok or not np.isfinite(peak):
            return 0
        return math.ceil(peak * inst.reach[s] / sp.cap - 1e-12)

    return _by_running_peak(inst, slo_ms, vms)


def functions_only(inst, options: SolveOptions) -> Result:
    return run_policy(inst, options, "functions-only", functions_only_vms)


def vm_peak(inst, options: SolveOptions) -> Result:
    return run_policy(inst, options, "vm-peak", vm_peak_vms)
