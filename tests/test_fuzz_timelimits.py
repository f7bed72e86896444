"""The time-limit machinery of the solve layer, checked without timing a solver.

One deadline per method run (warm starts and model building count), the remaining time handed to
backends, TimeUp from a model's loop reported as time_limit (or feasible with an accepted warm
start), and the watchdog that stops a solver which does not stop by itself.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from optgap.solvers import backends, registry
from optgap.solvers.registry import Method, WarmStart, register_method
from optgap.solvers.result import SolveOptions, Status


def test_remaining_is_cut_to_the_deadline_of_the_scope():
    options = SolveOptions(time_limit_s=60)
    assert backends.remaining(options) == 60  # no scope: the option's limit
    with backends.deadline_scope(2.0):
        assert backends.remaining(options) <= 2.0
        with backends.deadline_scope(30.0):  # an inner scope never extends the outer one
            assert backends.remaining(options) <= 2.0
    with backends.deadline_scope(0.0):
        time.sleep(0.01)
        assert backends.remaining(options) == backends.MIN_SOLVE_S
        with pytest.raises(backends.TimeUp, match="building the model"):
            backends.check_time()
    backends.check_time()  # outside any scope: never raises


FORK = {
    "family": "dag",
    "devices": [{"id": "g", "kind": "gpu"}],
    "operators": [{"id": "a", "time_ms": {"gpu": 1.0}}, {"id": "b", "time_ms": {"gpu": 2.0}}],
}
_MINE: list[str] = []


def _register(name: str, run, warm=()) -> None:
    """A temporary exact method of the dag family (removed after the test)."""
    register_method(
        Method("dag", name, "exact", name, run, ("python",), ("latency",), warm_start=warm)
    )
    _MINE.append(name)


@pytest.fixture(autouse=True)
def _unregister():
    yield
    while _MINE:
        registry.METHODS["dag"].pop(_MINE.pop(), None)


def _inst():
    return registry.load_instance(FORK)[1]


def test_a_model_that_runs_out_of_time_is_time_limit_not_error():
    seen = {}

    def slow_build(inst, options, warm=()):
        seen["remaining"] = backends.remaining(options)
        while True:  # a model-building loop that checks the clock
            backends.check_time()
            time.sleep(0.01)

    _register("slow-build", slow_build)
    r = registry.solve("dag", "slow-build", _inst(), SolveOptions(time_limit_s=0.2))
    assert r.status == Status.TIME_LIMIT and r.solution is None, r
    assert "time limit" in r.message and seen["remaining"] <= 0.2


def test_an_accepted_warm_start_survives_a_model_that_runs_out_of_time():
    def slow_build(inst, options, warm=()):
        assert warm and isinstance(warm[0], WarmStart)
        while True:
            backends.check_time()
            time.sleep(0.01)

    _register("slow-warm", slow_build, warm=("heft",))
    r = registry.solve("dag", "slow-warm", _inst(), SolveOptions(time_limit_s=0.3))
    # heft's schedule, judged by the evaluator: both operators back to back on the one GPU
    assert r.status == Status.FEASIBLE and r.objective == 3.0 and "heft" in r.message, r
    assert r.bound is None  # no solver bound was proven


def test_the_watchdog_stops_what_overruns_and_leaves_alone_what_does_not():
    stopped = threading.Event()
    with backends._watchdog(0.05, stopped.set) as fired:
        stopped.wait(5)  # a "solver" that only stops when told to
    assert stopped.is_set() and fired.is_set()
    calls = []
    with backends._watchdog(30, lambda: calls.append(1)) as fired:
        pass  # returns long before the watchdog's time
    assert not fired.is_set() and calls == []


def test_the_hard_stop_margin_is_stated():
    assert backends.hard_stop_s(5) == 5 + backends.HARD_STOP_S
    assert backends.hard_stop_s(60) == 60 + 0.25 * 60


def test_cpsat_is_stopped_by_the_watchdog(monkeypatch):
    """A CP-SAT search with a long limit of its own, stopped by the watchdog's StopSearch."""
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    n = 14  # pigeonhole n+1 into n: hard for CP-SAT's search, infeasible
    x = [[m.NewBoolVar(f"x{i}{j}") for j in range(n)] for i in range(n + 1)]
    for i in range(n + 1):
        m.AddBoolOr(x[i])
    for j in range(n):
        m.AddAtMostOne(x[i][j] for i in range(n + 1))
    monkeypatch.setattr(backends, "hard_stop_s", lambda limit: 0.5)
    out, _ = backends.solve_cpsat(
        m, SolveOptions(time_limit_s=600, threads=1), parameters={"symmetry_level": 0}
    )
    # pigeonhole 15 -> 14 without symmetry reasoning takes CP-SAT far longer than 600 s: only the
    # watchdog's StopSearch ends this search
    assert out.status == Status.TIME_LIMIT, out


def test_a_model_loop_that_never_checks_the_clock_is_stopped_by_the_hard_deadline(monkeypatch):
    monkeypatch.setattr(backends, "hard_stop_s", lambda limit: -5.0 + 0.3)  # alarm at 0.3 s
    monkeypatch.setattr(backends, "KILL_AFTER_S", 0.0)

    def stuck(inst, options, warm=()):
        while True:  # pure Python that never calls check_time
            sum(range(1000))

    _register("stuck", stuck, warm=("heft",))
    r = registry.solve("dag", "stuck", _inst(), SolveOptions(time_limit_s=0.2))
    assert r.status == Status.FEASIBLE and r.objective == 3.0, r
    assert "overrun" in r.message


@pytest.mark.parametrize("backend", ["cbc", "highs"])
def test_cbc_and_highs_are_stopped_by_the_watchdog(backend, monkeypatch):
    """A market-split MILP (Cornuejols-Dawande, 4 x 34: hours of branch and bound) with a
    600 s limit of the solver's own; the watchdog stops it (CBC: SIGINT, HiGHS: cancelSolve)
    after 2 s, and the incumbent comes back without a proof."""
    import pulp

    rng = random.Random(1)
    m, n = 4, 34
    prob = pulp.LpProblem("market_split", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{j}", cat="Binary") for j in range(n)]
    s = [pulp.LpVariable(f"s{i}", lowBound=0) for i in range(m)]
    t = [pulp.LpVariable(f"t{i}", lowBound=0) for i in range(m)]
    prob += pulp.lpSum(s) + pulp.lpSum(t)
    for i in range(m):
        a = [rng.randrange(100) for _ in range(n)]
        prob += pulp.lpSum(a[j] * x[j] for j in range(n)) + s[i] - t[i] == sum(a) // 2
    monkeypatch.setattr(backends, "hard_stop_s", lambda limit: 2.0)
    out = backends.solve_pulp(prob, SolveOptions(time_limit_s=600), backend)
    assert out.status in (Status.FEASIBLE, Status.TIME_LIMIT), out
