"""PEFT — Predict Earliest Finish Time (Arabnejad & Barbosa, IEEE TPDS 25(3), 2014).

Optimistic cost table, for every operator i and device p (OCT = 0 at exits):
    OCT(i, p) = max over successors j of  min over devices q of
                [OCT(j, q) + w(j, q) + c̄(i, j) · (p ≠ q)]
with c̄ the mean transfer cost of the edge over device pairs. rank_oct(i) = mean_p OCT(i, p).
Ready operators are taken by decreasing rank_oct; each goes to the device minimising
EFT(i, p) + OCT(i, p) (insertion-based EFT): a one-step look-ahead that HEFT lacks.
"""

from __future__ import annotations

from optgap.formulations.dag.instance import DagInstance
from optgap.heuristics.dag.common import (
    Schedule,
    list_schedule,
    mean_transfer,
    ready_order,
    run_heuristic,
    topological_ids,
)
from optgap.solvers.result import Result, SolveOptions


def optimistic_cost_table(inst: DagInstance) -> dict[tuple[str, str], float]:
    ops = {o.id: o for o in inst.operators}
    succ: dict[str, list] = {o: [] for o in ops}
    for e in inst.edges:
        succ[e.src].append(e)
    oct_: dict[tuple[str, str], float] = {}
    for i in reversed(topological_ids(inst)):
        for p in inst.allowed(ops[i]):
            worst = 0.0
            for e in succ[i]:
                j = ops[e.dst]
                c = mean_transfer(inst, e.bytes, inst.allowed(ops[i]), inst.allowed(j))
                best = min(
                    oct_[j.id, q.id] + inst.duration_us(j, q) + (c if q.id != p.id else 0.0)
                    for q in inst.allowed(j)
                )
                worst = max(worst, best)
            oct_[i, p.id] = worst
    return oct_


def peft_schedule(inst: DagInstance) -> Schedule:
    oct_ = optimistic_cost_table(inst)
    rank = {
        o.id: sum(oct_[o.id, p.id] for p in inst.allowed(o)) / len(inst.allowed(o))
        for o in inst.operators
    }
    position = {d.id: i for i, d in enumerate(inst.devices)}

    def choose(op, options):
        return min(
            options,
            key=lambda d: (
                options[d][0] + inst.duration_us(op, d) + oct_[op.id, d.id],
                position[d.id],
            ),
        )

    return list_schedule(inst, ready_order(inst, rank), choose, inst.allowed)


def peft(inst: DagInstance, options: SolveOptions) -> Result:
    return run_heuristic(lambda: peft_schedule(inst), inst, options)
