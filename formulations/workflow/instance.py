"""F2 instance: a serverless workflow DAG whose functions each get a (vCPU, memory) configuration.

File format (JSON, ``"family": "workflow"``, ``"version": 1``)::

    cpu_grid:    [cores, ...]            strictly increasing, e.g. [0.25, 0.5, ..., 2.0]
    mem_grid_mb: [MB, ...]               strictly increasing, e.g. [128, 256, ..., 4096]
    prices:      "aarc" | "cloudrun" | {per_vcpu_s, per_gb_s, per_request = 0}
    slo_ms:      end-to-end latency SLO of the workflow (longest path of runtimes)
    mb_per_vcpu: 1769 (coupled mode: memory m gives m / mb_per_vcpu vCPU, as on AWS Lambda)
    functions:   [{id, model, spread = []}]  with model one of
        {"kind": "table", "runtime_ms": [[ms | null per memory level] per CPU level]}
            (null = out of memory: the configuration cannot run)
        {"kind": "parametric", "serial_ms", "parallel_ms", "parallelism" (cores),
         "base_mem_mb", "working_set_mb" = base_mem_mb, "slowdown" = 0}
            runtime(c, m) = (serial + parallel / min(c, parallelism)) * f(m), out of memory
            for m < base, f(m) = 1 + slowdown * (ws - m) / (ws - base) for base <= m < ws,
            f(m) = 1 above the working set
    spread:      optional run-to-run spread of the function's measured runtimes, as ratios
                 runtime / mean runtime of the configuration (e.g. [0.84, 1.16]); a noisy
                 profiling oracle multiplies each profiled runtime by one of them, drawn at
                 random (seeded). The problem itself (models, evaluator) uses the table only.
    edges:       [[src, dst], ...]       data dependencies
    name, meta:  free text / free object (source, attribution, generator settings)

Prices: cost of a function = runtime_s * (per_vcpu_s * cores + per_gb_s * MB / 1024) +
per_request. ``aarc`` is the AARC prototype's pricing, cost = runtime_s * (MB + 512 * cores) (one
core priced like 512 MB, in MB-seconds); ``cloudrun`` is Google Cloud Run's tier-1 list price
(0.000024 $/vCPU-s, 0.0000025 $/GiB-s, 0.40 $/million requests).

Coupled mode: a configuration (c, m) is *coupled* iff c is the largest CPU level <= m /
mb_per_vcpu (the smallest CPU level when m / mb_per_vcpu is below the grid). The coupled problem is
the decoupled one restricted to coupled configurations, so its optimum is never cheaper.

Runtimes are kept in integer microseconds: the loader rounds every runtime to the µs, and that
quantised table *is* the problem every model, heuristic oracle and the evaluator see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import networkx as nx
from optgap.solvers import fields as F
from optgap.solvers.errors import InputError

FAMILY = "workflow"
VERSION = 1
F.define_limit("workflow.functions", 10_000, "functions")
F.define_limit("workflow.edges", 100_000, "edges")
F.define_limit("workflow.configurations", 10_000, "configurations (CPU x memory levels)")
LAMBDA_MB_PER_VCPU = 1769.0
PRICE_PRESETS: dict[str, tuple[float, float, float]] = {
    # (per vCPU-second, per GB-second, per request)
    "aarc": (512.0, 1024.0, 0.0),  # prototype: runtime * (MB + 512 * cores), in MB-s
    "cloudrun": (0.000024, 0.0000025, 0.0000004),
}


@dataclass(frozen=True)
class Prices:
    per_vcpu_s: float
    per_gb_s: float
    per_request: float = 0.0
    preset: str | None = None  # kept so that dump writes the name back

    def cost(self, runtime_us: int, cpu: float, mem_mb: float) -> float:
        return (runtime_us / 1e6) * (
            self.per_vcpu_s * cpu + self.per_gb_s * mem_mb / 1024.0
        ) + self.per_request


@dataclass(frozen=True)
class Function:
    id: str
    model: dict[str, Any]  # the model as given in the file (for dump)
    # runtime_us[i][j] at cpu_grid[i], mem_grid[j]; None = out of memory
    runtime_us: tuple[tuple[int | None, ...], ...]
    spread: tuple[float, ...] = ()  # measured runtime / mean ratios (for a noisy oracle only)


@dataclass(frozen=True)
class WorkflowInstance:
    cpu_grid: tuple[float, ...]
    mem_grid_mb: tuple[float, ...]
    prices: Prices
    slo_us: int
    functions: tuple[Function, ...]
    edges: tuple[tuple[str, str], ...]
    mb_per_vcpu: float = LAMBDA_MB_PER_VCPU
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    # -- derived views for models (heuristics go through heuristics.workflow.oracle) --

    @cached_property
    def index(self) -> dict[str, int]:
        return {f.id: k for k, f in enumerate(self.functions)}

    @cached_property
    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(f.id for f in self.functions)
        g.add_edges_from(self.edges)
        return g

    @cached_property
    def topological_order(self) -> tuple[str, ...]:
        return tuple(nx.lexicographical_topological_sort(self.graph, key=self.index.__getitem__))

    @cached_property
    def coupled_cpu_index(self) -> tuple[int, ...]:
        """For each memory level j, the CPU level index a coupled (Lambda-style) platform gives."""
        out = []
        for m in self.mem_grid_mb:
            share = m / self.mb_per_vcpu
            below = [i for i, c in enumerate(self.cpu_grid) if c <= share + 1e-12]
            out.append(below[-1] if below else 0)
        return tuple(out)

    def is_coupled(self, i: int, j: int) -> bool:
        return self.coupled_cpu_index[j] == i

    def cost(self, runtime_us: int, i: int, j: int) -> float:
        return self.prices.cost(runtime_us, self.cpu_grid[i], self.mem_grid_mb[j])


def us(ms: float) -> int:
    return round(ms * 1000)


def slo_us(inst: WorkflowInstance, slo_ms: float | None) -> int:
    """The SLO asked for (``--slo-ms``), else the file's."""
    return inst.slo_us if slo_ms is None else us(slo_ms)


