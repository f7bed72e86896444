"""F4 end to end: CP-SAT = MILP = brute force, heuristics >= optimum, the evaluator agrees and
rejects bad schedules, files round-trip, bad input is refused, infeasible budgets say why."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from optgap.formulations.pipeload.evaluate import evaluate
from optgap.formulations.pipeload.instance import dump, load
from optgap.instances.pipeload.strategies import instances
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

from tests.pipeload_bruteforce import min_latency_us, min_peak_kb

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
HEURISTICS = ("pipeload", "planner", "pipeswitch", "load-all", "one-at-a-time")
SHIPPED = sorted(Path("instances/pipeload").glob("*.json"))


def _solve(inst, method, **kw):
    params = kw.pop("params", ())
    options = SolveOptions(**{**OPTS.__dict__, **kw, "params": params})
    r = registry.solve("pipeload", method, inst, options)
    r.asked = options  # the limits the user typed: what the evaluator judges against
    return r


def _checked(inst, result):
    """The evaluator, given the options the method was asked with, accepts the answer and
    reproduces its objective exactly (µs / kB grid)."""
    asked = result.asked
    ev = evaluate(
        inst, result.solution, replace(asked, objective=result.stats["objective_pattern"])
    )
    assert ev.feasible, ev.violations
    assert ev.objective == pytest.approx(result.objective, rel=1e-9, abs=1e-9)
    for key in ("latency_ms", "peak_mb"):  # the side figures a method reports, too
        if key in result.stats:
            assert ev.metrics[key] == pytest.approx(result.stats[key], abs=1e-9), key
    return ev


TOY = {
    "family": "pipeload",
    "version": 1,
    "name": "toy",
    "layers": [{"name": n, "load_ms": 4, "compute_ms": 1, "mem_mb": 10} for n in "abcd"],
    "resident_mb": 5,
    "agents": 2,
    "budget_mb": 25,
}


# ------------------------------------------------------------------ exact models vs the truth


@given(instances())
def test_cpsat_equals_brute_force_latency(data):
    inst = load(data)
    r = _solve(inst, "cpsat")
    assert r.status == Status.OPTIMAL, r.message
    _checked(inst, r)
    assert round(r.objective * 1000) == min_latency_us(inst, inst.budget_kb)


@given(instances(max_layers=4))
def test_loads_in_layer_order_equal_brute_force(data):
    """--param order=layer restricts both sides to PIPELOAD's load order; never better."""
    inst = load(data)
    r = _solve(inst, "cpsat", params=(("order", "layer"),))
    assert r.status == Status.OPTIMAL
    ev = _checked(inst, r)
    assert ev.metrics["loads_in_layer_order"]
    assert round(r.objective * 1000) == min_latency_us(inst, inst.budget_kb, in_order=True)
    assert r.objective >= _solve(inst, "cpsat").objective


@given(instances(max_layers=4), st.floats(1.0, 1.5))
def test_cpsat_equals_brute_force_memory(data, slack):
    inst = load(data)
    fastest = min_latency_us(inst, None)
    bound_ms = round(fastest * slack / 1000, 3)
    r = _solve(inst, "cpsat", objective="memory", params=(("latency_ms", str(bound_ms)),))
    assert r.status == Status.OPTIMAL, r.message
    ev = _checked(inst, r)
    assert ev.metrics["latency_ms"] <= bound_ms
    assert round(r.objective * 1000) == min_peak_kb(inst, round(bound_ms * 1000))


@given(instances(max_layers=4, max_time_ms=3))
def test_milp_equals_cpsat_both_objectives(data):
    inst = load(data)
    for objective in ("latency", "memory"):
        a = _solve(inst, "cpsat", objective=objective)
        b = _solve(inst, "milp", objective=objective)
        assert a.status == b.status
        if a.status == Status.OPTIMAL:
            _checked(inst, b)
            assert b.objective == pytest.approx(a.objective, abs=1e-9)


