"""Independent evaluator for F1: the definition of a feasible schedule and of its objectives.

It shares no code with the models or heuristics: durations, transfer delays, slot usage and
memory are recomputed here from the instance's fields and the solution alone.

Solution (the ``solution`` object of a result)::

    {"pattern": "latency" | "memory", "slo_ms": float | null,
     "schedule": {op_id: {"device": device_id, "start_ms": float}}}

Feasible iff every operator is scheduled once, on a device it may use, at a start time >= 0 on
the 1 µs grid; every edge u -> v has start(v) >= end(u) + transfer(dev(u), dev(v), bytes); no
device runs more operators at once than it has slots; no device holds more operator memory than
its capacity; and in the memory pattern the makespan is within the SLO.
Objectives: latency -> makespan in ms; memory -> total memory of operators on GPUs, in MB.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from optgap.solvers.result import Evaluation, SolveOptions


def evaluate(instance: Any, solution: Any, options: SolveOptions | None = None) -> Evaluation:
    v: list[str] = []
    if not isinstance(solution, dict) or not isinstance(solution.get("schedule"), dict):
        return Evaluation(False, None, ["solution: expected an object with a 'schedule' object"])
    pattern = solution.get("pattern", "latency")
    if pattern not in ("latency", "memory"):
        return Evaluation(False, None, [f"solution.pattern: unknown pattern {pattern!r}"])
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
        if kind not in op.time_us:
            v.append(f"{op_id}: has no time on a {kind} device ({d})")
            continue
        if op.devices is not None and d not in op.devices:
            v.append(f"{op_id}: may not run on {d} (allowed: {', '.join(op.devices)})")
            continue
        if isinstance(s, bool) or not isinstance(s, int | float) or s < 0:
            v.append(f"{op_id}: start_ms must be a number >= 0, got {s!r}")
            continue
        s_us = round(s * 1000)
        if abs(s * 1000 - s_us) > 1e-3:
            v.append(f"{op_id}: start_ms {s} is not on the 1 µs grid")
            continue
        dev[op_id], start[op_id], end[op_id] = d, s_us, s_us + op.time_us[kind]

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

    if v:
        return Evaluation(False, None, v)
    makespan_us = max(end.values())
    gpu_mem_kb = sum(ops[o].mem_kb for o in start if devices[dev[o]].kind == "gpu")
    metrics = {
        "makespan_ms": makespan_us / 1000,
        "gpu_mem_mb": gpu_mem_kb / 1000,
        "gpu_ops": sum(1 for o in start if devices[dev[o]].kind == "gpu"),
        "cpu_ops": sum(1 for o in start if devices[dev[o]].kind == "cpu"),
    }
    if pattern == "memory":
        slo = solution.get("slo_ms")
        slo_us = instance.slo_us if slo is None else round(slo * 1000)
        if slo_us is None:
            return Evaluation(False, None, ["memory pattern without an SLO"], metrics)
        if makespan_us > slo_us:
            return Evaluation(
                False,
                None,
                [f"makespan {makespan_us / 1000:g} ms exceeds the SLO {slo_us / 1000:g} ms"],
                metrics,
            )
        return Evaluation(True, gpu_mem_kb / 1000, [], metrics)
    return Evaluation(True, makespan_us / 1000, [], metrics)


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
