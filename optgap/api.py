"""The library API: load an instance, list families and methods, solve, evaluate, plot, compare.

Everything returns the types the command line uses (`Result`, `Evaluation`); the command line
checks its options with the same `prepare` function, so an option is wrong in both or in neither.
No solver library is imported until a method needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import Evaluation, Result, SolveOptions, Status, gap_to


@dataclass(frozen=True)
class Instance:
    """A validated instance of one family: ``data`` is the family's own instance object."""

    family: str
    data: Any
    name: str = ""

    def describe(self) -> str:
        return registry.family(self.family).describe(self.data)

    def to_json(self) -> dict[str, Any]:
        """The instance file's JSON object (it round-trips through `load`)."""
        return registry.family(self.family).dump(self.data)


@dataclass(frozen=True)
class Row:
    """One line of `compare`: a method's result on an instance, and its gap to the optimum."""

    instance: str
    result: Result  # as the evaluator and its certificate support it (see `solve`)
    gap: float | None  # relative gap to the best proven optimum of the instance, None if none
    accepted: bool = False  # the evaluator accepted the answer (and agreed with its objective)
    verdict: str = ""  # the evaluator's verdict, one line


def load(source: str | os.PathLike[str] | Mapping[str, Any]) -> Instance:
    """An instance from a file path, a shipped name (``"dag/fork-3"``) or a parsed JSON dict.

    Invalid input raises `InputError` with one line naming the field.
    """
    from optgap.data import instance_path
    from optgap.solvers.fields import read_json

    if isinstance(source, Mapping):
        fam, inst = registry.load_instance(dict(source))
        return Instance(fam.id, inst, str(source.get("name", "")))
    path = instance_path(os.fspath(source))
    fam, inst = registry.load_instance(read_json(path))
    return Instance(fam.id, inst, os.fspath(source))


def families() -> list[str]:
    """Family ids: dag, workflow, stages, pipeload, steering."""
    registry.family("dag")  # loads the catalogue
    return list(registry.FAMILIES)


def objectives(family: str) -> tuple[str, ...]:
    """The family's objective patterns; the first is the default."""
    return registry.family(family).objectives


def methods(family: str, objective: str | None = None) -> list[str]:
    """Method names of a family (those handling `objective`, if given)."""
    _check_objective(registry.family(family), objective)
    return [
        n
        for n, m in registry.methods(family).items()
        if objective is None or objective in m.objectives
    ]


def shipped_instances() -> list[str]:
    """Names of the instances shipped with optgap, for `load`."""
    from optgap.data import shipped_instances as shipped

    return list(shipped())


def options(
    *,
    time_limit: float = 60.0,
    threads: int = 1,
    seed: int = 0,
    objective: str | None = None,
    params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    backend: str | None = None,
    slo_ms: float | None = None,
    hint: bool = True,
    verbose: bool = False,
) -> SolveOptions:
    """`SolveOptions` from keyword arguments; `params` values are passed as strings."""
    items = params.items() if isinstance(params, Mapping) else (params or ())
    return SolveOptions(
        time_limit_s=time_limit,
        threads=threads,
        seed=seed,
        backend=backend,
        objective=objective,
        slo_ms=slo_ms,
        hint=hint,
        params=tuple((str(k), _param_text(v)) for k, v in items),
        verbose=verbose,
    )


def _param_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _check_objective(fam: registry.Family, objective: str | None) -> str:
    objective = objective or fam.objectives[0]
    if objective not in fam.objectives:
        raise InputError(
            f"family {fam.id!r} has no objective {objective!r} "
            f"(its objectives: {', '.join(fam.objectives)})"
        )
    return objective


def prepare(
    family: str, names: Sequence[str] | None, opts: SolveOptions
) -> list[tuple[registry.Method, SolveOptions]]:
    """Check a call before anything runs, and give each method the options it reads.

    One place for the API and the CLI: the time limit must be > 0, the objective must be one of
    the family's, every named method must handle it (``names=None``: all that do), the backend
    must be the method's, and every `--param` key must be read by some method of the call.
    """
    fam = registry.family(family)
    if not opts.time_limit_s > 0:
        raise InputError(f"time limit (--time-limit) must be > 0 s, got {opts.time_limit_s:g}")
    objective = _check_objective(fam, opts.objective)
    if names is None:
        batch = [m for m in registry.methods(fam.id).values() if objective in m.objectives]
    else:
        batch = [registry.method(fam.id, n) for n in names]
    if not batch:
        raise InputError(f"no method of family {fam.id!r} handles objective {objective!r}")
    for m in batch:
        registry.check_method(m, objective, opts.backend)
    opts = replace(opts, objective=objective)
    return [(m, registry.route_params(m, opts, batch)) for m in batch]


def _instance(instance: Instance | str | os.PathLike[str] | Mapping[str, Any]) -> Instance:
    return instance if isinstance(instance, Instance) else load(instance)


