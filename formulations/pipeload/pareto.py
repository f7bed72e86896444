"""The latency–memory Pareto front, exact at every point, by sweeping the budget.

``points=all`` (the default up to 16 layers): the ε-constraint method, complete on the µs/kB
grid. Start with no budget: L1 = least latency, P1 = least peak memory with latency ≤ L1, a
point (P1, L1). Then budget P1 − 1 kB: L2 = least latency, P2 = least peak with latency ≤ L2,
and so on until the budget falls below the minimum feasible budget. Every point is Pareto
optimal and every Pareto-optimal (peak, latency) pair is found.

``points=N`` (the default above 16 layers, N = 10): N budgets evenly spaced from the minimum
feasible budget to the whole model; at each, the least latency L(B), then the least peak that
keeps it. Each point is Pareto optimal; the front between them is not enumerated.

Each point is stored as a latency solution with the budget swept (``budget_mb``), so the
evaluator checks it on its own. The result's objective is the least latency on the front.
The time limit applies to each solve of the sweep (two per point); ``--param sweep_s=S`` also
bounds the whole sweep (each solve gets at most what is left). A point not proven within its
limit, or a sweep cut short, makes the front "feasible" instead of "optimal". Each point is
reported on stderr as it is found (optgap.solvers.progress.note).
"""

from __future__ import annotations

import time
from dataclasses import replace

from optgap.formulations.pipeload.instance import PipeloadInstance, params
from optgap.solvers.result import Result, SolveOptions, Status

DEFAULT_POINTS = 10
ALL_UP_TO = 16


def budgets(inst: PipeloadInstance, points: int) -> list[int]:
    lo = inst.min_budget_kb()
    hi = inst.fixed_kb(inst.k_max) + inst.model_kb
    if hi <= lo:
        return [lo]
    return sorted({lo + (hi - lo) * j // (points - 1) for j in range(points)})


def exact_front(inst: PipeloadInstance, options: SolveOptions) -> Result:
    from optgap.formulations.pipeload.cpsat import least_memory, solve_with, unsupported

    if reason := unsupported(inst):
        return Result("", "", "cpsat", Status.ERROR, message=reason)
    p = params(inst, options)
    points = p.points if p.points is not None else (None if inst.n <= ALL_UP_TO else DEFAULT_POINTS)
    from optgap.solvers.progress import note

    t0 = time.perf_counter()
    proven = True
    found: list[dict] = []
    solves = 0
    sweep_s = None
    if options.param("sweep_s") is not None:
        sweep_s = _seconds(options.param("sweep_s"))
    cut = False

    def limited() -> SolveOptions | None:
        """The options of the next solve: at most what is left of --param sweep_s."""
        nonlocal cut
        if sweep_s is None:
            return options
        left = sweep_s - (time.perf_counter() - t0)
        if left <= 0.05:
            cut = True
            return None
        return replace(options, time_limit_s=min(options.time_limit_s, left))

    def point(budget: int | None) -> dict | None:
        """Least latency under the budget, then least memory at that latency."""
        nonlocal proven, solves
        opts = limited()
        if opts is None:
            return None
        lat = solve_with(inst, opts, "latency", budget, None)
        solves += 1
        if not lat.has_solution:
            proven = False
            return None
        proven &= lat.status == Status.OPTIMAL
        bound_us = round(lat.objective * 1000)
        opts = limited()
        if opts is None:
            proven = False
            return None
        mem = least_memory(inst, opts, bound_us)
        solves += 1
        best = lat
        if mem.has_solution and mem.stats["peak_mb"] <= lat.stats["peak_mb"]:
            best = mem
            proven &= mem.status == Status.OPTIMAL
        else:
            proven = False
        sol = dict(best.solution)
        sol.pop("latency_bound_ms", None)
        sol["objective"] = "latency"
        sol["budget_mb"] = None if budget is None else budget / 1000
        note(
            f"pareto point {len(found) + 1}: peak {best.stats['peak_mb']:g} MB, latency "
            f"{best.stats['latency_ms']:g} ms ({best.status}, {time.perf_counter() - t0:.1f} s)"
        )
        return {
            **sol,
            "latency_ms": best.stats["latency_ms"],
            "peak_mb": best.stats["peak_mb"],
        }

    if points is None:
        budget: int | None = None
        while budget is None or budget >= inst.min_budget_kb():
            pt = point(budget)
            if pt is None:
                break
            found.append(pt)
            budget = round(pt["peak_mb"] * 1000) - 1
    else:
        for b in budgets(inst, points):
            pt = point(b)
            if pt is not None:
                found.append(pt)
    proven &= not cut
    front = non_dominated(found)
    if not front:
        return Result("", "", "cpsat", Status.TIME_LIMIT, message="no point of the front in time")
    return Result(
        "",
        "",
        "cpsat",
        Status.OPTIMAL if proven else Status.FEASIBLE,
        objective=min(pt["latency_ms"] for pt in front),
        bound=min(pt["latency_ms"] for pt in front) if proven else None,
        solution={"objective": "pareto", "points": [_strip(pt) for pt in front]},
        stats={
            "points": len(front),
            "solves": solves,
            "sweep": "all breakpoints" if points is None else f"{points} budgets",
            "front": [(pt["peak_mb"], pt["latency_ms"]) for pt in front],
            "sweep_s": round(time.perf_counter() - t0, 3),
        },
        message=""
        if proven
        else (
            f"the sweep stopped at --param sweep_s={sweep_s:g} s"
            if cut
            else "some point is not proven optimal within the time limit"
        ),
    )


def _seconds(text: str) -> float:
    from optgap.solvers.errors import InputError

    try:
        v = float(text)
    except ValueError:
        raise InputError(f"--param sweep_s={text!r}: expected seconds") from None
    if not 0 < v < float("inf"):
        raise InputError(f"--param sweep_s={text!r}: must be > 0")
    return v


def non_dominated(found: list[dict]) -> list[dict]:
    """Points sorted by peak memory, each strictly faster than every smaller one."""
    out: list[dict] = []
    for pt in sorted(found, key=lambda q: (q["peak_mb"], q["latency_ms"])):
        if not out or pt["latency_ms"] < out[-1]["latency_ms"]:
            if out and out[-1]["peak_mb"] == pt["peak_mb"]:
                out.pop()
            out.append(pt)
    return out


def _strip(pt: dict) -> dict:
    return {k: v for k, v in pt.items() if k not in ("latency_ms", "peak_mb")}


def heuristic_front(inst: PipeloadInstance, options: SolveOptions, run) -> Result:
    """A heuristic's front over the same budgets: ``run(inst, options) -> Result`` per budget."""
    p = params(inst, options)
    found = []
    for b in budgets(inst, p.points or DEFAULT_POINTS):
        opts = replace(
            options,
            objective="latency",
            params=tuple((k, v) for k, v in options.params if k not in ("budget_mb", "points"))
            + (("budget_mb", str(b / 1000)),),
        )
        r = run(inst, opts)
        if r.has_solution:
            sol = dict(r.solution)
            found.append(
                {**sol, "latency_ms": r.stats["latency_ms"], "peak_mb": r.stats["peak_mb"]}
            )
    front = non_dominated(found)
    if not front:
        return Result("", "", "python", Status.ERROR, message="no budget gave a schedule")
    return Result(
        "",
        "",
        "python",
        Status.FEASIBLE,
        objective=min(pt["latency_ms"] for pt in front),
        solution={"objective": "pareto", "points": [_strip(pt) for pt in front]},
        stats={"points": len(front), "front": [(pt["peak_mb"], pt["latency_ms"]) for pt in front]},
    )
