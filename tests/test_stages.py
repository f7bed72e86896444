"""F3 `stages`: exact = brute force = DP, heuristics >= optimum and feasible, the evaluator and the
simulator agree with hand-derived cases, files round-trip, bad input is refused."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from optgap.formulations.stages.evaluate import evaluate
from optgap.formulations.stages.instance import dump, erlang_c, load, wait_quantile_ms
from optgap.instances.stages.generate import generate
from optgap.instances.stages.presets import bert_stage_macs, preset, resnet50_stage_macs
from optgap.instances.stages.strategies import instances
from optgap.solvers import registry
from optgap.solvers import testing as solvers_testing
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

from tests.stages_bruteforce import brute_force, combinations

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
HEURISTICS = ("serflow", "stage-agnostic", "libra", "functions-only", "vm-peak")
ROOT = Path(__file__).resolve().parents[1]


def _solve(inst, method, **kw):
    return registry.solve("stages", method, inst, SolveOptions(**{**OPTS.__dict__, **kw}))


def _checked(inst, r, simulate=False):
    """The evaluator accepts the plan and reproduces the method's cost (deterministic plan cost)."""
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE), r.message
    ev = evaluate(inst, r.solution, simulate=simulate)
    assert ev.feasible, ev.violations
    assert math.isclose(ev.objective, r.objective, rel_tol=1e-9, abs_tol=1e-12)
    return ev


def _tiny(**over) -> dict:
    """One stage, one VM worker, deterministic service (cv 0): latencies derivable by hand."""
    d = {
        "family": "stages",
        "version": 1,
        "stages": [{"id": "a", "vm_ms": 100.0, "fn_ms": {"1024": 200.0}, "exit_prob": 1.0}],
        "arrivals": {"window_s": 10, "per_second": [1] + [0] * 9},
        "vm": {"price_per_hour": 3.6, "workers": 1, "cold_start_s": 5.0},
        "functions": {"price_per_gb_s": 0.001, "price_per_request": 0.0, "cold_start_ms": 50.0},
        "slo": {"latency_ms": 1000.0, "percentile": 95.0},
        "service_cv": 0.0,
    }
    for k, v in over.items():
        d[k] = v
    return d


# ------------------------------------------------------------------------------ exact models


@given(instances(max_stages=2, max_windows=3))
def test_milp_equals_dp_and_brute_force(data):
    inst = load(data)
    assume(combinations(inst) <= 20_000)
    truth = brute_force(inst)
    assert truth is not None  # functions everywhere: always feasible
    dp = _solve(inst, "dp")
    assert dp.status == Status.OPTIMAL
    _checked(inst, dp)
    assert math.isclose(dp.objective, truth, rel_tol=1e-9, abs_tol=1e-12)
    for method, backend in (("milp", "cbc"), ("milp", "highs"), ("milp-onehot", "cbc")):
        r = _solve(inst, method, backend=backend)
        if backend == "highs" and r.status == Status.ERROR:
            # HiGHS 1.14's presolve returns wrong optima even on 2-variable MIPs (e.g. min
            # 6.94 v + 0.0042 x, 100 v + x >= 5, v binary: "optimal" v = 1); the model's guard
            # must then have caught it with a cheaper known plan, never pass it on as optimal
            assert "claimed optimal" in r.message, r.message
            continue
        assert r.status == Status.OPTIMAL, (method, backend, r.message)
        _checked(inst, r)
        assert math.isclose(r.objective, truth, rel_tol=1e-7, abs_tol=1e-9), (method, backend)


@given(instances(max_stages=2, max_windows=3, functions_everywhere=False, quota=True))
def test_milp_with_quota_or_free_slo_equals_brute_force(data):
    inst = load(data)
    vmax = 4 if inst.vm.max_total is not None else None
    truth = brute_force(inst, vmax=vmax)
    r = _solve(inst, "milp")
    if truth is None:
        assert r.status == Status.INFEASIBLE
        assert r.message
    else:
        assert r.status == Status.OPTIMAL, r.message
        _checked(inst, r)
        assert math.isclose(r.objective, truth, rel_tol=1e-7, abs_tol=1e-9)


