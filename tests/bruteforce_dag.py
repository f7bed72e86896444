"""Brute-force F1 optimum for tiny instances.

Independent of the models, heuristics and evaluator: enumerate every placement of the operators
on machines (a device with k slots is k machines; slot s of a device is used only if slot s-1
hosts an earlier operator, which loses no schedule since the slots are identical) and every
order of the operators on each machine; the earliest start times for fixed orders are longest
paths in the precedence + sequence graph. Regular objectives are optimised by such semi-active
schedules. Zero-length operators take no slot.

Shared links: a transfer of nonzero delay between different devices over a ``shared`` link is a
job on the lane of that device pair (both directions one lane); every order of the transfers on
each lane is enumerated too, and the longest-path graph gets a node per such transfer (producer
-> transfer: the producer's time, transfer -> consumer and transfer -> next on its lane: the
delay). Written from the file format, not from the models' helpers.
"""

from __future__ import annotations

import itertools
from fractions import Fraction


def _delay(inst, a: str, b: str, nbytes: int) -> int:
    if a == b:
        return 0
    link = inst.pair_links.get(frozenset((a, b)), inst.link)
    t = Fraction(link.latency_us)
    if link.bandwidth_gb_s is not None:
        t += Fraction(nbytes) / (Fraction(link.bandwidth_gb_s) * 1000)
    return int(-((-t.numerator) // t.denominator))


def _time(op, device) -> int:
    """Related machines: a per-device time, else the kind's time over the speed (nearest µs,
    halves up)."""
    if device.id in op.time_dev_us:
        return op.time_dev_us[device.id]
    q = Fraction(op.time_us[device.kind]) / Fraction(device.speed)
    return int((2 * q.numerator + q.denominator) // (2 * q.denominator))


def _closure(ids: list[str], edges) -> set[tuple[str, str]]:
    succ = {i: set() for i in ids}
    for e in edges:
        succ[e.src].add(e.dst)
    reach: set[tuple[str, str]] = set()
    for i in ids:
        stack, seen = list(succ[i]), set()
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                stack.extend(succ[j])
        reach |= {(i, j) for j in seen}
    return reach


def brute_force(inst, pattern: str = "latency", slo_us: int | None = None) -> int | None:
    """Optimal makespan (µs) or, in the memory pattern, optimal GPU memory (kB); None if none."""
    ops = list(inst.operators)
    ids = [o.id for o in ops]
    devs = {d.id: d for d in inst.devices}
    closure = _closure(ids, inst.edges)
    choices = [
        [
            d
            for d in devs.values()
            if (d.id in o.time_dev_us or d.kind in o.time_us)
            and (o.devices is None or d.id in o.devices)
        ]
        for o in ops
    ]
    best = None
    for placement in itertools.product(*choices):
        place = {o.id: d.id for o, d in zip(ops, placement, strict=True)}
        mem = {d: 0 for d in devs}
        for o in ops:
            mem[place[o.id]] += o.mem_kb
        if any(
            devs[d].mem_capacity_kb is not None and mem[d] > devs[d].mem_capacity_kb for d in devs
        ):
            continue
        gpu_mem = sum(o.mem_kb for o in ops if devs[place[o.id]].kind == "gpu")
        if pattern == "memory" and best is not None and gpu_mem >= best:
            continue
        dur = {o.id: _time(o, devs[place[o.id]]) for o in ops}
        delay = {
            (e.src, e.dst): _delay(inst, place[e.src], place[e.dst], e.bytes) for e in inst.edges
        }
        lanes: dict[frozenset, list[tuple[str, str]]] = {}
        for e in inst.edges:
            a, b = place[e.src], place[e.dst]
            link = inst.pair_links.get(frozenset((a, b)), inst.link)
            if a != b and link.shared and delay[e.src, e.dst] > 0:
                lanes.setdefault(frozenset((a, b)), []).append((e.src, e.dst))
        makespan = _best_makespan(
            inst, ids, devs, place, dur, delay, closure, slo_us, pattern, list(lanes.values())
        )
        if makespan is None:
            continue
        if pattern == "latency":
            best = makespan if best is None else min(best, makespan)
        else:
            best = gpu_mem
    return best


def _best_makespan(inst, ids, devs, place, dur, delay, closure, slo_us, pattern, lanes=()):
    """Shortest makespan over slot assignments, machine orders and lane orders (memory: first
    within SLO)."""
    timed = {d: [i for i in ids if place[i] == d and dur[i] > 0] for d in devs}
    per_device = [list(_slot_splits(timed[d], devs[d].slots)) for d in devs]
    lane_orders = [list(itertools.permutations(lane)) for lane in lanes]
    best = None
    for split in itertools.product(*per_device):
        machines = [m for groups in split for m in groups]
        orders = [
            [p for p in itertools.permutations(m) if not _against(p, closure)] for m in machines
        ]
        for combo, lane_combo in itertools.product(
            itertools.product(*orders), itertools.product(*lane_orders)
        ):
            start = _earliest(inst, ids, dur, delay, combo, lane_combo)
            if start is None:
                continue
            makespan = max(start[i] + dur[i] for i in ids)
            if pattern == "memory":
                if makespan <= slo_us:
                    return makespan
            elif best is None or makespan < best:
                best = makespan
    return best


def _slot_splits(group: list[str], slots: int):
    """Assignments of the group (in file order) to ``slots`` machines, slot s used only after
    slot s-1 (canonical), as a tuple of per-machine lists."""
    for labels in itertools.product(range(slots), repeat=len(group)):
        used = 0
        ok = True
        for lab in labels:
            if lab > used:
                ok = False
                break
            used = max(used, lab + 1)
        if ok:
            yield tuple(
                [i for i, lab in zip(group, labels, strict=True) if lab == s] for s in range(slots)
            )


def _against(p, closure) -> bool:
    return any((p[j], p[i]) in closure for i in range(len(p)) for j in range(i + 1, len(p)))


def _earliest(inst, ids, dur, delay, sequences, lane_seqs=()) -> dict[str, int] | None:
    """Earliest starts for fixed machine and lane orders (None: the orders form a cycle); a lane
    transfer of edge (u, v) is the node ("T", u, v)."""
    w: dict[tuple, int] = {}
    on_lane = {edge for seq in lane_seqs for edge in seq}
    for e in inst.edges:
        if (e.src, e.dst) in on_lane:
            node = ("T", e.src, e.dst)
            w[e.src, node] = dur[e.src]
            w[node, e.dst] = delay[e.src, e.dst]
        else:
            w[e.src, e.dst] = dur[e.src] + delay[e.src, e.dst]
    for seq in lane_seqs:
        for (a, b), (c, d) in itertools.pairwise(seq):
            w[("T", a, b), ("T", c, d)] = delay[a, b]
    for seq in sequences:
        for a, b in itertools.pairwise(seq):
            w[a, b] = max(w.get((a, b), 0), dur[a])
    nodes = list(ids) + [("T", a, b) for a, b in on_lane]
    succ: dict = {i: [] for i in nodes}
    indeg = {i: 0 for i in nodes}
    for a, b in w:
        succ[a].append(b)
        indeg[b] += 1
    start = {i: 0 for i in nodes}
    ready = [i for i in nodes if indeg[i] == 0]
    seen = 0
    while ready:
        a = ready.pop()
        seen += 1
        for b in succ[a]:
            start[b] = max(start[b], start[a] + w[a, b])
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
    return {i: start[i] for i in ids} if seen == len(nodes) else None
