"""Backend conformance: one suite, run against every backend (as pulp's own tests do)."""

from __future__ import annotations

import itertools
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optgap.solvers.backends import (
    MILP_BACKENDS,
    SDP_BACKENDS,
    solve_cpsat,
    solve_cvxpy,
    solve_pulp,
)
from optgap.solvers.result import SolveOptions, Status


@pytest.fixture(params=MILP_BACKENDS)
def milp_backend(request):
    return request.param


def _knapsack(costs, sizes, need):
    """min Σ c x  s.t.  Σ s x ≥ need, x binary (a covering knapsack)."""
    import pulp

    prob = pulp.LpProblem("cover", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{i}", cat="Binary") for i in range(len(costs))]
    prob += pulp.lpSum(c * v for c, v in zip(costs, x, strict=True))
    prob += pulp.lpSum(s * v for s, v in zip(sizes, x, strict=True)) >= need
    return prob, x


@pytest.mark.parametrize("milp_backend", MILP_BACKENDS)
@settings(max_examples=15)
@given(
    st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 30)), min_size=2, max_size=10),
    st.data(),
)
def test_milp_small_magnitude_objective_matches_brute_force(milp_backend, items, data):
    # Costs around 1e-5: a default relative/absolute gap would accept a worse cover.
    costs = [c * 1e-9 for c, _ in items]
    sizes = [s for _, s in items]
    need = data.draw(st.integers(1, sum(sizes)))
    truth = min(
        sum(c for c, b in zip(costs, pick, strict=True) if b)
        for pick in itertools.product((0, 1), repeat=len(costs))
        if sum(s for s, b in zip(sizes, pick, strict=True) if b) >= need
    )
    prob, _ = _knapsack(costs, sizes, need)
    out = solve_pulp(prob, SolveOptions(time_limit_s=30, threads=1), milp_backend)
    assert out.status == Status.OPTIMAL
    assert out.objective == pytest.approx(truth, rel=1e-9, abs=1e-15)


def test_milp_backends_agree_on_assignment():
    # 6x6 assignment with costs in 1e-6 units; optimum checked by enumeration of permutations.
    import pulp

    cost = [[((i * 7 + j * 13) % 17 + 1) * 1e-6 for j in range(6)] for i in range(6)]
    truth = min(sum(cost[i][p[i]] for i in range(6)) for p in itertools.permutations(range(6)))
    values = []
    for backend in MILP_BACKENDS:
        prob = pulp.LpProblem("assign", pulp.LpMinimize)
        x = {(i, j): pulp.LpVariable(f"x{i}_{j}", cat="Binary") for i in range(6) for j in range(6)}
        prob += pulp.lpSum(cost[i][j] * x[i, j] for i, j in x)
        for i in range(6):
            prob += pulp.lpSum(x[i, j] for j in range(6)) == 1
            prob += pulp.lpSum(x[j, i] for j in range(6)) == 1
        out = solve_pulp(prob, SolveOptions(time_limit_s=30), backend)
        assert out.status == Status.OPTIMAL
        values.append(out.objective)
    assert values[0] == pytest.approx(truth, abs=1e-15)
    assert values[1] == pytest.approx(truth, abs=1e-15)


def test_milp_infeasible(milp_backend):
    import pulp

    prob = pulp.LpProblem("inf", pulp.LpMinimize)
    x = pulp.LpVariable("x", cat="Binary")
    y = pulp.LpVariable("y", cat="Binary")
    prob += x + y
    prob += x + y >= 3
    assert solve_pulp(prob, SolveOptions(), milp_backend).status == Status.INFEASIBLE


def _tardiness_model(n: int, seed: int, due_hi: int):
    """1 || Σ w T with big-M disjunctions, seeded: (problem, p, d, w)."""
    import random

    import pulp

    rng = random.Random(seed)
    p = [rng.randint(1, 20) for _ in range(n)]
    d = [rng.randint(10, due_hi) for _ in range(n)]
    w = [rng.randint(1, 5) for _ in range(n)]
    prob = pulp.LpProblem("wt", pulp.LpMinimize)
    s = [pulp.LpVariable(f"s{j}", 0) for j in range(n)]
    t = [pulp.LpVariable(f"t{j}", 0) for j in range(n)]
    big = sum(p)
    for i, j in itertools.combinations(range(n), 2):
        y = pulp.LpVariable(f"y{i}_{j}", cat="Binary")
        prob += s[i] + p[i] <= s[j] + big * (1 - y)
        prob += s[j] + p[j] <= s[i] + big * y
    for j in range(n):
        prob += t[j] >= s[j] + p[j] - d[j]
    prob += pulp.lpSum(w[j] * t[j] for j in range(n))
    return prob, p, d, w


def _hard_schedule():
    """Single-machine weighted tardiness, big-M disjunctions: hard for a MILP at 16 jobs."""
    return _tardiness_model(16, 1, 120)[0]