def test_infeasible_slo_names_the_stage():
    # resnet50 preset: the VM service p95s sum to ~1.95 x 168 ms = 328 ms > 100 ms, so no VM fits;
    # conv2's share is then ~93 ms x 63 / 328 = 18 ms, below a function's 250 ms cold start
    inst = load(preset("resnet50", {"window_s": 300, "trace": "sine", "duration_s": 600}, 100.0))
    for method in ("milp", "milp-onehot", "dp", *HEURISTICS):
        r = _solve(inst, method)
        assert r.status == Status.INFEASIBLE
        assert "stage conv2" in r.message and "cannot be met" in r.message
    ev = evaluate(inst, {"vms": [[0, 0]] * 4, "memory_mb": [None] * 4}, simulate=False)
    assert not ev.feasible and "stage conv2" in ev.violations[0]


def test_slo_option_overrides_the_instance():
    inst = generate(6, 1)
    loose = _solve(inst, "milp")
    tight = _solve(inst, "milp", slo_ms=50.0)
    assert loose.status == Status.OPTIMAL and tight.status == Status.INFEASIBLE


def test_unknown_param_is_refused():
    inst = generate(4, 0)
    with pytest.raises(InputError, match="unknown"):
        _solve(inst, "milp", params=(("nope", "1"),))
    with pytest.raises(InputError, match="unknown"):
        _solve(inst, "libra", params=(("forecast", "trend"),))
    with pytest.raises(InputError, match="forecast=magic"):
        _solve(inst, "serflow", params=(("forecast", "magic"),))
    r = _solve(inst, "serflow", params=(("forecast", "trend"),))
    _checked(inst, r)
    assert r.objective >= _solve(inst, "dp").objective * (1 - 1e-9)


def test_dp_declines_a_quota():
    inst = generate(4, 0, max_total=3)
    assert _solve(inst, "dp").status == Status.ERROR
    r = _solve(inst, "milp")
    assert r.status == Status.OPTIMAL
    assert max(sum(col) for col in zip(*r.solution["vms"], strict=True)) <= 3


# ------------------------------------------------------------------------------ heuristics


@given(st.booleans().flatmap(lambda q: instances(max_stages=3, max_windows=4, quota=q)))
def test_heuristics_feasible_and_not_below_optimum(data):
    inst = load(data)
    opt = _solve(inst, "dp" if inst.vm.max_total is None else "milp")
    assert opt.status == Status.OPTIMAL
    for name in HEURISTICS:
        h = _solve(inst, name)
        assert h.status == Status.FEASIBLE
        _checked(inst, h)
        assert h.objective >= opt.objective * (1 - 1e-9) - 1e-12


@given(instances(max_stages=2, max_windows=4, per_second=True), st.data())
def test_policies_are_online(data, more):
    """Changing the arrivals after window t's decision instant (t W - cold start) leaves the
    policy's VMs for windows 0..t unchanged."""
    inst = load(data)
    W, T = inst.window_s, inst.n_windows
    t = more.draw(st.integers(0, T - 1))
    cut = max(0, int(math.floor(t * W - inst.vm.cold_start_s)))
    changed = copy.deepcopy(data)
    tail = len(changed["arrivals"]["per_second"]) - cut
    changed["arrivals"]["per_second"][cut:] = more.draw(
        st.lists(st.integers(0, 60), min_size=tail, max_size=tail)
    )
    other = load(changed)
    runs = [(name, ()) for name in HEURISTICS] + [("serflow", (("forecast", "trend"),))]
    for name, params in runs:
        a = _solve(inst, name, params=params).solution["vms"]
        b = _solve(other, name, params=params).solution["vms"]
        assert [row[: t + 1] for row in a] == [row[: t + 1] for row in b], name


