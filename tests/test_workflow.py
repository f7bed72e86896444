"""F2 end to end: MILP (CBC, HiGHS) = CP-SAT = brute force, heuristics >= optimum and feasible,
the evaluator agrees with every method, files round-trip, bad input is refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from optgap.formulations.workflow.evaluate import evaluate
from optgap.formulations.workflow.instance import dump, load
from optgap.heuristics.workflow.fitmilp import fit_cpu
from optgap.instances.workflow.generate import generate, generate_json, prototype_json
from optgap.instances.workflow.strategies import fastest_ms, instances, workflow_json
from optgap.solvers import registry
from optgap.solvers.cli import main
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status
from optgap.solvers.testing import assert_within

from tests.workflow_bruteforce import binds, brute_force

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
HEURISTICS = ("aarc", "fit-milp", "bo", "maff", "powertune")
EXAMPLES = sorted(
    p
    for p in Path("instances/workflow").glob("*.json")
    if p.name not in ("aarc_function_profiles.json", "aarc_scheduler_samples.json")
)
REL = 1e-9


def _solve(inst, method, **kw):
    return registry.solve("workflow", method, inst, SolveOptions(**{**OPTS.__dict__, **kw}))


def _checked(inst, r):
    """The evaluator accepts the answer (judged under the run's pattern) and reproduces its cost."""
    ev = evaluate(inst, r.solution, SolveOptions(objective=r.stats["objective_pattern"]))
    assert ev.feasible, ev.violations
    assert math.isclose(ev.objective, r.objective, rel_tol=REL)
    return ev


# ------------------------------------------------------------------ exact models


def test_exact_models_equal_brute_force():
    """Every exact model equals the brute force; counts how often the SLO decides the optimum
    (the strategy draws binding SLOs) and fails if it never did."""
    bound = []

    @given(
        workflow_json(max_functions=4, max_cpu=2, max_mem=3, min_mem=2),
        st.sampled_from(["cost", "coupled"]),
    )
    def check(data, objective):
        inst = load(data)
        mode = "coupled" if objective == "coupled" else "decoupled"
        truth = brute_force(inst, mode)
        bound.append(binds(inst, truth, mode))
        for method, backend in (("milp", "highs"), ("milp", "cbc"), ("cpsat", None)):
            r = _solve(inst, method, backend=backend, objective=objective)
            if truth is None:
                assert r.status == Status.INFEASIBLE, (method, backend)
                continue
            assert r.status == Status.OPTIMAL, (method, backend, r.message)
            _checked(inst, r)
            assert math.isclose(r.objective, truth, rel_tol=1e-7), (method, backend)

    check()
    print(f"SLO binds in {sum(bound)} of {len(bound)}")
    assert sum(bound) >= 1, f"the SLO bound in none of {len(bound)} examples"


def test_models_agree_and_coupled_never_cheaper():
    bound = []

    @given(instances())
    def check(data):
        _models_agree(data, bound)

    check()
    print(f"SLO binds in {sum(bound)} of {len(bound)}")
    assert sum(bound) >= 1, f"the SLO bound in none of {len(bound)} examples"


def _models_agree(data, bound):
    inst = load(data)
    highs = _solve(inst, "milp")
    cbc = _solve(inst, "milp", backend="cbc")
    cp = _solve(inst, "cpsat")
    assert highs.status == cbc.status == cp.status == Status.OPTIMAL  # slack >= 1: feasible
    for r in (highs, cbc, cp):
        _checked(inst, r)
    bound.append(binds(inst, highs.objective))
    assert math.isclose(highs.objective, cbc.objective, rel_tol=1e-7)
    assert math.isclose(highs.objective, cp.objective, rel_tol=1e-7)
    coupled = _solve(inst, "milp", objective="coupled")
    if coupled.status == Status.OPTIMAL:  # coupled configurations are a subset
        assert _checked(inst, coupled).metrics["mode"] == "coupled"
        assert coupled.objective >= highs.objective * (1 - 1e-9)
    else:
        assert coupled.status == Status.INFEASIBLE


@given(workflow_json(max_functions=4, max_cpu=2, max_mem=3, slack=(0.3, 0.99)))
def test_slo_below_fastest_latency_is_infeasible(data):
    inst = load(data)
    assert brute_force(inst) is None
    for method, backend in (("milp", "highs"), ("milp", "cbc"), ("cpsat", None)):
        r = _solve(inst, method, backend=backend)
        assert r.status == Status.INFEASIBLE
        assert "fastest possible workflow latency" in r.message
        # the message quotes the fastest latency, recomputed independently by the strategy
        assert f"{fastest_ms(data):g} ms" in r.message


def test_hand_derived_chain():
    """Two functions in a chain, one CPU level, two memory levels, aarc prices (cost = runtime_s
    * (MB + 512 * cores)); cpu 1.0, memory 512 or 1024 MB.
    a: 1000 ms at 512 MB, 600 ms at 1024 MB -> cost 1.0*(512+512)=1024 or 0.6*(1024+512)=921.6
    b: 2000 ms at 512 MB, 1000 ms at 1024 MB -> cost 2048 or 1536.
    SLO 2500 ms: a(512)+b(512) = 3000 > SLO; a(1024)+b(1024)=1600 costs 2457.6;
    a(512)+b(1024) = 2000 costs 2560; a(1024)+b(512) = 2600 > SLO. Optimum 2457.6 (both at 1024:
    the faster configurations are also the cheaper ones here).
    SLO 1500 ms: the fastest is 1600 ms -> infeasible, fastest latency 1600 ms."""
    data = {
        "family": "workflow",
        "cpu_grid": [1.0],
        "mem_grid_mb": [512, 1024],
        "prices": "aarc",
        "slo_ms": 2500,
        "functions": [
            {"id": "a", "model": {"kind": "table", "runtime_ms": [[1000, 600]]}},
            {"id": "b", "model": {"kind": "table", "runtime_ms": [[2000, 1000]]}},
        ],
        "edges": [["a", "b"]],
    }
    inst = load(data)
    for m in ("milp", "cpsat"):
        r = _solve(inst, m)
        assert r.status == Status.OPTIMAL and math.isclose(r.objective, 2457.6, rel_tol=REL)
        r = _solve(inst, m, slo_ms=1500)
        assert r.status == Status.INFEASIBLE and "1600 ms" in r.message


def test_presolve_keeps_the_optimum_on_generated_workflows():
    """Exact models on a generated workflow of each shape agree with each other; CBC and HiGHS
    on the same presolved model and CP-SAT on its integer twin."""
    for shape in ("chatbot", "ml-pipeline", "video-analytics", "random"):
        inst = generate(5, 3, shape=shape)
        a, b, c = _solve(inst, "milp"), _solve(inst, "milp", backend="cbc"), _solve(inst, "cpsat")
        assert a.status == b.status == c.status == Status.OPTIMAL
        assert math.isclose(a.objective, b.objective, rel_tol=1e-7)
        assert math.isclose(a.objective, c.objective, rel_tol=1e-7)
        assert a.stats["configs_after_presolve"] < a.stats["configs_before_presolve"]


# ------------------------------------------------------------------ heuristics


def test_heuristics_feasible_and_not_below_optimum():
    bound = []

    @given(instances(max_functions=4))
    def check(data):
        _heuristics_not_below(data, bound)

    check()
    print(f"SLO binds in {sum(bound)} of {len(bound)}")
    assert sum(bound) >= 1, f"the SLO bound in none of {len(bound)} examples"


def _heuristics_not_below(data, bound):
    inst = load(data)
    opt = _solve(inst, "milp")
    assert opt.status == Status.OPTIMAL
    bound.append(binds(inst, opt.objective))
    for name in HEURISTICS:
        h = _solve(inst, name, params=(("trials", "15"),) if name == "bo" else ())
        if h.status == Status.ERROR:  # a heuristic may fail to find an SLO-feasible point
            # (fit-milp too: it fits a parametric model to its samples, and a table outside that
            # family -- runtimes that rise with memory -- can make its optimum miss the SLO)
            assert name in ("bo", "maff", "powertune", "aarc", "fit-milp"), (name, h.message)
            assert h.message.startswith("found no configuration within the SLO"), h.message
            assert h.solution is None
            continue
        assert h.status == Status.FEASIBLE, (name, h.message)
        _checked(inst, h)
        assert h.objective >= opt.objective * (1 - 1e-9), name
        assert h.stats["samples"] >= 1 and h.stats["search_time_s"] >= 0


def test_heuristics_coupled_answers_are_coupled():
    bound = []

    @given(instances(max_functions=4), st.sampled_from(HEURISTICS))
    def check(data, name):
        _coupled_answers(data, name, bound)

    check()
    print(f"SLO binds in {sum(bound)} of {len(bound)}")
    assert sum(bound) >= 1, f"the SLO bound in none of {len(bound)} examples"


def _coupled_answers(data, name, bound):
    inst = load(data)
    opt = _solve(inst, "milp", objective="coupled")
    bound.append(binds(inst, opt.objective, "coupled"))
    h = _solve(inst, name, objective="coupled", params=(("trials", "10"),) if name == "bo" else ())
    if h.solution is None:
        assert h.message.startswith("found no configuration within the SLO"), h.message
        return
    ev = _checked(inst, h)
    assert ev.metrics["mode"] == "coupled"
    assert opt.status == Status.OPTIMAL and h.objective >= opt.objective * (1 - 1e-9)


def test_heuristics_on_generated_shapes_and_ours_never_worse_than_aarc_here():
    """On a small workflow of each shape every heuristic is feasible and >= the optimum; the
    sample counts follow from the methods: power tuning profiles every memory level of every
    function (n * 16), and fit-milp reaches the optimum with fewer samples than AARC."""
    for shape in ("chatbot", "ml-pipeline", "video-analytics", "random"):
        inst = generate(3, 0, shape=shape)
        n = len(inst.functions)
        opt = _solve(inst, "milp")
        res = {}
        for name in HEURISTICS:
            res[name] = _solve(inst, name, params=(("trials", "20"),) if name == "bo" else ())
            _checked(inst, res[name])
            assert res[name].objective >= opt.objective * (1 - 1e-9)
        assert res["powertune"].stats["samples"] == n * len(inst.mem_grid_mb)
        assert res["fit-milp"].objective <= res["aarc"].objective * (1 + 1e-9), shape
        assert res["fit-milp"].stats["samples"] < res["aarc"].stats["samples"], shape


def test_bo_is_seeded():
    inst = generate(4, 0, shape="chatbot")
    a = _solve(inst, "bo", seed=3, params=(("trials", "20"),))
    b = _solve(inst, "bo", seed=3, params=(("trials", "20"),))
    assert a.objective == b.objective and a.solution == b.solution
    assert a.stats["samples"] == 20 * len(inst.functions)  # one run of every function per trial


def test_fit_cpu_recovers_the_parametric_model():
    """t(c) = 100 + 900 / min(c, 1.5) sampled at 4 grid points is reproduced on the whole grid."""
    grid = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
    truth = [100 + 900 / min(c, 1.5) for c in grid]
    pts = [0, 2, 5, 7]
    got = fit_cpu([grid[i] for i in pts], [truth[i] for i in pts], grid)
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got, truth, strict=True))


