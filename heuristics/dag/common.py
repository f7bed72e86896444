"""Shared machinery of the F1 list schedulers: slot timelines with insertion, ranks, results.

Everything is in integer microseconds, like the instance. Shared links: when a consumer's start
on a candidate device is computed, each of its inputs whose transfer crosses a shared lane
reserves the earliest free gap of that lane at or after its producer's end (insertion; inputs in
order of their producer's end, then edge order), and the consumer waits for the transfer's end;
the chosen device's reservations are booked and reported in the schedule's ``transfer``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from optgap.formulations.dag.instance import DagInstance, Device, Operator, slo_us
from optgap.formulations.dag.schedule import left_shift_all, transfer_list
from optgap.solvers.result import Result, SolveOptions, Status


@dataclass
class Schedule:
    device: dict[str, str] = field(default_factory=dict)
    start: dict[str, int] = field(default_factory=dict)
    end: dict[str, int] = field(default_factory=dict)
    transfer: dict[tuple[str, str], int] = field(default_factory=dict)  # lane edge -> start

    @property
    def makespan(self) -> int:
        return max(self.end.values(), default=0)


class Timeline:
    """Busy intervals per slot of every device; finds the earliest gap that fits (insertion)."""

    def __init__(self, devices: Iterable[Device]):
        self.slots = {d.id: [[] for _ in range(d.slots)] for d in devices}
        self.lanes: dict[frozenset[str], list[tuple[int, int]]] = {}  # shared links, sorted

    def lane_gap(self, lane: frozenset[str], ready: int, delay: int, extra=()) -> int:
        """Earliest start >= ready of a gap of ``delay`` on the lane (with ``extra`` tentative
        reservations of the same consumer)."""
        busy = self.lanes.get(lane, [])
        if extra:
            busy = sorted(busy + [iv for ln, _, iv in extra if ln == lane])
        return _earliest_on_slot(busy, ready, delay, True)

    def book_lane(self, lane: frozenset[str], start: int, end: int) -> None:
        bisect.insort(self.lanes.setdefault(lane, []), (start, end))

    def earliest(
        self, device_id: str, ready: int, duration: int, insertion: bool = True
    ) -> tuple[int, int]:
        """(start, slot) of the earliest start >= ready on any slot of the device."""
        best = None
        for k, busy in enumerate(self.slots[device_id]):
            t = _earliest_on_slot(busy, ready, duration, insertion)
            if best is None or t < best[0]:
                best = (t, k)
        return best

    def book(self, device_id: str, slot: int, start: int, end: int) -> None:
        if end > start:  # zero-length operators occupy no slot
            bisect.insort(self.slots[device_id][slot], (start, end))


def _earliest_on_slot(
    busy: list[tuple[int, int]], ready: int, duration: int, insertion: bool
) -> int:
    if not insertion:
        return max(ready, busy[-1][1] if busy else 0)
    if duration == 0:
        return ready
    # busy intervals are disjoint and sorted, so their ends are sorted too: skip those that end
    # by `ready` and scan the gaps from there
    k = bisect.bisect_right(busy, ready, key=lambda iv: iv[1])
    t = ready
    for s, e in busy[k:]:
        if t + duration <= s:
            return t
        t = max(t, e)
    return t


def topological_ids(inst: DagInstance) -> list[str]:
    """Topological order, ties broken by file order (deterministic)."""
    return list(inst.topological_order)


def mean_duration(inst: DagInstance, op: Operator, devices: list[Device]) -> float:
    return sum(inst.duration_us(op, d) for d in devices) / len(devices)


def mean_transfer(inst: DagInstance, nbytes: int, src: list[Device], dst: list[Device]) -> float:
    pairs = [(a, b) for a in src for b in dst if a.id != b.id]
    if not pairs:
        return 0.0
    return sum(inst.transfer_us(a.id, b.id, nbytes) for a, b in pairs) / len(pairs)


def upward_rank(inst: DagInstance, allowed: Callable[[Operator], list[Device]]) -> dict[str, float]:
    """HEFT's rank_u: mean cost of the operator plus the costliest path to an exit."""
    ops = {o.id: o for o in inst.operators}
    succ: dict[str, list] = {o.id: [] for o in inst.operators}
    for e in inst.edges:
        succ[e.src].append(e)
    rank: dict[str, float] = {}
    for op_id in reversed(topological_ids(inst)):
        op = ops[op_id]
        tail = max(
            (
                mean_transfer(inst, e.bytes, allowed(op), allowed(ops[e.dst])) + rank[e.dst]
                for e in succ[op_id]
            ),
            default=0.0,
        )
        rank[op_id] = mean_duration(inst, op, allowed(op)) + tail
    return rank