def test_serflow_indifference_by_hand():
    # one stage, c = 1 worker, 100 ms: a VM serves 10 req/s; cap 0.9 at a loose SLO -> 9 req/s.
    # VM: $3.6/h = $0.001/s; function: 0.5 GB-s... 1024 MB x 0.2 s x $0.001 = $0.0002 per query.
    # Indifference rate for a running VM: 0.001 / 0.0002 = 5 req/s; for a new VM (boot 5 s over a
    # 10-s window): 0.001 x 1.5 / 0.0002 = 7.5 req/s. Window 1 observes window 0's 8 req/s (the
    # decision instant is 10 - 5 = 5 s: seconds 0..4 at 8/s) -> one new VM (8 >= 7.5).
    d = _tiny(
        arrivals={"window_s": 10, "per_second": [8] * 10 + [8] * 10},
        slo={"latency_ms": 100000.0, "percentile": 95.0},
    )
    inst = load(d)
    assert inst.plan().stages[0].cap == pytest.approx(9.0)
    r = _solve(inst, "serflow")
    assert r.solution["vms"] == [[0, 1]]
    d["arrivals"]["per_second"] = [7] * 20  # 7 < 7.5: no new VM
    assert _solve(load(d), "serflow").solution["vms"] == [[0, 0]]


# ------------------------------------------------------------------------------ planning model


def test_erlang_c_closed_forms():
    # M/M/1: P(wait) = rho. M/M/2: C = 2 rho^2 / (1 + rho) (Erlang C with c = 2, a = 2 rho).
    for rho in (0.1, 0.5, 0.9):
        assert erlang_c(1, rho) == pytest.approx(rho, rel=1e-12)
        assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho * rho / (1 + rho), rel=1e-12)


def test_wait_quantile_mm1_by_hand():
    # M/M/1, mean 100 ms (mu = 0.01/ms), rho 0.8: P(W > t) = 0.8 e^{-0.002 t}; the 95th percentile
    # solves 0.8 e^{-0.002 t} = 0.05: t = ln(16) / 0.002 = 1386.29 ms; cv 1 leaves it (factor 1).
    assert wait_quantile_ms(1, 0.8, 100.0, 0.95, 1.0) == pytest.approx(math.log(16) / 0.002)
    # cv 0 halves it (Allen-Cunneen (1 + 0) / 2); below P(wait) <= 5 % the quantile is 0
    assert wait_quantile_ms(1, 0.8, 100.0, 0.95, 0.0) == pytest.approx(math.log(16) / 0.004)
    assert wait_quantile_ms(1, 0.04, 100.0, 0.95, 1.0) == 0.0


def test_cap_fits_the_allowance():
    inst = generate(4, 3)
    for s, sp in enumerate(inst.plan(inst.slo_ms * 0.5).stages):
        if sp.vm_ok and sp.utilisation_cap < inst.vm.max_utilisation:
            w = wait_quantile_ms(
                inst.vm.workers, sp.utilisation_cap, inst.stages[s].vm_ms, 0.95, inst.service_cv
            )
            assert w <= sp.wait_budget_ms + 1e-9


def test_preset_macs_from_layer_sizes():
    # ResNet-50 totals ~4.1 GMACs (He et al. 2016 quote 3.8e9 FLOPs = multiply-adds for v1;
    # v1.5 moves the stride to the 3x3, ~4.1e9); our four stages + stem + classifiers:
    macs, acts = resnet50_stage_macs()
    assert 4.0e9 < sum(macs) < 4.2e9
    assert acts == [56 * 56 * 256 * 4, 28 * 28 * 512 * 4, 14 * 14 * 1024 * 4, 7 * 7 * 2048 * 4]
    # BERT-base layer at L = 128 (by hand): 4*128*768^2 + 2*128^2*768 + 2*128*768*3072
    # = 301,989,888 + 25,165,824 + 603,979,776 = 931,135,488; 3 layers + off-ramp 768^2 + 1536
    bm, _ = bert_stage_macs()
    assert bm == [3 * 931_135_488 + 768 * 768 + 1536] * 4


# ------------------------------------------------------------------------------ simulator


