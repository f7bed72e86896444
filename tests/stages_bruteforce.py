"""Brute force for tiny F3 instances: every VM count vector, costed from first principles.

Independent of the models and of the evaluator's code: only the planning quantities (SLO share,
utilisation cap, which memories fit: the problem's definition in ``StagesInstance.plan``) are
taken from the instance. Function memory: every fitting memory is tried (the cheapest wins).
"""

from __future__ import annotations

import itertools
import math


def vm_range(inst, s: int, slo_ms: float | None = None) -> int:
    """Enough VMs for stage s's peak window at the cap (more never lower the cost)."""
    sp = inst.plan(slo_ms).stages[s]
    if not sp.vm_ok:
        return 0
    peak = max(float(r) for r in inst.rates) * inst.reach[s]
    return math.ceil(peak / sp.cap) if peak else 0


def combinations(inst, vmax: int | None = None) -> int:
    """How many VM vectors the brute force would enumerate (per stage, or jointly with a quota)."""
    T = inst.n_windows
    sizes = [
        ((vmax if vmax is not None else vm_range(inst, s)) + 1) ** T
        for s in range(len(inst.stages))
    ]
    return math.prod(sizes) if inst.vm.max_total is not None else sum(sizes)


def brute_force(inst, slo_ms: float | None = None, vmax: int | None = None) -> float | None:
    """Least plan cost over all v in {0..V}^(stages x windows) (V: enough VMs for the peak at the
    cap, or ``vmax``); None if nothing is feasible."""
    plan = inst.plan(slo_ms)
    if plan.infeasible:
        return None
    S, T, W = len(inst.stages), inst.n_windows, inst.window_s
    lam = [[float(inst.rates[t]) * inst.reach[s] for t in range(T)] for s in range(S)]
    ranges = []
    for s in range(S):
        sp = plan.stages[s]
        if not sp.vm_ok:
            ranges.append([0])
            continue
        top = vmax if vmax is not None else vm_range(inst, s, slo_ms)
        ranges.append(list(range(top + 1)))

    def stage_cost(s: int, row: tuple[int, ...]) -> float:
        sp = plan.stages[s]
        vt = (
            inst.vm
            if inst.stages[s].vm_type == "default"
            else inst.vm_types[inst.stages[s].vm_type]
        )
        price = vt.price_per_hour / 3600.0
        vm = sum(
            price * (W * v + vt.cold_start_s * max(0, v - p))
            for p, v in zip((0,) + row[:-1], row, strict=True)
        )
        over = [max(0.0, lam[s][t] - sp.cap * row[t]) for t in range(T)]
        if not sp.fn_ok_memories:
            return (
                vm if all(x <= 1e-9 * max(1.0, lam[s][t]) for t, x in enumerate(over)) else math.inf
            )
        st = inst.stages[s]
        best = min(
            inst.functions.price_per_request
            + inst.functions.price_per_gb_s * m / 1024 * st.fn_ms[m] / 1000
            for m in sp.fn_ok_memories
        )
        return vm + best * W * sum(over)

    if inst.vm.max_total is None:  # stages separate
        total = 0.0
        for s in range(S):
            total += min(stage_cost(s, row) for row in itertools.product(ranges[s], repeat=T))
        return total if math.isfinite(total) else None
    rows = [
        [(row, stage_cost(s, row)) for row in itertools.product(ranges[s], repeat=T)]
        for s in range(S)
    ]
    best = math.inf
    for combo in itertools.product(*rows):
        if all(sum(r[0][t] for r in combo) <= inst.vm.max_total for t in range(T)):
            best = min(best, sum(r[1] for r in combo))
    return best if math.isfinite(best) else None
