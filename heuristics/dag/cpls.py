"""Critical-path list scheduling ("cpls"): the classic list scheduler on bottom levels.

priority(i) = bottom level with each operator's fastest time and free transfers:
bl(i) = min_d p(i, d) + max over successors bl(j). Operators by decreasing bl; each goes where
it can *start* earliest (ties: earliest finish), appended after the device's last operator (no
insertion). It differs from HEFT in the rank (optimistic, no averages), the device rule (start,
not finish) and the lack of insertion — the textbook baseline HEFT improved on.
"""

from __future__ import annotations

from optgap.formulations.dag.instance import DagInstance
from optgap.heuristics.dag.common import (
    Schedule,
    list_schedule,
    priority_order,
    run_heuristic,
    topological_ids,
)
from optgap.solvers.result import Result, SolveOptions


def bottom_levels(inst: DagInstance) -> dict[str, int]:
    ops = {o.id: o for o in inst.operators}
    succ: dict[str, list[str]] = {o: [] for o in ops}
    for e in inst.edges:
        succ[e.src].append(e.dst)
    bl: dict[str, int] = {}
    for op_id in reversed(topological_ids(inst)):
        fastest = min(inst.duration_us(ops[op_id], d) for d in inst.allowed(ops[op_id]))
        bl[op_id] = fastest + max((bl[j] for j in succ[op_id]), default=0)
    return bl


def cpls_schedule(inst: DagInstance) -> Schedule:
    position = {d.id: i for i, d in enumerate(inst.devices)}

    def choose(op, options):
        return min(
            options,
            key=lambda d: (options[d][0], options[d][0] + inst.duration_us(op, d), position[d.id]),
        )

    return list_schedule(
        inst, priority_order(inst, bottom_levels(inst)), choose, inst.allowed, insertion=False
    )


def cpls(inst: DagInstance, options: SolveOptions) -> Result:
    return run_heuristic(lambda: cpls_schedule(inst), inst, options)
