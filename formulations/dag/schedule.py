"""F1 schedules as the exact models and heuristics hand them over: left-shifted, as solution dicts.

- ``left_shift``: every operator as early as its device's other operators and its inputs allow,
  keeping each device's placement. Operators are taken in order of their given start (ties by
  topological position) and each is put at the earliest time >= its inputs' arrival at which its
  device has a free slot for its whole run, among the operators already placed. Every placed
  operator ran at each instant of the new operator's old interval in the given schedule too (it
  started no later and now ends no later), so the old start is always possible: no start moves
  later, the makespan can only go down and the placement (hence the memory) is kept. In the
  result every operator starts at 0, or when an input arrives, or when its device is full just
  before it (the evaluator's ``left_shifted`` metric checks exactly this).
  With shared links the transfers over a lane are items too (``left_shift_all``): taken in the
  same order of given start (an operator before a transfer at the same instant), each transfer
  is put at the earliest time >= its producer's new end at which its lane is free for its whole
  delay, and a consumer waits for it. The lane is a one-slot resource, so the same argument
  holds: nothing moves later, and every transfer starts when its producer ends or when another
  transfer on its lane ends.
- ``incumbents``: the warm-start answers of the solve layer (solution dicts that the family's
  evaluator accepted) as left-shifted schedules in µs, for horizon, hint and fallback answer.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from optgap.formulations.dag.instance import DagInstance


@dataclass
class Incumbent:
    method: str
    device: dict[str, str]
    start: dict[str, int]  # µs
    end: dict[str, int]
    transfer: dict[tuple[str, str], int] = field(default_factory=dict)  # lane edge -> start µs

    @property
    def makespan(self) -> int:
        return max(self.end.values(), default=0)

    def gpu_mem_kb(self, inst: DagInstance) -> int:
        kinds = {d.id: d.kind for d in inst.devices}
        return sum(o.mem_kb for o in inst.operators if kinds[self.device[o.id]] == "gpu")

    def objective_grid(self, inst: DagInstance, pattern: str) -> int:
        """The objective in µs (latency) or kB (memory)."""
        return self.gpu_mem_kb(inst) if pattern == "memory" else self.makespan


def durations(inst: DagInstance, device: dict[str, str]) -> dict[str, int]:
    return {o.id: inst.duration_us(o, inst.device(device[o.id])) for o in inst.operators}


def lane_edges(
    inst: DagInstance, device: dict[str, str]
) -> dict[tuple[str, str], tuple[frozenset[str], int]]:
    """The edges whose transfer occupies a shared lane under the placement: (lane, delay)."""
    if not inst.has_shared_links:
        return {}
    out = {}
    for e in inst.edges:
        lane = inst.lane(device[e.src], device[e.dst], e.bytes)
        if lane is not None:
            out[e.src, e.dst] = (lane, inst.transfer_us(device[e.src], device[e.dst], e.bytes))
    return out


def left_shift(
    inst: DagInstance,
    device: dict[str, str],
    start: dict[str, int],
    transfer: dict[tuple[str, str], int] | None = None,
) -> dict[str, int]:
    """Left-shifted starts (µs) for the given placement; see the module docstring."""
    return left_shift_all(inst, device, start, transfer)[0]


def left_shift_all(
    inst: DagInstance,
    device: dict[str, str],
    start: dict[str, int],
    transfer: dict[tuple[str, str], int] | None = None,
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Left-shifted operator starts and lane transfer starts (µs); ``transfer`` must give the
    start of every transfer over a shared lane (``lane_edges``) of the given schedule."""
    dur = durations(inst, device)
    topo = {i: k for k, i in enumerate(inst.topological_order)}
    pred: dict[str, list] = {i: [] for i in topo}
    for e in inst.edges:
        pred[e.dst].append(e)
    slots = {d.id: d.slots for d in inst.devices}
    placed: dict[str, list[tuple[int, int]]] = {d.id: [] for d in inst.devices}  # sorted
    lanes = lane_edges(inst, device)
    transfer = transfer or {}
    missing = [f"{a}->{b}" for a, b in lanes if (a, b) not in transfer]
    if missing:
        raise ValueError(f"left_shift: no transfer start for lane edges {', '.join(missing)}")
    lane_busy: dict[frozenset[str], list[tuple[int, int]]] = {}
    items = [((start[i], topo[i], 0, 0), i) for i in topo]
    items += [((transfer[a, b], topo[a], 1, topo[b]), (a, b)) for a, b in lanes]
    new: dict[str, int] = {}
    new_t: dict[tuple[str, str], int] = {}
    for key, item in sorted(items, key=lambda kv: kv[0]):
        if key[2] == 1:  # a transfer: its producer is placed (it started no later)
            a, b = item
            lane, c = lanes[a, b]
            busy = lane_busy.setdefault(lane, [])
            t = _earliest_fit(busy, 1, new[a] + dur[a], c, transfer[a, b])
            new_t[a, b] = t
            bisect.insort(busy, (t, t + c))
            continue
        i = item
        d, p = device[i], dur[i]
        ready = max(
            (
                new_t[e.src, e.dst] + lanes[e.src, e.dst][1]
                if (e.src, e.dst) in lanes
                else new[e.src] + dur[e.src] + inst.transfer_us(device[e.src], d, e.bytes)
                for e in pred[i]
            ),
            default=0,
        )
        t = ready if p == 0 else _earliest_fit(placed[d], slots[d], ready, p, start[i])
        new[i] = t
        if p > 0:
            bisect.insort(placed[d], (t, t + p))
    return {o.id: new[o.id] for o in inst.operators}, {
        (e.src, e.dst): new_t[e.src, e.dst] for e in inst.edges if (e.src, e.dst) in new_t
    }


