"""F1 instance: an operator DAG, CPU/GPU devices with parallel slots, and the links between them.

File format (JSON, ``"family": "dag"``, ``"version": 1``)::

    devices:   [{id, kind: "cpu"|"gpu", slots = 1, mem_capacity_mb = null, speed = 1}]
    operators: [{id, time_ms: {kind or device id: ms}, mem_mb = 0, devices = null,
                 op_type = null}]
    edges:     [{src, dst, bytes = 0}]
    links:     {latency_ms, bandwidth_gb_s, shared = false,
                pairs = [{devices: [a, b], latency_ms, bandwidth_gb_s, shared = false}]}
    slo_ms:    optional latency SLO for the memory-optimal pattern
    name, meta: free text / free object (source, attribution, importer notes)

Related machines: an operator's time on device d is ``time_ms[d.id]`` if the operator gives a
time for that device id, else ``time_ms[d.kind] / d.speed`` (rounded to the nearest µs, halves
up). An operator can run on device d iff it has a time for d (by id or by kind) and ``devices``
(if given) lists d.
Between different devices an edge costs ``latency_ms + bytes / bandwidth``; on one device it is
free. Times are kept in integer microseconds and memory in integer kilobytes: the loader rounds
``time_ms`` and ``mem_mb`` to three decimals, and a transfer is rounded up to the next microsecond.
That quantised data *is* the problem every model and the evaluator solve.

Shared links (link contention, off by default). ``links.pairs[i].shared: true`` makes the link
between those two devices one lane (one PCIe lane, both directions); ``links.shared: true`` makes
every device pair that uses the default link (has no entry in ``pairs``: a pair's entry is its
whole link and inherits nothing from the default) its own lane. A transfer of edge (u, v) with u
on d, v on e ≠ d over a lane occupies it, for its whole delay c = latency + bytes / bandwidth,
during [T_uv, T_uv + c) with T_uv ≥ end(u) and start(v) ≥ T_uv + c; the transfers on one lane
pairwise do not overlap. A transfer of zero delay occupies nothing. Links that are not shared keep
the delay-only model start(v) ≥ end(u) + c. A solution then carries the transfer starts
(``transfers``, see ``evaluate``): deciding whether a feasible transfer order exists for given
operator starts is itself NP-hard, so the evaluator checks stated ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import networkx as nx
from optgap.solvers import fields as F
from optgap.solvers.errors import InputError

FAMILY = "dag"
VERSION = 1
KINDS = ("cpu", "gpu")
F.define_limit("dag.operators", 100_000, "operators")
F.define_limit("dag.edges", 1_000_000, "edges")
F.define_limit("dag.devices", 1_000, "devices")
F.define_limit("dag.slots", 1_000, "slots on one device")


@dataclass(frozen=True)
class Device:
    id: str
    kind: str
    slots: int = 1
    mem_capacity_kb: int | None = None
    speed: float = 1.0  # times by kind are divided by it


@dataclass(frozen=True)
class Operator:
    id: str
    time_us: dict[str, int]  # by device kind
    mem_kb: int = 0
    devices: tuple[str, ...] | None = None  # restriction to these device ids
    op_type: str | None = None
    time_dev_us: dict[str, int] = field(default_factory=dict)  # by device id (overrides kind)


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    bytes: int = 0


@dataclass(frozen=True)
class Link:
    latency_us: int = 0
    bandwidth_gb_s: float | None = None  # None: infinite
    shared: bool = False  # one lane: its transfers do not overlap


@dataclass(frozen=True)
class DagInstance:
    devices: tuple[Device, ...]
    operators: tuple[Operator, ...]
    edges: tuple[Edge, ...]
    link: Link = Link()
    pair_links: dict[frozenset[str], Link] = field(default_factory=dict)
    slo_us: int | None = None
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    # -- derived views, for models and heuristics (the evaluator recomputes its own) --

    def device(self, device_id: str) -> Device:
        return next(d for d in self.devices if d.id == device_id)

    def allowed(self, op: Operator) -> list[Device]:
        return [
            d
            for d in self.devices
            if (d.id in op.time_dev_us or d.kind in op.time_us)
            and (op.devices is None or d.id in op.devices)
        ]

    def duration_us(self, op: Operator, device: Device) -> int:
        if device.id in op.time_dev_us:
            return op.time_dev_us[device.id]
        t = op.time_us[device.kind]
        return t if device.speed == 1 else _div_round(t, device.speed)

    def link_between(self, a: str, b: str) -> Link:
        return self.pair_links.get(frozenset((a, b)), self.link)

    @cached_property
    def has_shared_links(self) -> bool:
        """Whether any link is shared (else the classic delay-only model, unchanged)."""
        return self.link.shared or any(k.shared for k in self.pair_links.values())

    def lane(self, src_device: str, dst_device: str, nbytes: int) -> frozenset[str] | None:
        """The lane (the device pair) a transfer of ``nbytes`` occupies, or None: same device,
        a link that is not shared, or a zero delay."""
        if src_device == dst_device or not self.has_shared_links:
            return None
        if not self.link_between(src_device, dst_device).shared:
            return None
        if self.transfer_us(src_device, dst_device, nbytes) == 0:
            return None
        return frozenset((src_device, dst_device))

    def lane_crossings(self) -> list[tuple[Edge, Device, Device, frozenset[str], int]]:
        """Every (edge, producer's device, consumer's device, lane, delay µs) whose transfer
        occupies a shared lane (empty without shared links), in edge and device order."""
        if not self.has_shared_links:
            return []
        ops = {o.id: o for o in self.operators}
        out = []
        for e in self.edges:
            for a in self.allowed(ops[e.src]):
                for b in self.allowed(ops[e.dst]):
                    lane = self.lane(a.id, b.id, e.bytes)
                    if lane is not None:
                        out.append((e, a, b, lane, self.transfer_us(a.id, b.id, e.bytes)))
        return out

    def transfer_us(self, src_device: str, dst_device: str, nbytes: int) -> int:
        if src_device == dst_device:
            return 0
        key = (src_device, dst_device, nbytes)
        cache = self._transfer_cache
        if key not in cache:
            link = self.link_between(src_device, dst_device)
            if link.bandwidth_gb_s is None or nbytes == 0:
                cache[key] = link.latency_us
            else:
                cache[key] = link.latency_us + _ceil_div_bytes(nbytes, link.bandwidth_gb_s)
        return cache[key]

    @cached_property
    def _transfer_cache(self) -> dict[tuple[str, str, int], int]:
        return {}

    @cached_property
    def topological_order(self) -> tuple[str, ...]:
        """Operators in a topological order, ties broken by file order (deterministic)."""
        index = {o.id: i for i, o in enumerate(self.operators)}
        return tuple(nx.lexicographical_topological_sort(self.graph(), key=index.__getitem__))

    @cached_property
    def gpu_only_latency_us(self) -> int:
        """Makespan of the GPU-only baseline: the default SLO of the memory pattern.

        Written here, not taken from the heuristics (they build on this module): HEFT restricted
        to the GPUs (an operator no GPU may run keeps its allowed devices), i.e. operators by
        decreasing upward rank (mean time + costliest mean transfer path to an exit, ties by
        topological position), each on the slot where it finishes earliest with insertion into
        idle gaps, a device skipped once its memory is full; with shared links, each input over a
        lane takes the lane's first free gap from its producer's end (inputs by producer end).
        tests/test_dag_trust.py and tests/test_dag_shared.py check that it equals the `gpu-only`
        heuristic's makespan.
        """
        makespan = _gpu_only_makespan(self)
        if makespan is None:
            raise InputError(
                "the memory pattern needs an SLO: the default, the GPU-only latency, does not "
                "exist here (the GPUs' memory cannot hold the GPU-only placement); give --slo-ms "
                "or slo_ms in the file"
            )
        return makespan

    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(op.id for op in self.operators)
        g.add_edges_from((e.src, e.dst, {"bytes": e.bytes}) for e in self.edges)
        return g


def _div_round(t_us: int, speed: float) -> int:
    """t / speed to the nearest µs, halves up (exact: the speed is read as a binary fraction)."""
    from fractions import Fraction

    q = Fraction(t_us) / Fraction(speed)
    return (2 * q.numerator + q.denominator) // (2 * q.denominator)


def _ceil_div_bytes(nbytes: int, bandwidth_gb_s: float) -> int:
    """ceil(bytes / (GB/s)) in microseconds; 1 GB/s moves 1000 bytes per microsecond."""
    from fractions import Fraction

    q = Fraction(nbytes) / (Fraction(bandwidth_gb_s) * 1000)
    return -((-q.numerator) // q.denominator)


def _first_gap(taken: list[tuple[int, int]], t: int, length: int) -> int:
    """The earliest start ≥ t of a gap of ``length`` between the sorted intervals ``taken``."""
    for s, f in taken:
        if f <= t:
            continue
        if t + length <= s:
            break
        t = max(t, f)
    return t


def _gpu_only_makespan(inst: DagInstance) -> int | None:
    """The GPU-only HEFT makespan (see ``gpu_only_latency_us``); None if memory runs out."""
    allowed = {}
    for o in inst.operators:
        every = inst.allowed(o)
        allowed[o.id] = [d for d in every if d.kind == "gpu"] or every
    ops = {o.id: o for o in inst.operators}
    topo = list(inst.topological_order)
    succ: dict[str, list[Edge]] = {i: [] for i in topo}
    pred: dict[str, list[Edge]] = {i: [] for i in topo}
    for e in inst.edges:
        succ[e.src].append(e)
        pred[e.dst].append(e)

    def mean_transfer(nbytes: int, src: list[Device], dst: list[Device]) -> float:
        pairs = [(a, b) for a in src for b in dst if a.id != b.id]
        if not pairs:
            return 0.0
        return sum(inst.transfer_us(a.id, b.id, nbytes) for a, b in pairs) / len(pairs)

    rank: dict[str, float] = {}
    for i in reversed(topo):
        devs = allowed[i]
        mean = sum(inst.duration_us(ops[i], d) for d in devs) / len(devs)
        rank[i] = mean + max(
            (mean_transfer(e.bytes, devs, allowed[e.dst]) + rank[e.dst] for e in succ[i]),
            default=0.0,
        )
    position = {i: k for k, i in enumerate(topo)}
    dev_position = {d.id: k for k, d in enumerate(inst.devices)}
    busy: dict[str, list[list[tuple[int, int]]]] = {
        d.id: [[] for _ in range(d.slots)] for d in inst.devices
    }
    mem_free = {d.id: d.mem_capacity_kb for d in inst.devices}
    end: dict[str, int] = {}
    where: dict[str, str] = {}
    lanes: dict[frozenset[str], list[tuple[int, int]]] = {}  # shared links: busy, sorted
    for i in sorted(topo, key=lambda i: (-rank[i], position[i])):
        best = None  # (finish, device position, start, device, slot, lane bookings)
        for d in allowed[i]:
            if mem_free[d.id] is not None and mem_free[d.id] < ops[i].mem_kb:
                continue
            ready, booked = 0, []
            # inputs over a shared lane take its first free gap from the producer's end, in
            # order of that end (then edge order); the others arrive after their delay
            for e in sorted(pred[i], key=lambda e: end[e.src]):
                c = inst.transfer_us(where[e.src], d.id, e.bytes)
                lane = inst.lane(where[e.src], d.id, e.bytes)
                t = end[e.src]
                if lane is not None:
                    taken = sorted(lanes.get(lane, []) + [iv for ln, iv in booked if ln == lane])
                    t = _first_gap(taken, t, c)
                    booked.append((lane, (t, t + c)))
                ready = max(ready, t + c)
            p = inst.duration_us(ops[i], d)
            for k, slot in enumerate(busy[d.id]):
                t = _first_gap(slot, ready, p) if p > 0 else ready
                cand = (t + p, dev_position[d.id], t, d.id, k, booked)
                if best is None or cand[:3] < best[:3]:
                    best = cand
        if best is None:
            return None
        finish, _, t, dev, k, booked = best
        for lane, iv in booked:
            lanes.setdefault(lane, []).append(iv)
        if finish > t:
            busy[dev][k].append((t, finish))
            busy[dev][k].sort()
        if mem_free[dev] is not None:
            mem_free[dev] -= ops[i].mem_kb
        end[i], where[i] = finish, dev
    return max(end.values())


def us(ms: float) -> int:
    return round(ms * 1000)


def _us(value: Any, path: str, **kw: Any) -> int:
    """A time in ms from the file, in integer µs (bounded: see fields.quantity)."""
    return F.quantity(value, path, 1000, "µs", **kw)


def _kb(value: Any, path: str) -> int:
    return F.quantity(value, path, 1000, "kB")


def kb(mb: float) -> int:
    return round(mb * 1000)


# ------------------------------------------------------------------------------ load


def load(data: Any) -> DagInstance:
    """Validate a parsed JSON object and build the instance; one-line InputError otherwise."""
    top = F.obj(
        data,
        "instance",
        {"family", "devices", "operators"},
        {"version", "name", "edges", "links", "slo_ms", "meta"},
    )
    if top["family"] != FAMILY:
        raise InputError(f"instance.family: expected {FAMILY!r}, got {top['family']!r}")
    version = top.get("version", VERSION)
    if version != VERSION:
        raise InputError(f"instance.version: unsupported version {version!r} (this is {VERSION})")

    F.check_size("dag.devices", len(F.array(top["devices"], "devices")), "devices")
    F.check_size("dag.operators", len(F.array(top["operators"], "operators")), "operators")
    F.check_size("dag.edges", len(F.array(top.get("edges", []), "edges")), "edges")
    devices = [
        _device(d, f"devices[{i}]")
        for i, d in enumerate(F.array(top["devices"], "devices", min_len=1))
    ]
    _unique([d.id for d in devices], "devices")
    device_ids = {d.id for d in devices}
    kinds = {d.kind for d in devices}

    operators = [
        _operator(o, f"operators[{i}]", device_ids)
        for i, o in enumerate(F.array(top["operators"], "operators", min_len=1))
    ]
    _unique([o.id for o in operators], "operators")
    op_ids = {o.id for o in operators}
    edges = [
        _edge(e, f"edges[{i}]", op_ids)
        for i, e in enumerate(F.array(top.get("edges", []), "edges"))
    ]
    seen: set[tuple[str, str]] = set()
    for i, e in enumerate(edges):
        if (e.src, e.dst) in seen:
            raise InputError(f"edges[{i}]: duplicate edge {e.src} -> {e.dst}")
        seen.add((e.src, e.dst))

    link, pair_links = _links(top.get("links", {}), device_ids)
    _check_transfers(edges, [link, *pair_links.values()])
    slo = top.get("slo_ms")
    inst = DagInstance(
        devices=tuple(devices),
        operators=tuple(operators),
        edges=tuple(edges),
        link=link,
        pair_links=pair_links,
        slo_us=None if slo is None else _us(slo, "slo_ms", exclusive_minimum=True),
        name=str(top.get("name", "")),
        meta=_meta(top.get("meta", {})),
    )
    for i, op in enumerate(inst.operators):
        if not inst.allowed(op):
            have = ", ".join(sorted(op.time_us) + sorted(op.time_dev_us))
            raise InputError(
                f"operators[{i}] ({op.id}): can run on no device "
                f"(times for kinds {have}; devices of kinds {', '.join(sorted(kinds))}"
                + (f"; restricted to {', '.join(op.devices)}" if op.devices else "")
                + ")"
            )
    g = inst.graph()
    if not nx.is_directed_acyclic_graph(g):
        cycle = nx.find_cycle(g)
        raise InputError(
            "edges: the graph has a cycle: " + " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        )
    return inst


def slo_us(inst: DagInstance, slo_ms: float | None) -> int:
    """The SLO of the memory pattern: the one asked for, else the file's ``slo_ms``, else the
    GPU-only latency (Chrion's memory-optimal setting: no slower than running on the GPU)."""
    if slo_ms is not None:
        return us(slo_ms)
    if inst.slo_us is not None:
        return inst.slo_us
    return inst.gpu_only_latency_us


def _meta(m: Any) -> dict[str, Any]:
    if not isinstance(m, dict):
        raise InputError(f"meta: expected an object, got {F.type_name(m)}")
    return dict(m)


def _unique(ids: list[str], path: str) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            raise InputError(f"{path}[{i}].id: duplicate id {x!r}")
        seen.add(x)


def _device(d: Any, path: str) -> Device:
    F.obj(d, path, {"id", "kind"}, {"slots", "mem_capacity_mb", "speed"})
    cap = d.get("mem_capacity_mb")
    speed = F.number(d.get("speed", 1), f"{path}.speed", exclusive_minimum=True)
    if not 1e-6 <= speed <= 1e6:
        raise InputError(f"{path}.speed: expected a number in [1e-06, 1e+06], got {speed:g}")
    return Device(
        id=F.string(d["id"], f"{path}.id"),
        kind=F.string(d["kind"], f"{path}.kind", choices=KINDS),
        slots=_slots(d.get("slots", 1), f"{path}.slots"),
        mem_capacity_kb=None if cap is None else _kb(cap, f"{path}.mem_capacity_mb"),
        speed=speed,
    )


def _slots(value: Any, path: str) -> int:
    n = int(F.number(value, path, minimum=1, integer=True))
    F.check_size("dag.slots", n, path)
    return n


def _operator(o: Any, path: str, device_ids: set[str]) -> Operator:
    F.obj(o, path, {"id", "time_ms"}, {"mem_mb", "devices", "op_type"})
    op_id = F.string(o["id"], f"{path}.id")
    times = o["time_ms"]
    if not isinstance(times, dict) or not times:
        raise InputError(
            f"{path}.time_ms: expected an object {{kind or device id: ms}} with at least one entry"
        )
    time_us, time_dev_us = {}, {}
    for key, t in times.items():
        if key in KINDS:
            time_us[key] = _us(t, f"{path}.time_ms.{key}")
        elif key in device_ids:
            time_dev_us[key] = _us(t, f"{path}.time_ms.{key}")
        else:
            raise InputError(
                f"{path}.time_ms.{key}: neither a device kind (cpu, gpu) nor a device id"
            )
    devices = None
    if o.get("devices") is not None:
        devices = tuple(
            F.string(x, f"{path}.devices[{j}]")
            for j, x in enumerate(F.array(o["devices"], f"{path}.devices", min_len=1))
        )
        for j, dev in enumerate(devices):
            if dev not in device_ids:
                raise InputError(f"{path}.devices[{j}]: unknown device {dev!r}")
    op_type = o.get("op_type")
    return Operator(
        id=op_id,
        time_us=time_us,
        mem_kb=_kb(o.get("mem_mb", 0), f"{path}.mem_mb"),
        devices=devices,
        op_type=None if op_type is None else F.string(op_type, f"{path}.op_type"),
        time_dev_us=time_dev_us,
    )


def _edge(e: Any, path: str, op_ids: set[str]) -> Edge:
    F.obj(e, path, {"src", "dst"}, {"bytes"})
    src = F.string(e["src"], f"{path}.src")
    dst = F.string(e["dst"], f"{path}.dst")
    for end, name in (("src", src), ("dst", dst)):
        if name not in op_ids:
            raise InputError(f"{path}.{end}: unknown operator {name!r}")
    if src == dst:
        raise InputError(f"{path}: self-loop on {src!r} (the graph has a cycle)")
    return Edge(src, dst, int(F.number(e.get("bytes", 0), f"{path}.bytes", integer=True)))


def _check_transfers(edges: list[Edge], links: list[Link]) -> None:
    """The slowest transfer (largest edge over the slowest link) must fit the integer µs range."""
    if not edges:
        return
    i, big = max(enumerate(edges), key=lambda ie: ie[1].bytes)
    for link in links:
        t = link.latency_us
        if link.bandwidth_gb_s is not None and big.bytes:
            t += _ceil_div_bytes(big.bytes, link.bandwidth_gb_s)
        if t > F.MAX_UNITS:
            raise InputError(
                f"edges[{i}].bytes: moving {big.bytes} bytes takes {t / 1e3:.4g} ms on a link of "
                f"{link.bandwidth_gb_s:g} GB/s; at most {F.MAX_UNITS / 1e3:g} ms (10^12 µs) allowed"
            )


def _link(d: dict, path: str) -> Link:
    bw = d.get("bandwidth_gb_s")
    shared = d.get("shared", False)
    if not isinstance(shared, bool):
        raise InputError(f"{path}.shared: expected true or false, got {F.type_name(shared)}")
    return Link(
        latency_us=_us(d.get("latency_ms", 0), f"{path}.latency_ms"),
        bandwidth_gb_s=None
        if bw is None
        else F.number(bw, f"{path}.bandwidth_gb_s", exclusive_minimum=True),
        shared=shared,
    )


def _links(d: Any, device_ids: set[str]) -> tuple[Link, dict[frozenset[str], Link]]:
    F.obj(d, "links", set(), {"latency_ms", "bandwidth_gb_s", "pairs", "shared"})
    pairs: dict[frozenset[str], Link] = {}
    for i, p in enumerate(F.array(d.get("pairs", []), "links.pairs")):
        path = f"links.pairs[{i}]"
        F.obj(p, path, {"devices"}, {"latency_ms", "bandwidth_gb_s", "shared"})
        ends = F.array(p["devices"], f"{path}.devices", min_len=2)
        ends = [F.string(x, f"{path}.devices[{j}]") for j, x in enumerate(ends)]
        if len(ends) != 2 or ends[0] == ends[1]:
            raise InputError(f"{path}.devices: expected two different device ids")
        for j, dev in enumerate(ends):
            if dev not in device_ids:
                raise InputError(f"{path}.devices[{j}]: unknown device {dev!r}")
        pairs[frozenset(ends)] = _link(p, path)
    return _link(d, "links"), pairs


# ------------------------------------------------------------------------------ dump


def dump(inst: DagInstance) -> dict[str, Any]:
    """The JSON object of an instance; ``load(dump(x)) == x``."""
    out: dict[str, Any] = {"family": FAMILY, "version": VERSION}
    if inst.name:
        out["name"] = inst.name
    out["devices"] = [
        {"id": d.id, "kind": d.kind, "slots": d.slots}
        | ({} if d.mem_capacity_kb is None else {"mem_capacity_mb": d.mem_capacity_kb / 1000})
        | ({} if d.speed == 1 else {"speed": d.speed})
        for d in inst.devices
    ]
    out["operators"] = [
        {
            "id": o.id,
            "time_ms": {k: t / 1000 for k, t in (o.time_us | o.time_dev_us).items()},
            "mem_mb": o.mem_kb / 1000,
        }
        | ({} if o.devices is None else {"devices": list(o.devices)})
        | ({} if o.op_type is None else {"op_type": o.op_type})
        for o in inst.operators
    ]
    out["edges"] = [{"src": e.src, "dst": e.dst, "bytes": e.bytes} for e in inst.edges]
    out["links"] = _dump_link(inst.link) | (
        {"pairs": [{"devices": sorted(k)} | _dump_link(v) for k, v in inst.pair_links.items()]}
        if inst.pair_links
        else {}
    )
    if inst.slo_us is not None:
        out["slo_ms"] = inst.slo_us / 1000
    if inst.meta:
        out["meta"] = inst.meta
    return out


def _dump_link(link: Link) -> dict[str, Any]:
    d: dict[str, Any] = {"latency_ms": link.latency_us / 1000}
    if link.bandwidth_gb_s is not None:
        d["bandwidth_gb_s"] = link.bandwidth_gb_s
    if link.shared:
        d["shared"] = True
    return d


def describe(inst: DagInstance) -> str:
    devs = ", ".join(
        f"{d.id}({d.kind}x{d.slots}" + ("" if d.speed == 1 else f", speed {d.speed:g}") + ")"
        for d in inst.devices
    )
    return f"{len(inst.operators)} operators, {len(inst.edges)} edges, devices {devs}"
