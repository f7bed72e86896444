"""Independent evaluator for F2: the definition of a feasible configuration and of its cost.

It shares no code with the models or heuristics: runtimes are read from the instance's table,
the latency is recomputed as the longest path here, and the cost from the prices.

Solution (the ``solution`` object of a result)::

    {"mode": "decoupled" | "coupled", "slo_ms": float | null,
     "configs": {function_id: {"cpu": cores, "mem_mb": MB}}}

**What is in force.** The SLO is ``options.slo_ms`` (``--slo-ms``) when given, else the
instance's ``slo_ms``; the mode is the one of the objective pattern ``options.objective``
(``cost``: decoupled, ``coupled``: coupled), else ``cost``. Nothing the solution says changes
them: ``slo_ms`` and ``mode`` in the solution are *claims*, and a claim that differs from what is
in force rejects the solution (``solution.slo_ms`` / ``solution.mode``). ``metrics`` carry the SLO
and mode judged against (``slo_ms``, ``slo_from``: ``instance`` or ``--slo-ms``, ``mode``).

**Violations** (each names its field; any malformed value of any type is a violation, never an
exception; a bad ``options`` value is an ``InputError``):

- ``solution``: not an object, or a field other than ``mode``, ``slo_ms``, ``configs``;
- ``solution.mode`` / ``solution.slo_ms``: not a known mode / a finite number, or differs from
  what is in force (the SLO compared in integer µs, the instance's unit);
- ``configs``: not an object; ``configs.<id>``: not a function of the instance, missing, or not
  an object with exactly ``cpu`` and ``mem_mb``;
- ``configs.<id>.cpu`` / ``.mem_mb``: not a number equal to a level of the grid;
- ``configs.<id>: coupled``: in coupled mode, the CPU is not the level the memory gives (the
  largest CPU level <= MB / mb_per_vcpu, the smallest level below the grid);
- ``configs.<id>: out of memory``: the table has no runtime (null) at that configuration;
- ``latency``: the workflow latency (longest path of runtimes; a function starts when all its
  predecessors have finished, start times are not decisions) exceeds the SLO in force by even 1 µs.

Objective: total cost of one workflow run, sum over functions of
runtime_s * (per_vcpu_s * cores + per_gb_s * MB / 1024) + per_request.

**Trusted from the loader** (``instance.load``): the grids are strictly increasing finite
positive numbers; every ``runtime_us`` cell is an int >= 1 or None (the loader computes
parametric models into this table and rounds to the µs: that table is the problem); prices are
finite and >= 0; ``slo_us`` is an int >= 1; ``mb_per_vcpu`` > 0; function ids are unique strings;
every edge joins two known functions. Acyclicity is trusted too but re-checked (a cycle would be
reported as ``edges``, not crash). A function's ``spread`` (run-to-run ratios for the noisy
profiling oracle) plays no part here: the problem is the table.
"""

from __future__ import annotations

import math
from typing import Any

from optgap.solvers.errors import InputError
from optgap.solvers.result import Evaluation, SolveOptions

MODES = {"cost": "decoupled", "coupled": "coupled"}


def _in_force(instance: Any, options: SolveOptions | None) -> tuple[int, str, str]:
    """(SLO in µs, where it came from, mode) from the instance and the user's options only."""
    slo_ms = None if options is None else options.slo_ms
    pattern = None if options is None else options.objective
    if pattern is None:
        pattern = "cost"
    if pattern not in MODES:
        raise InputError(f"--objective {pattern}: unknown for workflow (known: cost, coupled)")
    if slo_ms is None:
        return instance.slo_us, "instance", MODES[pattern]
    if not _number(slo_ms) or not 0 < slo_ms <= 1e12:
        raise InputError(f"--slo-ms: expected a number in (0, 1e12] ms, got {slo_ms!r}")
    slo = round(slo_ms * 1000)
    if slo < 1:
        raise InputError(f"--slo-ms: must be at least 0.001 ms (1 µs), got {slo_ms!r}")
    return slo, "--slo-ms", MODES[pattern]