def test_milp_time_limit_is_honoured_and_bound_is_valid(milp_backend):
    prob = _hard_schedule()
    t0 = time.perf_counter()
    out = solve_pulp(prob, SolveOptions(time_limit_s=1, threads=1, seed=3), milp_backend)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1 + 10  # the limit is honoured (generous slack for start-up)
    assert out.status in (Status.FEASIBLE, Status.TIME_LIMIT, Status.OPTIMAL)
    if out.status == Status.FEASIBLE:
        assert out.bound is not None and out.bound <= out.objective + 1e-6


def _cpsat_jobs(n, limit):
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    # pigeons into holes: n pigeons, n-1 holes -> infeasible; hard for pure search at n ~ 12
    x = [[m.NewBoolVar(f"x{i}{j}") for j in range(n - 1)] for i in range(n)]
    for i in range(n):
        m.AddExactlyOne(x[i])
    for j in range(n - 1):
        m.AddAtMostOne(x[i][j] for i in range(n))
    return m


def test_cpsat_optimal_infeasible_and_bound():
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    a, b = m.NewIntVar(0, 10, "a"), m.NewIntVar(0, 10, "b")
    m.Add(a + 2 * b >= 7)
    m.Minimize(3 * a + 4 * b)
    out, solver = solve_cpsat(m, SolveOptions(threads=1, seed=5))
    assert out.status == Status.OPTIMAL and out.objective == 15  # a=1, b=3 by hand
    assert solver.Value(a) * 3 + solver.Value(b) * 4 == 15
    assert solve_cpsat(_cpsat_jobs(5, 1), SolveOptions())[0].status == Status.INFEASIBLE


def test_cpsat_time_limit_reports_bound():
    from ortools.sat.python import cp_model

    # A 0/1 problem with many near-ties (subset sum) under a tiny limit.
    m = cp_model.CpModel()
    import random

    rng = random.Random(0)
    w = [rng.randint(10**6, 10**7) for _ in range(60)]
    x = [m.NewBoolVar(f"x{i}") for i in range(60)]
    target = sum(w) // 2 + 1
    m.Add(sum(wi * xi for wi, xi in zip(w, x, strict=True)) >= target)
    m.Minimize(sum(wi * xi for wi, xi in zip(w, x, strict=True)))
    out, _ = solve_cpsat(m, SolveOptions(time_limit_s=0.5, threads=1))
    assert out.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert out.bound is not None and out.bound <= out.objective
    assert out.bound >= target  # any valid bound of this model is at least the demand


@pytest.fixture(params=SDP_BACKENDS)
def sdp_backend(request):
    return request.param


def test_sdp_tsirelson_bound(sdp_backend):
    """NPA level 1 for CHSH: Γ ⪰ 0 over (1, A0, A1, B0, B1), unit diagonal -> 2√2 (Tsirelson 1980)."""
    import cvxpy as cp

    g = cp.Variable((5, 5), symmetric=True)
    chsh = g[1, 3] + g[1, 4] + g[2, 3] - g[2, 4]
    prob = cp.Problem(cp.Minimize(-chsh), [g >> 0, cp.diag(g) == 1])
    out = solve_cvxpy(prob, SolveOptions(time_limit_s=30), sdp_backend)
    assert out.status == Status.OPTIMAL
    assert -out.objective == pytest.approx(2 * math.sqrt(2), abs=1e-5)


def test_sdp_infeasible(sdp_backend):
    import cvxpy as cp

    x = cp.Variable((2, 2), symmetric=True)
    prob = cp.Problem(cp.Minimize(cp.trace(x)), [x >> 0, x[0, 0] == -1])
    assert solve_cvxpy(prob, SolveOptions(), sdp_backend).status == Status.INFEASIBLE


def test_milp_objective_without_terms(milp_backend):
    import pulp

    prob = pulp.LpProblem("empty", pulp.LpMinimize)
    x = pulp.LpVariable("x", cat="Binary")
    prob += pulp.lpSum([0 * x])
    prob += x >= 1
    out = solve_pulp(prob, SolveOptions(), milp_backend)
    assert out.status == Status.OPTIMAL and out.objective == 0.0 and out.bound == 0.0


# ------------------------------------------------------------------ status honesty, forced stops
# Each adapter is stopped by a deterministic limit (solutions, nodes, conflicts, iterations; no
# timing) while it holds an incumbent: the status must be `feasible`, never `optimal`, and the
# bound must lie strictly on the right side of the objective and be valid (<= the optimum,
# found by brute force). Planting "timed-out incumbent reported optimal" in CBC or CP-SAT fails
# these tests.


def _weighted_tardiness(n=8, seed=1):
    """1 || Σ w T, big-M disjunctions; optimum by brute force over job orders (no idle time is
    needed for a regular objective, so some permutation is optimal)."""
    prob, p, d, w = _tardiness_model(n, seed, 60)
    best = math.inf
    for order in itertools.permutations(range(n)):
        c = total = 0
        for j in order:
            c += p[j]
            total += w[j] * max(0, c - d[j])
        best = min(best, total)
    return prob, best


def _wt():
    return _weighted_tardiness()