def test_aarc_configures_detours_and_dangling_functions():
    """Diamond a -> {b, c} -> d plus a dangling sink e after a; runtimes t / cores, independent
    of memory. With aarc prices a function costs t/c * (MB + 512 c) = t MB / c + 512 t, so the
    cheapest configuration of every function is 2.0 cores, 512 MB (less CPU costs more, less
    memory is free). AARC must reach it on the critical path (a, b, d), on the detour c, and on
    e, which lies on no path between two critical-path functions (virtual end)."""
    rows = lambda t: [[t / c for _ in range(2)] for c in (0.5, 1.0, 2.0)]  # noqa: E731
    data = {
        "family": "workflow",
        "cpu_grid": [0.5, 1.0, 2.0],
        "mem_grid_mb": [512, 1024],
        "prices": "aarc",
        "slo_ms": 4000,
        "functions": [
            {"id": k, "model": {"kind": "table", "runtime_ms": rows(t)}}
            for k, t in (("a", 400), ("b", 1600), ("c", 200), ("d", 400), ("e", 100))
        ],
        "edges": [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"], ["a", "e"]],
    }
    inst = load(data)
    r = _solve(inst, "aarc")
    _checked(inst, r)
    assert all(c == {"cpu": 2.0, "mem_mb": 512} for c in r.solution["configs"].values())
    assert math.isclose(r.objective, _solve(inst, "milp").objective, rel_tol=REL)


def test_assert_within_public_helper():
    data = generate_json(3, 1)
    value, best = assert_within("workflow", "fit-milp", data, ratio=1.5)
    assert value >= best * (1 - 1e-9)


# ------------------------------------------------------------------ files and input


@given(instances())
def test_round_trip(data):
    inst = load(data)
    again = load(json.loads(json.dumps(dump(inst))))
    assert again == inst


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_load_round_trip_and_solve(path):
    data = json.loads(path.read_text())
    inst = load(data)
    assert load(dump(inst)) == inst
    r = _solve(inst, "milp")
    assert r.status == Status.OPTIMAL
    _checked(inst, r)


def test_generators_are_deterministic():
    assert generate_json(7, 4, shape="video-analytics") == generate_json(
        7, 4, shape="video-analytics"
    )
    assert generate_json(7, 4) != generate_json(7, 5)
    assert prototype_json() == prototype_json()
    noisy = generate_json(5, 1, shape="chatbot", noise=0.1)
    assert noisy == generate_json(5, 1, shape="chatbot", noise=0.1)
    assert all(f["model"]["kind"] == "table" for f in noisy["functions"])


def test_fit_milp_feasible_when_no_parametric_model_fits():
    """Runtimes with 10 % cell noise: the fit is wrong, the verify loop keeps the answer feasible
    (every chosen configuration measured) and never below the optimum."""
    for shape in ("chatbot", "random"):
        inst = load(generate_json(6, 2, shape=shape, noise=0.1))
        opt = _solve(inst, "milp")
        r = _solve(inst, "fit-milp")
        _checked(inst, r)
        assert r.objective >= opt.objective * (1 - 1e-9)


def test_parametric_model_values():
    """serial 100 + parallel 800 / min(c, 1.0); base 256, working set 1024, slowdown 1.0:
    (c=0.5, 512 MB): (100 + 1600) * (1 + 1.0 * (1024-512)/(1024-256)) = 1700 * 5/3 = 2833.333 ms;
    (c=2.0, 2048 MB): 100 + 800 = 900 ms; (c=2.0, 128 MB): below base -> out of memory."""
    data = {
        "family": "workflow",
        "cpu_grid": [0.5, 2.0],
        "mem_grid_mb": [128, 512, 2048],
        "prices": {"per_vcpu_s": 1, "per_gb_s": 1},
        "slo_ms": 10000,
        "functions": [
            {
                "id": "f",
                "model": {
                    "kind": "parametric",
                    "serial_ms": 100,
                    "parallel_ms": 800,
                    "parallelism": 1.0,
                    "base_mem_mb": 256,
                    "working_set_mb": 1024,
                    "slowdown": 1.0,
                },
            }
        ],
    }
    f = load(data).functions[0]
    assert f.runtime_us[0][1] == 2833333
    assert f.runtime_us[1][2] == 900000
    assert f.runtime_us[1][0] is None


BASE = {
    "family": "workflow",
    "cpu_grid": [1.0],
    "mem_grid_mb": [512],
    "prices": "aarc",
    "slo_ms": 100,
    "functions": [{"id": "a", "model": {"kind": "table", "runtime_ms": [[10]]}}],
}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"colour": 1}, "instance.colour: unknown field"),
        ({"slo_ms": -1}, "slo_ms: must be > 0"),
        ({"cpu_grid": [1.0, 0.5]}, "cpu_grid[1]: the grid must be strictly increasing"),
        ({"prices": "azure"}, "prices: unknown preset 'azure'"),
        ({"prices": {"per_vcpu_s": 1}}, "prices.per_gb_s: missing required field"),
        ({"functions": [{"id": "a", "model": {"kind": "table", "runtime_ms": [[-5]]}}]},
         "functions[0].model.runtime_ms[0][0]: must not be negative"),
        ({"functions": [{"id": "a", "model": {"kind": "table", "runtime_ms": [[10, 20]]}}]},
         "functions[0].model.runtime_ms[0]: expected one entry per memory level (1), got 2"),
        ({"functions": [{"id": "a", "model": {"kind": "table", "runtime_ms": [[None]]}}]},
         "out of memory at every configuration"),
        ({"functions": [{"id": "a", "model": {"kind": "gpu"}}]},
         "functions[0].model.kind: 'gpu' is not one of table, parametric"),
        ({"edges": [["a", "zz"]]}, "edges[0][1]: unknown function 'zz'"),
        ({"edges": [["a", "a"]]}, "self-loop"),
        ({"version": 2}, "unsupported version"),
    ],
)  # fmt: skip
def test_bad_input_is_refused(patch, message):
    with pytest.raises(InputError) as e:
        load({**BASE, **patch})
    assert message in str(e.value)