def mode_of(objective: str | None) -> str:
    """Objective pattern -> configuration mode: ``cost`` is decoupled, ``coupled`` is coupled."""
    return "coupled" if objective == "coupled" else "decoupled"


# ------------------------------------------------------------------------------ load


def load(data: Any) -> WorkflowInstance:
    """Validate a parsed JSON object and build the instance; one-line InputError otherwise."""
    top = F.obj(
        data,
        "instance",
        {"family", "cpu_grid", "mem_grid_mb", "prices", "slo_ms", "functions"},
        {"version", "name", "edges", "mb_per_vcpu", "meta"},
    )
    if top["family"] != FAMILY:
        raise InputError(f"instance.family: expected {FAMILY!r}, got {top['family']!r}")
    version = top.get("version", VERSION)
    if version != VERSION:
        raise InputError(f"instance.version: unsupported version {version!r} (this is {VERSION})")
    cpu_grid = _grid(top["cpu_grid"], "cpu_grid")
    mem_grid = _grid(top["mem_grid_mb"], "mem_grid_mb")
    F.check_size("workflow.configurations", len(cpu_grid) * len(mem_grid), "cpu_grid x mem_grid_mb")
    F.check_size("workflow.functions", len(F.array(top["functions"], "functions")), "functions")
    F.check_size("workflow.edges", len(F.array(top.get("edges", []), "edges")), "edges")
    prices = _prices(top["prices"])
    slo = F.quantity(top["slo_ms"], "slo_ms", 1000, "µs", exclusive_minimum=True)
    if slo <= 0:
        raise InputError("slo_ms: must be at least 0.001 ms (1 µs)")
    functions = [
        _function(f, f"functions[{k}]", cpu_grid, mem_grid)
        for k, f in enumerate(F.array(top["functions"], "functions", min_len=1))
    ]
    seen: set[str] = set()
    for k, f in enumerate(functions):
        if f.id in seen:
            raise InputError(f"functions[{k}].id: duplicate id {f.id!r}")
        seen.add(f.id)
    edges = []
    pairs: set[tuple[str, str]] = set()
    for k, e in enumerate(F.array(top.get("edges", []), "edges")):
        path = f"edges[{k}]"
        F.array(e, path)
        if len(e) != 2:
            raise InputError(f"{path}: expected [src, dst], got {len(e)} element(s)")
        src, dst = F.string(e[0], f"{path}[0]"), F.string(e[1], f"{path}[1]")
        for end, name in ((0, src), (1, dst)):
            if name not in seen:
                raise InputError(f"{path}[{end}]: unknown function {name!r}")
        if src == dst:
            raise InputError(f"{path}: self-loop on {src!r} (the graph has a cycle)")
        if (src, dst) in pairs:
            raise InputError(f"{path}: duplicate edge {src} -> {dst}")
        pairs.add((src, dst))
        edges.append((src, dst))
    mb_per_vcpu = F.number(
        top.get("mb_per_vcpu", LAMBDA_MB_PER_VCPU), "mb_per_vcpu", exclusive_minimum=True
    )
    meta = top.get("meta", {})
    if not isinstance(meta, dict):
        raise InputError(f"meta: expected an object, got {F.type_name(meta)}")
    name = top.get("name", "")
    if not isinstance(name, str):
        raise InputError(f"name: expected a string, got {F.type_name(name)}")
    inst = WorkflowInstance(
        cpu_grid=cpu_grid,
        mem_grid_mb=mem_grid,
        prices=prices,
        slo_us=slo,
        functions=tuple(functions),
        edges=tuple(edges),
        mb_per_vcpu=mb_per_vcpu,
        name=name,
        meta=dict(meta),
    )
    if not nx.is_directed_acyclic_graph(inst.graph):
        cycle = nx.find_cycle(inst.graph)
        raise InputError(
            "edges: the graph has a cycle: " + " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        )
    return inst


def _grid(value: Any, path: str) -> tuple[float, ...]:
    items = F.array(value, path, min_len=1)
    out = tuple(F.number(x, f"{path}[{k}]", exclusive_minimum=True) for k, x in enumerate(items))
    for k in range(1, len(out)):
        if out[k] <= out[k - 1]:
            raise InputError(
                f"{path}[{k}]: the grid must be strictly increasing ({out[k - 1]:g} then {out[k]:g})"
            )
    return out


def _prices(value: Any) -> Prices:
    if isinstance(value, str):
        if value not in PRICE_PRESETS:
            raise InputError(
                f"prices: unknown preset {value!r} (known: {', '.join(sorted(PRICE_PRESETS))})"
            )
        return Prices(*PRICE_PRESETS[value], preset=value)
    F.obj(value, "prices", {"per_vcpu_s", "per_gb_s"}, {"per_request"})
    p = Prices(
        F.number(value["per_vcpu_s"], "prices.per_vcpu_s"),
        F.number(value["per_gb_s"], "prices.per_gb_s"),
        F.number(value.get("per_request", 0.0), "prices.per_request"),
    )
    if p.per_vcpu_s == 0 and p.per_gb_s == 0:
        raise InputError("prices: per_vcpu_s and per_gb_s are both 0 (every configuration is free)")
    return p


def _function(f: Any, path: str, cpu_grid: tuple, mem_grid: tuple) -> Function:
    F.obj(f, path, {"id", "model"}, {"spread"})
    fid = F.string(f["id"], f"{path}.id")
    model = f["model"]
    if not isinstance(model, dict) or "kind" not in model:
        raise InputError(f"{path}.model: expected an object with a 'kind' (table or parametric)")
    kind = F.string(model["kind"], f"{path}.model.kind", choices=("table", "parametric"))
    mp = f"{path}.model"
    if kind == "table":
        F.obj(model, mp, {"kind", "runtime_ms"})
        rows = F.array(model["runtime_ms"], f"{mp}.runtime_ms")
        if len(rows) != len(cpu_grid):
            raise InputError(
                f"{mp}.runtime_ms: expected one row per CPU level ({len(cpu_grid)}), got {len(rows)}"
            )
        table = []
        for i, row in enumerate(rows):
            F.array(row, f"{mp}.runtime_ms[{i}]")
            if len(row) != len(mem_grid):
                raise InputError(
                    f"{mp}.runtime_ms[{i}]: expected one entry per memory level "
                    f"({len(mem_grid)}), got {len(row)}"
                )
            table.append(
                tuple(
                    None if t is None else _positive_us(t, f"{mp}.runtime_ms[{i}][{j}]")
                    for j, t in enumerate(row)
                )
            )
        runtime = tuple(table)
        stored = {"kind": "table", "runtime_ms": [list(r) for r in rows]}
    else:
        F.obj(
            model,
            mp,
            {"kind", "serial_ms", "parallel_ms", "parallelism", "base_mem_mb"},
            {"working_set_mb", "slowdown"},
        )
        serial = F.number(model["serial_ms"], f"{mp}.serial_ms")
        parallel = F.number(model["parallel_ms"], f"{mp}.parallel_ms")
        par = F.number(model["parallelism"], f"{mp}.parallelism", exclusive_minimum=True)
        base = F.number(model["base_mem_mb"], f"{mp}.base_mem_mb")
        ws = F.number(model.get("working_set_mb", base), f"{mp}.working_set_mb")
        slow = F.number(model.get("slowdown", 0.0), f"{mp}.slowdown")
        if ws < base:
            raise InputError(f"{mp}.working_set_mb: {ws:g} is below base_mem_mb {base:g}")
        if serial + parallel <= 0:
            raise InputError(f"{mp}: serial_ms + parallel_ms must be > 0")
        slowest = (serial + parallel / min(cpu_grid[0], par)) * (1.0 + slow)
        if not slowest * 1000 <= F.MAX_UNITS:
            raise InputError(
                f"{mp}: the runtime at the smallest configuration, {slowest:.4g} ms, exceeds "
                f"{F.MAX_UNITS / 1000:g} ms (10^12 µs)"
            )
        runtime = tuple(
            tuple(
                parametric_runtime_us(serial, parallel, par, base, ws, slow, c, m) for m in mem_grid
            )
            for c in cpu_grid
        )
        stored = dict(model)
    if all(t is None for row in runtime for t in row):
        raise InputError(
            f"{path} ({fid}): out of memory at every configuration (no memory level is enough)"
        )
    spread = tuple(
        F.number(r, f"{path}.spread[{k}]", exclusive_minimum=True)
        for k, r in enumerate(F.array(f.get("spread", []), f"{path}.spread"))
    )
    for k, r in enumerate(spread):
        if not 0.1 <= r <= 10:
            raise InputError(
                f"{path}.spread[{k}]: a ratio to the mean must be in [0.1, 10], got {r:g}"
            )
    return Function(fid, stored, runtime, spread)


def _positive_us(value: Any, path: str) -> int:
    ms = F.number(value, path)
    t = F.quantity(ms, path, 1000, "µs")
    if t <= 0:
        raise InputError(f"{path}: a runtime must be at least 0.001 ms (1 µs), got {ms:g}")
    return t


def parametric_runtime_us(
    serial: float,
    parallel: float,
    par: float,
    base: float,
    ws: float,
    slow: float,
    c: float,
    m: float,
) -> int | None:
    """The parametric performance model in µs (None = out of memory); see the module docstring."""
    if m < base:
        return None
    t = serial + parallel / min(c, par)
    if m < ws:
        t *= 1.0 + slow * (ws - m) / (ws - base)
    return max(1, us(t))


# ------------------------------------------------------------------------------ dump


def dump(inst: WorkflowInstance) -> dict[str, Any]:
    """The JSON object of an instance; ``load(dump(x)) == x``."""
    out: dict[str, Any] = {"family": FAMILY, "version": VERSION}
    if inst.name:
        out["name"] = inst.name
    p = inst.prices
    out["cpu_grid"] = list(inst.cpu_grid)
    out["mem_grid_mb"] = list(inst.mem_grid_mb)
    out["prices"] = (
        p.preset
        if p.preset is not None
        else {"per_vcpu_s": p.per_vcpu_s, "per_gb_s": p.per_gb_s, "per_request": p.per_request}
    )
    out["slo_ms"] = inst.slo_us / 1000
    if inst.mb_per_vcpu != LAMBDA_MB_PER_VCPU:
        out["mb_per_vcpu"] = inst.mb_per_vcpu
    out["functions"] = [
        {"id": f.id, "model": f.model} | ({"spread": list(f.spread)} if f.spread else {})
        for f in inst.functions
    ]
    out["edges"] = [[a, b] for a, b in inst.edges]
    if inst.meta:
        out["meta"] = inst.meta
    return out


def describe(inst: WorkflowInstance) -> str:
    p = inst.prices.preset or "custom"
    return (
        f"{len(inst.functions)} functions, {len(inst.edges)} edges, "
        f"{len(inst.cpu_grid)} CPU x {len(inst.mem_grid_mb)} memory levels, "
        f"SLO {inst.slo_us / 1000:g} ms, prices {p}"
    )
