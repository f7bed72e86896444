"""F4 instance: a Transformer's layers loaded from disk by k agents and run in order by one
inference agent, under a memory budget (Hermes / PIPELOAD, arXiv 2409.04249).

File format (JSON, ``"family": "pipeload"``, ``"version": 1``)::

    layers:      [{name, load_ms, compute_ms, mem_mb}]   in execution order, names unique
    resident_mb: activations + runtime memory, held for the whole inference (default 0)
    agent_mb:    memory each loading agent holds (a staging buffer; default 0)
    agents:      k, or {"min": a, "max": b} (the planner / the exact models choose k)
    budget_mb:   memory budget of the latency objective (optional; absent or null: none)
    latency_bound_ms: latency bound of the memory objective (optional; default: the latency of
                 the pipeline baseline, one agent loading in order without freeing)
    disk_mb_s:   optional shared disk bandwidth: a layer loads alone at mem_mb / load_ms; while
                 the loads in progress together ask for more than disk_mb_s, all of them slow
                 down by the same factor (processor sharing). Absent: loads are independent.
    name, meta:  free text / free object (source, model dimensions, attribution)

Semantics. Layer i's load occupies one agent for load_ms (or longer when the disk is shared);
its run takes compute_ms on the single inference agent, after its load has ended and after run
i-1; its mem_mb is held from the start of its load to the end of its run (the daemon frees it
right after). Memory in use = resident + k * agent + the held layers; latency = end of the last
run. Loads may be in any order (PIPELOAD loads in layer order; the exact models may do better).

Units. Times are integer microseconds and memory integer kilobytes: the loader rounds ``*_ms``
and ``*_mb`` to three decimals (half to even, Python's ``round``). That quantised data is the
problem every model, heuristic and the evaluator solve. With a shared disk, load ends are exact
rationals and every start that waits for one (a run, the next load on that agent) is on the µs
grid at or after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from optgap.solvers import fields as F
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions

FAMILY = "pipeload"
VERSION = 1
PARAMS = ("budget_mb", "latency_ms", "k", "points", "order", "sweep_s")  # sweep_s: pareto.py
F.define_limit("pipeload.layers", 10_000, "layers")
F.define_limit("pipeload.agents", 1_000, "loading agents")


@dataclass(frozen=True)
class Layer:
    name: str
    load_us: int
    compute_us: int
    mem_kb: int


@dataclass(frozen=True)
class PipeloadInstance:
    layers: tuple[Layer, ...]
    resident_kb: int = 0
    agent_kb: int = 0
    k_min: int = 1
    k_max: int = 1
    budget_kb: int | None = None
    latency_bound_us: int | None = None
    disk_kb_per_us: Fraction | None = None  # MB/s = kB/ms; /1000 -> kB/µs
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.layers)

    @property
    def model_kb(self) -> int:
        return sum(layer.mem_kb for layer in self.layers)

    def fixed_kb(self, k: int) -> int:
        """Memory held for the whole inference with k agents: resident + k staging buffers."""
        return self.resident_kb + k * self.agent_kb

    def min_budget_kb(self) -> int:
        """The least memory any schedule needs: the largest layer on top of the fixed memory
        with the fewest agents (one layer must be held while it runs)."""
        return self.fixed_kb(self.k_min) + max(layer.mem_kb for layer in self.layers)

    def disk_binding(self, k: int) -> bool:
        """True when the shared disk can slow loads down with k agents: the k fastest solo
        loads together ask for more than the disk gives."""
        if self.disk_kb_per_us is None:
            return False
        rates = sorted(
            (Fraction(x.mem_kb, x.load_us) for x in self.layers if x.load_us > 0), reverse=True
        )
        return sum(rates[:k]) > self.disk_kb_per_us

    @property
    def agents_range(self) -> range:
        return range(self.k_min, self.k_max + 1)


def us(ms: float) -> int:
    return round(ms * 1000)


def kb(mb: float) -> int:
    return round(mb * 1000)


# ------------------------------------------------------------------------------ params


@dataclass(frozen=True)
class Params:
    budget_kb: int | None  # latency objective: the budget in force (None: unlimited)
    latency_bound_us: int | None  # memory objective: the bound asked for (None: the default)
    k: int | None  # heuristics: fix the number of agents
    points: int | None  # pareto: number of budgets to sweep (None: all breakpoints)
    in_order: bool = False  # exact models: loads start in layer order (PIPELOAD's rule)


def params(inst: PipeloadInstance, options: SolveOptions) -> Params:
    """Read and check the ``--param`` keys of this family; unknown keys are an InputError."""
    for key, _ in options.params:
        if key not in PARAMS:
            raise InputError(
                f"--param {key}: unknown key for pipeload (known: {', '.join(PARAMS)})"
            )
    budget = inst.budget_kb
    if options.param("budget_mb") is not None:
        v = options.param("budget_mb")
        budget = None if v in ("none", "inf") else _qty(_positive(v, "budget_mb"), "budget_mb")
    bound = None
    if options.param("latency_ms") is not None:
        bound = _qty(_positive(options.param("latency_ms"), "latency_ms"), "latency_ms")
    elif options.slo_ms is not None:
        bound = us(options.slo_ms)
    k = None
    if options.param("k") is not None:
        k = int(_positive(options.param("k"), "k", integer=True))
        if not inst.k_min <= k <= inst.k_max:
            raise InputError(
                f"--param k={k}: outside the instance's agents {inst.k_min}..{inst.k_max}"
            )
    points = None
    if options.param("points") not in (None, "all"):
        points = int(_positive(options.param("points"), "points", integer=True))
        if points < 2:
            raise InputError("--param points: at least 2 budgets (or 'all')")
    order = options.param("order", "any")
    if order not in ("any", "layer"):
        raise InputError(f"--param order={order!r}: expected any or layer")
    return Params(budget, bound, k, points, order == "layer")


def _positive(text: str | None, key: str, integer: bool = False) -> float:
    try:
        v = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"--param {key}={text!r}: expected a number") from None
    return F.number(v, f"--param {key}", minimum=0, exclusive_minimum=True, integer=integer)


def _qty(v: float, key: str) -> int:
    unit = "kB" if key.endswith("_mb") else "µs"
    return F.quantity(v, f"--param {key}", 1000, unit, exclusive_minimum=True)


def latency_bound_us(inst: PipeloadInstance, p: Params) -> int:
    """The memory objective's bound: asked for, else the file's, else the pipeline baseline
    (one agent loading in layer order, nothing freed): PIPELOAD must be no slower than it."""
    if p.latency_bound_us is not None:
        return p.latency_bound_us
    if inst.latency_bound_us is not None:
        return inst.latency_bound_us
    return baseline_latency_us(inst)


def baseline_latency_us(inst: PipeloadInstance) -> int:
    """One agent, loads back to back in layer order, runs as soon as their layer is there. A
    single load never shares the disk with another, but it is capped by the disk bandwidth."""
    t_load = Fraction(0)
    t_run = 0
    for x in inst.layers:
        t_load += solo_load_time(inst, x)
        t_run = max(_ceil(t_load), t_run) + x.compute_us
        t_load = Fraction(_ceil(t_load))  # the agent starts its next load on the µs grid
    return t_run


def solo_load_time(inst: PipeloadInstance, x: Layer) -> Fraction:
    """A load alone on the disk: its profiled time, or longer if it asks more than the disk."""
    if inst.disk_kb_per_us is None or x.load_us == 0:
        return Fraction(x.load_us)
    return max(Fraction(x.load_us), Fraction(x.mem_kb) / inst.disk_kb_per_us)


def _ceil(q: Fraction) -> int:
    return -((-q.numerator) // q.denominator)


def latency_lower_bound_us(inst: PipeloadInstance) -> int:
    """A valid lower bound on the latency of every schedule (any k, any budget, any disk).

    Run i starts on the µs grid after its load has ended and the runs 1..i-1 have run, so
    latency ≥ ⌈S_i⌉ + Σ_{j ≥ i} c_j with S_i the solo load time (a shared disk only slows a
    load down). Runs 1..i need loads 1..i ended: on k_max agents, each loading one layer at a
    time, that takes ⌈Σ_{j ≤ i} L_j / k_max⌉, and a shared disk of bandwidth D reads
    Σ_{j ≤ i} m_j no faster than that over D; the runs i..n follow.
    """
    c = [x.compute_us for x in inst.layers]
    tail = [sum(c[i:]) for i in range(inst.n)]
    lb = 0
    loads = mem = 0
    for i, x in enumerate(inst.layers):
        loads += x.load_us
        mem += x.mem_kb
        start = max(_ceil(solo_load_time(inst, x)), -(-loads // inst.k_max))
        if inst.disk_kb_per_us is not None:
            start = max(start, _ceil(Fraction(mem) / inst.disk_kb_per_us))
        lb = max(lb, start + tail[i])
    return lb


def below_latency_bound(inst: PipeloadInstance, bound_us: int) -> str:
    """Why a latency bound below latency_lower_bound_us admits no schedule (one line)."""
    return (
        f"latency bound {bound_us / 1000:g} ms is below {latency_lower_bound_us(inst) / 1000:g} "
        f"ms, a lower bound on every schedule's latency (a layer's load, then every run from it "
        f"on; loads shared by at most {inst.k_max} agent(s))"
    )


def below_minimum(inst: PipeloadInstance, budget_kb: int) -> str:
    """Why a budget below min_budget_kb admits no schedule (one line)."""
    big = max(inst.layers, key=lambda x: x.mem_kb)
    return (
        f"budget {budget_kb / 1000:g} MB is below the minimum feasible budget "
        f"{inst.min_budget_kb() / 1000:g} MB (largest layer {big.name} {big.mem_kb / 1000:g} MB + "
        f"resident {inst.resident_kb / 1000:g} MB + {inst.k_min} agent(s) x "
        f"{inst.agent_kb / 1000:g} MB)"
    )


# ------------------------------------------------------------------------------ load / dump


def load(data: Any) -> PipeloadInstance:
    """Validate a parsed JSON object and build the instance; one-line InputError otherwise."""
    top = F.obj(
        data,
        "instance",
        {"family", "layers", "agents"},
        {
            "version",
            "name",
            "resident_mb",
            "agent_mb",
            "budget_mb",
            "latency_bound_ms",
            "disk_mb_s",
            "meta",
        },
    )
    if top["family"] != FAMILY:
        raise InputError(f"instance.family: expected {FAMILY!r}, got {top['family']!r}")
    version = top.get("version", VERSION)
    if version != VERSION:
        raise InputError(f"instance.version: unsupported version {version!r} (this is {VERSION})")
    F.check_size("pipeload.layers", len(F.array(top["layers"], "layers")), "layers")
    layers = tuple(
        _layer(x, f"layers[{i}]") for i, x in enumerate(F.array(top["layers"], "layers", min_len=1))
    )
    seen: dict[str, int] = {}
    for i, x in enumerate(layers):
        if x.name in seen:
            raise InputError(
                f"layers[{i}].name: duplicate name {x.name!r} (also layers[{seen[x.name]}])"
            )
        seen[x.name] = i
    k_min, k_max = _agents(top["agents"])
    disk = top.get("disk_mb_s")
    disk_rate = None
    if disk is not None:
        # MB/s = kB/ms; kept exact as a decimal fraction of kB/µs
        disk_rate = Fraction(str(F.number(disk, "disk_mb_s", exclusive_minimum=True))) / 1000
        if disk_rate == 0:
            raise InputError("disk_mb_s: must be > 0")
    for i, x in enumerate(layers):
        if disk_rate is not None and x.load_us == 0 and x.mem_kb > 0:
            raise InputError(
                f"layers[{i}] ({x.name}): load_ms is 0 but mem_mb > 0; with a shared disk "
                "every byte takes time (give its load time)"
            )
    budget = top.get("budget_mb")
    bound = top.get("latency_bound_ms")
    inst = PipeloadInstance(
        layers=layers,
        resident_kb=F.quantity(top.get("resident_mb", 0), "resident_mb", 1000, "kB"),
        agent_kb=F.quantity(top.get("agent_mb", 0), "agent_mb", 1000, "kB"),
        k_min=k_min,
        k_max=k_max,
        budget_kb=None
        if budget is None
        else F.quantity(budget, "budget_mb", 1000, "kB", exclusive_minimum=True),
        latency_bound_us=None
        if bound is None
        else F.quantity(bound, "latency_bound_ms", 1000, "µs", exclusive_minimum=True),
        disk_kb_per_us=disk_rate,
        name=str(F.string(top["name"], "name")) if "name" in top else "",
        meta=_meta(top.get("meta", {})),
    )
    if inst.model_kb == 0:
        raise InputError("layers: every mem_mb is 0 (nothing to load)")
    for i, x in enumerate(layers):
        if solo_load_time(inst, x) > F.MAX_UNITS:
            raise InputError(
                f"layers[{i}] ({x.name}): loading {x.mem_kb / 1000:g} MB at disk_mb_s "
                f"{float(disk_rate * 1000):g} takes over {F.MAX_UNITS / 1000:g} ms (10^12 µs)"
            )
    return inst


def _layer(x: Any, path: str) -> Layer:
    F.obj(x, path, {"name", "load_ms", "compute_ms", "mem_mb"})
    return Layer(
        name=F.string(x["name"], f"{path}.name"),
        load_us=F.quantity(x["load_ms"], f"{path}.load_ms", 1000, "µs"),
        compute_us=F.quantity(x["compute_ms"], f"{path}.compute_ms", 1000, "µs"),
        mem_kb=F.quantity(x["mem_mb"], f"{path}.mem_mb", 1000, "kB"),
    )


def _agents(a: Any) -> tuple[int, int]:
    if isinstance(a, dict):
        F.obj(a, "agents", {"min", "max"})
        lo = int(F.number(a["min"], "agents.min", minimum=1, integer=True))
        hi = int(F.number(a["max"], "agents.max", minimum=1, integer=True))
        if hi < lo:
            raise InputError(f"agents: max {hi} is below min {lo}")
        F.check_size("pipeload.agents", hi, "agents.max")
        return lo, hi
    k = int(F.number(a, "agents", minimum=1, integer=True))
    F.check_size("pipeload.agents", k, "agents")
    return k, k


def _meta(m: Any) -> dict[str, Any]:
    if not isinstance(m, dict):
        raise InputError(f"meta: expected an object, got {F.type_name(m)}")
    return dict(m)


def dump(inst: PipeloadInstance) -> dict[str, Any]:
    out: dict[str, Any] = {"family": FAMILY, "version": VERSION}
    if inst.name:
        out["name"] = inst.name
    out["layers"] = [
        {
            "name": x.name,
            "load_ms": x.load_us / 1000,
            "compute_ms": x.compute_us / 1000,
            "mem_mb": x.mem_kb / 1000,
        }
        for x in inst.layers
    ]
    out["resident_mb"] = inst.resident_kb / 1000
    if inst.agent_kb:
        out["agent_mb"] = inst.agent_kb / 1000
    out["agents"] = (
        inst.k_min if inst.k_min == inst.k_max else {"min": inst.k_min, "max": inst.k_max}
    )
    if inst.budget_kb is not None:
        out["budget_mb"] = inst.budget_kb / 1000
    if inst.latency_bound_us is not None:
        out["latency_bound_ms"] = inst.latency_bound_us / 1000
    if inst.disk_kb_per_us is not None:
        out["disk_mb_s"] = float(inst.disk_kb_per_us * 1000)
    if inst.meta:
        out["meta"] = inst.meta
    return out


def describe(inst: PipeloadInstance) -> str:
    agents = str(inst.k_min) if inst.k_min == inst.k_max else f"{inst.k_min}..{inst.k_max}"
    load = sum(x.load_us for x in inst.layers) / 1000
    comp = sum(x.compute_us for x in inst.layers) / 1000
    budget = "none" if inst.budget_kb is None else f"{inst.budget_kb / 1000:g} MB"
    return (
        f"{inst.name or 'unnamed'}: {inst.n} layers, {inst.model_kb / 1000:g} MB of weights, "
        f"load {load:g} ms / compute {comp:g} ms in total, resident {inst.resident_kb / 1000:g} MB, "
        f"agents {agents}, budget {budget}"
        + (
            f", shared disk {float(inst.disk_kb_per_us * 1000):g} MB/s"
            if inst.disk_kb_per_us
            else ""
        )
    )


def schedule_solution(inst: PipeloadInstance, objective: str, s: Any, extra: dict) -> dict:
    """The evaluator's solution format (times in ms) of a schedule in µs: anything with ``k``,
    ``load_start``, ``agent`` and ``run_start`` per layer (the exact models' and the
    simulator's schedules alike)."""
    return {
        "objective": objective,
        "agents": s.k,
        **extra,
        "schedule": {
            x.name: {
                "load_start_ms": s.load_start[i] / 1000,
                "agent": s.agent[i],
                "run_start_ms": s.run_start[i] / 1000,
            }
            for i, x in enumerate(inst.layers)
        },
    }