def _earliest_fit(busy: list[tuple[int, int]], slots: int, ready: int, p: int, old: int) -> int:
    """Earliest t >= ready with fewer than ``slots`` intervals of ``busy`` over [t, t + p);
    ``old`` (the given start) is known to fit, so no later candidate is tried."""
    if slots == 1:  # disjoint intervals: scan the gaps from the first one ending after ready
        t = ready
        for s, f in busy[bisect.bisect_right(busy, ready, key=lambda iv: iv[1]) :]:
            if t + p <= s:
                return t
            t = max(t, f)
        return t
    # candidate starts: ready and the ends of intervals after it (where occupancy drops)
    for t in [ready] + sorted({f for _, f in busy if ready < f < old}):
        if _peak(busy, t, t + p) < slots:
            return t
    return old


def _peak(busy: list[tuple[int, int]], lo: int, hi: int) -> int:
    """Most intervals of ``busy`` covering one instant of [lo, hi)."""
    k = bisect.bisect_left(busy, (hi, -1))  # intervals starting before hi
    events = []
    for s, f in busy[:k]:
        if f > lo:
            events.append((max(s, lo), 1))
            events.append((f, -1))
    peak = cur = 0
    for _, delta in sorted(events):  # an end sorts before a start at the same instant
        cur += delta
        peak = max(peak, cur)
    return peak


def shifted(
    inst: DagInstance,
    method: str,
    device: dict[str, str],
    start: dict[str, int],
    transfer: dict[tuple[str, str], int] | None = None,
):
    s, t = left_shift_all(inst, device, start, transfer)
    dur = durations(inst, device)
    return Incumbent(method, dict(device), s, {i: s[i] + dur[i] for i in s}, t)


def incumbents(inst: DagInstance, warm: Iterable[Any], pattern: str) -> list[Incumbent]:
    """The warm starts as left-shifted schedules, best first (objective, then makespan).

    Each is a ``WarmStart`` whose solution the family's evaluator accepted, so every operator
    has a device it may use and a start on the µs grid.
    """
    out = []
    for w in warm:
        sched = w.solution["schedule"]
        device = {o.id: sched[o.id]["device"] for o in inst.operators}
        start = {o.id: round(sched[o.id]["start_ms"] * 1000) for o in inst.operators}
        transfer = {
            (x["edge"][0], x["edge"][1]): round(x["start_ms"] * 1000)
            for x in w.solution.get("transfers") or []
        }
        out.append(shifted(inst, w.method, device, start, transfer))
    return sorted(out, key=lambda c: (c.objective_grid(inst, pattern), c.makespan))


def solution(
    inst: DagInstance,
    device: dict[str, str],
    start: dict[str, int],
    pattern: str,
    slo: int | None,
    transfer: dict[tuple[str, str], int] | None = None,
) -> dict[str, Any]:
    """The solution object of a result (starts in ms); ``transfers`` only with lane transfers."""
    out = {
        "pattern": pattern,
        "slo_ms": None if slo is None else slo / 1000,
        "schedule": {
            o.id: {"device": device[o.id], "start_ms": start[o.id] / 1000} for o in inst.operators
        },
    }
    if transfer:
        out["transfers"] = transfer_list(inst, transfer)
    return out


def transfer_list(inst: DagInstance, transfer: dict[tuple[str, str], int]) -> list[dict]:
    """The ``transfers`` field of a solution: lane transfers in edge order, starts in ms."""
    return [
        {"edge": [e.src, e.dst], "start_ms": transfer[e.src, e.dst] / 1000}
        for e in inst.edges
        if (e.src, e.dst) in transfer
    ]