def test_cycle_and_duplicate_refused():
    two = [
        {"id": "a", "model": {"kind": "table", "runtime_ms": [[10]]}},
        {"id": "b", "model": {"kind": "table", "runtime_ms": [[10]]}},
    ]
    with pytest.raises(InputError, match="cycle: a -> b -> a"):
        load({**BASE, "functions": two, "edges": [["a", "b"], ["b", "a"]]})
    with pytest.raises(InputError, match=r"functions\[1\].id: duplicate id 'a'"):
        load({**BASE, "functions": [two[0], two[0]]})
    with pytest.raises(InputError, match="unknown for the workflow family"):
        _solve(load(BASE), "milp", params=(("speed", "1"),))
    with pytest.raises(InputError, match="expected an integer"):
        _solve(load(BASE), "bo", params=(("trials", "many"),))


def test_evaluator_rejects_bad_solutions():
    inst = load({**BASE, "cpu_grid": [0.25, 1.0], "mem_grid_mb": [512, 4096],
                 "functions": [{"id": "a", "model": {"kind": "table",
                                                     "runtime_ms": [[None, 50], [10, 200]]}}]})  # fmt: skip

    def ev(cfg, mode="decoupled"):
        pattern = "coupled" if mode == "coupled" else "cost"
        return evaluate(
            inst, {"mode": mode, "configs": {"a": cfg}}, SolveOptions(objective=pattern)
        )

    def rejected(e, text):
        return not e.feasible and any(text in x for x in e.violations)

    assert rejected(ev({"cpu": 0.25, "mem_mb": 512}), "out of memory")
    assert rejected(ev({"cpu": 0.3, "mem_mb": 512}), "configs.a.cpu")  # off the grid
    assert rejected(ev({"cpu": 1.0, "mem_mb": 4096}), "latency")  # 200 ms > SLO 100 ms
    assert rejected(ev({"cpu": 1.0, "mem_mb": 512}, "coupled"), "coupled mode gives 0.25")
    ok = ev({"cpu": 1.0, "mem_mb": 512})
    # 10 ms * (512 MB + 512 * 1 core) = 0.01 s * 1024 = 10.24 MB-s
    assert ok.feasible and math.isclose(ok.objective, 10.24, rel_tol=REL)
    assert not evaluate(inst, {"configs": {}}).feasible