def test_simulator_single_query_by_hand():
    # one query at second 0 (its instant is random in [0, 1)); one VM: latency = 100 ms exactly
    inst = load(_tiny())
    ev = evaluate(inst, {"vms": [[1]], "memory_mb": [1024]})
    assert ev.feasible
    assert ev.metrics["latency_p50_ms"] == pytest.approx(100.0)
    # plan cost: 1 VM x (10 s + 5 s boot) x $0.001/s = $0.015; functions take nothing
    # (0.1 req/s <= cap)
    assert ev.objective == pytest.approx(0.015)
    assert ev.metrics["sim_cost"] == pytest.approx(0.015)
    # functions only: cold start 50 + 200 ms; cost 1 GB x 0.2 s x 0.001 = $0.0002
    ev = evaluate(inst, {"vms": [[0]], "memory_mb": [1024]})
    assert ev.metrics["latency_p50_ms"] == pytest.approx(250.0)
    assert ev.metrics["sim_fn_cost"] == pytest.approx(0.0002)
    assert ev.metrics["fn_cold_starts"] == [1]
    # plan cost of functions only: 0.1 req/s x 10 s x $0.0002 = $0.0002
    assert ev.objective == pytest.approx(0.0002)


def test_simulator_two_stages_transfer_and_warm_reuse():
    # two stages, nobody exits after the first; transfer 1 ms + 1e6 B / (1000 MB/s) = 2 ms.
    # Queries at seconds 0 and 5 (keep-alive 60 s): the first pays two cold starts (50 ms each),
    # the second finds both containers warm: latencies 2 x (50 + 200) + 2 = 502 and 402 ms.
    d = _tiny(
        stages=[
            {
                "id": "a",
                "vm_ms": 100.0,
                "fn_ms": {"1024": 200.0},
                "exit_prob": 0.0,
                "activation_bytes": 1_000_000,
            },
            {"id": "b", "vm_ms": 100.0, "fn_ms": {"1024": 200.0}, "exit_prob": 1.0},
        ],
        arrivals={"window_s": 10, "per_second": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0]},
        network={"latency_ms": 1.0, "bandwidth_mb_s": 1000.0},
        slo={"latency_ms": 5000.0, "percentile": 50.0},
    )
    inst = load(d)
    ev = evaluate(inst, {"vms": [[0], [0]], "memory_mb": [1024, 1024]})
    lat = sorted([ev.metrics["latency_p50_ms"], ev.metrics["latency_p99_ms"]])
    assert ev.metrics["fn_cold_starts"] == [1, 1]
    assert ev.metrics["latency_p99_ms"] == pytest.approx(402 + 0.99 * 100)  # numpy linear pct
    assert lat[0] == pytest.approx(452.0)  # p50 of {402, 502}: the midpoint


def test_simulator_queues_within_the_allowance():
    # 3 queries in one second on one worker of 100 ms (cv 0); SLO p95 1000 ms: share 1000 ms,
    # allowance 900 ms; no query can wait more than 200 ms, so all stay on the VM
    inst = load(_tiny(arrivals={"window_s": 10, "per_second": [3] + [0] * 9}))
    ev = evaluate(inst, {"vms": [[1]], "memory_mb": [1024]})
    assert ev.feasible and ev.metrics["sim_fn_share"] == [0.0]
    assert ev.metrics["latency_p99_ms"] <= 300.0 + 1e-9
    # SLO 100 ms: allowance 0, so a query takes the VM only if the worker is free on arrival;
    # 50 queries inside one second, services of 100 ms that start on arrival cannot overlap:
    # at most 10 on the VM (and the first always), at least 40 on functions (90 ms, no cold start)
    d = _tiny(
        arrivals={"window_s": 10, "per_second": [50] + [0] * 9},
        slo={"latency_ms": 100.0, "percentile": 95.0},
    )
    d["stages"][0]["fn_ms"] = {"1024": 90.0}
    d["functions"]["cold_start_ms"] = 0.0
    ev = evaluate(load(d), {"vms": [[1]], "memory_mb": [1024]})
    assert ev.feasible
    assert 40 / 50 <= ev.metrics["sim_fn_share"][0] <= 49 / 50


