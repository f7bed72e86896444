"""Independent evaluator for F4: a replay of a loading/inference schedule over time.

It shares no code with the models or heuristics: load ends (with the shared-disk slowdown),
agent use, the run order and memory over time are recomputed here from the instance's fields and
the solution alone.

Solution (the ``solution`` object of a result)::

    {"objective": "latency" | "memory", "agents": k,
     "budget_mb": float | null,          # latency objective: the budget in force (null: none)
     "latency_bound_ms": float,          # memory objective: the bound in force
     "schedule": {layer: {"load_start_ms", "agent", "run_start_ms"}},
     "free_after_run": true}             # false: layers stay until the end (no daemon)

or a front: ``{"objective": "pareto", "points": [solution, ...]}`` (latency solutions, one per
budget; each is checked on its own).

Feasible iff every layer is scheduled once with starts >= 0 on the 1 µs grid; k lies in the
instance's agents range and every agent index in 0..k-1; the loads of one agent do not overlap
(a load ends load_ms after its start, later while the shared disk is oversubscribed); every run
starts after its layer's load has ended and after the previous layer's run has ended (one
inference agent, layer order); and memory — resident + k * agent_mb + every layer from its load
start to its run end (half-open; to the end of the inference if free_after_run is false) — stays within the budget (latency objective), or the last run
ends within the latency bound (memory objective).
Objectives: latency -> end of the last run (ms); memory -> peak memory (MB); pareto -> the least
latency on the front (ms). Metrics: latency_ms, peak_mb, agents, loads_in_layer_order.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from optgap.solvers.result import Evaluation, SolveOptions


def evaluate(instance: Any, solution: Any, options: SolveOptions | None = None) -> Evaluation:
    if not isinstance(solution, dict):
        return Evaluation(False, None, ["solution: expected an object"])
    if solution.get("objective") == "pareto":
        return _front(instance, solution)
    return _one(instance, solution)


def _front(instance: Any, solution: dict) -> Evaluation:
    points = solution.get("points")
    if not isinstance(points, list) or not points:
        return Evaluation(False, None, ["solution.points: expected a non-empty array"])
    v: list[str] = []
    pairs = []
    for j, p in enumerate(points):
        if not isinstance(p, dict) or p.get("objective") != "latency":
            v.append(f"points[{j}]: expected a latency solution")
            continue
        ev = _one(instance, p)
        v += [f"points[{j}]: {x}" for x in ev.violations]
        if ev.feasible:
            pairs.append((ev.metrics["peak_mb"], ev.metrics["latency_ms"]))
    if v:
        return Evaluation(False, None, v)
    return Evaluation(
        True,
        min(lat for _, lat in pairs),
        [],
        {"points": len(pairs), "front": sorted(pairs)},
    )


def _one(instance: Any, solution: dict) -> Evaluation:
    v: list[str] = []
    objective = solution.get("objective", "latency")
    if objective not in ("latency", "memory"):
        return Evaluation(False, None, [f"solution.objective: unknown objective {objective!r}"])
    schedule = solution.get("schedule")
    if not isinstance(schedule, dict):
        return Evaluation(False, None, ["solution.schedule: expected an object"])
    k = solution.get("agents")
    if isinstance(k, bool) or not isinstance(k, int):
        return Evaluation(False, None, [f"solution.agents: expected an integer, got {k!r}"])
    if not instance.k_min <= k <= instance.k_max:
        v.append(f"agents: {k} outside the instance's range {instance.k_min}..{instance.k_max}")

    layers = instance.layers
    names = [x.name for x in layers]
    for name in schedule:
        if name not in set(names):
            v.append(f"schedule.{name}: not a layer of the instance")
    ls: list[int] = []
    rs: list[int] = []
    agent: list[int] = []
    for x in layers:
        e = schedule.get(x.name)
        if not isinstance(e, dict) or set(e) != {"load_start_ms", "agent", "run_start_ms"}:
            v.append(f"{x.name}: expected {{load_start_ms, agent, run_start_ms}}")
            continue
        a = e["agent"]
        if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a < k:
            v.append(f"{x.name}: agent {a!r} is not one of 0..{k - 1}")
            continue
        times = []
        for key in ("load_start_ms", "run_start_ms"):
            t = _grid(e[key])
            if t is None:
                v.append(f"{x.name}: {key} {e[key]!r} is not a time >= 0 on the 1 µs grid")
            times.append(t)
        if None in times:
            continue
        ls.append(times[0])
        rs.append(times[1])
        agent.append(a)
    if v:
        return Evaluation(False, None, v)

    n = len(layers)
    le = _load_ends(instance, ls)
    re = [rs[i] + layers[i].compute_us for i in range(n)]
    for i, x in enumerate(layers):
        if rs[i] < le[i]:
            v.append(
                f"{x.name}: runs at {rs[i] / 1000:g} ms, before its load ends at {float(le[i]) / 1000:g} ms"
            )
        if i > 0 and rs[i] < re[i - 1]:
            v.append(
                f"{x.name}: runs at {rs[i] / 1000:g} ms while {layers[i - 1].name} runs until "
                f"{re[i - 1] / 1000:g} ms (one inference agent, layer order)"
            )
    for a in range(k):
        mine = sorted((ls[i], le[i], i) for i in range(n) if agent[i] == a)
        for (_s1, e1, i1), (s2, _, i2) in zip(mine, mine[1:], strict=False):
            if s2 < e1:
                v.append(
                    f"agent {a}: loads {layers[i2].name} at {s2 / 1000:g} ms while "
                    f"{layers[i1].name} loads until {float(e1) / 1000:g} ms"
                )

    # memory over time: a layer is held on [load start, run end); frees before allocations
    latency_us = max(re)
    free = solution.get("free_after_run", True)
    if not isinstance(free, bool):
        return Evaluation(
            False, None, [f"solution.free_after_run: expected a boolean, got {free!r}"]
        )
    held_to = re if free else [latency_us] * n  # without the daemon, held to the end
    events = sorted(
        [(held_to[i], 0, -layers[i].mem_kb) for i in range(n)]
        + [(ls[i], 1, layers[i].mem_kb) for i in range(n)]
    )
    held = peak_held = 0
    peak_at = 0
    for t, _, dm in events:
        held += dm
        if held > peak_held:
            peak_held, peak_at = held, t
    peak_kb = instance.resident_kb + k * instance.agent_kb + peak_held
    metrics = {
        "latency_ms": latency_us / 1000,
        "peak_mb": peak_kb / 1000,
        "agents": k,
        "loads_in_layer_order": all(ls[i] <= ls[i + 1] for i in range(n - 1)),
    }
    if objective == "latency":
        budget = solution.get(
            "budget_mb", None if instance.budget_kb is None else instance.budget_kb / 1000
        )
        if budget is not None:
            if isinstance(budget, bool) or not isinstance(budget, int | float):
                v.append(f"solution.budget_mb: expected a number or null, got {budget!r}")
            elif peak_kb > round(budget * 1000):
                v.append(
                    f"memory: {peak_kb / 1000:g} MB in use at {peak_at / 1000:g} ms, "
                    f"budget {budget:g} MB"
                )
        value = latency_us / 1000
    else:
        bound = solution.get("latency_bound_ms")
        if bound is None and instance.latency_bound_us is not None:
            bound = instance.latency_bound_us / 1000
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            v.append("solution.latency_bound_ms: the memory objective needs a latency bound")
        elif latency_us > round(bound * 1000):
            v.append(f"latency: {latency_us / 1000:g} ms, bound {bound:g} ms")
        value = peak_kb / 1000
    return Evaluation(not v, value if not v else None, v, metrics)


def _grid(t: Any) -> int | None:
    if isinstance(t, bool) or not isinstance(t, int | float) or t < 0:
        return None
    u = round(t * 1000)
    return u if abs(t * 1000 - u) <= 1e-3 else None


def _load_ends(instance: Any, ls: list[int]) -> list[Fraction]:
    """Exact load ends. Independent disk: start + load time. Shared disk of bandwidth B: a load
    alone reads at r_i = mem / load_time; while the loads in progress ask sum r > B, each reads
    at r_i * B / sum r (processor sharing), so ends are rational."""
    layers = instance.layers
    if instance.disk_kb_per_us is None:
        return [Fraction(ls[i] + x.load_us) for i, x in enumerate(layers)]
    disk = Fraction(instance.disk_kb_per_us)
    ends: list[Fraction] = [Fraction(0)] * len(layers)
    pending = sorted(range(len(layers)), key=lambda i: ls[i])
    remaining: dict[int, Fraction] = {}
    rate: dict[int, Fraction] = {}
    t = Fraction(0)
    p = 0
    while p < len(pending) or remaining:
        if not remaining:
            t = Fraction(ls[pending[p]])
        while p < len(pending) and ls[pending[p]] <= t:
            i = pending[p]
            p += 1
            if layers[i].load_us == 0:
                ends[i] = Fraction(ls[i])
            else:
                remaining[i] = Fraction(layers[i].mem_kb)
                rate[i] = Fraction(layers[i].mem_kb, layers[i].load_us)
        if not remaining:
            continue
        ask = sum(rate[i] for i in remaining)
        factor = min(Fraction(1), disk / ask)
        step = min(remaining[i] / (rate[i] * factor) for i in remaining)
        if p < len(pending):
            step = min(step, ls[pending[p]] - t)
        t += step
        for i in list(remaining):
            remaining[i] -= rate[i] * factor * step
            if remaining[i] <= 0:
                ends[i] = t
                del remaining[i]
    return ends