def test_cli_solve_generate_evaluate(tmp_path, capsys):
    ex = str(Path("instances/workflow/chatbot-k4.json"))
    assert main(["solve", ex, "--param", "trials=10"]) == 0
    out = capsys.readouterr().out
    assert "fit-milp" in out and "DISAGREES" not in out
    gen = str(tmp_path / "g.json")
    assert main(["generate", "workflow", "--size", "6", "--seed", "2", "-o", gen]) == 0
    sol = str(tmp_path / "s.json")
    assert main(["solve", gen, "--method", "exact", "--objective", "coupled", "--out", sol]) == 0
    assert main(["evaluate", gen, sol]) == 0


def test_cli_plot(tmp_path):
    sol = str(tmp_path / "s.json")
    ex = str(Path("instances/workflow/video-analytics-k3.json").resolve())
    assert main(["solve", ex, "--method", "aarc", "--out", sol]) == 0
    png = tmp_path / "p.png"
    assert main(["plot", sol, "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_oracle_counts_samples_and_time():
    """One function, grid 1 CPU x 2 memory levels, runtimes 40 ms (512 MB) and 30 ms (1024 MB).
    AARC profiles the top configuration (30 ms), then the move "memory one level down" (40 ms):
    2 samples, 70 ms of simulated search. Power tuning profiles both levels: 2 samples, 70 ms."""
    data = {
        "family": "workflow",
        "cpu_grid": [0.25],
        "mem_grid_mb": [512, 1024],
        "prices": "aarc",
        "slo_ms": 100,
        "functions": [{"id": "a", "model": {"kind": "table", "runtime_ms": [[40, 30]]}}],
    }
    inst = load(data)
    for name in ("aarc", "powertune"):
        r = _solve(inst, name)
        assert r.stats["samples"] == 2 and math.isclose(r.stats["search_time_s"], 0.070)