def test_simulator_function_cost_matches_expectation():
    # functions only: the simulated cost is visits x price_req + GB x price x the sum of the
    # lognormal service times, whose mean is the profiled mean; with N visits and cv 0.5 its
    # relative standard error is 0.5 / sqrt(N). Allow 5 standard errors.
    inst = generate(4, 0, window_s=60, base_rate=100.0)
    r = _solve(inst, "functions-only")
    ev = evaluate(inst, r.solution)
    m = ev.metrics
    expect = 0.0
    for s, visits in enumerate(m["stage_visits"]):
        mem = r.solution["memory_mb"][s]
        expect += visits * inst.fn_cost_per_query(s, mem)
    n = min(v for v in m["stage_visits"] if v)
    assert abs(m["sim_fn_cost"] / expect - 1) < 5 * 0.5 / math.sqrt(n)
    assert m["sim_vm_cost"] == 0.0 and m["sim_fn_share"] == [1.0] * len(inst.stages)
    assert m["stage_visits"][0] == m["requests"] == int(inst.per_second.sum())


def test_simulation_is_deterministic_and_vm_cost_is_the_plan_s():
    inst = generate(6, 2, window_s=60, base_rate=80.0)
    r = _solve(inst, "milp")
    a = evaluate(inst, r.solution)
    b = evaluate(inst, r.solution)
    assert a.metrics == b.metrics
    assert a.metrics["sim_vm_cost"] == pytest.approx(a.metrics["plan_vm_cost"], rel=1e-12)
    visits = a.metrics["stage_visits"]
    assert all(x >= y for x, y in zip(visits, visits[1:], strict=False))


# ------------------------------------------------------------------------------ evaluator


def test_evaluator_rejects_bad_plans():
    inst = load(
        _tiny(
            arrivals={"window_s": 10, "per_second": [30] * 10},
            slo={"latency_ms": 100000.0, "percentile": 95.0},
        )
    )
    # loose SLO: the cap is max_utilisation 0.9 x 10 req/s; 30 req/s, cap 9 req/s per VM: 2 VMs leave 12 req/s; functions then need a memory
    bad = [
        ({"vms": [[1, 2]], "memory_mb": [1024]}, "one per window"),
        ({"vms": [[-1]], "memory_mb": [1024]}, "non-negative integer"),
        ({"vms": [[1.5]], "memory_mb": [1024]}, "non-negative integer"),
        ({"vms": [[2]], "memory_mb": [None]}, "has no memory_mb"),
        ({"vms": [[2]], "memory_mb": [4096]}, "not a memory size"),
        ({"vms": [[2]], "memory_mb": [1024], "fn_share": [[0.1]]}, "leave"),
        ({"vms": [[2]]}, "memory_mb"),
        ({"vms": "x"}, "vms"),
    ]
    for sol, text in bad:
        ev = evaluate(inst, sol, simulate=False)
        assert not ev.feasible and text in " ".join(ev.violations), (sol, ev.violations)
    # by hand: 2 VMs x ($0.01 + $0.005 boot) = $0.03; functions 12 req/s x 10 s x $0.0002
    ev = evaluate(inst, {"vms": [[2]], "memory_mb": [1024], "fn_share": [[0.4]]}, simulate=False)
    assert ev.feasible and ev.objective == pytest.approx(0.03 + 12 * 10 * 0.0002)


def test_evaluator_rejects_quota_and_unfit_memory():
    d = _tiny(arrivals={"window_s": 10, "per_second": [5] * 10})
    d["vm"]["max_total"] = 1
    d["slo"] = {"latency_ms": 240.0, "percentile": 50.0}  # function: 50 + 200 ms > 240 ms
    inst = load(d)
    ev = evaluate(inst, {"vms": [[2]], "memory_mb": [None]}, simulate=False)
    assert not ev.feasible and "max_total" in ev.violations[0]
    ev = evaluate(inst, {"vms": [[0]], "memory_mb": [1024]}, simulate=False)
    assert not ev.feasible and "misses" in ev.violations[0]