def test_milp_highs_agrees_on_the_toy():
    inst = load(TOY)
    r = _solve(inst, "milp", backend="highs")
    _checked(inst, r)
    assert r.objective == 11.0


def test_toy_optimum_by_hand():
    """Budget 25 MB, resident 5: two 10 MB layers at once. c's load must wait for a to be freed
    (a loads 0-4, runs 4-5), so c loads 5-9; d waits for b (runs 5-6), loads 6-10 and runs
    10-11: latency 11 ms, reached by PIPELOAD too. Memory objective, bound = the pipeline
    baseline (one agent: loads end at 4, 8, 12, 16; last run 16-17 = 17 ms): one layer at a
    time takes 4 x 5 = 20 ms > 17, so two layers (25 MB) are needed."""
    inst = load(TOY)
    for m in ("cpsat", "milp", "pipeload", "planner"):
        r = _solve(inst, m)
        _checked(inst, r)
        assert r.objective == 11.0
    r = _solve(inst, "cpsat", objective="memory")
    assert r.solution["latency_bound_ms"] == 17.0
    assert r.objective == 25.0
    _checked(inst, r)


# ------------------------------------------------------------------ heuristics


@given(instances())
def test_heuristics_feasible_and_never_better_than_optimum(data):
    inst = load(data)
    opt = _solve(inst, "cpsat")
    assert opt.status == Status.OPTIMAL
    for h in HEURISTICS:
        r = _solve(inst, h)
        if r.status == Status.FEASIBLE:
            _checked(inst, r)
            assert r.objective >= opt.objective - 1e-9, h
        else:  # only the baselines that keep the whole model may fail, and only for memory
            assert h in ("pipeswitch", "load-all"), (h, r.message)
            assert inst.budget_kb < inst.fixed_kb(inst.k_max) + inst.model_kb
    # PIPELOAD never fails under a feasible budget
    assert _solve(inst, "planner").status == Status.FEASIBLE


@given(instances(max_layers=4))
def test_memory_heuristics_never_below_optimum(data):
    inst = load(data)
    opt = _solve(inst, "cpsat", objective="memory")
    assert opt.status == Status.OPTIMAL  # the default bound is the baseline's own latency
    for h in HEURISTICS:
        r = _solve(inst, h, objective="memory")
        if r.has_solution:
            _checked(inst, r)
            assert r.objective >= opt.objective - 1e-9, h
    assert _solve(inst, "pipeswitch", objective="memory").status == Status.FEASIBLE


def test_one_at_a_time_uses_the_least_memory_and_baselines_the_most():
    inst = load(TOY)
    r = _solve(inst, "one-at-a-time", params=(("budget_mb", "none"),))
    assert _checked(inst, r).metrics["peak_mb"] == 15.0  # resident 5 + one 10 MB layer
    assert r.objective == 20.0  # 4 x (4 + 1) ms
    for h in ("pipeswitch", "load-all"):
        r = _solve(inst, h, params=(("budget_mb", "none"),))
        assert _checked(inst, r).metrics["peak_mb"] == 45.0  # resident + the whole model
    # load-all with 2 agents: loads end at 8, then 4 runs of 1 ms
    r = _solve(inst, "load-all", params=(("budget_mb", "none"),))
    _checked(inst, r)
    assert r.objective == 12.0


# ------------------------------------------------------------------ infeasible and unsupported


def test_budget_below_minimum_is_infeasible_with_the_minimum():
    inst = load(TOY)
    for m in ("cpsat", "milp", "pipeload"):
        r = _solve(inst, m, params=(("budget_mb", "14.999"),))
        assert r.status == Status.INFEASIBLE
        assert "minimum feasible budget 15 MB" in r.message
    r = _solve(inst, "cpsat", params=(("budget_mb", "15"),))
    _checked(inst, r)
    assert r.objective == 20.0  # one layer at a time: 4 x (4 + 1) ms