def downward_rank(
    inst: DagInstance, allowed: Callable[[Operator], list[Device]]
) -> dict[str, float]:
    """CPOP's rank_d: the costliest path from an entry to the operator, excluding it."""
    ops = {o.id: o for o in inst.operators}
    pred: dict[str, list] = {o.id: [] for o in inst.operators}
    for e in inst.edges:
        pred[e.dst].append(e)
    rank: dict[str, float] = {}
    for op_id in topological_ids(inst):
        op = ops[op_id]
        rank[op_id] = max(
            (
                rank[e.src]
                + mean_duration(inst, ops[e.src], allowed(ops[e.src]))
                + mean_transfer(inst, e.bytes, allowed(ops[e.src]), allowed(op))
                for e in pred[op_id]
            ),
            default=0.0,
        )
    return rank


def priority_order(inst: DagInstance, priority: dict[str, float]) -> list[str]:
    """Operators by decreasing priority; ties by topological position (keeps precedence)."""
    topo = {op_id: i for i, op_id in enumerate(topological_ids(inst))}
    return sorted(topo, key=lambda o: (-priority[o], topo[o]))


def ready_time(inst: DagInstance, sched: Schedule, preds: list, device_id: str) -> int:
    return max(
        (
            sched.end[e.src] + inst.transfer_us(sched.device[e.src], device_id, e.bytes)
            for e in preds
        ),
        default=0,
    )


def ready_with_lanes(
    inst: DagInstance, sched: Schedule, preds: list, device_id: str, timeline: Timeline
) -> tuple[int, list]:
    """When the inputs are on ``device_id``: (ready, lane reservations [(lane, edge, (s, e))]),
    inputs over a shared lane taking its earliest free gap from their producer's end."""
    ready, booked = 0, []
    for e in sorted(preds, key=lambda e: sched.end[e.src]):
        src = sched.device[e.src]
        c = inst.transfer_us(src, device_id, e.bytes)
        lane = inst.lane(src, device_id, e.bytes)
        t = sched.end[e.src]
        if lane is not None:
            t = timeline.lane_gap(lane, t, c, booked)
            booked.append((lane, (e.src, e.dst), (t, t + c)))
        ready = max(ready, t + c)
    return ready, booked


def predecessors(inst: DagInstance) -> dict[str, list]:
    pred: dict[str, list] = {o.id: [] for o in inst.operators}
    for e in inst.edges:
        pred[e.dst].append(e)
    return pred


def list_schedule(
    inst: DagInstance,
    order: list[str],
    choose: Callable[[Operator, dict[Device, tuple[int, int]]], Device],
    allowed: Callable[[Operator], list[Device]],
    insertion: bool = True,
) -> Schedule:
    """Place operators in ``order`` (a topological order). For each, the earliest (start, slot)
    on every allowed device with free memory is computed and ``choose`` picks the device."""
    ops = {o.id: o for o in inst.operators}
    pred = predecessors(inst)
    timeline = Timeline(inst.devices)
    mem_free = {d.id: d.mem_capacity_kb for d in inst.devices}
    sched = Schedule()
    lanes = inst.has_shared_links
    for op_id in order:
        op = ops[op_id]
        options: dict[Device, tuple[int, int]] = {}
        booked: dict[str, list] = {}
        for d in allowed(op):
            if mem_free[d.id] is not None and mem_free[d.id] < op.mem_kb:
                continue
            if lanes:
                ready, booked[d.id] = ready_with_lanes(inst, sched, pred[op_id], d.id, timeline)
            else:
                ready = ready_time(inst, sched, pred[op_id], d.id)
            options[d] = timeline.earliest(d.id, ready, inst.duration_us(op, d), insertion)
        if not options:
            raise HeuristicFailure(f"no device has memory left for operator {op_id}")
        d = choose(op, options)
        start, slot = options[d]
        end = start + inst.duration_us(op, d)
        timeline.book(d.id, slot, start, end)
        for lane, edge, (t0, t1) in booked.get(d.id, []):
            timeline.book_lane(lane, t0, t1)
            sched.transfer[edge] = t0
        if mem_free[d.id] is not None:
            mem_free[d.id] -= op.mem_kb
        sched.device[op_id], sched.start[op_id], sched.end[op_id] = d.id, start, end
    return sched


