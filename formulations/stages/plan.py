"""What every F3 method shares: the plan's cost under the planning model and the solution dict.

(The evaluator recomputes both on its own; this module is for models and heuristics.)
"""

from __future__ import annotations

import math

from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions


def check_params(options: SolveOptions, allowed: tuple[str, ...] = ()) -> None:
    for key, _ in options.params:
        if key not in allowed:
            known = ", ".join(allowed) if allowed else "none"
            raise InputError(f"--param {key}: unknown for this stages method (known: {known})")


def fn_traffic(inst, s: int, t: int, v: int, slo_ms: float) -> float:
    """Req/s stage s sends to functions in window t with v VMs: what exceeds their capped load."""
    sp = inst.plan(slo_ms).stages[s]
    return max(0.0, float(inst.rates[t]) * inst.reach[s] - sp.cap * v)


def plan_cost(inst, vms: list[list[int]], slo_ms: float) -> float:
    """The planning model's cost of VM counts (functions at each stage's cheapest fitting memory)."""
    plan = inst.plan(slo_ms)
    W = inst.window_s
    total = 0.0
    for s, row in enumerate(vms):
        prev = 0
        unit = plan.stages[s].fn_cost
        per_s, boot = inst.vm_price_s(s), inst.stage_vm(s).cold_start_s
        for t, v in enumerate(row):
            total += per_s * (W * v + boot * max(0, v - prev))
            total += unit * W * fn_traffic(inst, s, t, v, slo_ms)
            prev = v
    return total


def solution(inst, vms: list[list[int]], slo_ms: float, policy: str) -> dict:
    plan = inst.plan(slo_ms)
    shares = []
    for s, row in enumerate(vms):
        out = []
        for t, v in enumerate(row):
            lam = float(inst.rates[t]) * inst.reach[s]
            out.append(fn_traffic(inst, s, t, v, slo_ms) / lam if lam > 0 else 0.0)
        shares.append(out)
    return {
        "policy": policy,
        "mode": "stages",
        "slo_ms": slo_ms,
        "window_s": inst.window_s,
        "vms": [[int(v) for v in row] for row in vms],
        "memory_mb": [sp.fn_memory for sp in plan.stages],
        "fn_share": shares,
    }


def slo_of(inst, options: SolveOptions) -> float:
    return float(options.slo_ms) if options.slo_ms is not None else inst.slo_ms


def max_useful_vms(inst, s: int, slo_ms: float) -> int:
    """More VMs than carry the stage's peak at the cap never lower the cost (nor help a quota)."""
    sp = inst.plan(slo_ms).stages[s]
    if not sp.vm_ok or sp.cap <= 0:
        return 0
    peak = float(inst.rates.max()) * inst.reach[s]
    return math.ceil(peak / sp.cap) if peak > 0 else 0
