"""CPOP — Critical Path On a Processor (Topcuoglu, Hariri, Wu; IEEE TPDS 13(3), 2002).

1. priority(i) = rank_u(i) + rank_d(i) (mean times and transfers, as in HEFT). The critical path
   (CP) is, as in the paper, the chain from the entry of highest priority that follows successors
   of equal priority (floats compared with a tolerance) down to an exit: |CP| = that priority.
   When several paths tie, one is followed.
2. The CP device is the one, among devices every CP operator may use, that minimises the CP
   operators' total time (ties: file order).
3. Ready operators are taken by priority (a ready queue: priorities need not decrease along
   edges); CP operators go to the CP device (its earliest slot, with insertion), the others to
   the device of earliest finish. Where no device may run the whole CP, or the CP device has no
   memory left for an operator, that operator too goes by earliest finish.
"""

from __future__ import annotations

import math

from optgap.formulations.dag.instance import DagInstance
from optgap.heuristics.dag.common import (
    Schedule,
    downward_rank,
    earliest_finish,
    list_schedule,
    ready_order,
    run_heuristic,
    upward_rank,
)
from optgap.solvers.result import Result, SolveOptions


def critical_path(inst: DagInstance, priority: dict[str, float]) -> list[str]:
    succ: dict[str, list[str]] = {o.id: [] for o in inst.operators}
    has_pred = set()
    for e in inst.edges:
        succ[e.src].append(e.dst)
        has_pred.add(e.dst)
    entries = [o.id for o in inst.operators if o.id not in has_pred]
    node = max(entries, key=lambda o: priority[o])
    cp_len = priority[node]
    path = [node]
    while succ[node]:
        on_cp = [
            j for j in succ[node] if math.isclose(priority[j], cp_len, rel_tol=1e-9, abs_tol=1e-6)
        ]
        if not on_cp:
            break
        node = max(on_cp, key=lambda j: priority[j])
        path.append(node)
    return path


def cpop_schedule(inst: DagInstance) -> Schedule:
    allowed = inst.allowed
    up, down = upward_rank(inst, allowed), downward_rank(inst, allowed)
    priority = {o: up[o] + down[o] for o in up}
    cp = set(critical_path(inst, priority))
    ops = {o.id: o for o in inst.operators}
    common = [d for d in inst.devices if all(d in allowed(ops[o]) for o in cp)]
    cp_device = min(
        common, key=lambda d: sum(inst.duration_us(ops[o], d) for o in cp), default=None
    )
    eft = earliest_finish(inst)

    def choose(op, options):
        if op.id in cp and cp_device in options:
            return cp_device
        return eft(op, options)

    return list_schedule(inst, ready_order(inst, priority), choose, allowed)


def cpop(inst: DagInstance, options: SolveOptions) -> Result:
    return run_heuristic(lambda: cpop_schedule(inst), inst, options)
