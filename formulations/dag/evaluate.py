"""Independent evaluator for F1: the definition of a feasible schedule and of its objectives.

It shares no code with the models or heuristics: durations, transfer delays, slot usage and
memory are recomputed here from the instance's fields and the solution alone.

Solution (the ``solution`` object of a result)::

    {"pattern": "latency" | "memory", "slo_ms": float | null,
     "schedule": {op_id: {"device": device_id, "start_ms": float}}}

What it trusts from the loader (``instance.load``): the device ids, kinds, slot counts, speeds and
memory capacities (kB); each operator's integer µs times per device kind and per device id, its
memory (kB) and its allowed device ids; the edges with their bytes (between operators of the instance, acyclic); the links
(latency in µs, bandwidth); the file's SLO in µs; and, as the default SLO of the memory pattern
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
Any other value in a solution is a violation naming it, never an exception.
``metrics["left_shifted"]`` says whether no operator could start 1 µs earlier with the others
fixed (each starts at 0, when an input arrives, or when its device is full just before): what
every method's reported schedule must satisfy (a feasibility-neutral check).
Objectives: latency -> makespan in ms; memory -> total memory of operators on GPUs, in MB.
"""

from __future__ import annotations

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
        if (
            isinstance(s, bool)
            or not isinstance(s, int | float)
            or not (0 <= s <= MAX_START_MS)  # also false for NaN
        ):
            v.append(f"{op_id}: start_ms must be a number in [0, {MAX_START_MS:g}], got {s!r}")
            continue
        s_us = round(s * 1000)
        if abs(s * 1000 - s_us) > 1e-3:
            v.append(f"{op_id}: start_ms {s} is not on the 1 µs grid")
            continue
        dev[op_id], start[op_id], end[op_id] = d, s_us, s_us + _duration_us(op, devices[d])

    if len(start) == len(ops):
        for e in instance.edges:
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
    metrics["left_shifted"] = _left_shifted(instance, devices, dev, start, end)
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


def _left_shifted(instance, devices, dev, start, end) -> bool:
    """True iff no operator could start 1 µs earlier with everything else fixed: each starts at
    0, or exactly when an input arrives, or (taking time) just when its device is full."""
    arrival: dict[str, set[int]] = {o: set() for o in start}
    for e in instance.edges:
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
