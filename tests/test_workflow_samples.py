"""F2 on AARC's real 2-D samples: the table instances, the noisy oracle, AARC's prototype options.

Expected values are derived here from the raw measurements (aarc_scheduler_samples.json), by
hand or by brute force, never from the code under test.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from optgap.formulations.workflow.evaluate import evaluate
from optgap.formulations.workflow.instance import dump, load
from optgap.heuristics.workflow import oracle as wf_oracle
from optgap.instances.workflow.generate import samples_json
from optgap.instances.workflow.strategies import workflow_json
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

from tests.workflow_bruteforce import binds, brute_force

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
RAW = json.loads(Path("instances/workflow/aarc_scheduler_samples.json").read_text())
PROTO = (("start", "prototype"), ("steps", "halving"), ("tries", "3"))
VARIANTS = {
    "aarc": (),
    "aarc-proto": PROTO,
    "aarc-halving": (("steps", "halving"),),
    "aarc-start": (("start", "prototype"),),
}


def _solve(inst, method, **kw):
    return registry.solve("workflow", method, inst, replace(OPTS, **kw))


# ------------------------------------------------------------------ the instances


@pytest.mark.parametrize(("name", "slack"), [("aarc-samples", 1.5), ("aarc-samples-tight", 1.1)])
def test_shipped_samples_instances_are_the_generator_output(name, slack):
    data = json.loads(Path(f"instances/workflow/{name}.json").read_text())
    assert data == {**samples_json(slack), "name": name}
    inst = load(data)
    assert load(dump(inst)) == inst


def test_tables_are_the_means_of_the_measurements():
    """By hand from the raw file: fun_1 at 0.25 cores / 32 MB ran 1911, 1816, 1818 ms -> mean
    1848.333 ms, ratios 1.0339, 0.9825, 0.9836; fun_0 at 1.75 / 96 MB ran 549 and 395 ms -> 472;
    fun_3 (no repeat) carries the pooled ratios (29 of them, 0.8369..1.1631); fun_0 was never
    run at 2.25 cores / 32 MB -> null. The grid is every level the scheduler tried."""
    inst = load(samples_json())
    assert inst.cpu_grid == (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25)
    assert inst.mem_grid_mb == (32, 64, 96, 128, 160, 192, 256, 288, 512, 544)
    f = {x.id.split("_")[1]: x for x in inst.functions}
    i, j = inst.cpu_grid.index(0.25), inst.mem_grid_mb.index(32)
    assert f["1"].runtime_us[i][j] == 1848333
    assert f["1"].spread == (1.0339, 0.9825, 0.9836)
    assert f["0"].runtime_us[inst.cpu_grid.index(1.75)][inst.mem_grid_mb.index(96)] == 472000
    assert f["0"].runtime_us[-1][0] is None
    assert len(f["3"].spread) == 29
    assert min(f["3"].spread) == 0.8369 and max(f["3"].spread) == 1.1631
    measured = sum(
        len({(r["cpu"], r["memory_mb"]) for r in rows}) for rows in RAW["functions"].values()
    )
    cells = sum(t is not None for g in inst.functions for row in g.runtime_us for t in row)
    assert cells == measured == 112
    # the prototype's cost of its first run, recomputed by the evaluator's prices (aarc preset)
    first = RAW["functions"]["fun_0"][0]
    assert first["memory_mb"] == 544 and first["cpu"] == 2.25
    assert math.isclose(inst.cost(472000, 8, 9), first["cost"], rel_tol=1e-12)


def _sub(data, keep):
    """The samples instance restricted to the functions ``keep`` (and the edges among them)."""
    ids = [data["functions"][k]["id"] for k in keep]
    out = {**data, "functions": [data["functions"][k] for k in keep]}
    out["edges"] = [e for e in data["edges"] if e[0] in ids and e[1] in ids]
    return out


@pytest.mark.parametrize("keep", [(0, 2, 3), (2, 3, 4, 5), (1, 7, 8)])
def test_exact_models_equal_brute_force_on_sub_workflows(keep):
    """Sub-workflows of the prototype DAG with the measured tables, at SLOs from the fastest
    latency up: every exact model equals the brute force, and the SLO binds at least once."""
    base = _sub(samples_json(), keep)
    inst = load(base)
    fast = {
        f.id: min(t for row in f.runtime_us for t in row if t is not None) for f in inst.functions
    }
    finish: dict[str, int] = {}
    for v in inst.topological_order:  # fastest latency, by hand: longest path of the minima
        finish[v] = max((finish[a] for a, b in inst.edges if b == v), default=0) + fast[v]
    lo = max(finish.values())
    hit = 0
    for slack in (1.0, 1.05, 1.2, 2.0):
        inst = load({**base, "slo_ms": round(lo * slack) / 1000})
        truth = brute_force(inst)
        hit += binds(inst, truth)
        for method, backend in (("milp", "highs"), ("milp", "cbc"), ("cpsat", None)):
            r = _solve(inst, method, backend=backend)
            assert r.status == Status.OPTIMAL
            assert math.isclose(r.objective, truth, rel_tol=1e-9), (method, backend, slack)
            assert evaluate(inst, r.solution).feasible
    assert hit >= 1


@pytest.mark.parametrize("name", ["aarc-samples", "aarc-samples-tight"])
def test_every_method_on_the_samples_instances(name):
    """MILP = CP-SAT; every heuristic answer the evaluator accepts costs at least the optimum;
    maff and powertune find nothing (their coupled configurations, 0.25 cores at <= 544 MB, were
    almost never measured) and say so."""
    inst = load(json.loads(Path(f"instances/workflow/{name}.json").read_text()))
    opt, cp = _solve(inst, "milp"), _solve(inst, "cpsat")
    assert opt.status == cp.status == Status.OPTIMAL
    assert math.isclose(opt.objective, cp.objective, rel_tol=1e-9)
    for method, params in [*VARIANTS.items(), ("fit-milp", ()), ("bo", (("trials", "10"),))]:
        for noise in ("off", "on"):
            name_ = "aarc" if method.startswith("aarc") else method
            r = _solve(inst, name_, params=params + (("noise", noise),))
            assert r.status in (Status.FEASIBLE, Status.ERROR), (method, r.status)
            if r.solution is None:
                assert r.message.startswith("found no configuration within the SLO")
                continue
            ev = evaluate(inst, r.solution)
            if noise == "off":  # the oracle is the table: the answer is what it measured
                assert ev.feasible and math.isclose(ev.objective, r.objective, rel_tol=1e-9)
            else:  # a noisy search states no objective: its measured cost is only a statistic
                assert r.objective is None and r.stats["measured_cost"] > 0
            if ev.feasible:
                assert ev.objective >= opt.objective * (1 - 1e-9), method
    for method in ("maff", "powertune"):
        r = _solve(inst, method)
        assert r.status == Status.ERROR and r.solution is None, r.message


# ------------------------------------------------------------------ the noisy oracle


def _recording(monkeypatch):
    calls = []
    real = wf_oracle.Oracle.profile

    def profile(self, f, i, j):
        t = real(self, f, i, j)
        calls.append((f, i, j, t))
        return t

    monkeypatch.setattr(wf_oracle.Oracle, "profile", profile)
    return calls


def test_noisy_profiles_draw_from_the_measured_spread(monkeypatch):
    """Every noisy profile is round(table x r) for a ratio r of the function's spread; repeats
    draw again and are counted; the same seed gives the same run, another seed another."""
    inst = load(samples_json(1.05))
    calls = _recording(monkeypatch)
    r = _solve(inst, "aarc", params=(*PROTO, ("noise", "on")), seed=3)
    assert calls and r.stats["noise"] is True
    for f, i, j, t in calls:
        mean = inst.functions[f].runtime_us[i][j]
        if mean is None:
            assert t is None
            continue
        assert t in {max(1, round(mean * q)) for q in inst.functions[f].spread}, (f, i, j, t)
    assert r.stats["samples"] == len(calls)
    assert r.stats["repeats"] == len(calls) - len({c[:3] for c in calls})
    again = _solve(inst, "aarc", params=(*PROTO, ("noise", "on")), seed=3)
    assert again.solution == r.solution and again.stats == r.stats
    del calls[:]
    _solve(inst, "aarc", params=(("noise", "off"),))
    assert all(t == inst.functions[f].runtime_us[i][j] for f, i, j, t in calls)
    times = {
        _solve(inst, "aarc", seed=s, params=(*PROTO, ("noise", "on"))).stats["search_time_s"]
        for s in range(4)
    }
    assert len(times) > 1  # the oracle's draws follow the seed


def test_noise_param_is_checked():
    inst = load(samples_json())
    with pytest.raises(InputError, match="noise=loud: expected on or off"):
        _solve(inst, "aarc", params=(("noise", "loud"),))
    plain = load({**samples_json(), "functions": [
        {k: v for k, v in f.items() if k != "spread"} for f in samples_json()["functions"]]})  # fmt: skip
    with pytest.raises(InputError, match="no function a measured 'spread'"):
        _solve(plain, "maff", params=(("noise", "on"),))
    for key, value in (("start", "bottom"), ("steps", "double"), ("tries", "0")):
        with pytest.raises(InputError, match=f"--param {key}"):
            _solve(inst, "aarc", params=((key, value),))
    with pytest.raises(InputError, match="spread"):
        load({**samples_json(), "functions": [{**samples_json()["functions"][0], "spread": [0]}]})


# ------------------------------------------------------------------ AARC's prototype options


def _flat(cpus, mems):
    """One function, 100 ms at every configuration, SLO 1 s, aarc prices: every lowering move
    saves cost, so AARC walks each dimension to the bottom."""
    return load(
        {
            "family": "workflow",
            "cpu_grid": cpus,
            "mem_grid_mb": mems,
            "prices": "aarc",
            "slo_ms": 1000,
            "functions": [
                {
                    "id": "a",
                    "model": {"kind": "table", "runtime_ms": [[100] * len(mems)] * len(cpus)},
                }
            ],
        }
    )


CPUS = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 3.0]
MEMS = [32, 64, 96, 128, 160, 192, 256, 288, 512, 544, 1024]
HALVING = (("start", "prototype"), ("steps", "halving"))


def test_prototype_start_and_halving_steps(monkeypatch):
    """By hand. Prototype start: the grid point 544 MB / 2.25 cores (not the top, 1024 / 3.0).
    Memory only (one CPU level), halving: 544 -32-> 512 (probe) -256-> 256 -128-> 128 -64-> 64
    -32-> 32: 5 moves, 6 samples; one-level steps from 544: 9 moves (10 samples); from the top
    (1024): 10 moves (11). CPU only (one memory level), halving: 2.25 -0.25-> 2.0 -0.5-> 1.5
    -0.25-> 1.25, 1.0, 0.75, 0.5, 0.25: 7 moves (8 samples); one-level from 2.25: 8 (9); from
    3.0: 9 (10). Both dimensions: the CPU probe comes first and memory is probed from it."""
    calls = _recording(monkeypatch)
    mem_only = _flat([2.25], MEMS)
    r = _solve(mem_only, "aarc", params=HALVING)
    assert [MEMS[j] for _, _, j, _ in calls] == [544, 512, 256, 128, 64, 32]
    assert r.solution["configs"]["a"] == {"cpu": 2.25, "mem_mb": 32} and r.stats["samples"] == 6
    assert _solve(mem_only, "aarc", params=HALVING[:1]).stats["samples"] == 10
    assert _solve(mem_only, "aarc").stats["samples"] == 11
    del calls[:]
    cpu_only = _flat(CPUS, [544])
    r = _solve(cpu_only, "aarc", params=HALVING)
    assert [CPUS[i] for _, i, _, _ in calls] == [2.25, 2.0, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25]
    assert r.stats["samples"] == 8
    assert _solve(cpu_only, "aarc", params=HALVING[:1]).stats["samples"] == 9
    assert _solve(cpu_only, "aarc").stats["samples"] == 10
    del calls[:]
    r = _solve(_flat(CPUS, MEMS), "aarc", params=HALVING)
    path = [(CPUS[i], MEMS[j]) for _, i, j, _ in calls]
    # start, CPU probe (kept), the next CPU move measured for the heap, then the memory probe
    assert path[:4] == [(2.25, 544), (2.0, 544), (1.5, 544), (2.0, 512)]
    assert (2.25, 512) not in path
    assert r.solution["configs"]["a"] == {"cpu": 0.25, "mem_mb": 32}


def test_tries_retry_a_refused_move():
    """Two functions in a chain, one CPU level; lowering b's memory breaks the SLO every time.
    With tries=3 the refused move is measured three times (two repeats), with tries=1 once."""
    data = {
        "family": "workflow",
        "cpu_grid": [1.0],
        "mem_grid_mb": [512, 1024],
        "prices": "aarc",
        "slo_ms": 100,
        "functions": [
            {"id": "a", "model": {"kind": "table", "runtime_ms": [[40, 40]]}},
            {"id": "b", "model": {"kind": "table", "runtime_ms": [[90, 50]]}},
        ],
        "edges": [["a", "b"]],
    }
    inst = load(data)
    one = _solve(inst, "aarc")
    three = _solve(inst, "aarc", params=(("tries", "3"),))
    assert one.solution == three.solution
    assert three.solution["configs"] == {
        "a": {"cpu": 1.0, "mem_mb": 512},
        "b": {"cpu": 1.0, "mem_mb": 1024},
    }
    assert three.stats["samples"] == one.stats["samples"] + 2
    assert three.stats["repeats"] == 2 and one.stats["repeats"] == 0
    assert three.stats["rollbacks"] == 3 and one.stats["rollbacks"] == 1


def test_aarc_variants_feasible_and_not_below_optimum():
    """Every AARC variant, with and without noise, on binding-SLO instances: never optimal;
    without noise always accepted by the evaluator at the cost it reports; with noise, whatever
    the evaluator accepts costs at least the optimum. Counts binding SLOs and noisy misses."""
    seen = {"binds": 0, "noisy_rejected": 0, "runs": 0}

    @given(
        workflow_json(max_functions=4, spread=True),
        st.sampled_from(sorted(VARIANTS)),
        st.sampled_from(["off", "on"]),
        st.integers(0, 3),
    )
    def check(data, variant, noise, seed):
        inst = load(data)
        opt = _solve(inst, "milp")
        assert opt.status == Status.OPTIMAL
        seen["binds"] += binds(inst, opt.objective)
        r = _solve(inst, "aarc", seed=seed, params=(*VARIANTS[variant], ("noise", noise)))
        seen["runs"] += 1
        assert r.status != Status.OPTIMAL
        if r.solution is None:
            assert r.message.startswith("found no configuration within the SLO")
            return
        ev = evaluate(inst, r.solution)
        if noise == "off":
            assert ev.feasible and math.isclose(ev.objective, r.objective, rel_tol=1e-9)
        elif not ev.feasible:
            seen["noisy_rejected"] += 1
            assert any(v.startswith("latency") for v in ev.violations), ev.violations
        if ev.feasible:
            assert ev.objective >= opt.objective * (1 - 1e-9)

    check()
    assert seen["binds"] >= 1, seen
