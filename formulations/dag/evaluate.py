"""Independent evaluator for F1: the definition of a feasible schedule and of its objectives.

It shares no code with the models or heuristics: durations, transfer delays, slot usage and
memory are recomputed here from the instance's fields and the solution alone.

Solution (the ``solution`` object of a result)::

    {"pattern": "latency" | "memory", "slo_ms": float | null,
     "schedule": {op_id: {"device": device_id, "start_ms": float}},
     "transfers": [{"edge": [src, dst], "start_ms": float}]}   (only with shared links)

What it trusts from the loader (``instance.load``): the device ids, kinds, slot counts, speeds and
memory capacities (kB); each operator's integer µs times per device kind and per device id, its
memory (kB) and its allowed device ids; the edges with their bytes (between operators of the
instance, acyclic, no duplicates); the links (latency in µs, bandwidth, ``shared`` flag: a bool),
the default one and those per device pair; the file's SLO in µs; and, as the default SLO of the memory pattern
when neither the user nor the file gives one, ``instance.gpu_only_latency_us`` (the GPU-only HEFT
makespan, computed by the instance module, which is tested against the `gpu-only` heuristic).

Limits come from the instance or from the user (``options``), never from the solution:
- pattern: ``options.objective``, else the solution's ``pattern``, else ``latency``; a solution
  stating another pattern than the one asked for is rejected (``solution.pattern``);
- SLO (memory pattern only): ``options.slo_ms``, else the file's ``slo_ms``, else the GPU-only
  latency. A solution stating an ``slo_ms`` other than the one in force is rejected
  (``solution.slo_ms``); a solution stating none is judged against the one in force. The SLO
  judged against is ``metrics["slo_ms"]``. In the latency pattern no SLO applies, and a solution
  must not state one.

Feasible iff every operator of the instance, and nothing else, is scheduled once with a device id
(a string) of the instance and a finite ``start_ms`` in [0, 1e12] on the 1 µs grid; the operator
has a time for the device (by its id, or by its kind: then divided by the device's speed and
rounded to the nearest µs, halves up) and the device is among its allowed devices; every edge u -> v has
start(v) >= end(u) + transfer(dev(u), dev(v), bytes) (a transfer rounded up to the µs); no device
runs more operators at once than it has slots (zero-length ones take none); no device holds more
operator memory than its capacity; and in the memory pattern the makespan is within the SLO.
Shared links (lanes): an edge u -> v whose devices differ, whose link is ``shared`` and whose
delay c is > 0 occupies the lane {dev(u), dev(v)} (one lane per device pair, both directions)
during [T, T + c), where T is the ``start_ms`` of its entry in ``transfers``: then
T >= end(u) and start(v) >= T + c replace the delay rule, and no two transfers on one lane
overlap (back to back is fine). ``transfers`` must list exactly these edges, each once, each as
``{"edge": [src, dst], "start_ms": T}`` with T on the 1 µs grid in [0, 1e12]; an entry for any
other edge (not an edge, not crossing a lane under the stated placement, listed twice) is a
violation naming it, and so is a missing one. Without lane transfers the field may be absent.
Any other value in a solution is a violation naming it, never an exception.
``metrics["left_shifted"]`` says whether no operator could start 1 µs earlier with the others
fixed (each starts at 0, when an input arrives, or when its device is full just before), and no
transfer on a lane either (each starts when its producer ends or when another transfer on its
lane ends): what every method's reported schedule must satisfy (a feasibility-neutral check).
Objectives: latency -> makespan in ms; memory -> total memory of operators on GPUs, in MB.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

from optgap.solvers.errors import InputError
from optgap.solvers.result import Evaluation, SolveOptions

MAX_START_MS = 1e12  # 31 years: far past any horizon, and every µs count stays a float exactly
PATTERNS = ("latency", "memory")


def evaluate(instance: Any, solution: Any, options: SolveOptions | None = None) -> Evaluation:
    if not isinstance(solution, dict) or not isinstance(solution.get("schedule"), dict):
        return Evaluation(False, None, ["solution: expected an object with a 'schedule' object"])
    stated = solution.get("pattern")
    asked = None if options is None else options.objective
    if asked is not None and asked not in PATTERNS:
        raise InputError(f"--objective {asked}: unknown pattern (choose from latency, memory)")
    if stated is not None and stated not in PATTERNS:
        return Evaluation(False, None, [f"solution.pattern: unknown pattern {stated!r}"])
    if asked is not None and stated is not None and stated != asked:
        return Evaluation(
            False, None, [f"solution.pattern: {stated!r}, but the pattern asked for is {asked!r}"]
        )
    pattern = asked or stated or "latency"
    slo_us = _slo_in_force(instance, options) if pattern == "memory" else None
    v: list[str] = []
    if "slo_ms" in solution and solution["slo_ms"] is not None:
        claimed = solution["slo_ms"]
        if slo_us is None:
            v.append(f"solution.slo_ms: {claimed!r} stated, but the latency pattern has no SLO")
        elif (
            isinstance(claimed, bool)
            or not isinstance(claimed, int | float)
            or not math.isfinite(claimed)
            or abs(claimed) > MAX_START_MS
            or round(claimed * 1000) != slo_us
        ):
            v.append(
                f"solution.slo_ms: {claimed!r} stated, but the SLO in force is {slo_us / 1000:g} ms"
            )
    schedule = solution["schedule"]
    devices = {d.id: d for d in instance.devices}
    ops = {o.id: o for o in instance.operators}

    for op_id in schedule:
        if op_id not in ops:
            v.append(f"schedule.{op_id}: not an operator of the instance")
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    dev: dict[str, str] = {}
    for op_id, op in ops.items():
        entry = schedule.get(op_id)
        if not isinstance(entry, dict) or "device" not in entry or "start_ms" not in entry:
            v.append(f"{op_id}: not scheduled")
            continue
        d, s = entry["device"], entry["start_ms"]
        if not isinstance(d, str) or d not in devices:
            v.append(f"{op_id}: unknown device {d!r:.60}")
            continue
        kind = devices[d].kind
        if d not in op.time_dev_us and kind not in op.time_us:
            v.append(f"{op_id}: has no time on a {kind} device ({d})")
            continue
        if op.devices is not None and d not in op.devices:
            v.append(f"{op_id}: may not run on {d} (allowed: {', '.join(op.devices)})")
            continue
        s_us = _start_us(op_id, s, v)
        if s_us is None:
            continue
        dev[op_id], start[op_id], end[op_id] = d, s_us, s_us + _duration_us(op, devices[d])

    lane_start: dict[tuple[str, str], int] = {}  # edge -> transfer start (µs) on its lane
    lane_of: dict[tuple[str, str], tuple[frozenset, int]] = {}  # edge -> (lane, delay)
    if len(start) == len(ops):
        lane_of = _lanes(instance, dev)
        lane_start = _transfers(solution.get("transfers"), instance, lane_of, v)
        for (a, b), t in lane_start.items():
            lane, c = lane_of[a, b]
            if t < end[a]:
                v.append(
                    f"transfer {a}->{b}: starts at {t / 1000:g} ms, before {a} ends at "
                    f"{end[a] / 1000:g} ms"
                )
            if start[b] < t + c:
                v.append(
                    f"transfer {a}->{b}: {b} starts at {start[b] / 1000:g} ms, before the "
                    f"transfer ends at {(t + c) / 1000:g} ms"
                )
        by_lane: dict[frozenset, list[tuple[int, int, str]]] = {}
        for (a, b), t in lane_start.items():
            lane, c = lane_of[a, b]
            by_lane.setdefault(lane, []).append((t, t + c, f"{a}->{b}"))
        for lane, items in by_lane.items():
            items.sort()
            for (_, f1, n1), (s2, _, n2) in itertools.pairwise(items):
                if s2 < f1:
                    v.append(
                        f"lane {'-'.join(sorted(lane))}: transfers {n1} and {n2} overlap at "
                        f"{s2 / 1000:g} ms"
                    )
        for e in instance.edges:
            if (e.src, e.dst) in lane_of:
                continue  # checked against its transfer above
            need = end[e.src] + _transfer_us(instance, dev[e.src], dev[e.dst], e.bytes)
            if start[e.dst] < need:
                v.append(
                    f"edge {e.src}->{e.dst}: {e.dst} starts at {start[e.dst] / 1000:g} ms, "
                    f"before its input is there at {need / 1000:g} ms"
                )
        for d in devices.values():
            peak, at = _peak_concurrency([(start[o], end[o]) for o in start if dev[o] == d.id])
            if peak > d.slots:
                v.append(
                    f"device {d.id}: {peak} operators at once at {at / 1000:g} ms, slots {d.slots}"
                )
            used = sum(ops[o].mem_kb for o in start if dev[o] == d.id)
            if d.mem_capacity_kb is not None and used > d.mem_capacity_kb:
                v.append(
                    f"device {d.id}: memory {used / 1000:g} MB exceeds capacity "
                    f"{d.mem_capacity_kb / 1000:g} MB"
                )

    metrics: dict[str, Any] = {"pattern": pattern}
    if slo_us is not None:
        metrics["slo_ms"] = slo_us / 1000
    if v:
        return Evaluation(False, None, v, metrics)
    makespan_us = max(end.values())
    gpu_mem_kb = sum(ops[o].mem_kb for o in start if devices[dev[o]].kind == "gpu")
    metrics |= {
        "makespan_ms": makespan_us / 1000,
        "gpu_mem_mb": gpu_mem_kb / 1000,
        "gpu_ops": sum(1 for o in start if devices[dev[o]].kind == "gpu"),
        "cpu_ops": sum(1 for o in start if devices[dev[o]].kind == "cpu"),
    }
    metrics["left_shifted"] = _left_shifted(instance, devices, dev, start, end, lane_start, lane_of)
    if lane_of:
        metrics["lane_transfers"] = len(lane_of)
    if pattern == "memory":
        if makespan_us > slo_us:
            return Evaluation(
                False,
                None,
                [f"makespan {makespan_us / 1000:g} ms exceeds the SLO {slo_us / 1000:g} ms"],
                metrics,
            )
        return Evaluation(True, gpu_mem_kb / 1000, [], metrics)
    return Evaluation(True, makespan_us / 1000, [], metrics)


def _slo_in_force(instance: Any, options: SolveOptions | None) -> int:
    """The memory pattern's SLO in µs: the user's, else the file's, else the GPU-only latency."""
    asked = None if options is None else options.slo_ms
    if asked is not None:
        if isinstance(asked, bool) or not isinstance(asked, int | float) or not (0 < asked < 1e12):
            raise InputError(f"--slo-ms {asked!r}: expected a number > 0")
        return round(asked * 1000)
    if instance.slo_us is not None:
        return instance.slo_us
    return instance.gpu_only_latency_us  # InputError when the GPU-only placement does not fit


