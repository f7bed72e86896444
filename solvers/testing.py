"""For users' own tests: hypothesis strategies of small instances per family, and an assertion
that a heuristic is feasible and within a ratio of the proven optimum.

    from hypothesis import given
    from optgap.solvers.testing import assert_within, instances

    @given(instances("dag"))
    def test_my_scheduler(data):
        assert_within("dag", my_scheduler, data, ratio=1.5)

`my_scheduler(instance, options)` returns a solution dict in the family's format (or a `Result`);
it may also be the name of a registered method. Needs the `test` extra (hypothesis).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from optgap.solvers import registry
from optgap.solvers.result import Result, SolveOptions, Status


class NotProven(Exception):
    """The exact method did not prove an optimum in time: the instance says nothing either way."""


def instances(family_id: str, **kwargs: Any):
    """A hypothesis strategy of small instance JSON objects of a family (solve exactly in < 1 s)."""
    registry.family(family_id)
    try:
        mod = importlib.import_module(f"optgap.instances.{family_id}.strategies")
    except ModuleNotFoundError:
        raise NotImplementedError(f"family {family_id!r} ships no strategies yet") from None
    return mod.instances(**kwargs)


def assert_within(
    family_id: str,
    heuristic: str | Callable[[Any, SolveOptions], dict | Result],
    data: dict | Any,
    *,
    ratio: float = 1.0,
    options: SolveOptions | None = None,
    exact: str = "exact",
) -> tuple[float, float]:
    """Assert that `heuristic` answers `data` feasibly and within `ratio` of the proven optimum.

    Feasibility and the heuristic's objective come from the family's independent evaluator, not
    from the heuristic. Minimisation: objective <= ratio * optimum; maximisation: objective >=
    optimum / ratio (each with 1e-9 relative slack for floating point). Returns (objective,
    optimum). Raises NotProven when the exact method cannot prove the optimum within the options'
    time limit (default 10 s, 1 thread, seed 0).
    """
    if ratio < 1:
        raise ValueError("ratio must be >= 1")
    fam = registry.family(family_id)
    inst = fam.load(data) if isinstance(data, dict) else data
    options = options or SolveOptions(time_limit_s=10.0, threads=1, seed=0)
    options = replace(options, objective=options.objective or fam.objectives[0])
    from optgap.solvers.verdict import check

    # the optimum as the evaluator supports it: its solution accepted, its certificate checked
    checked = check(fam, inst, registry.solve(family_id, exact, inst, options), options)
    opt = checked.result
    if checked.evaluation is not None and not checked.accepted:
        raise AssertionError(f"the exact method's answer is rejected: {checked.verdict}")
    if opt.status == Status.INFEASIBLE:
        raise NotProven(f"the instance is infeasible: {opt.message}")
    if opt.status != Status.OPTIMAL or opt.objective is None:
        raise NotProven(f"{exact} ended {opt.status} ({opt.message or 'no proof'})")
    if isinstance(heuristic, str):
        answer: Any = registry.solve(family_id, heuristic, inst, options)
    else:
        answer = heuristic(inst, options)
    solution = answer.solution if isinstance(answer, Result) else answer
    assert isinstance(solution, dict), f"the heuristic returned no solution: {answer!r}"
    ev = fam.evaluate(inst, solution, options)
    assert ev.feasible, f"infeasible answer: {'; '.join(ev.violations[:3])}"
    value, best = ev.objective, opt.objective
    assert not math.isnan(value), "the evaluator gave no objective"
    if fam.sense == "min":
        assert value <= ratio * best * (1 + 1e-9) + 1e-12, (
            f"objective {value:g} > {ratio:g} x optimum {best:g}"
        )
    else:
        assert value * ratio >= best * (1 - 1e-9) - 1e-12, (
            f"objective {value:g} < optimum {best:g} / {ratio:g}"
        )
    return value, best
