"""The two exact F1 models agree (CP-SAT vs MILP on CBC and HiGHS), and both hit published
job-shop optima."""

from __future__ import annotations

from pathlib import Path

import pulp
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from formulations.dag.evaluate import evaluate
from formulations.dag.instance import load
from solvers import registry
from solvers.result import SolveOptions, Status
from tests.jobshop import OPTIMA, jobshop
from tests.strategies import dag_json

OPTS = SolveOptions(time_limit_s=60, threads=1, seed=0)


def _solve(inst, method, backend=None, **kw):
    return registry.solve(
        "dag", method, inst, SolveOptions(**{**OPTS.__dict__, "backend": backend, **kw})
    )


def _all_exact(inst, **kw):
    return [
        _solve(inst, "cpsat", **kw),
        _solve(inst, "milp", "cbc", **kw),
        _solve(inst, "milp", "highs", **kw),
    ]


def _same_optimum(inst, results):
    assert [r.status for r in results] == [Status.OPTIMAL] * 3, [
        (r.backend, r.status, r.message) for r in results
    ]
    values = {round(r.objective * 1000) for r in results}
    assert len(values) == 1, [(r.backend, r.objective) for r in results]
    for r in results:
        ev = evaluate(inst, r.solution)
        assert ev.feasible, (r.backend, ev.violations)
        assert ev.objective == pytest.approx(r.objective, abs=1e-9)


@settings(max_examples=20)
@given(
    dag_json(min_ops=3, max_ops=7, cpu_slots=(1, 2), gpus=(1, 2), capacity=True, zero_times=True)
)
def test_cpsat_and_milp_agree_latency(data):
    inst = load(data)
    results = _all_exact(inst)
    if results[0].status == Status.INFEASIBLE:  # capacities can make it infeasible
        assert all(r.status == Status.INFEASIBLE for r in results)
        return
    _same_optimum(inst, results)


@settings(max_examples=15)
@given(dag_json(min_ops=3, max_ops=6, cpu_slots=(1, 2), gpus=(1, 2)), st.floats(0.0, 1.0))
def test_cpsat_and_milp_agree_memory(data, where):
    inst = load(data)
    lat = _solve(inst, "cpsat")
    gpu_only = _solve(inst, "gpu-only")
    assume(lat.status == Status.OPTIMAL)
    # an SLO between the optimal latency and the GPU-only latency
    slo = round(lat.objective + where * max(0.0, gpu_only.objective - lat.objective), 3)
    results = _all_exact(inst, objective="memory", slo_ms=slo)
    _same_optimum(inst, results)
    for r in results:
        assert evaluate(inst, r.solution).metrics["makespan_ms"] <= slo


@settings(max_examples=10)
@given(dag_json(min_ops=2, max_ops=6, cpu_slots=(1, 2), gpus=(1, 1)))
def test_slo_below_critical_path_is_infeasible_for_all(data):
    inst = load(data)
    lat = _solve(inst, "cpsat")
    assume(lat.status == Status.OPTIMAL and lat.objective > 0.002)
    results = _all_exact(inst, objective="memory", slo_ms=round(lat.objective - 0.001, 3))
    assert all(r.status == Status.INFEASIBLE for r in results), [
        (r.backend, r.status) for r in results
    ]
    assert all(r.message for r in results)


@pytest.mark.parametrize("name", ["tiny", "ft06", "la01"])
def test_cpsat_reaches_published_jobshop_optimum(name):
    inst = jobshop(name)
    r = _solve(inst, "cpsat")
    assert r.status == Status.OPTIMAL and r.objective == OPTIMA[name]
    assert evaluate(inst, r.solution).objective == OPTIMA[name]


@pytest.mark.parametrize("backend", ["cbc", "highs"])
@pytest.mark.parametrize("name", ["tiny", "ft06"])
def test_milp_reaches_published_jobshop_optimum(name, backend):
    inst = jobshop(name)
    r = _solve(inst, "milp", backend)
    assert r.status == Status.OPTIMAL and r.objective == OPTIMA[name]
    assert evaluate(inst, r.solution).objective == OPTIMA[name]


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
def test_milp_export_reads_back(tmp_path, suffix):
    from formulations.dag.milp import build, export

    inst = jobshop("tiny")
    path = str(tmp_path / ("m" + suffix))
    export(inst, OPTS, path)
    n_vars = len(build(inst, OPTS).prob.variables())
    if suffix == ".mps":
        _, prob = pulp.LpProblem.fromMPS(path)
        assert len(prob.variables()) == n_vars
    else:
        text = Path(path).read_text()
        assert text.startswith("\\*") and "Minimize" in text and "Binaries" in text
