"""Greedy GPU-memory offload for Chrion's memory-optimal pattern (min GPU memory, makespan ≤ SLO).

Start from the GPU-only placement (or HEFT's, if GPU-only misses the SLO). A move sends one GPU
operator to a non-GPU device it may use; its value is the memory saved per microsecond of slack
lost when the fixed placement is re-scheduled (HEFT order, insertion); a move that costs no time
ranks first (ties: more memory). Apply the best move that keeps makespan ≤ SLO; stop when none
does.

Values are kept in a heap and evaluated lazily (Minoux's accelerated greedy): the top move is
re-scheduled under the current placement and applied if it still beats the next stale value,
else pushed back with its fresh value. Values can rise as well as fall here, so this is an
approximation of the plain greedy, not a replay of it; moves that missed the SLO are retried
once the heap runs dry. Typical cost: a few list schedules per applied move (stats report them).
"""

from __future__ import annotations

import heapq
import math

from formulations.dag.instance import DagInstance, slo_us
from heuristics.dag.common import (
    HeuristicFailure,
    Schedule,
    fixed_placement_schedule,
    heuristic_result,
)
from heuristics.dag.heft import heft_schedule
from solvers.result import Result, SolveOptions, Status


def offload_schedule(inst: DagInstance, slo: int) -> tuple[Schedule, dict]:
    kinds = {d.id: d.kind for d in inst.devices}
    ops = {o.id: o for o in inst.operators}
    current = heft_schedule(inst, "gpu")
    if current.makespan > slo:
        current = heft_schedule(inst)
        if current.makespan > slo:
            raise HeuristicFailure(f"neither GPU-only nor HEFT meets the SLO {slo / 1000:g} ms")
    placement = dict(current.device)
    evaluated = moves = 0

    def value(op_id: str, target: str):
        """(key, schedule) of a move under the current placement; None if it breaks the SLO."""
        nonlocal evaluated
        try:
            sched = fixed_placement_schedule(inst, {**placement, op_id: target})
        except HeuristicFailure:  # the target has no memory left
            return None
        evaluated += 1
        if sched.makespan > slo:
            return None
        lost = sched.makespan - current.makespan
        return (math.inf if lost <= 0 else ops[op_id].mem_kb / lost, ops[op_id].mem_kb), sched

    candidates = [
        (op_id, d.id)
        for op_id, dev in placement.items()
        if kinds[dev] == "gpu" and ops[op_id].mem_kb > 0
        for d in inst.allowed(ops[op_id])
        if d.kind != "gpu"
    ]
    while candidates:
        heap = []
        for op_id, target in candidates:
            v = value(op_id, target)
            if v is not None:
                heap.append((-v[0][0], -v[0][1], op_id, target))
        heapq.heapify(heap)
        retry = []
        while heap:
            _, _, op_id, target = heapq.heappop(heap)
            if kinds[placement[op_id]] != "gpu":
                continue  # already moved (to another target)
            v = value(op_id, target)
            if v is None:
                retry.append((op_id, target))
                continue
            (ratio, mem), sched = v
            if heap and (-ratio, -mem) > heap[0][:2]:
                heapq.heappush(heap, (-ratio, -mem, op_id, target))  # stale value was too good
                continue
            placement[op_id] = target
            current = sched
            moves += 1
        # moves that missed the SLO earlier may fit now; stop when a full pass applies none
        before = moves
        candidates = [(o, t) for o, t in retry if kinds[placement[o]] == "gpu"]
        if not candidates:
            break
        for op_id, target in candidates:
            if kinds[placement[op_id]] != "gpu":
                continue
            v = value(op_id, target)
            if v is not None:
                placement[op_id] = target
                current = v[1]
                moves += 1
        if moves == before:
            break
        candidates = [(o, t) for o, t in candidates if kinds[placement[o]] == "gpu"]
    return current, {"moves": moves, "schedules_evaluated": evaluated}


def offload(inst: DagInstance, options: SolveOptions) -> Result:
    if options.objective != "memory":
        return Result(
            "", "", "python", Status.ERROR, message="offload is a memory-pattern heuristic"
        )
    try:
        sched, stats = offload_schedule(inst, slo_us(inst, options.slo_ms))
    except HeuristicFailure as e:
        return Result("", "", "python", Status.ERROR, message=str(e))
    return heuristic_result(inst, sched, options, **stats)