def solve(
    instance: Instance | str | os.PathLike[str] | Mapping[str, Any],
    method: str = "exact",
    *,
    time_limit: float = 60.0,
    threads: int = 1,
    seed: int = 0,
    objective: str | None = None,
    params: Mapping[str, Any] | None = None,
    backend: str | None = None,
    slo_ms: float | None = None,
    hint: bool = True,
    verbose: bool = False,
) -> Result:
    """Solve with one method (``"exact"``: the family's exact method) and return its `Result`.

    The status is honest (``optimal`` only when proven); a failing method gives status
    ``error``; invalid options raise `InputError` before anything runs.
    """
    inst = _instance(instance)
    opts = options(
        time_limit=time_limit,
        threads=threads,
        seed=seed,
        objective=objective,
        params=params,
        backend=backend,
        slo_ms=slo_ms,
        hint=hint,
        verbose=verbose,
    )
    ((m, routed),) = prepare(inst.family, [method], opts)
    return _checked(inst, registry.solve(inst.family, m.name, inst.data, routed), routed)[0]


def _checked(inst: Instance, result: Result, opts: SolveOptions) -> tuple[Result, bool, str]:
    """The result as the family's evaluator and its certificate support it (the CLI's verdict):
    a certified bound replaces the claimed one, an unsupported ``optimal`` is demoted; the
    verdict goes into ``stats["verdict"]`` and ``stats["accepted"]``."""
    from optgap.solvers.verdict import check

    c = check(registry.family(inst.family), inst.data, result, opts)
    r = replace(c.result, stats={**c.result.stats, "verdict": c.verdict, "accepted": c.accepted})
    return r, c.accepted, c.verdict


def evaluate(
    instance: Instance | str | os.PathLike[str] | Mapping[str, Any],
    solution: Result | Mapping[str, Any],
    *,
    objective: str | None = None,
    slo_ms: float | None = None,
    params: Mapping[str, Any] | None = None,
) -> Evaluation:
    """The family's independent evaluator on a `Result` (or a bare solution dict).

    Limits come from the instance, or from the overrides given here, never from the solution.
    """
    inst = _instance(instance)
    fam = registry.family(inst.family)
    if isinstance(solution, Result):
        if solution.solution is None:
            raise InputError(f"the result holds no solution (status {solution.status})")
        if solution.family and solution.family != inst.family:
            raise InputError(f"a {solution.family} result, but the instance is {inst.family}")
        objective = objective or solution.stats.get("objective_pattern")
        sol = solution.solution
    else:
        sol = dict(solution)
    opts = options(objective=objective, params=params, slo_ms=slo_ms)
    _check_objective(fam, opts.objective)
    return fam.evaluate(inst.data, sol, opts)


def plot(
    instance: Instance | str | os.PathLike[str] | Mapping[str, Any],
    result: Result,
    path: str | os.PathLike[str],
) -> None:
    """Draw the result's picture (Gantt chart, plan, front...) to a PNG/SVG/PDF file."""
    inst = _instance(instance)
    fam = registry.family(inst.family)
    if fam.plot is None:
        raise InputError(f"family {fam.id!r} has no plot")
    if result.solution is None:
        raise InputError(f"the result holds no solution (status {result.status})")
    fam.plot(inst.data, result.to_json(), os.fspath(path))


def compare(
    instances: Iterable[Instance | str | os.PathLike[str] | Mapping[str, Any]],
    methods: Sequence[str] | None = None,
    *,
    time_limit: float = 60.0,
    threads: int = 1,
    seed: int = 0,
    objective: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[Row]:
    """Every method (default: all that handle the objective) on every instance, in process.

    Each row's gap is relative to the best objective an exact method proved optimal on that
    instance (None when none was proven). For large runs with resume and workers, use
    ``optgap compare`` (`optgap.solvers.compare.run`).
    """
    rows: list[Row] = []
    for source in instances:
        inst = _instance(source)
        fam = registry.family(inst.family)
        opts = options(
            time_limit=time_limit, threads=threads, seed=seed, objective=objective, params=params
        )
        results = [
            _checked(inst, registry.solve(inst.family, m.name, inst.data, o), o)
            for m, o in prepare(inst.family, methods, opts)
        ]
        proven = [  # a reference optimum only from proven, evaluator-accepted exact runs
            r.objective
            for r, ok, _ in results
            if ok
            and r.stats.get("kind") == "exact"
            and r.status == Status.OPTIMAL
            and r.objective is not None
        ]
        best = (min if fam.sense == "min" else max)(proven) if proven else None
        for r, ok, verdict in results:
            gap = (
                None
                if best is None or r.objective is None or not ok
                else gap_to(r.objective, best, fam.sense)
            )
            rows.append(Row(inst.name or inst.family, r, gap, ok, verdict))
    return rows
