"""Independent evaluator for F4: a replay of a loading/inference schedule over time.

It shares no code with the models, the heuristics or the option reader they use: the limits in
force, load ends (with the shared-disk slowdown), agent use, the run order, memory over time and
the default latency bound are recomputed here from the instance's fields, the user's overrides
and the solution's decisions alone.

Trusted from the loader (``instance.load``): the layers in execution order with their unique
names and quantised data (``load_us``, ``compute_us`` integer µs, ``mem_kb`` integer kB), the
integers ``resident_kb``, ``agent_kb``, ``k_min`` ≤ ``k_max``, the optional ``budget_kb`` and
``latency_bound_us`` (integers > 0) and the optional shared disk ``disk_kb_per_us`` (a positive
Fraction), and the list of ``--param`` names (PARAMS). Nothing else: no function or method of
the instance module is called.

Limits in force (never taken from the solution):
  budget (latency objective): ``--param budget_mb=X`` (``none`` / ``inf``: no budget), else the
      instance's ``budget_mb``, else none;
  latency bound (memory objective): ``--param latency_ms=X``, else ``--slo-ms``, else the
      instance's ``latency_bound_ms``, else the latency of the pipeline baseline (one agent
      loading in layer order back to back, each load starting on the µs grid, runs as early as
      possible), replayed here.
  A solution may state ``budget_mb`` / ``latency_bound_ms``; if it differs from the limit in
  force (to the kB / µs) it is rejected with a violation naming that field. A front is judged
  with no budget in force (its points sweep the budget); a point's stated ``budget_mb`` must hold
  that point's own peak.

Solution (the ``solution`` object of a result)::

    {"objective": "latency" | "memory", "agents": k,
     "budget_mb": float | null,          # optional, latency objective: must be the budget in force
     "latency_bound_ms": float,          # optional, memory objective: must be the bound in force
     "schedule": {layer: {"load_start_ms", "agent", "run_start_ms"}},
     "free_after_run": true}             # false: layers stay until the end (no daemon)

or a front: ``{"objective": "pareto", "points": [solution, ...]}`` (latency solutions, one per
budget; each is checked on its own). Any other field, and any value of another type, non-finite
or beyond MAX_MS, is a rejection.

Violations (each message starts with its kind):
  ``grid:``     a start that is not a time in 0..MAX_MS ms on the 1 µs grid;
  ``agent:``    a load on an agent index outside 0..k-1 (k in the instance's agents range);
  ``overlap:``  two loads on one agent overlapping (a load ends load_ms after its start, later
                while the shared disk is oversubscribed; processor sharing, exact rationals);
  ``arrive:``   a layer run before its load has ended;
  ``order:``    a layer run before the previous layer's run has ended (one inference agent);
  ``memory:``   resident + k * agent_mb + every layer held from its load start to its run end
                (half-open; to the end of the inference if free_after_run is false) above the
                budget at some instant (latency objective);
  ``latency:``  the last run ending after the latency bound (memory objective);
  ``agents:``, ``schedule.*``, ``solution.*``: malformed or mismatched fields.
Objectives: latency -> end of the last run (ms); memory -> peak memory (MB); pareto -> the least
latency on the front (ms). Metrics: latency_ms, peak_mb, agents, loads_in_layer_order and the
limit judged against (budget_mb or latency_bound_ms).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from optgap.formulations.pipeload.instance import PARAMS  # the --param names, nothing else
from optgap.solvers.errors import InputError
from optgap.solvers.result import Evaluation, SolveOptions

MAX_MS = 1e12  # ~31 years: a time beyond it is no schedule (and keeps µs exact in floats)
FIELDS = {"objective", "agents", "budget_mb", "latency_bound_ms", "schedule", "free_after_run"}
ENTRY = {"load_start_ms", "agent", "run_start_ms"}


def evaluate(instance: Any, solution: Any, options: SolveOptions | None = None) -> Evaluation:
    options = options or SolveOptions()
    if not isinstance(solution, dict):
        return Evaluation(False, None, ["solution: expected an object"])
    objective = solution.get("objective", "latency")
    if not isinstance(objective, str) or objective not in ("latency", "memory", "pareto"):
        return Evaluation(
            False, None, [f"solution.objective: unknown objective {_show(objective)}"]
        )
    if options.objective is not None and options.objective != objective:
        return Evaluation(
            False,
            None,
            [
                f"solution.objective: a {objective} solution, but the objective in force is "
                f"{options.objective!r}"
            ],
        )
    for key, _ in options.params:
        if key not in PARAMS:
            raise InputError(
                f"--param {key}: unknown key for pipeload (known: {', '.join(PARAMS)})"
            )
    budget = _budget_in_force(instance, options)  # both read: a bad override is an error
    bound = _bound_in_force(instance, options)
    if objective == "pareto":
        return _front(instance, solution)
    if objective == "latency":
        return _one(instance, solution, objective, ("budget_mb", budget))
    return _one(instance, solution, objective, ("latency_bound_ms", bound))


# ------------------------------------------------------------------------------ limits


def _override(options: SolveOptions, key: str) -> str | None:
    for k, v in options.params:
        if k == key:
            return v
    return None


def _positive_ms(text: Any, what: str) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what}={text!r}: expected a number") from None
    # NaN fails both comparisons
    if not 0 < v <= MAX_MS:
        raise InputError(f"{what}={text}: must be > 0 and at most {MAX_MS:g}")
    return v


def _budget_in_force(instance: Any, options: SolveOptions) -> int | None:
    """kB, or None for no budget."""
    text = _override(options, "budget_mb")
    if text is None:
        return instance.budget_kb
    if text in ("none", "inf"):
        return None
    return round(_positive_ms(text, "--param budget_mb") * 1000)


def _bound_in_force(instance: Any, options: SolveOptions) -> int:
    """µs."""
    text = _override(options, "latency_ms")
    if text is not None:
        return round(_positive_ms(text, "--param latency_ms") * 1000)
    if options.slo_ms is not None:
        return round(_positive_ms(options.slo_ms, "--slo-ms") * 1000)
    if instance.latency_bound_us is not None:
        return instance.latency_bound_us
    return _baseline_us(instance)


def _baseline_us(instance: Any) -> int:
    """The pipeline baseline: one agent, loads back to back in layer order (each on the µs grid
    at or after the previous one's end), each run as soon as its layer is in and the previous
    run is done. A load alone reads at mem / load_time, capped by the shared disk."""
    disk = instance.disk_kb_per_us
    t = 0  # the agent is free from here
    run_end = 0
    for x in instance.layers:
        duration = Fraction(x.load_us)
        if disk is not None and x.load_us > 0:
            duration = max(duration, Fraction(x.mem_kb) / Fraction(disk))
        end = math.ceil(t + duration)
        run_end = max(end, run_end) + x.compute_us
        t = end
    return run_end


def _stated(solution: dict, key: str, in_force: int | None, unit: str, scale: int) -> str | None:
    """A violation if the solution states ``key`` with another value than the one in force."""
    if key not in solution:
        return None
    v = solution[key]
    if v is not None and (
        isinstance(v, bool) or not isinstance(v, int | float) or not abs(v) <= MAX_MS
    ):
        return f"solution.{key}: expected a number or null, got {_show(v)}"
    stated = None if v is None else round(v * scale)
    if stated != in_force:
        force = "none" if in_force is None else f"{in_force / scale:g} {unit}"
        return (
            f"solution.{key}: states {_show(v)}, but the limit in force is {force} (the instance's "
            "or the one given on the command line); a solution cannot set its own limit"
        )
    return None


# ------------------------------------------------------------------------------ front


def _front(instance: Any, solution: dict) -> Evaluation:
    unknown = sorted(set(solution) - {"objective", "points"}, key=str)
    if unknown:
        return Evaluation(False, None, [f"solution.{unknown[0]}: unknown field of a front"])
    points = solution.get("points")
    if not isinstance(points, list) or not points:
        return Evaluation(False, None, ["solution.points: expected a non-empty array"])
    v: list[str] = []
    pairs = []
    for j, p in enumerate(points):
        if not isinstance(p, dict) or p.get("objective") != "latency":
            v.append(f"points[{j}]: expected a latency solution")
            continue
        # each point is judged under no budget; its own label must hold its peak
        ev = _one(
            instance,
            {key: x for key, x in p.items() if key != "budget_mb"},
            "latency",
            ("budget_mb", None),
        )
        v += [f"points[{j}]: {x}" for x in ev.violations]
        if not ev.feasible:
            continue
        label = p.get("budget_mb")
        if label is not None:
            if (
                isinstance(label, bool)
                or not isinstance(label, int | float)
                or not abs(label) <= MAX_MS
            ):
                v.append(f"points[{j}]: solution.budget_mb: expected a number or null")
                continue
            if round(ev.metrics["peak_mb"] * 1000) > round(label * 1000):
                v.append(
                    f"points[{j}]: memory: {ev.metrics['peak_mb']:g} MB in use, above the "
                    f"point's budget_mb {label:g}"
                )
                continue
        pairs.append((ev.metrics["peak_mb"], ev.metrics["latency_ms"]))
    if v:
        return Evaluation(False, None, v)
    return Evaluation(
        True,
        min(lat for _, lat in pairs),
        [],
        {"points": len(pairs), "front": sorted(pairs), "budget_mb": None},
    )


# ------------------------------------------------------------------------------ one schedule


def _one(
    instance: Any, solution: dict, objective: str, limit: tuple[str, int | None]
) -> Evaluation:
    v: list[str] = []
    for key in sorted(str(k) for k in solution if k not in FIELDS):
        v.append(f"solution.{key}: unknown field (expected one of: {', '.join(sorted(FIELDS))})")
    other = "latency_bound_ms" if objective == "latency" else "budget_mb"
    if other in solution:
        v.append(f"solution.{other}: not a limit of the {objective} objective")
    key, in_force = limit
    msg = _stated(solution, key, in_force, "MB" if key == "budget_mb" else "ms", 1000)
    if msg:
        v.append(msg)
    schedule = solution.get("schedule")
    if not isinstance(schedule, dict):
        return Evaluation(False, None, v + ["solution.schedule: expected an object"])
    k = solution.get("agents")
    if isinstance(k, bool) or not isinstance(k, int):
        return Evaluation(
            False, None, v + [f"solution.agents: expected an integer, got {_show(k)}"]
        )
    if not instance.k_min <= k <= instance.k_max:
        return Evaluation(
            False,
            None,
            v
            + [
                f"agents: {_show(k)} outside the instance's range {instance.k_min}..{instance.k_max}"
            ],
        )
    free = solution.get("free_after_run", True)
    if not isinstance(free, bool):
        v.append(f"solution.free_after_run: expected a boolean, got {_show(free)}")

    layers = instance.layers
    names = {x.name for x in layers}
    for name in schedule:
        if name not in names:
            v.append(f"schedule.{_show(name, 40)}: not a layer of the instance")
    ls: list[int] = []
    rs: list[int] = []
    agent: list[int] = []
    for x in layers:
        e = schedule.get(x.name)
        if not isinstance(e, dict) or set(e) != ENTRY:
            v.append(f"{x.name}: expected {{load_start_ms, agent, run_start_ms}}")
            continue
        a = e["agent"]
        if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a < k:
            v.append(f"agent: {x.name} loads on agent {_show(a)}, not one of 0..{k - 1}")
            continue
        times = []
        for field in ("load_start_ms", "run_start_ms"):
            t = _grid(e[field])
            if t is None:
                v.append(
                    f"grid: {x.name}.{field} {_show(e[field])} is not a time in 0..{MAX_MS:g} ms "
                    "on the 1 µs grid"
                )
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
                f"arrive: {x.name} runs at {_ms(rs[i])} ms, before its load ends at {_ms(le[i])} ms"
            )
        if i > 0 and rs[i] < re[i - 1]:
            v.append(
                f"order: {x.name} runs at {_ms(rs[i])} ms while {layers[i - 1].name} runs until "
                f"{_ms(re[i - 1])} ms (one inference agent, layer order)"
            )
    by_agent: dict[int, list[tuple[int, Fraction, int]]] = {}
    for i in range(n):
        by_agent.setdefault(agent[i], []).append((ls[i], le[i], i))
    for a, mine in sorted(by_agent.items()):
        mine.sort()
        for (_s1, e1, i1), (s2, _, i2) in zip(mine, mine[1:], strict=False):
            if s2 < e1:
                v.append(
                    f"overlap: agent {a} loads {layers[i2].name} at {_ms(s2)} ms while "
                    f"{layers[i1].name} loads until {_ms(e1)} ms"
                )

    # memory over time: a layer is held on [load start, run end); frees before allocations
    latency_us = max(re)
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
    metrics: dict[str, Any] = {
        "latency_ms": latency_us / 1000,
        "peak_mb": peak_kb / 1000,
        "agents": k,
        "loads_in_layer_order": all(ls[i] <= ls[i + 1] for i in range(n - 1)),
    }
    if objective == "latency":
        metrics["budget_mb"] = None if in_force is None else in_force / 1000
        if in_force is not None and peak_kb > in_force:
            v.append(
                f"memory: {peak_kb / 1000:g} MB in use at {_ms(peak_at)} ms, "
                f"budget {in_force / 1000:g} MB"
            )
        value = latency_us / 1000
    else:
        metrics["latency_bound_ms"] = in_force / 1000
        if latency_us > in_force:
            v.append(f"latency: {_ms(latency_us)} ms, above the bound {in_force / 1000:g} ms")
        value = peak_kb / 1000
    return Evaluation(not v, value if not v else None, v, metrics)


def _grid(t: Any) -> int | None:
    """µs of a time in ms, if it is a number in 0..MAX_MS on the 1 µs grid (else None)."""
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= MAX_MS:
        return None  # NaN fails the comparison too
    if isinstance(t, int):
        return t * 1000
    u = round(t * 1000)
    return u if abs(t * 1000 - u) <= 1e-3 else None


def _ms(us: int | Fraction) -> str:
    return f"{float(us) / 1000:g}"


def _show(x: Any, width: int = 60) -> str:
    """A value for a message, cut short (a hostile solution may hold anything)."""
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) > 10**15:
        return "a huge integer"
    try:
        text = repr(x)
    except (RecursionError, ValueError):  # nested too deep, or an int too long to print
        return f"a deep {type(x).__name__}"
    return text if len(text) <= width else text[: width - 3] + "..."


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
            if layers[i].load_us == 0 or layers[i].mem_kb == 0:
                ends[i] = Fraction(ls[i] + layers[i].load_us)  # asks nothing of the disk
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
