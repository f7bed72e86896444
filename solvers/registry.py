"""Families and methods by name. The CLI and the compare harness go through this module only.

A family bundles its instance loader, the independent evaluator and a generator; a method is a
function ``(instance, options) -> Result`` registered under a short, stable name.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from optgap.solvers import backends
from optgap.solvers.errors import InputError
from optgap.solvers.result import Evaluation, Result, SolveOptions, Status, relative_gap


@dataclass(frozen=True)
class Family:
    id: str
    title: str
    load: Callable[[Any], Any]  # parsed JSON -> validated instance (raises InputError)
    dump: Callable[[Any], dict]  # instance -> JSON object (round-trips through load)
    # instance, solution, options -> verdict. The options carry only what the user typed
    # (objective pattern, --slo-ms, --param); every other limit comes from the instance.
    evaluate: Callable[[Any, dict, SolveOptions | None], Evaluation]
    generate: Callable[[int, int], Any]  # size, seed -> instance
    describe: Callable[[Any], str]  # one-line summary of an instance
    objectives: tuple[str, ...]  # first is the default pattern
    exact: str  # the method the alias "exact" stands for
    # draws a solution file's picture (Gantt, Pareto front, ...): (instance, solution file, out path)
    plot: Callable[[Any, dict, str], None] | None = None
    sense: Literal["min", "max"] = "min"  # F5 maximises a violation; everything else minimises
    # True when the family's exact method always returns a certificate its evaluator checks
    # (Evaluation.certified_bound): an `optimal` without one is then demoted (solvers/verdict.py)
    certified: bool = False
    # The same verdict and objective as `evaluate`, without metrics that cost time (F3's request
    # simulation): what the solve layer uses to check warm starts inside a method's time limit.
    check: Callable[[Any, dict, SolveOptions | None], Evaluation] | None = None


@dataclass(frozen=True)
class Method:
    family: str
    name: str
    kind: Literal["exact", "heuristic"]
    description: str
    run: Callable[[Any, SolveOptions], Result]
    backends: tuple[str, ...]  # first is the default
    objectives: tuple[str, ...]
    export: Callable[[Any, SolveOptions, str], None] | None = None  # writes the model to a path
    params: tuple[str, ...] = ()  # the `--param` keys this method reads
    # Exact methods only: heuristics the solve layer runs first. Each answer is checked by the
    # family's evaluator; the accepted ones reach `run` as `warm=` (horizon, hint, fallback).
    warm_start: tuple[str, ...] = ()


@dataclass(frozen=True)
class WarmStart:
    """A heuristic answer the family's evaluator accepted, handed to an exact model."""

    method: str
    solution: dict[str, Any]
    objective: float  # the evaluator's objective, not the heuristic's claim


def declare_params(family_id: str, keys: dict[str, tuple[str, ...]]) -> None:
    """Record which `--param` keys each named method of a family reads."""
    for name, k in keys.items():
        METHODS[family_id][name] = replace(METHODS[family_id][name], params=tuple(k))


def route_params(m: Method, options: SolveOptions, others: list[Method]) -> SolveOptions:
    """The options one method of a batch gets: only the `--param` keys it reads. A key that no
    method of the batch reads is an error, so a typo is never silently dropped."""
    for key, _ in options.params:
        if not any(key in o.params for o in others):
            known = sorted({k for o in others for k in o.params})
            raise InputError(
                f"--param {key}: unknown key, no method here reads it (known: {', '.join(known) or 'none'})"
            )
    return replace(options, params=tuple((k, v) for k, v in options.params if k in m.params))


FAMILIES: dict[str, Family] = {}
METHODS: dict[str, dict[str, Method]] = {}


def register_family(family: Family) -> None:
    FAMILIES[family.id] = family
    METHODS.setdefault(family.id, {})


def register_method(method: Method) -> None:
    METHODS.setdefault(method.family, {})[method.name] = method


