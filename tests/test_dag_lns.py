"""F1 large-neighbourhood search (formulations/dag/lns.py, ``--param lns`` of `cpsat`): never
worse than its warm start, deterministic given the seed and an iteration limit, and never the
source of an ``optimal`` that the full model did not prove."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from optgap.formulations.dag import cpsat, lns
from optgap.formulations.dag.evaluate import evaluate
from optgap.formulations.dag.instance import load
from optgap.formulations.dag.schedule import incumbents
from optgap.instances.dag.generate import generate
from optgap.instances.dag.strategies import dag_json
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.registry import WarmStart
from optgap.solvers.result import SolveOptions, Status

from tests.bruteforce_dag import brute_force

OPTS = SolveOptions(time_limit_s=60, threads=1, seed=0)
LNS = (("lns", "on"), ("lns_iterations", "3"))


def _warm(inst, method="cpls"):
    h = registry.solve("dag", method, inst, OPTS)
    return (WarmStart(method, h.solution, h.objective),)


def _improve(inst, seed=0, iterations=3):
    warm = _warm(inst)
    start = incumbents(inst, warm, "latency")[0]
    options = dataclasses.replace(OPTS, seed=seed, params=(("lns_iterations", str(iterations)),))
    return start, *lns.improve(inst, options, start, budget_s=60)


def test_lns_never_worse_than_its_warm_start_and_evaluator_checked():
    """50 operators (windows of 40: a real neighbourhood, not the whole model)."""
    inst = generate(50, 2)
    start, best, st = _improve(inst)
    assert st.iterations == 3 and best.makespan <= start.makespan
    assert st.start_ms == start.makespan / 1000 and st.end_ms == best.makespan / 1000
    sol = {
        "schedule": {
            i: {"device": best.device[i], "start_ms": best.start[i] / 1000} for i in best.start
        }
    }
    ev = evaluate(inst, sol, None)
    assert ev.feasible and ev.metrics["left_shifted"]
    assert round(ev.objective * 1000) == best.makespan
    assert st.improvements >= 1  # from CPLS (no insertion) there is always something to gain


def test_lns_keeps_its_incumbent_when_a_window_returns_a_worse_schedule(monkeypatch):
    """Each window's solver is made to stop at its first solution, without the hint: only the
    C <= C_inc - 1 cut and the acceptance test keep a worse schedule out."""
    real = lns.solve_cpsat

    def first_solution(model, options, **kw):
        model.ClearHints()
        kw["parameters"] = {**kw.get("parameters", {}), "stop_after_first_solution": True}
        return real(model, options, **kw)

    monkeypatch.setattr(lns, "solve_cpsat", first_solution)
    inst = generate(50, 2)
    # the same seed repeats the same first k windows: the incumbent after k windows never rises
    seen = [_improve(inst, iterations=k)[1].makespan for k in range(5)]
    assert seen == sorted(seen, reverse=True), seen


def test_lns_is_deterministic_given_the_seed_and_an_iteration_limit():
    inst = generate(50, 4)
    _, a, sa = _improve(inst, seed=3)
    _, b, sb = _improve(inst, seed=3)
    assert (a.device, a.start) == (b.device, b.start)
    assert (sa.iterations, sa.improvements) == (sb.iterations, sb.improvements)


def test_lns_answer_is_not_optimal_unless_the_full_model_proves_it():
    """The full model stops at its first solution after the LNS: the answer must be feasible with
    a bound below it (the LNS schedule is good, but nothing proved it optimal)."""
    inst = generate(60, 3, related=True)  # its proof takes seconds of search, not one solution
    options = dataclasses.replace(OPTS, params=LNS)
    r = cpsat.solve(inst, options, _warm(inst), sat_parameters={"stop_after_first_solution": True})
    assert r.stats["lns"]["iterations"] == 3
    assert r.status == Status.FEASIBLE and r.bound < r.objective
    ev = evaluate(inst, r.solution, None)
    assert ev.feasible and ev.objective == r.objective
    assert r.objective * 1000 <= r.stats["lns"]["start_ms"] * 1000


@settings(max_examples=12)
@given(dag_json(min_ops=2, max_ops=5, cpus=(1, 2), cpu_slots=(1, 2), related=True))
def test_lns_on_small_instances_reaches_the_brute_force_optimum(data):
    inst = load(data)
    truth = brute_force(inst)
    r = registry.solve("dag", "cpsat", inst, dataclasses.replace(OPTS, params=LNS))
    assert r.status == Status.OPTIMAL and round(r.objective * 1000) == truth
    assert r.stats["lns"]["end_ms"] * 1000 >= truth


def test_lns_params_are_checked_and_declared():
    inst = generate(10, 0)
    for params, msg in [
        ((("lns", "maybe"),), "--param lns=maybe"),
        ((("lns", "on"), ("lns_iterations", "-1")), "lns_iterations=-1"),
        ((("lns_iterations", "x"),), "lns_iterations=x"),
        ((("search", "fast"),), "--param search=fast"),
        ((("lp_bound", "yes"),), "--param lp_bound=yes"),
    ]:
        with pytest.raises(InputError, match=msg):
            cpsat.solve(inst, dataclasses.replace(OPTS, params=params))
    assert registry.method("dag", "cpsat").params == cpsat.PARAMS
    assert lns.use_lns(OPTS, lns.LNS_FROM_OPS) and not lns.use_lns(OPTS, lns.LNS_FROM_OPS - 1)


def test_search_settings_prove_the_same_optimum():
    """``--param search``: other CP-SAT workers, the same proven optimum (brute force)."""
    inst = generate(6, 1, related=True)
    truth = brute_force(inst)
    for search in cpsat.SEARCH:
        r = registry.solve(
            "dag", "cpsat", inst, dataclasses.replace(OPTS, threads=2, params=(("search", search),))
        )
        assert r.status == Status.OPTIMAL and round(r.objective * 1000) == truth, search


def test_lns_on_shared_links_carries_the_lane_transfers():
    """With shared links every schedule needs its lane transfers: the LNS reads them from each
    window's solution (it crashed in left_shift without them) and the evaluator accepts them."""
    inst = generate(50, 2, gpus=2, shared=True, bandwidth_gb_s=1)
    assert inst.has_shared_links
    start, best, st = _improve(inst)
    assert st.iterations == 3 and best.makespan <= start.makespan
    sol = {
        "schedule": {
            i: {"device": best.device[i], "start_ms": best.start[i] / 1000} for i in best.start
        },
        "transfers": [
            {"edge": [a, b], "start_ms": t / 1000} for (a, b), t in sorted(best.transfer.items())
        ],
    }
    assert sol["transfers"], "no transfer crosses a lane: the test exercises nothing"
    ev = evaluate(inst, sol, None)
    assert ev.feasible, ev.violations
    assert round(ev.objective * 1000) == best.makespan
    # through the solve layer (lns=on; how many windows fit in the limit depends on the machine)
    r = registry.solve("dag", "cpsat", inst, dataclasses.replace(OPTS, time_limit_s=8, params=LNS))
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE), r.message
    assert "lns" in r.stats and evaluate(inst, r.solution, None).feasible