# ------------------------------------------------------------------------------ files


@given(instances(max_stages=3, max_windows=3, quota=True))
def test_round_trip(data):
    inst = load(data)
    again = load(json.loads(json.dumps(dump(inst))))
    assert dump(again) == dump(inst)
    assert np.array_equal(again.per_second, inst.per_second)


def test_trace_scaling_preserves_totals():
    inst = load(preset("resnet50", {"window_s": 300, "trace": "wits", "scale": 0.1}))
    full = load(preset("resnet50", {"window_s": 300, "trace": "wits"}))
    assert full.per_second.sum() == 6_432_107  # the trace's total (sum of the shipped file)
    assert inst.per_second.sum() == math.floor(0.1 * 6_432_107 + 1e-9)
    wrapped = load(
        preset("bert-base", {"window_s": 100, "trace": "sine", "start_s": 9950, "duration_s": 100})
    )
    assert len(wrapped.per_second) == 100  # wraps round the 10,000-s trace


@pytest.mark.parametrize(
    ("mutate", "text"),
    [
        (lambda d: d.update(family="dag"), "instance.family"),
        (lambda d: d.update(extra=1), "unknown field"),
        (lambda d: d["stages"][0].update(vm_ms=-1), "stages[0].vm_ms"),
        (lambda d: d["stages"][0].update(exit_prob=0.5), "exit probability must be 1"),
        (lambda d: d["stages"][0].update(exit_prob=1.5), "at most 1"),
        (lambda d: d["stages"][0].update(fn_ms={"big": 3}), "memory size"),
        (lambda d: d["stages"][0].update(fn_ms={}), "non-empty"),
        (lambda d: d["arrivals"].update(per_second=[1, 2, 3]), "whole number"),
        (lambda d: d["arrivals"].update(rates=[1.0]), "exactly one"),
        (lambda d: d["arrivals"].update(seed=3), "only allowed"),
        (lambda d: d.update(arrivals={"window_s": 10, "trace": "nope"}), "arrivals.trace"),
        (lambda d: d["vm"].update(max_utilisation=1.0), "below 1"),
        (lambda d: d["vm"].update(workers=0), "vm.workers"),
        (lambda d: d["slo"].update(percentile=100), "below 100"),
        (lambda d: d["functions"].update(price_per_gb_s=0), "both 0"),
        (lambda d: d["stages"].append(dict(d["stages"][0])), "duplicate id"),
    ],
)
def test_bad_input(mutate, text):
    d = _tiny()
    mutate(d)
    with pytest.raises(InputError, match=text.replace("[", r"\[").replace("]", r"\]")):
        load(d)


def test_cli_solves_a_shipped_example():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "optgap.solvers.cli",
            "solve",
            str(ROOT / "instances/stages/bert-base-sine-x0.1.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # every method answers and the evaluator agrees with each
    assert out.stdout.count("(agrees)") == len(registry.methods("stages"))


def test_evaluator_imports_no_model_or_policy():
    code = (
        "import sys, optgap.formulations.stages.evaluate as e; "
        "bad = [m for m in sys.modules if m.startswith(('optgap.heuristics', 'optgap.formulations.stages.milp',"
        " 'optgap.formulations.stages.dp', 'optgap.formulations.stages.plan'))]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_generator_is_seeded():
    assert dump(generate(8, 5)) == dump(generate(8, 5))
    assert dump(generate(8, 5)) != dump(generate(8, 6))


def test_a_wrong_claimed_optimum_is_caught():
    from optgap.formulations.stages.milp import _contradicted

    inst = generate(8, 1)
    opt = _solve(inst, "dp").objective
    assert _contradicted(inst, inst.slo_ms, opt) == ""
    assert "claimed optimal" in _contradicted(inst, inst.slo_ms, opt * 1.01)


@given(solvers_testing.instances("stages", max_stages=2, max_windows=3))
def test_public_strategy_with_assert_within(data):
    value, best = solvers_testing.assert_within("stages", "serflow", data, ratio=1e9)
    assert value >= best * (1 - 1e-9) - 1e-12
