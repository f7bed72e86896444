"""LIBRA-style smoothing (the predecessor of SERFLOW): VMs for the smoothed load, functions for
the bursts above it.

The forecast is an exponentially weighted moving average (α = 0.3) of the observed window rates;
every stage gets ⌊smoothed / κ_s + 1/2⌋ VMs for the *whole* arrival rate, since LIBRA serves
the model as one unit and has no notion of early exits (it is stage-agnostic by construction).
Bursts above the VMs' capped load go to functions.
"""

from __future__ import annotations

import math

import numpy as np
from optgap.heuristics.stages.common import observed_rates, run_policy, safe_vms
from optgap.solvers.result import Result, SolveOptions

ALPHA = 0.3


def smoothed(obs: np.ndarray) -> tuple[list[float], list[float]]:
    """EWMA level and running peak of the observed rates (NaN / -inf before any observation)."""
    smooth, peaks, level, peak = [], [], math.nan, -np.inf
    for x in obs:
        if np.isfinite(x):
            level = x if math.isnan(level) else ALPHA * x + (1 - ALPHA) * level
            peak = max(peak, x)
        smooth.append(level)
        peaks.append(peak)
    return smooth, peaks


def libra_vms(inst, slo_ms: float) -> list[list[int]]:
    plan = inst.plan(slo_ms)
    out = []
    for s, sp in enumerate(plan.stages):
        smooth, peaks = smoothed(observed_rates(inst, inst.stage_vm(s).cold_start_s))
        row = []
        for t in range(inst.n_windows):
            if sp.fn_memory is None:
                row.append(safe_vms(inst, s, slo_ms, peaks[t], 1.0))
            elif not sp.vm_ok or math.isnan(smooth[t]):
                row.append(0)
            else:
                row.append(math.floor(smooth[t] / sp.cap + 0.5))
        out.append(row)
    return out


def libra(inst, options: SolveOptions) -> Result:
    return run_policy(inst, options, "libra", libra_vms)