def test_latency_bound_below_fastest_is_infeasible():
    inst = load(TOY)
    # fastest: a load of 4 ms then 4 runs of 1 ms = 8 ms is only a bound; 2 agents give 11
    r = _solve(inst, "cpsat", objective="memory", params=(("latency_ms", "7"),))
    assert r.status == Status.INFEASIBLE
    assert "latency bound 7 ms" in r.message


def test_shared_disk_rejected_by_exact_models_not_by_heuristics():
    data = {**TOY, "disk_mb_s": 3000}  # each load asks 10 MB / 4 ms = 2500 MB/s; two: 5000
    inst = load(data)
    for m in ("cpsat", "milp"):
        r = _solve(inst, m)
        assert r.status == Status.ERROR and "shared disk" in r.message
    r = _solve(inst, "pipeload")
    assert r.status == Status.FEASIBLE
    _checked(inst, r)
    # a disk fast enough for every pair of loads is not binding: exact models accept it
    fast = load({**TOY, "disk_mb_s": 5000})
    r = _solve(fast, "cpsat")
    _checked(fast, r)
    assert r.objective == 11.0


def test_shared_disk_replay_by_hand():
    """Two 10 MB loads at once on a 3000 MB/s disk, each alone at 2500 MB/s: together they ask
    5000, so each reads at 1500 MB/s = 1.5 kB/µs and both end at 10000 / 1.5 = 6666.67 µs; the
    runs may start at 6.667 ms, not earlier."""
    inst = load({**TOY, "layers": TOY["layers"][:2], "disk_mb_s": 3000, "budget_mb": 100})
    sched = {
        "a": {"load_start_ms": 0, "agent": 0, "run_start_ms": 6.667},
        "b": {"load_start_ms": 0, "agent": 1, "run_start_ms": 7.667},
    }
    sol = {"objective": "latency", "agents": 2, "schedule": sched}
    ev = evaluate(inst, sol)
    assert ev.feasible, ev.violations
    assert ev.objective == 8.667
    sched["a"]["run_start_ms"] = 6.666
    assert any("before its load ends" in x for x in evaluate(inst, sol).violations)
    # the simulator reaches the same schedule
    r = _solve(inst, "pipeload")
    _checked(inst, r)
    assert r.objective == 8.667


# ------------------------------------------------------------------ evaluator rejects


def _toy_solution():
    inst = load(TOY)
    return inst, json.loads(json.dumps(_solve(inst, "cpsat").solution))


@pytest.mark.parametrize(
    "change, expect",
    [
        (lambda s: s["schedule"]["b"].update(run_start_ms=0.5), "before its load ends"),
        (lambda s: s["schedule"]["a"].update(run_start_ms=5.5), "one inference agent"),
        (lambda s: s["schedule"]["c"].update(agent=7), "not one of 0..1"),
        (lambda s: s.update(agents=3), "outside the instance's range"),
        (lambda s: s["schedule"]["c"].update(load_start_ms=4.5), "memory: 35 MB"),
        (lambda s: s["schedule"].pop("d"), "d: expected"),
        (lambda s: s["schedule"]["a"].update(load_start_ms=0.0001), "1 µs grid"),
        (lambda s: s.update(budget_mb=20), "solution.budget_mb: states 20"),
        (lambda s: s.update(budget_mb=100), "solution.budget_mb: states 100"),
        (lambda s: s.update(budget_mb=None), "solution.budget_mb: states None"),
        (lambda s: s["schedule"].update(zz=s["schedule"]["a"]), "not a layer"),
    ],
)
def test_evaluator_rejects(change, expect):
    inst, sol = _toy_solution()
    change(sol)
    ev = evaluate(inst, sol)
    assert not ev.feasible
    assert any(expect in v for v in ev.violations), ev.violations


