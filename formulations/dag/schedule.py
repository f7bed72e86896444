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
- ``incumbents``: the warm-start answers of the solve layer (solution dicts that the family's
  evaluator accepted) as left-shifted schedules in µs, for horizon, hint and fallback answer.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from optgap.formulations.dag.instance import DagInstance


@dataclass
class Incumbent:
    method: str
    device: dict[str, str]
    start: dict[str, int]  # µs
    end: dict[str, int]

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


def left_shift(inst: DagInstance, device: dict[str, str], start: dict[str, int]) -> dict[str, int]:
    """Left-shifted starts (µs) for the given placement; see the module docstring."""
    dur = durations(inst, device)
    topo = {i: k for k, i in enumerate(inst.topological_order)}
    pred: dict[str, list] = {i: [] for i in topo}
    for e in inst.edges:
        pred[e.dst].append(e)
    slots = {d.id: d.slots for d in inst.devices}
    placed: dict[str, list[tuple[int, int]]] = {d.id: [] for d in inst.devices}  # sorted
    new: dict[str, int] = {}
    for i in sorted(topo, key=lambda i: (start[i], topo[i])):
        d, p = device[i], dur[i]
        ready = max(
            (
                new[e.src] + dur[e.src] + inst.transfer_us(device[e.src], d, e.bytes)
                for e in pred[i]
            ),
            default=0,
        )
        t = ready if p == 0 else _earliest_fit(placed[d], slots[d], ready, p, start[i])
        new[i] = t
        if p > 0:
            bisect.insort(placed[d], (t, t + p))
    return {o.id: new[o.id] for o in inst.operators}


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


def shifted(inst: DagInstance, method: str, device: dict[str, str], start: dict[str, int]):
    s = left_shift(inst, device, start)
    dur = durations(inst, device)
    return Incumbent(method, dict(device), s, {i: s[i] + dur[i] for i in s})


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
        out.append(shifted(inst, w.method, device, start))
    return sorted(out, key=lambda c: (c.objective_grid(inst, pattern), c.makespan))


def solution(
    inst: DagInstance, device: dict[str, str], start: dict[str, int], pattern: str, slo: int | None
) -> dict[str, Any]:
    """The solution object of a result (starts in ms)."""
    return {
        "pattern": pattern,
        "slo_ms": None if slo is None else slo / 1000,
        "schedule": {
            o.id: {"device": device[o.id], "start_ms": start[o.id] / 1000} for o in inst.operators
        },
    }