def _left_shifted(instance, devices, dev, start, end, lane_start, lane_of) -> bool:
    """True iff no operator could start 1 µs earlier with everything else fixed: each starts at
    0, or exactly when an input arrives, or (taking time) just when its device is full; and
    each lane transfer starts when its producer ends or when another transfer on its lane ends
    (transfers on a lane do not overlap, so only one ending exactly then can hold it back)."""
    lane_ends: dict[frozenset, set[int]] = {}
    for edge, t in lane_start.items():
        lane, c = lane_of[edge]
        lane_ends.setdefault(lane, set()).add(t + c)
    for (a, b), t in lane_start.items():
        if t != end[a] and t not in lane_ends[lane_of[a, b][0]]:
            return False
    arrival: dict[str, set[int]] = {o: set() for o in start}
    for e in instance.edges:
        if (e.src, e.dst) in lane_start:
            arrival[e.dst].add(lane_start[e.src, e.dst] + lane_of[e.src, e.dst][1])
            continue
        arrival[e.dst].add(end[e.src] + _transfer_us(instance, dev[e.src], dev[e.dst], e.bytes))
    on: dict[str, list[str]] = {d: [] for d in devices}
    for o in start:
        if end[o] > start[o]:
            on[dev[o]].append(o)
    for o, s in start.items():
        if s == 0 or s in arrival[o]:
            continue
        if end[o] == s:  # takes no slot: only an input can hold it back
            return False
        busy = sum(1 for q in on[dev[o]] if q != o and start[q] <= s - 1 < end[q])
        if busy < devices[dev[o]].slots:
            return False
    return True