def test_evaluator_rejects_agent_overlap():
    inst, sol = _toy_solution()
    loads = sorted(sol["schedule"].values(), key=lambda e: e["load_start_ms"])
    loads[1]["agent"] = loads[0]["agent"]  # two loads starting at 0 on one agent
    ev = evaluate(inst, sol)
    assert any("while" in v and "loads until" in v for v in ev.violations)


# ------------------------------------------------------------------ front


@given(instances(max_layers=3, max_time_ms=3))
def test_pareto_front_is_exact(data):
    """Every point: its latency is the least under its own peak, and its peak the least at its
    latency (brute force); consecutive points trade memory for latency."""
    inst = load(data)
    r = _solve(inst, "cpsat", objective="pareto")
    assert r.status == Status.OPTIMAL
    ev = _checked(inst, r)
    front = ev.metrics["front"]
    for (p1, l1), (p2, l2) in zip(front, front[1:], strict=False):
        assert p1 < p2 and l1 > l2
    for peak, lat in front:
        assert min_latency_us(inst, round(peak * 1000)) == round(lat * 1000)
        assert min_peak_kb(inst, round(lat * 1000)) == round(peak * 1000)
    # the least latency with no budget at all closes the front
    assert round(front[-1][1] * 1000) == min_latency_us(inst, None)


def test_heuristic_front_and_plots(tmp_path):
    from optgap.solvers.pipeload_plot import plot

    inst = load(TOY)
    for method in ("cpsat", "pipeload"):
        r = _solve(inst, method, objective="pareto")
        _checked(inst, r)
        out = tmp_path / f"{method}.png"
        plot(inst, {"method": method, "status": str(r.status), "solution": r.solution}, str(out))
        assert out.stat().st_size > 10_000
    r = _solve(inst, "cpsat")
    plot(inst, {"method": "cpsat", "solution": r.solution}, str(tmp_path / "gantt.png"))
    assert (tmp_path / "gantt.png").stat().st_size > 10_000


# ------------------------------------------------------------------ files and input


@given(instances())
def test_round_trip(data):
    inst = load(data)
    assert load(json.loads(json.dumps(dump(inst)))) == inst


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_instances_validate_and_round_trip(path):
    inst = load(json.loads(path.read_text()))
    assert load(dump(inst)) == inst


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"layers": []}, "layers: expected at least 1"),
        ({"agents": 0}, "agents: must not be below 1"),
        ({"agents": {"min": 3, "max": 2}}, "max 2 is below min 3"),
        ({"agents": 1.5}, "expected an integer"),
        ({"resident_mb": -1}, "resident_mb: must not be negative"),
        ({"budget_mb": 0}, "budget_mb: must be > 0"),
        ({"budget_mb": "big"}, "budget_mb: expected a number"),
        ({"colour": "red"}, "instance.colour: unknown field"),
        ({"family": "dag"}, "expected 'pipeload'"),
        ({"version": 2}, "unsupported version"),
        ({"layers": [{"name": "a", "load_ms": 1, "compute_ms": 1}]}, "layers[0].mem_mb: missing"),
        ({"layers": [{"name": "a", "load_ms": -1, "compute_ms": 1, "mem_mb": 1}]}, "negative"),
        ({"layers": [TOY["layers"][0], TOY["layers"][0]]}, "duplicate name 'a'"),
        (
            {"layers": [{"name": "a", "load_ms": 1, "compute_ms": 1, "mem_mb": 0}]},
            "every mem_mb is 0",
        ),
        (
            {
                "disk_mb_s": 100,
                "layers": [{"name": "a", "load_ms": 0, "compute_ms": 1, "mem_mb": 1}],
            },
            "load_ms is 0 but mem_mb > 0",
        ),
    ],
)
def test_bad_input(patch, message):
    with pytest.raises(InputError) as e:
        load({**TOY, **patch})
    assert message in str(e.value)


