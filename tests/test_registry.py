"""The solve layer: warm starts through the front door, and status honesty of registry.solve.

Uses the toy plugin family (tests/plugin_toy.py): the optimum of "smallest x in 1..n" is 1; the
heuristics `worst` and `sleepy` answer n (accepted), `bad` answers 0 (rejected by the evaluator),
`boom` raises; the exact method `warm` reports what it was handed.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import pytest
from optgap.solvers import registry
from optgap.solvers.result import SolveOptions, Status

importlib.import_module("tests.plugin_toy")


def test_warm_starts_accepted_reach_run_rejected_are_reported():
    inst = {"n": 4}
    r = registry.solve("toy", "warm", inst, SolveOptions(time_limit_s=5.0))
    seen = {m: (sol, obj) for m, sol, obj in r.stats["warm_seen"]}
    # worst and sleepy answer x = n = 4, which the evaluator accepts with objective 4
    assert seen == {"worst": ({"x": 4}, 4.0), "sleepy": ({"x": 4}, 4.0)}
    assert r.stats["warm_accepted"] == ["worst", "sleepy"]
    rejected = r.stats["warm_rejected"]
    assert set(rejected) == {"bad", "boom"}  # x = 0 is outside 1..n; boom raised
    assert "not in 1..n" in rejected["bad"] and "boom" in rejected["boom"]
    # sleepy sleeps 0.2 s: the time spent on warm starts is taken off the exact method's limit
    assert r.stats["limit_seen"] <= 5.0 - 0.2
    assert r.stats["limit_seen"] > 0
    assert r.status == Status.OPTIMAL and r.objective == 1.0


def test_warm_start_objective_is_the_evaluators_not_the_heuristics(monkeypatch):
    # a heuristic that misstates its objective: the exact model gets the evaluator's value
    toy = importlib.import_module("tests.plugin_toy")
    m = registry.method("toy", "worst")

    def misstated(inst, options):
        r = toy._sol(inst["n"])
        r.objective = -99.0
        return r

    monkeypatch.setitem(registry.METHODS["toy"], "worst", replace(m, run=misstated))
    r = registry.solve("toy", "warm", {"n": 3}, SolveOptions(time_limit_s=5.0))
    assert [obj for name, _, obj in r.stats["warm_seen"] if name == "worst"] == [3.0]


def test_warm_starts_get_at_most_their_share_of_the_limit(monkeypatch):
    # an anytime heuristic run as a warm start sees WARM_SHARE of the exact method's limit, not
    # all of it (offload took 148 s at 1788 operators and left the model nothing)
    from optgap.solvers import backends

    toy = importlib.import_module("tests.plugin_toy")
    seen: list[float] = []

    def timed(inst, options):
        seen.append(backends.remaining(options))
        return toy._sol(inst["n"])

    m = registry.method("toy", "worst")
    monkeypatch.setitem(registry.METHODS["toy"], "worst", replace(m, run=timed))
    r = registry.solve("toy", "warm", {"n": 3}, SolveOptions(time_limit_s=10.0))
    assert registry.WARM_SHARE == 0.8 and len(seen) == 1
    assert 0 < seen[0] <= 8.0  # at most 80 % of the 10 s
    assert r.stats["limit_seen"] > 8.0  # the model gets the rest (nothing was spent)


def test_a_heuristic_claiming_optimal_is_demoted():
    r = registry.solve("toy", "liar", {"n": 3}, SolveOptions())
    assert r.status == Status.FEASIBLE and r.bound is None and r.gap is None


def test_an_exception_while_building_is_an_error_not_a_time_limit():
    r = registry.solve("toy", "boom", {"n": 3}, SolveOptions())
    assert r.status == Status.ERROR and r.message == "RuntimeError: boom"


def test_optimal_gets_its_objective_as_bound_and_a_zero_gap():
    r = registry.solve("toy", "exact", {"n": 3}, SolveOptions())
    assert (r.status, r.objective, r.bound, r.gap) == (Status.OPTIMAL, 1.0, 1.0, 0.0)


@pytest.mark.parametrize("name", ["nocert", "loose"])
def test_registry_solve_alone_does_not_judge_certificates(name):
    # the certificate check needs the evaluator; it lives in solvers/verdict.py (tested in
    # tests/test_status.py), which solve, evaluate, compare and adversary all go through
    r = registry.solve("toycert", name, {"n": 3}, SolveOptions())
    assert r.status == Status.OPTIMAL