def _lanes(instance: Any, dev: dict[str, str]) -> dict[tuple[str, str], tuple[frozenset, int]]:
    """The edges whose transfer occupies a lane under the placement: (lane, delay) each."""
    out = {}
    for e in instance.edges:
        a, b = dev[e.src], dev[e.dst]
        if a == b:
            continue
        link = instance.pair_links.get(frozenset((a, b)), instance.link)
        c = _transfer_us(instance, a, b, e.bytes)
        if link.shared is True and c > 0:
            out[e.src, e.dst] = (frozenset((a, b)), c)
    return out


def _start_us(where: str, s: Any, v: list[str]) -> int | None:
    """A file's ``start_ms`` in µs: a finite number in [0, MAX_START_MS] on the 1 µs grid (bool,
    NaN, inf and strings are rejected); else None, with the violation appended to ``v``."""
    if isinstance(s, bool) or not isinstance(s, int | float) or not (0 <= s <= MAX_START_MS):
        v.append(f"{where}: start_ms must be a number in [0, {MAX_START_MS:g}], got {s!r:.60}")
        return None
    s_us = round(s * 1000)
    if abs(s * 1000 - s_us) > 1e-3:
        v.append(f"{where}: start_ms {s} is not on the 1 µs grid")
        return None
    return s_us