def earliest_finish(
    inst: DagInstance,
) -> Callable[[Operator, dict[Device, tuple[int, int]]], Device]:
    """Pick the device with the earliest finish time (ties: file order of devices)."""
    position = {d.id: i for i, d in enumerate(inst.devices)}
    return lambda op, options: min(
        options, key=lambda d: (options[d][0] + inst.duration_us(op, d), position[d.id])
    )


class HeuristicFailure(Exception):
    """A heuristic found no schedule (it proves nothing about the instance)."""


def solution_of(inst: DagInstance, sched: Schedule, options: SolveOptions) -> dict:
    memory = options.objective == "memory"
    return {
        "pattern": "memory" if memory else "latency",
        "slo_ms": slo_us(inst, options.slo_ms) / 1000 if memory else None,
        "schedule": {
            o.id: {"device": sched.device[o.id], "start_ms": sched.start[o.id] / 1000}
            for o in inst.operators
        },
    } | ({"transfers": transfer_list(inst, sched.transfer)} if sched.transfer else {})


def gpu_mem_kb(inst: DagInstance, sched: Schedule) -> int:
    kinds = {d.id: d.kind for d in inst.devices}
    return sum(o.mem_kb for o in inst.operators if kinds[sched.device[o.id]] == "gpu")


def heuristic_result(inst: DagInstance, sched: Schedule, options: SolveOptions, **stats) -> Result:
    """Wrap a heuristic schedule, left-shifted, as a result in the requested pattern (never
    optimal). The left shift keeps the placement and can only shorten the makespan."""
    start, transfer = left_shift_all(inst, sched.device, sched.start, sched.transfer)
    if start != sched.start or transfer != sched.transfer:
        stats["left_shift_ms"] = (sched.makespan - _ends(inst, sched.device, start)) / 1000
        sched = Schedule(
            dict(sched.device),
            start,
            {i: start[i] + (sched.end[i] - sched.start[i]) for i in start},
            transfer,
        )
    solution = solution_of(inst, sched, options)
    if options.objective == "memory":
        slo = slo_us(inst, options.slo_ms)
        if sched.makespan > slo:
            return Result(
                "",
                "",
                "python",
                Status.ERROR,
                message=f"schedule misses the SLO: makespan {sched.makespan / 1000:g} ms > {slo / 1000:g} ms",
                stats={"makespan_ms": sched.makespan / 1000, **stats},
            )
        objective = gpu_mem_kb(inst, sched) / 1000
    else:
        objective = sched.makespan / 1000
    return Result(
        "",
        "",
        "python",
        Status.FEASIBLE,
        objective=objective,
        solution=solution,
        stats={
            "makespan_ms": sched.makespan / 1000,
            "gpu_mem_mb": gpu_mem_kb(inst, sched) / 1000,
            **stats,
        },
    )


def _ends(inst: DagInstance, device: dict[str, str], start: dict[str, int]) -> int:
    return max(
        (start[o.id] + inst.duration_us(o, inst.device(device[o.id])) for o in inst.operators),
        default=0,
    )


def run_heuristic(
    build: Callable[[], Schedule], inst: DagInstance, options: SolveOptions
) -> Result:
    try:
        sched = build()
    except HeuristicFailure as e:
        return Result("", "", "python", Status.ERROR, message=str(e))
    return heuristic_result(inst, sched, options)


def ready_order(inst: DagInstance, priority: dict[str, float]) -> list[str]:
    """List-scheduling order: repeatedly the ready operator (all inputs placed) of highest
    priority; ties by topological position. Needed when priorities are not monotone on edges."""
    import heapq

    topo = {op_id: i for i, op_id in enumerate(topological_ids(inst))}
    waiting = {o.id: 0 for o in inst.operators}
    succ: dict[str, list[str]] = {o.id: [] for o in inst.operators}
    for e in inst.edges:
        waiting[e.dst] += 1
        succ[e.src].append(e.dst)
    heap = [(-priority[o], topo[o], o) for o, k in waiting.items() if k == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, _, op_id = heapq.heappop(heap)
        order.append(op_id)
        for nxt in succ[op_id]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(heap, (-priority[nxt], topo[nxt], nxt))
    return order


def fixed_placement_schedule(
    inst: DagInstance, placement: dict[str, str], order: list[str] | None = None
) -> Schedule:
    """List schedule (insertion) with every operator's device given; HEFT's rank order by default."""
    devices = {d.id: d for d in inst.devices}

    def allowed(op: Operator) -> list[Device]:
        return [devices[placement[op.id]]]

    if order is None:
        order = priority_order(inst, upward_rank(inst, allowed))
    return list_schedule(inst, order, lambda op, options: next(iter(options)), allowed)