@pytest.mark.parametrize(
    "backend,limits",
    [
        ("cbc", {"maxSolutions": 1}),
        ("cbc", {"maxNodes": 1}),
        ("highs", {"mip_max_improving_sols": 1}),
        ("highs", {"mip_max_nodes": 1}),
    ],
)
def test_milp_stopped_with_an_incumbent_is_feasible_with_a_valid_bound(backend, limits):
    prob, opt = _wt()
    assert opt == 231  # brute force over 8! orders (see _weighted_tardiness)
    out = solve_pulp(
        prob, SolveOptions(time_limit_s=120, threads=1, seed=0), backend, limits=limits
    )
    assert out.status == Status.FEASIBLE, out
    assert out.objective >= opt - 1e-6  # an incumbent is never better than the optimum
    assert out.bound is not None and out.bound < out.objective  # strictly: no proof
    assert out.bound <= opt + 1e-6  # and valid


@pytest.mark.parametrize(
    "backend,limits",
    [
        ("cbc", {"maxNodes": 0}),
        ("highs", {"mip_max_nodes": 1, "mip_heuristic_effort": 0.0}),
    ],
)
def test_milp_stopped_by_a_limit_before_any_solution_is_time_limit(backend, limits):
    """A node limit that ends the search without an incumbent is a time-out, not an error."""
    import random

    import pulp

    rng = random.Random(1)
    w = [2 * rng.randint(10**5, 10**6) + 1 for _ in range(30)]
    prob = pulp.LpProblem("subset_sum", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{i}", cat="Binary") for i in range(30)]
    prob += pulp.lpSum(x)
    prob += pulp.lpSum(wi * xi for wi, xi in zip(w, x, strict=True)) == sum(w[:15])  # feasible
    out = solve_pulp(prob, SolveOptions(time_limit_s=60, threads=1, seed=0), backend, limits=limits)
    assert out.status in (Status.TIME_LIMIT, Status.FEASIBLE), out
    if out.status == Status.FEASIBLE:  # CBC's root heuristics may find one: then it must be real
        assert sum(wi * xi.value() for wi, xi in zip(w, x, strict=True)) == sum(w[:15])
    else:
        assert out.objective is None


def _subset_sum_model():
    """min Σ w x s.t. Σ w x >= target: the first solution CP-SAT finds is not proven optimal."""
    import random

    from ortools.sat.python import cp_model

    rng = random.Random(0)
    w = [rng.randint(10**6, 10**7) for _ in range(40)]
    m = cp_model.CpModel()
    x = [m.NewBoolVar(f"x{i}") for i in range(40)]
    target = sum(w) // 2 + 1
    m.Add(sum(wi * xi for wi, xi in zip(w, x, strict=True)) >= target)
    m.Minimize(sum(wi * xi for wi, xi in zip(w, x, strict=True)))
    return m, target


@pytest.mark.parametrize(
    "limits", [{"stop_after_first_solution": True}, {"max_number_of_conflicts": 10}]
)
def test_cpsat_stopped_with_an_incumbent_is_feasible_with_a_valid_bound(limits):
    m, target = _subset_sum_model()
    out, _ = solve_cpsat(m, SolveOptions(time_limit_s=120, threads=1, seed=0), limits=limits)
    assert out.status == Status.FEASIBLE, out
    assert out.objective >= target  # the incumbent meets the demand
    assert target <= out.bound < out.objective  # any valid bound is >= the demand; strict: no proof


def test_cpsat_invalid_model_is_an_error_not_a_time_limit():
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    x = m.NewIntVar(0, 10, "x")
    m.Minimize(x)
    dom = m.Proto().variables[0].domain
    dom[0], dom[1] = 5, 1  # an empty domain: CP-SAT says MODEL_INVALID
    out, _ = solve_cpsat(m, SolveOptions(time_limit_s=5))
    assert out.status == Status.ERROR and "invalid" in out.message


def test_milp_unbounded_is_an_error(milp_backend):
    import pulp

    prob = pulp.LpProblem("unb", pulp.LpMinimize)
    x = pulp.LpVariable("x", upBound=0)
    prob += x
    prob += x <= 5
    assert solve_pulp(prob, SolveOptions(), milp_backend).status == Status.ERROR


def test_sdp_stopped_by_an_iteration_limit_is_never_optimal(sdp_backend):
    """SCS at 5 iterations says `optimal_inaccurate` with an objective *beyond* the optimum
    (-4.70 < -2√2: the iterate is not feasible); Clarabel at 2 says `user_limit`. Neither may be
    `optimal`, and neither claims a bound it cannot prove."""
    import cvxpy as cp

    g = cp.Variable((5, 5), symmetric=True)
    chsh = g[1, 3] + g[1, 4] + g[2, 3] - g[2, 4]
    prob = cp.Problem(cp.Minimize(-chsh), [g >> 0, cp.diag(g) == 1])
    limits = {"scs": {"max_iters": 5}, "clarabel": {"max_iter": 2}}[sdp_backend]
    out = solve_cvxpy(prob, SolveOptions(time_limit_s=60), sdp_backend, limits=limits)
    assert out.status in (Status.FEASIBLE, Status.TIME_LIMIT), out
    assert out.bound is None
