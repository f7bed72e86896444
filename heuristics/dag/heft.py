"""HEFT — Heterogeneous Earliest Finish Time (Topcuoglu, Hariri, Wu; IEEE TPDS 13(3), 2002).

1. rank_u(i) = mean_d w(i, d) + max over successors j of (mean transfer(i, j) + rank_u(j)).
2. Take operators by decreasing rank_u; put each on the device (and slot) where it finishes
   earliest, inserting into idle gaps between already scheduled operators.

``devices`` restricts the device set: the GPU-only and CPU-only baselines are HEFT on one kind.
"""

from __future__ import annotations

from optgap.formulations.dag.instance import DagInstance, Device, Operator
from optgap.heuristics.dag.common import (
    Schedule,
    earliest_finish,
    list_schedule,
    priority_order,
    run_heuristic,
    upward_rank,
)
from optgap.solvers.result import Result, SolveOptions


def heft_schedule(inst: DagInstance, kind: str | None = None) -> Schedule:
    """HEFT on all devices, or only on devices of ``kind`` where an operator can use one."""

    def allowed(op: Operator) -> list[Device]:
        every = inst.allowed(op)
        if kind is None:
            return every
        same = [d for d in every if d.kind == kind]
        return same or every  # an operator the kind cannot run falls back to what it can

    rank = upward_rank(inst, allowed)
    return list_schedule(inst, priority_order(inst, rank), earliest_finish(inst), allowed)


def heft(inst: DagInstance, options: SolveOptions) -> Result:
    return run_heuristic(lambda: heft_schedule(inst), inst, options)


def gpu_only(inst: DagInstance, options: SolveOptions) -> Result:
    """Chrion's baseline: every operator on the GPU(s); operators a GPU cannot run stay on CPU."""
    return run_heuristic(lambda: heft_schedule(inst, "gpu"), inst, options)


def cpu_only(inst: DagInstance, options: SolveOptions) -> Result:
    return run_heuristic(lambda: heft_schedule(inst, "cpu"), inst, options)
