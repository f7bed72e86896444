"""Greedy GPU-memory offload for Chrion's memory-optimal pattern (min GPU memory, makespan ≤ SLO).

Start from the GPU-only placement (or HEFT's, if GPU-only misses the SLO). Each round, try moving
every GPU operator to each non-GPU device it may use, re-schedule the fixed placement (HEFT order,
insertion), and apply the move with the most memory saved per microsecond of slack lost (a move
that costs no time ranks first; ties: more memory) among those that keep makespan ≤ SLO. Stop
when no move keeps the SLO. Each round costs one list schedule per candidate move, so the whole
run is O(n² · schedule) in the worst case; stats report the schedules evaluated.
"""

from __future__ import annotations

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
    start = heft_schedule(inst, "gpu")
    if start.makespan > slo:
        start = heft_schedule(inst)
        if start.makespan > slo:
            raise HeuristicFailure(f"neither GPU-only nor HEFT meets the SLO {slo / 1000:g} ms")
    placement = dict(start.device)
    current = fixed_placement_schedule(inst, placement)
    if current.makespan > slo:  # re-scheduling in rank order can differ from the start
        current = start
    ops = {o.id: o for o in inst.operators}
    moves = evaluated = 0
    while True:
        best = None
        for op_id, dev in placement.items():
            if kinds[dev] != "gpu" or ops[op_id].mem_kb == 0:
                continue
            for target in inst.allowed(ops[op_id]):
                if target.kind == "gpu":
                    continue
                trial = {**placement, op_id: target.id}
                try:
                    sched = fixed_placement_schedule(inst, trial)
                except HeuristicFailure:  # the target has no memory left
                    continue
                evaluated += 1
                if sched.makespan > slo:
                    continue
                lost = sched.makespan - current.makespan
                ratio = math.inf if lost <= 0 else ops[op_id].mem_kb / lost
                key = (ratio, ops[op_id].mem_kb)
                if best is None or key > best[0]:
                    best = (key, trial, sched)
        if best is None:
            return current, {"moves": moves, "schedules_evaluated": evaluated}
        _, placement, current = best
        moves += 1


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