def _transfers(raw: Any, instance: Any, lane_of: dict, v: list[str]) -> dict[tuple[str, str], int]:
    """The stated transfer starts (µs) of the lane edges; every flaw appended to ``v``."""
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        v.append(f"transfers: expected a list of {{edge, start_ms}}, got {type(raw).__name__}")
        return {}
    edges = {(e.src, e.dst) for e in instance.edges}
    out: dict[tuple[str, str], int] = {}
    for k, entry in enumerate(raw):
        path = f"transfers[{k}]"
        if not isinstance(entry, dict) or set(entry) != {"edge", "start_ms"}:
            v.append(f"{path}: expected an object with exactly 'edge' and 'start_ms'")
            continue
        edge, t = entry["edge"], entry["start_ms"]
        if (
            not isinstance(edge, list)
            or len(edge) != 2
            or not all(isinstance(x, str) for x in edge)
            or (edge[0], edge[1]) not in edges
        ):
            v.append(f"{path}.edge: {edge!r:.60} is not an edge [src, dst] of the instance")
            continue
        key = (edge[0], edge[1])
        if key not in lane_of:
            v.append(
                f"{path}.edge: {key[0]}->{key[1]} occupies no shared lane under this placement"
            )
            continue
        if key in out:
            v.append(f"{path}.edge: {key[0]}->{key[1]} listed twice")
            continue
        t_us = _start_us(path, t, v)
        if t_us is None:
            continue
        out[key] = t_us
    for a, b in lane_of:
        if (a, b) not in out and not any(
            isinstance(x, dict) and x.get("edge") == [a, b] for x in raw
        ):
            v.append(f"transfers: missing the transfer of edge {a}->{b} over a shared lane")
    return out


def _duration_us(op: Any, device: Any) -> int:
    if device.id in op.time_dev_us:
        return op.time_dev_us[device.id]
    q = Fraction(op.time_us[device.kind]) / Fraction(device.speed)
    return int((q * 2 + 1) // 2)  # nearest µs, halves up


def _transfer_us(instance: Any, a: str, b: str, nbytes: int) -> int:
    if a == b:
        return 0
    link = instance.pair_links.get(frozenset((a, b)), instance.link)
    t = Fraction(link.latency_us)
    if link.bandwidth_gb_s is not None:
        t += Fraction(nbytes) / (Fraction(link.bandwidth_gb_s) * 1000)
    return int(-((-t.numerator) // t.denominator))


def _peak_concurrency(intervals: list[tuple[int, int]]) -> tuple[int, int]:
    """Largest number of half-open intervals [s, e) covering one instant (zero-length ones don't)."""
    events = sorted(
        [(s, 1) for s, e in intervals if e > s] + [(e, -1) for s, e in intervals if e > s]
    )
    peak = cur = 0
    at = 0
    for t, delta in events:  # at equal times, -1 sorts before +1: back-to-back is fine
        cur += delta
        if cur > peak:
            peak, at = cur, t
    return peak, at
