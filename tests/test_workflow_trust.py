"""F2 trust: the evaluator is tested by violation, verdicts come from the instance, any value in a
solution file is a rejection (never a crash), and every exact model reports its status honestly.

Violation kinds are the ones the evaluator's docstring defines; each is applied to answers the
evaluator accepted (exact and heuristic) and must be rejected with a violation naming it.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace

import highspy
import networkx as nx
import pulp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from optgap.formulations.workflow import cpsat as wf_cpsat
from optgap.formulations.workflow import milp as wf_milp
from optgap.formulations.workflow import space as SP
from optgap.formulations.workflow.evaluate import evaluate
from optgap.formulations.workflow.instance import load
from optgap.instances.workflow.generate import generate
from optgap.instances.workflow.strategies import instances
from optgap.solvers import registry
from optgap.solvers.backends import solve_cpsat, solve_pulp
from optgap.solvers.cli import main
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status
from ortools.sat.python import cp_model

from tests.workflow_bruteforce import binds

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
HEURISTICS = ("aarc", "aarc-proto", "fit-milp", "bo", "maff", "powertune")
PROTO = (("start", "prototype"), ("steps", "halving"), ("tries", "3"))


def _solve(inst, method, **kw):
    return registry.solve("workflow", method, inst, replace(OPTS, **kw))


def _pattern(mode):
    return SolveOptions(objective="coupled" if mode == "coupled" else "cost")


def _names(ev, text):
    return not ev.feasible and any(text in v for v in ev.violations)


# --------------------------------------------------------------- independent recomputation


def _usable(inst, mode, f):
    """(i, j) usable by function f in the mode, from the grid and the table (written here)."""
    out = []
    for i in range(len(inst.cpu_grid)):
        for j, m in enumerate(inst.mem_grid_mb):
            if f.runtime_us[i][j] is None:
                continue
            if mode == "coupled":
                below = [k for k, x in enumerate(inst.cpu_grid) if x <= m / inst.mb_per_vcpu]
                if i != (below[-1] if below else 0):
                    continue
            out.append((i, j))
    return out


def _by_paths(inst, configs):
    """Latency (µs) as the largest runtime sum over every source-to-sink path, and the cost."""
    g = nx.DiGraph()
    g.add_nodes_from(f.id for f in inst.functions)
    g.add_edges_from(inst.edges)
    rt, cost = {}, 0.0
    p = inst.prices
    for f in inst.functions:
        c = configs[f.id]
        i, j = inst.cpu_grid.index(c["cpu"]), inst.mem_grid_mb.index(c["mem_mb"])
        rt[f.id] = f.runtime_us[i][j]
        cost += rt[f.id] / 1e6 * (p.per_vcpu_s * c["cpu"] + p.per_gb_s * c["mem_mb"] / 1024)
        cost += p.per_request
    sources = [v for v in g if g.in_degree(v) == 0]
    sinks = [v for v in g if g.out_degree(v) == 0]
    paths = [[v] for v in sources if v in sinks]
    paths += [q for s in sources for t in sinks if s != t for q in nx.all_simple_paths(g, s, t)]
    return max(sum(rt[v] for v in q) for q in paths), cost, paths


# --------------------------------------------------------------- evaluator by violation


def test_evaluator_by_violation():
    """Accepted answers (milp and one heuristic per example), then every violation kind; counts
    the examples where the SLO binds and where a chain broke it, and fails if either never did."""
    seen = {"binds": 0, "chain_over": 0, "chain_ok": 0, "oom": 0, "coupled": 0}

    @given(
        instances(max_functions=5, min_mem=2),
        st.sampled_from(["cost", "coupled"]),
        st.sampled_from(HEURISTICS),
        st.data(),
    )
    def check(data, objective, heuristic, draw):
        inst = load(data)
        mode = "coupled" if objective == "coupled" else "decoupled"
        opts = _pattern(mode)
        exact = _solve(inst, "milp", objective=objective)
        if exact.status != Status.OPTIMAL:
            assert exact.status == Status.INFEASIBLE  # coupled: no coupled fit
            return
        seen["binds"] += binds(inst, exact.objective, mode)
        method = "aarc" if heuristic == "aarc-proto" else heuristic
        params = {"bo": (("trials", "8"),), "aarc-proto": PROTO}.get(heuristic, ())
        h = _solve(inst, method, objective=objective, params=params)
        answers = [exact] + ([h] if h.solution is not None else [])
        for r in answers:
            sol = r.solution
            ev = evaluate(inst, sol, opts)
            assert ev.feasible, ev.violations
            lat, cost, paths = _by_paths(inst, sol["configs"])
            assert ev.metrics["latency_ms"] * 1000 == lat
            assert math.isclose(ev.objective, cost, rel_tol=1e-12)
            assert ev.metrics["slo_ms"] == inst.slo_us / 1000
            assert ev.metrics["slo_from"] == "instance"
            _violations(inst, mode, opts, sol, lat, paths, draw, seen)

    check()
    assert seen["binds"] >= 1 and seen["chain_over"] >= 1 and seen["chain_ok"] >= 1, seen
    assert seen["oom"] >= 1 and seen["coupled"] >= 1, seen


def _violations(inst, mode, opts, sol, lat, paths, draw, seen):
    ids = [f.id for f in inst.functions]
    fid = draw.draw(st.sampled_from(ids), label="function")
    f = inst.functions[ids.index(fid)]

    def changed(**cfg):
        s = copy.deepcopy(sol)
        s["configs"][fid] = {**s["configs"][fid], **cfg}
        return s

    # a configuration not on the grid: between two levels, or one ulp off a level
    c = sol["configs"][fid]["cpu"]
    for off in (math.nextafter(c, math.inf), c + 0.125, -c):
        assert _names(evaluate(inst, changed(cpu=off), opts), f"configs.{fid}.cpu")
    m = sol["configs"][fid]["mem_mb"]
    for off in (math.nextafter(m, 0), m + 1, m / 3):
        if off not in inst.mem_grid_mb:
            assert _names(evaluate(inst, changed(mem_mb=off), opts), f"configs.{fid}.mem_mb")
    # missing and unknown functions
    s = copy.deepcopy(sol)
    del s["configs"][fid]
    assert _names(evaluate(inst, s, opts), f"configs.{fid}: missing")
    s = copy.deepcopy(sol)
    s["configs"]["zz-not-a-function"] = dict(sol["configs"][fid])
    assert _names(evaluate(inst, s, opts), "not a function of the instance")
    # over the SLO by the smallest unit (1 µs): --slo-ms one µs below the latency, claim removed
    bare = {k: v for k, v in sol.items() if k != "slo_ms"}
    tight = SolveOptions(objective=opts.objective, slo_ms=(lat - 1) / 1000)
    if lat > 1:
        ev = evaluate(inst, bare, tight)
        assert _names(ev, "latency") and ev.metrics["slo_from"] == "--slo-ms"
    exact_fit = evaluate(inst, bare, SolveOptions(objective=opts.objective, slo_ms=lat / 1000))
    assert exact_fit.feasible, exact_fit.violations  # at the SLO exactly: accepted
    # the solution's SLO claim: one that differs from the one in force is rejected
    for claim in (inst.slo_us / 1000 + 0.001, inst.slo_us / 1000 * 10, 1e6):
        assert _names(evaluate(inst, {**sol, "slo_ms": claim}, opts), "solution.slo_ms")
    assert evaluate(inst, {**sol, "slo_ms": inst.slo_us / 1000}, opts).feasible
    assert _names(evaluate(inst, sol, tight), "solution.slo_ms")  # claim vs --slo-ms
    other = "decoupled" if mode == "coupled" else "coupled"
    assert _names(evaluate(inst, {**sol, "mode": other}, opts), "solution.mode")
    # a chain over the SLO: every function of one path at its slowest usable configuration
    path = draw.draw(st.sampled_from(paths), label="path")
    s = copy.deepcopy(sol)
    for v in path:
        fv = inst.functions[ids.index(v)]
        i, j = max(_usable(inst, mode, fv), key=lambda ij: fv.runtime_us[ij[0]][ij[1]])
        s["configs"][v] = {"cpu": inst.cpu_grid[i], "mem_mb": inst.mem_grid_mb[j]}
    lat2, cost2, _ = _by_paths(inst, s["configs"])
    ev = evaluate(inst, s, opts)
    if lat2 > inst.slo_us:
        seen["chain_over"] += 1
        assert _names(ev, "latency"), (lat2, inst.slo_us, ev)
    else:
        seen["chain_ok"] += 1
        assert ev.feasible and math.isclose(ev.objective, cost2, rel_tol=1e-12)
        assert ev.metrics["latency_ms"] * 1000 == lat2
    # out of memory
    oom = [
        (i, j)
        for i in range(len(inst.cpu_grid))
        for j in range(len(inst.mem_grid_mb))
        if f.runtime_us[i][j] is None
    ]
    if oom:
        seen["oom"] += 1
        i, j = draw.draw(st.sampled_from(oom), label="oom cell")
        s = changed(cpu=inst.cpu_grid[i], mem_mb=inst.mem_grid_mb[j])
        ev = evaluate(inst, s, _pattern("decoupled") if mode == "decoupled" else opts)
        assert _names(ev, f"configs.{fid}") and not ev.feasible
        if mode == "decoupled":
            assert _names(ev, "out of memory")
    # coupled: a configuration whose CPU is not the one its memory gives
    if mode == "decoupled":
        loose = [
            (i, j)
            for i, j in _usable(inst, "decoupled", f)
            if (i, j) not in _usable(inst, "coupled", f)
        ]
        if loose:
            seen["coupled"] += 1
            i, j = loose[0]
            s = changed(cpu=inst.cpu_grid[i], mem_mb=inst.mem_grid_mb[j])
            s["mode"] = "coupled"
            ev = evaluate(inst, s, _pattern("coupled"))
            assert _names(ev, f"configs.{fid}: coupled mode gives")


# --------------------------------------------------------------- any value of any type

JUNK = [
    float("nan"),
    float("inf"),
    -float("inf"),
    10**400,
    -1,
    0,
    True,
    None,
    "1.0",
    "",
    [1.0],
    {"cpu": 1.0},
    {},
    [],
    1e308,
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=6,
)
TINY = {
    "family": "workflow",
    "cpu_grid": [0.5, 1.0],
    "mem_grid_mb": [512, 1024],
    "prices": "aarc",
    "slo_ms": 50,
    "functions": [
        {"id": "a", "model": {"kind": "table", "runtime_ms": [[None, 30], [20, 15]]}},
        {"id": "b", "model": {"kind": "table", "runtime_ms": [[40, 30], [20, 15]]}},
    ],
    "edges": [["a", "b"]],
}
GOOD = {
    "mode": "decoupled",
    "slo_ms": 50.0,
    "configs": {"a": {"cpu": 1.0, "mem_mb": 512}, "b": {"cpu": 1.0, "mem_mb": 512}},
}


def _places(value):
    """The good solution with ``value`` put at each place a solution file has."""
    yield "solution", value
    for key in ("mode", "slo_ms", "configs"):
        yield f"solution.{key}", {**GOOD, key: value}
    yield "configs.a", {**GOOD, "configs": {**GOOD["configs"], "a": value}}
    for key in ("cpu", "mem_mb"):
        cfg = {**GOOD["configs"]["a"], key: value}
        yield f"configs.a.{key}", {**GOOD, "configs": {**GOOD["configs"], "a": cfg}}
    yield "configs", {**GOOD, "configs": {**GOOD["configs"], "c": value}}


@pytest.mark.parametrize("value", JUNK, ids=repr)
def test_malformed_values_are_rejected_naming_the_field(value):
    inst = load(TINY)
    assert evaluate(inst, GOOD).feasible
    for where, sol in _places(value):
        ev = evaluate(inst, sol)
        if where == "solution.slo_ms" and value is None:
            assert ev.feasible  # no claim: judged against the instance's SLO
            continue
        assert not ev.feasible, (where, value)
        assert ev.objective is None
        field = where.split(".")[-1] if where.startswith("solution.") else where
        if where == "solution" and isinstance(value, dict):
            field = "configs"  # an object, but without its configs
        assert any(field in v for v in ev.violations), (where, value, ev.violations)


@given(json_values, st.integers(0, 7))
def test_any_value_anywhere_is_a_verdict(value, k):
    inst = load(TINY)
    where, sol = list(_places(value))[k]
    ev = evaluate(inst, sol)
    assert ev.feasible == (not ev.violations)
    if ev.feasible:  # only a value that really is the good one (or an absent SLO claim)
        assert math.isclose(ev.objective, evaluate(inst, GOOD).objective)


@pytest.mark.parametrize("slo", [float("nan"), float("inf"), -1.0, 0.0, 10**400, "5", True])
def test_bad_override_is_a_clean_input_error(slo):
    with pytest.raises(InputError, match="--slo-ms"):
        evaluate(load(TINY), GOOD, SolveOptions(slo_ms=slo))
    with pytest.raises(InputError, match="--objective"):
        evaluate(load(TINY), GOOD, SolveOptions(objective="latency"))


def test_cli_verdict_from_the_instance(tmp_path, capsys):
    """A hand-edited file: a configuration 10 ms over the SLO with ``slo_ms`` raised to 1e6 is
    rejected naming slo_ms and the latency (exit 1, not 3); ``--slo-ms`` judges against the
    override and says so; NaN in the file is a rejection too."""
    inst_path = tmp_path / "i.json"
    inst_path.write_text(json.dumps(TINY))
    slow = {**GOOD, "slo_ms": 1e6, "configs": {**GOOD["configs"], "b": {"cpu": 0.5, "mem_mb": 512}}}
    sol_path = tmp_path / "s.json"
    sol_path.write_text(json.dumps({"family": "workflow", "method": "x", "status": "feasible",
                                    "solution": slow}))  # fmt: skip
    assert main(["evaluate", str(inst_path), str(sol_path)]) == 1
    out = capsys.readouterr().out
    assert "solution.slo_ms" in out and "latency" in out and "60 ms exceeds the SLO 50 ms" in out
    del slow["slo_ms"]
    sol_path.write_text(json.dumps({"family": "workflow", "method": "x", "status": "feasible",
                                    "solution": slow}))  # fmt: skip
    assert main(["evaluate", str(inst_path), str(sol_path), "--slo-ms", "60"]) == 0
    out = capsys.readouterr().out
    assert "slo_ms = 60" in out and "slo_from = --slo-ms" in out
    sol_path.write_text(
        '{"family": "workflow", "method": "x", "status": "feasible", "solution": {"configs": '
        '{"a": {"cpu": NaN, "mem_mb": 512}, "b": {"cpu": 1.0, "mem_mb": Infinity}}}}'
    )
    assert main(["evaluate", str(inst_path), str(sol_path)]) == 1
    out = capsys.readouterr().out
    assert "configs.a.cpu" in out and "configs.b.mem_mb" in out


# --------------------------------------------------------------- status honesty

# generated, seeded: with the limits below none of the three proves its first incumbent optimal
HARD = dict(size=18, seed=0, shape="random")


class _HighsFirstSolution(pulp.HiGHS):
    """HiGHS stopping at its first improving solution (option mip_max_improving_sols). pulp's
    status table lacks kSolutionLimit, so the solution is read back here as pulp reads one after
    a time limit (integer feasible, not optimal)."""

    def __init__(self, *a, **k):
        super().__init__(*a, mip_max_improving_sols=1, **k)

    def findSolutionValues(self, lp):
        h = lp.solverModel
        if h.getModelStatus() == highspy.HighsModelStatus.kSolutionLimit:
            values = h.getSolution().col_value
            for var in lp.variables():
                var.varValue = values[var.index]
            return pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible
        return super().findSolutionValues(lp)


_CBC = pulp.PULP_CBC_CMD


def _cbc_first_solution(*a, **k):
    """CBC stopping at the root with its first solution (maxNodes 0, maxSolutions 1)."""
    return _CBC(*a, **{**k, "maxNodes": 0, "options": [*k.get("options", []), "maxSolutions 1"]})


class _CpFirstSolution(cp_model.CpSolver):
    """CP-SAT stopping at its first solution (stop_after_first_solution)."""

    def Solve(self, model, *a, **k):  # noqa: N802 (CP-SAT's name)
        self.parameters.stop_after_first_solution = True
        return super().Solve(model, *a, **k)


@pytest.mark.parametrize(
    ("method", "backend"), [("milp", "highs"), ("milp", "cbc"), ("cpsat", None)]
)
def test_incumbent_without_proof_is_feasible_with_a_valid_bound(method, backend, monkeypatch):
    inst = generate(**HARD)
    opt = _solve(inst, "milp")  # the proof, before the limits are planted
    assert opt.status == Status.OPTIMAL
    monkeypatch.setattr(pulp, "HiGHS", _HighsFirstSolution)
    monkeypatch.setattr(pulp, "PULP_CBC_CMD", _cbc_first_solution)
    monkeypatch.setattr(cp_model, "CpSolver", _CpFirstSolution)
    r = _solve(inst, method, backend=backend)
    assert r.status == Status.FEASIBLE, (r.status, r.message)
    assert r.bound is not None and r.bound < r.objective  # strictly below: no proof
    assert r.bound <= opt.objective * (1 + 1e-9)  # a valid lower bound
    assert r.bound > 0.5 * opt.objective  # and the real one (the model's constant included)
    assert r.objective >= opt.objective * (1 - 1e-9) and r.gap is not None and r.gap > 0
    ev = evaluate(inst, r.solution, SolveOptions(objective="cost"))
    assert ev.feasible and math.isclose(ev.objective, r.objective, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("method", "backend"), [("milp", "highs"), ("milp", "cbc"), ("cpsat", None)]
)
def test_infeasible_slo_is_infeasible_in_the_model_too(method, backend):
    """Below the fastest latency: the presolve says so, and the model built without the presolve
    is proved infeasible by the solver itself (not only by the shortcut)."""
    inst = generate(4, 1, shape="chatbot")
    fastest = SP.build(inst, 1, SP.candidates(inst, "decoupled")).fastest_us
    r = _solve(inst, method, backend=backend, slo_ms=(fastest - 1) / 1000)
    assert r.status == Status.INFEASIBLE and "fastest possible workflow latency" in r.message
    space = SP.build(inst, fastest - 1, SP.candidates(inst, "decoupled"), presolve=False)
    if method == "milp":
        prob, _ = wf_milp.build_model(space)
        out = solve_pulp(prob, OPTS, backend)
    else:
        model, _, _ = wf_cpsat.build_model(space)
        out, _ = solve_cpsat(model, OPTS)
    assert out.status == Status.INFEASIBLE, out


@pytest.mark.parametrize("method", ["milp", "cpsat"])
def test_no_usable_configuration_is_infeasible(method):
    """Coupled mode on a grid where function a's only coupled configurations run out of memory."""
    data = {**TINY, "cpu_grid": [0.25, 1.0], "mem_grid_mb": [512, 1024]}
    data["functions"] = [
        {"id": "a", "model": {"kind": "table", "runtime_ms": [[None, None], [20, 15]]}},
        TINY["functions"][1],
    ]
    r = _solve(load(data), method, objective="coupled")
    assert r.status == Status.INFEASIBLE and "no usable configuration" in r.message


@pytest.mark.parametrize("method", ["milp", "cpsat"])
def test_model_that_fails_to_build_is_an_error(method, monkeypatch):
    inst = load(TINY)
    if method == "milp":

        def broken(space):
            raise RuntimeError("planted: the model cannot be built")

        monkeypatch.setattr(wf_milp, "build_model", broken)
    else:
        real = wf_cpsat.build_model

        def broken(space):
            model, x, K = real(space)
            model.NewIntVar(1, 0, "empty_domain")  # an invalid model: CP-SAT says MODEL_INVALID
            return model, x, K

        monkeypatch.setattr(wf_cpsat, "build_model", broken)
    r = _solve(inst, method)
    assert r.status == Status.ERROR, (r.status, r.message)
    assert r.solution is None