def family(family_id: str) -> Family:
    _load_catalog()
    if family_id not in FAMILIES:
        raise InputError(f"unknown family {family_id!r} (known: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[family_id]


def methods(family_id: str) -> dict[str, Method]:
    family(family_id)
    return METHODS[family_id]


def method(family_id: str, name: str) -> Method:
    fam = family(family_id)
    table = METHODS[family_id]
    if name == "exact":
        name = fam.exact
    if name not in table:
        raise InputError(
            f"unknown method {name!r} for family {family_id!r} "
            f"(known: exact, {', '.join(sorted(table))})"
        )
    return table[name]


def check_method(m: Method, objective: str, backend: str | None) -> None:
    """InputError unless the method handles the objective and has the backend (None: default)."""
    if objective not in m.objectives:
        raise InputError(
            f"method {m.name!r} does not handle objective {objective!r} "
            f"(it handles: {', '.join(m.objectives)})"
        )
    if backend is not None and backend not in m.backends:
        raise InputError(
            f"method {m.name!r} has no backend {backend!r} (choose from: {', '.join(m.backends)})"
        )


def solve(family_id: str, name: str, instance: Any, options: SolveOptions) -> Result:
    """Run one method, time it, and make its status honest.

    Exceptions inside a method become status ``error`` with a one-line message; a heuristic is
    never reported optimal; the gap is recomputed from objective and bound.
    """
    m = method(family_id, name)
    objective = options.objective or family(family_id).objectives[0]
    check_method(m, objective, options.backend)
    options = replace(options, objective=objective, backend=options.backend or m.backends[0])
    t0 = time.perf_counter()
    warm_stats: dict[str, Any] = {}
    warm: tuple[WarmStart, ...] = ()
    try:
        with (
            backends.deadline_scope(options.time_limit_s),  # warm starts and building count
            backends.hard_deadline(options.time_limit_s)
            if m.kind == "exact"
            else contextlib.nullcontext(),
        ):
            if m.kind == "exact" and m.warm_start:
                warm, warm_stats = _warm_starts(family_id, m, instance, options)
                left = max(0.0, options.time_limit_s - (time.perf_counter() - t0))
                result = m.run(instance, replace(options, time_limit_s=left), warm=warm)
            else:
                result = m.run(instance, options)
    except InputError:
        raise
    except backends.TimeUp as e:  # the model ran out of time before its solver could
        result = Result("", "", options.backend, Status.TIME_LIMIT, message=str(e))
        if warm:  # a heuristic's answer, accepted by the evaluator, is still an answer
            pick = min if family(family_id).sense == "min" else max
            best = pick(warm, key=lambda w: w.objective)
            result = replace(
                result,
                status=Status.FEASIBLE,
                objective=best.objective,
                solution=best.solution,
                message=f"{e}; the warm start of {best.method}",
            )
    except Exception as e:  # a failing method must not take a comparison run down with it
        result = Result("", "", options.backend, Status.ERROR, message=f"{type(e).__name__}: {e}")
    elapsed = time.perf_counter() - t0
    # a one-time library start-up (import, first compile) the method reports is not its time
    one_time = result.stats.get("one_time_s") if isinstance(result.stats, dict) else None
    if isinstance(one_time, float) and 0.0 <= one_time <= elapsed:
        elapsed -= one_time
    status = result.status
    if m.kind == "heuristic" and status == Status.OPTIMAL:
        status = Status.FEASIBLE
    bound = result.bound if m.kind == "exact" else None
    if status == Status.OPTIMAL:
        bound = result.objective
    return replace(
        result,
        family=family_id,
        method=m.name,
        status=status,
        bound=bound,
        gap=relative_gap(result.objective, bound, family(family_id).sense)
        if status != Status.INFEASIBLE
        else None,
        time_s=elapsed,
        stats={"kind": m.kind, "objective_pattern": objective, **warm_stats, **result.stats},
    )


WARM_SHARE = 0.8  # of an exact method's time limit, at most, for its warm-start heuristics


def _warm_starts(
    family_id: str, m: Method, instance: Any, options: SolveOptions
) -> tuple[tuple[WarmStart, ...], dict[str, Any]]:
    """Run the exact method's warm-start heuristics and keep the answers the evaluator accepts.

    A rejected answer is not used; its verdict is recorded in the stats (``warm_rejected``).
    """
    fam = family(family_id)
    accepted: list[WarmStart] = []
    rejected: dict[str, str] = {}
    # the warm starts share WARM_SHARE of the limit: an anytime heuristic (offload) stops
    # there, and the model keeps the rest
    with backends.deadline_scope(WARM_SHARE * options.time_limit_s):
        for name in m.warm_start:
            h = method(family_id, name)
            if options.objective not in h.objectives:
                continue
            # the heuristic answers under the user's limits too (the --param keys it reads):
            # otherwise its schedule states another limit than the one in force and is rejected
            mine = tuple((k, v) for k, v in options.params if k in h.params)
            r = solve(family_id, name, instance, replace(options, backend=None, params=mine))
            if r.solution is None:
                rejected[name] = r.message or str(r.status)
                continue
            ev = (fam.check or fam.evaluate)(instance, r.solution, options)
            if ev.feasible and ev.objective is not None:
                accepted.append(WarmStart(name, r.solution, ev.objective))
            else:
                rejected[name] = ev.summary()
    stats: dict[str, Any] = {"warm_accepted": [w.method for w in accepted]}
    if rejected:
        stats["warm_rejected"] = rejected
    return tuple(accepted), stats


def load_instance(data: Any) -> tuple[Family, Any]:
    """Dispatch parsed JSON on its "family" field and validate it."""
    if not isinstance(data, dict):
        raise InputError("instance: expected a JSON object at the top level")
    if "family" not in data:
        raise InputError("instance.family: missing required field")
    fam = family(str(data["family"]))
    return fam, fam.load(data)


_loaded = False


def _load_catalog() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import optgap.solvers.catalog  # noqa: F401  (registers every family and method)
