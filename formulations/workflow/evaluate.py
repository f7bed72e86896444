"""Independent evaluator for F2: the definition of a feasible configuration and of its cost.

It shares no code with the models or heuristics: runtimes are read from the instance's table,
the latency is recomputed as the longest path here, and the cost from the prices.

Solution (the ``solution`` object of a result)::

    {"mode": "decoupled" | "coupled", "slo_ms": float | null,
     "configs": {function_id: {"cpu": cores, "mem_mb": MB}}}

Feasible iff every function has exactly one configuration, on the grid, that does not run out of
memory (and is coupled, memory fixing CPU, in coupled mode), and the workflow latency (longest
path of runtimes; a function starts when all its predecessors have finished) is within the SLO
(``slo_ms`` of the solution, else the instance's). Objective: total cost of one workflow run,
sum over functions of runtime_s * (per_vcpu_s * cores + per_gb_s * MB / 1024) + per_request.
"""

from __future__ import annotations

from typing import Any

from optgap.solvers.result import Evaluation, SolveOptions


def evaluate(instance: Any, solution: Any, options: SolveOptions | None = None) -> Evaluation:
    v: list[str] = []
    if not isinstance(solution, dict) or not isinstance(solution.get("configs"), dict):
        return Evaluation(False, None, ["solution: expected an object with a 'configs' object"])
    mode = solution.get("mode", "decoupled")
    if mode not in ("decoupled", "coupled"):
        return Evaluation(False, None, [f"solution.mode: unknown mode {mode!r}"])
    slo = solution.get("slo_ms")
    if slo is None:
        slo_us = instance.slo_us
    elif isinstance(slo, bool) or not isinstance(slo, int | float) or slo <= 0:
        return Evaluation(False, None, [f"solution.slo_ms: expected a number > 0, got {slo!r}"])
    else:
        slo_us = round(slo * 1000)
    configs = solution["configs"]
    ids = [f.id for f in instance.functions]
    for fid in configs:
        if fid not in ids:
            v.append(f"configs.{fid}: not a function of the instance")
    cpu_grid, mem_grid = list(instance.cpu_grid), list(instance.mem_grid_mb)
    p = instance.prices
    runtime: dict[str, int] = {}
    cost = 0.0
    per_function: dict[str, float] = {}
    for f in instance.functions:
        c = configs.get(f.id)
        if not isinstance(c, dict) or set(c) != {"cpu", "mem_mb"}:
            v.append(f"{f.id}: expected {{cpu, mem_mb}}, got {c!r}")
            continue
        cpu, mem = c["cpu"], c["mem_mb"]
        if cpu not in cpu_grid or isinstance(cpu, bool):
            v.append(f"{f.id}: cpu {cpu!r} is not a CPU level of the grid")
            continue
        if mem not in mem_grid or isinstance(mem, bool):
            v.append(f"{f.id}: mem_mb {mem!r} is not a memory level of the grid")
            continue
        i, j = cpu_grid.index(cpu), mem_grid.index(mem)
        if mode == "coupled":
            share = mem / instance.mb_per_vcpu
            allowed = max((k for k, x in enumerate(cpu_grid) if x <= share + 1e-12), default=0)
            if i != allowed:
                v.append(
                    f"{f.id}: coupled mode gives {cpu_grid[allowed]:g} vCPU with {mem:g} MB, "
                    f"not {cpu:g}"
                )
                continue
        t = f.runtime_us[i][j]
        if t is None:
            v.append(f"{f.id}: out of memory with {mem:g} MB (cpu {cpu:g})")
            continue
        runtime[f.id] = t
        fc = (t / 1e6) * (p.per_vcpu_s * cpu + p.per_gb_s * mem / 1024.0) + p.per_request
        per_function[f.id] = fc
        cost += fc
    if v:
        return Evaluation(False, None, v)
    # longest path by relaxation in a topological order (Kahn, in file order)
    preds: dict[str, list[str]] = {x: [] for x in ids}
    indeg = {x: 0 for x in ids}
    succs: dict[str, list[str]] = {x: [] for x in ids}
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
    latency = max(finish.values())
    if latency > slo_us:
        v.append(f"workflow latency {latency / 1000:g} ms exceeds the SLO {slo_us / 1000:g} ms")
    metrics = {
        "latency_ms": latency / 1000,
        "slo_ms": slo_us / 1000,
        "mode": mode,
        "vcpu_s": sum(runtime[f] / 1e6 * configs[f]["cpu"] for f in ids),
        "gb_s": sum(runtime[f] / 1e6 * configs[f]["mem_mb"] / 1024 for f in ids),
    }
    return Evaluation(not v, cost if not v else None, v, metrics)