@pytest.mark.parametrize(
    "params, message",
    [
        ((("colour", "red"),), "unknown key"),
        ((("budget_mb", "-3"),), "must be > 0"),
        ((("budget_mb", "lots"),), "expected a number"),
        ((("k", "5"),), "outside the instance's agents"),
        ((("order", "random"),), "expected any or layer"),
        ((("points", "1"),), "at least 2"),
    ],
)
def test_bad_params(params, message):
    with pytest.raises(InputError) as e:
        _solve(load(TOY), "cpsat", params=params)
    assert message in str(e.value)


def test_generate_is_deterministic_and_solvable():
    fam = registry.family("pipeload")
    a, b = fam.generate(6, 3), fam.generate(6, 3)
    assert a == b and a != fam.generate(6, 4)
    r = _solve(a, "cpsat")
    assert r.status == Status.OPTIMAL
    _checked(a, r)


def test_agents_range_lets_the_model_choose_k():
    """A staging buffer per agent makes more agents cost memory: under 26 MB (resident 5 + 1 per
    agent + two 10 MB layers with one agent... ) the model must weigh k. Truth by brute force."""
    inst = load({**TOY, "agents": {"min": 1, "max": 3}, "agent_mb": 1, "budget_mb": 27})
    r = _solve(inst, "cpsat")
    _checked(inst, r)
    assert round(r.objective * 1000) == min_latency_us(inst, inst.budget_kb)
    planner = _solve(inst, "planner")
    assert planner.objective >= r.objective
    assert replace(inst, k_min=3).min_budget_kb() == 5000 + 3000 + 10000


@given(instances(max_layers=4))
def test_direct_memory_model_agrees_with_bisection(data):
    """The exported memory model (min P with P as the cumulative's capacity) and the bisection
    that `solve` uses reach the same least peak."""
    from optgap.formulations.pipeload import cpsat
    from optgap.formulations.pipeload.instance import baseline_latency_us
    from optgap.solvers.backends import solve_cpsat

    inst = load(data)
    bound = baseline_latency_us(inst)
    outcome, _ = solve_cpsat(cpsat.build(inst, "memory", None, bound).model, OPTS, scale=1000)
    assert outcome.status == Status.OPTIMAL
    r = _solve(inst, "cpsat", objective="memory")
    assert r.status == Status.OPTIMAL
    assert outcome.objective == pytest.approx(r.objective, abs=1e-9)


@given(instances(max_layers=4), st.booleans())
def test_jit_relaxation_bounds_and_schedules(data, in_order):
    """The just-in-time relaxation never exceeds the true optimum (brute force), and a schedule
    it hands over is feasible for the full problem."""
    from optgap.formulations.pipeload.cpsat import jit_first
    from optgap.formulations.pipeload.instance import schedule_solution

    inst = load(data)
    jit = jit_first(inst, OPTS, inst.budget_kb, None, in_order)
    assert jit.status == Status.OPTIMAL
    truth = min_latency_us(inst, inst.budget_kb, in_order=in_order)
    assert jit.bound_us <= truth
    if jit.schedule is not None:
        ev = evaluate(inst, schedule_solution(inst, "latency", jit.schedule, {}))
        assert ev.feasible, ev.violations
        assert round(ev.objective * 1000) == truth  # optimal relaxation, feasible: optimal
        assert ev.metrics["loads_in_layer_order"] or not in_order


@given(instances(shared_disk=True))
def test_heuristics_on_a_shared_disk_replay_exactly(data):
    """With a shared disk the simulator's load ends (processor sharing) must be the evaluator's:
    every heuristic's schedule is accepted and its latency and memory reproduced."""
    inst = load(data)
    for h in HEURISTICS:
        r = _solve(inst, h, params=(("budget_mb", "none"),))
        assert r.has_solution, (h, r.message)
        ev = _checked(inst, r)
        assert ev.metrics["peak_mb"] == r.stats["peak_mb"]
    r = _solve(inst, "planner")
    assert r.has_solution
    _checked(inst, r)