def _number(x: Any) -> bool:
    """A finite int or float (not a bool; an int beyond float range, e.g. 10**400, is not)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    if isinstance(x, int):
        return abs(x) <= 1e300
    return math.isfinite(x)


def _level(x: Any, grid: tuple[float, ...]) -> int | None:
    """Index of x in the grid, or None (not a finite number, or not exactly a level)."""
    if not _number(x):
        return None
    for k, g in enumerate(grid):
        if x == g:
            return k
    return None


def _show(x: Any) -> str:
    s = repr(x)
    return s if len(s) <= 40 else s[:37] + "..."


def evaluate(instance: Any, solution: Any, options: SolveOptions | None = None) -> Evaluation:
    slo_us, slo_from, mode = _in_force(instance, options)
    judged = {"slo_ms": slo_us / 1000, "slo_from": slo_from, "mode": mode}
    if not isinstance(solution, dict):
        return Evaluation(
            False, None, [f"solution: expected an object, got {_show(solution)}"], judged
        )
    v: list[str] = []
    for key in solution:
        if key not in ("mode", "slo_ms", "configs"):
            v.append(f"solution.{_show(key)}: unknown field (known: mode, slo_ms, configs)")
    if "mode" in solution:
        claim = solution["mode"]
        if not isinstance(claim, str) or claim not in ("decoupled", "coupled"):
            v.append(f"solution.mode: expected 'decoupled' or 'coupled', got {_show(claim)}")
        elif claim != mode:
            v.append(f"solution.mode: says {claim!r}, but the mode in force is {mode!r}")
    claim = solution.get("slo_ms")
    if claim is not None:
        if not _number(claim) or not 0 < claim <= 1e12:
            v.append(f"solution.slo_ms: expected a number in (0, 1e12] ms, got {_show(claim)}")
        elif round(claim * 1000) != slo_us:
            v.append(
                f"solution.slo_ms: says {claim:g} ms, but the SLO in force ({slo_from}) is "
                f"{slo_us / 1000:g} ms"
            )
    claims = len(v)  # violations of the claims and fields so far; the latency is still judged
    configs = solution.get("configs")
    if not isinstance(configs, dict):
        v.append(
            f"configs: expected an object {{function id: {{cpu, mem_mb}}}}, got {_show(configs)}"
        )
        return Evaluation(False, None, v, judged)
    ids = [f.id for f in instance.functions]
    known = set(ids)
    for fid in configs:
        if fid not in known:
            v.append(f"configs.{_show(fid)}: not a function of the instance")
    cpu_grid, mem_grid = tuple(instance.cpu_grid), tuple(instance.mem_grid_mb)
    p = instance.prices
    runtime: dict[str, int] = {}
    chosen: dict[str, tuple[float, float]] = {}
    cost = 0.0
    for f in instance.functions:
        if f.id not in configs:
            v.append(f"configs.{f.id}: missing (every function needs a configuration)")
            continue
        c = configs[f.id]
        if not isinstance(c, dict) or set(c) != {"cpu", "mem_mb"}:
            v.append(f"configs.{f.id}: expected {{cpu, mem_mb}}, got {_show(c)}")
            continue
        i, j = _level(c["cpu"], cpu_grid), _level(c["mem_mb"], mem_grid)
        if i is None:
            v.append(f"configs.{f.id}.cpu: {_show(c['cpu'])} is not a CPU level of the grid")
        if j is None:
            v.append(
                f"configs.{f.id}.mem_mb: {_show(c['mem_mb'])} is not a memory level of the grid"
            )
        if i is None or j is None:
            continue
        cpu, mem = cpu_grid[i], mem_grid[j]
        if mode == "coupled":
            share = mem / instance.mb_per_vcpu
            allowed = max((k for k, x in enumerate(cpu_grid) if x <= share + 1e-12), default=0)
            if i != allowed:
                v.append(
                    f"configs.{f.id}: coupled mode gives {cpu_grid[allowed]:g} vCPU with "
                    f"{mem:g} MB, not {cpu:g}"
                )
                continue
        t = f.runtime_us[i][j]
        if t is None:
            v.append(f"configs.{f.id}: out of memory with {mem:g} MB (cpu {cpu:g})")
            continue
        runtime[f.id] = t
        chosen[f.id] = (cpu, mem)
        cost += (t / 1e6) * (p.per_vcpu_s * cpu + p.per_gb_s * mem / 1024.0) + p.per_request
    if len(v) > claims:  # a configuration is unusable: no latency to judge
        return Evaluation(False, None, v, judged)
    # longest path by relaxation in a topological order (Kahn, in file order)
    preds: dict[str, list[str]] = {x: [] for x in ids}
    succs: dict[str, list[str]] = {x: [] for x in ids}
    indeg = dict.fromkeys(ids, 0)
    for a, b in instance.edges:
        preds[b].append(a)
        succs[a].append(b)
        indeg[b] += 1
    ready = [x for x in ids if indeg[x] == 0]
    finish: dict[str, int] = {}
    while ready:
        x = ready.pop()
        finish[x] = max((finish[u] for u in preds[x]), default=0) + runtime[x]
        for w in succs[x]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    if len(finish) != len(ids):
        return Evaluation(
            False, None, ["edges: the graph has a cycle (no latency defined)"], judged
        )
    latency = max(finish.values())
    if latency > slo_us:
        v.append(
            f"latency: workflow latency {latency / 1000:g} ms exceeds the SLO "
            f"{slo_us / 1000:g} ms ({slo_from})"
        )
    metrics = {
        "latency_ms": latency / 1000,
        **judged,
        "vcpu_s": sum(runtime[f] / 1e6 * chosen[f][0] for f in ids),
        "gb_s": sum(runtime[f] / 1e6 * chosen[f][1] / 1024 for f in ids),
    }
    return Evaluation(not v, cost if not v else None, v, metrics)
