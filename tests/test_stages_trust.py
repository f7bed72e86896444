"""F3 trust: verdicts from the instance, an evaluator independent of the planning model, honest
statuses, the evaluator tested by violation, strategies that bind (issue 12)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from optgap.formulations.stages import evaluate as E
from optgap.formulations.stages import instance as I
from optgap.formulations.stages.evaluate import evaluate
from optgap.formulations.stages.instance import load
from optgap.instances.stages.generate import generate
from optgap.instances.stages.strategies import instances
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

ROOT = Path(__file__).resolve().parents[1]
OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)


def _solve(inst, method, **kw):
    return registry.solve("stages", method, inst, replace(OPTS, **kw))


def _tiny(**over) -> dict:
    d = {
        "family": "stages",
        "version": 1,
        "stages": [{"id": "a", "vm_ms": 100.0, "fn_ms": {"1024": 200.0}, "exit_prob": 1.0}],
        "arrivals": {"window_s": 10, "per_second": [30] * 10},
        "vm": {"price_per_hour": 3.6, "workers": 1, "cold_start_s": 5.0},
        "functions": {"price_per_gb_s": 0.001, "price_per_request": 0.0, "cold_start_ms": 50.0},
        "slo": {"latency_ms": 100000.0, "percentile": 95.0},
        "service_cv": 0.0,
    }
    d.update(over)
    return d


# ------------------------------------------------------------------ 1. verdicts from the instance


def test_limits_come_from_the_instance_or_the_command_line():
    inst = generate(6, 1)
    r = _solve(inst, "milp")
    assert r.status == Status.OPTIMAL
    ok = evaluate(inst, r.solution, simulate=False)
    assert ok.feasible and ok.metrics["slo_ms"] == inst.slo_ms
    # a solution that states a looser SLO is rejected, naming the field
    loose = {**r.solution, "slo_ms": 1e6}
    ev = evaluate(inst, loose, simulate=False)
    assert not ev.feasible and ev.violations[0].startswith("solution.slo_ms")
    # without slo_ms it is judged against the instance's SLO
    bare = {k: v for k, v in r.solution.items() if k != "slo_ms"}
    assert evaluate(inst, bare, simulate=False).objective == ok.objective
    # --slo-ms overrides the instance and is reported; the plan made for the instance's SLO
    # then states a different SLO and is refused; a tight override makes the SLO infeasible
    o = SolveOptions(slo_ms=inst.slo_ms * 2)
    ev = evaluate(inst, r.solution, o, simulate=False)
    assert not ev.feasible and "solution.slo_ms" in ev.violations[0]
    ev = evaluate(inst, bare, o, simulate=False)
    assert ev.feasible and ev.metrics["slo_ms"] == inst.slo_ms * 2
    ev = evaluate(inst, bare, SolveOptions(slo_ms=50.0), simulate=False)
    assert not ev.feasible and "cannot be met" in ev.violations[0]
    ev = evaluate(inst, {**r.solution, "window_s": 7}, simulate=False)
    assert not ev.feasible and ev.violations[0].startswith("solution.window_s")
    with pytest.raises(InputError, match="fallback"):
        evaluate(inst, bare, SolveOptions(params=(("fallback", "maybe"),)))


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**3), 10**3),
    st.just(10**400),
    st.just(-(10**400)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@given(st.data())
def test_any_value_of_any_type_is_a_rejection_never_a_crash(data):
    inst = generate(3, 0, stages=2)
    base = _solve(inst, "dp").solution
    whole = _solve(inst, "whole-milp").solution
    sol = dict(data.draw(st.sampled_from([base, whole])))
    field = data.draw(
        st.sampled_from(
            [
                "vms",
                "vms[s]",
                "vms[s][t]",
                "memory_mb",
                "memory_mb[s]",
                "fn_share",
                "fn_share[s][t]",
                "slo_ms",
                "window_s",
                "mode",
                "vm_type",
                "whole",
            ]
        )
    )
    junk = data.draw(JUNK)
    rows = len(sol["vms"])
    s = data.draw(st.integers(0, rows - 1))
    if field == "whole":
        sol = junk
    elif "[s][t]" in field:
        key = field.split("[")[0]
        sol[key] = [list(r) for r in sol[key]]
        sol[key][s][0] = junk
    elif "[s]" in field:
        key = field.split("[")[0]
        sol[key] = list(sol[key])
        sol[key][s] = junk
    else:
        sol[field] = junk
    ev = evaluate(inst, sol)  # must not raise
    assert isinstance(ev.feasible, bool)
    if ev.feasible:  # only values that mean the same thing may pass
        assert ev.objective is not None and math.isfinite(ev.objective)


def test_malformed_counts_named():
    inst = load(_tiny())
    for x in (float("nan"), float("inf"), 10**400, "3", [1], -1, 1.5, True):
        ev = evaluate(inst, {"vms": [[x]], "memory_mb": [1024]}, simulate=False)
        assert not ev.feasible and ev.violations[0].startswith("vms[0][0]"), (x, ev.violations)
    for m in ([1024], {"a": 1}, float("nan"), 10**400, "1024"):
        ev = evaluate(inst, {"vms": [[2]], "memory_mb": [m]}, simulate=False)
        assert not ev.feasible and ev.violations[0].startswith("memory_mb[0]"), (m, ev.violations)
    ev = evaluate(inst, {"vms": [[2]], "memory_mb": [1024], "fn_share": [[float("nan")]]})
    assert not ev.feasible and "fn_share" in ev.violations[0]


# ------------------------------------------------------------------ 2. independence


@settings(max_examples=60)
@given(
    st.integers(1, 64),
    st.floats(0.0, 0.999),
    st.floats(1.0, 500.0),
    st.sampled_from([0.5, 0.9, 0.95, 0.99]),
    st.sampled_from([0.0, 0.5, 1.0, 2.0]),
)
def test_queueing_reference_equals_planning_model(c, rho, mean, p, cv):
    """The evaluator's Erlang C (log-sum of Poisson terms) and wait quantile equal the planning
    model's (Erlang-B recursion), for any number of workers."""
    assert E.prob_wait(c, rho * c) == pytest.approx(I.erlang_c(c, rho * c), rel=1e-9, abs=1e-12)
    a = E.wait_p_ms(c, rho, mean, p, cv)
    b = I.wait_quantile_ms(c, rho, mean, p, cv)
    assert a == pytest.approx(b, rel=1e-9, abs=1e-9)


@given(
    st.booleans().flatmap(
        lambda f: instances(
            max_stages=4, max_windows=2, functions_everywhere=f, busy=True, vm_types=True
        )
    )
)
def test_evaluator_recomputes_the_planning_model(data):
    """Shares, VM fitness, caps and memory fit: the evaluator's own computation equals
    StagesInstance.plan over the whole parameter space (several workers, several VM types)."""
    inst = load(data)
    units, transfers, cv = E._stage_units(inst)
    judged = E._judge_units(units, transfers, cv, inst, inst.slo_ms)
    plan = inst.plan()
    for j, sp in zip(judged, plan.stages, strict=True):
        assert j.share_ms == pytest.approx(sp.budget_ms, rel=1e-12, abs=1e-9)
        if sp.vm_ok:
            assert j.vm_ok
            assert j.cap == pytest.approx(sp.cap, rel=1e-9)
        assert set(sp.fn_ok_memories) <= set(j.fits)


@given(instances(max_stages=3, max_windows=2, vm_types=True))
def test_whole_model_derivation_agrees(data):
    """The evaluator's whole-model unit equals the one the whole-model MILP solves."""
    from optgap.formulations.stages.whole import eligible_types, whole_instance

    inst = load(data)
    for name in eligible_types(inst):
        unit, cv = E.whole_model(inst, name)
        sub = whole_instance(inst, name)
        assert unit.vm_ms == pytest.approx(sub.stages[0].vm_ms, rel=1e-12)
        assert cv == pytest.approx(sub.service_cv, rel=1e-9, abs=1e-12)
        assert unit.fn_ms == pytest.approx(sub.stages[0].fn_ms, rel=1e-12)
        assert unit.workers == sub.vm.workers


def test_evaluator_imports_no_planning_model_model_or_policy():
    """No model, heuristic or planning-model module is imported, and the evaluator's and the
    simulator's code touch none of the instance's derived views (AST, not text: docstrings may
    name them)."""
    import ast

    code = (
        "import sys, optgap.formulations.stages.evaluate; "
        "print([m for m in sys.modules if m.startswith(('optgap.heuristics', "
        "'optgap.formulations.stages.milp', 'optgap.formulations.stages.dp', "
        "'optgap.formulations.stages.plan', 'optgap.formulations.stages.whole'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
    derived = {
        "plan",
        "reach",
        "rates",
        "quantile_factor",
        "fn_cost_per_query",
        "stage_vm",
        "vm_price_s",
        "transfer_ms",
        "stage_rates",
        "stage_vm_ms",
        "vm_type",
        "_plans",
    }
    shared = {"erlang_c", "utilisation_cap", "wait_quantile_ms", "_make_plan"}
    for name in ("evaluate", "simulate"):
        tree = ast.parse((ROOT / f"formulations/stages/{name}.py").read_text())
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        # st.vm_type (a loader field of a Stage) is allowed; the instance method is not called
        calls = {
            n.func.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        }
        assert not (attrs - {"vm_type"}) & derived, (name, (attrs - {"vm_type"}) & derived)
        assert "vm_type" not in calls and not names & shared, name


# ------------------------------------------------------------------ 3. status honesty


@pytest.mark.parametrize("backend", ["cbc", "highs"])
def test_an_incumbent_without_proof_is_feasible_with_a_lower_bound(backend):
    # a solution limit of 1 stops the branch and bound at its first incumbent, deterministically
    # (no clock); on this 6-window day with a quota the first incumbent is not the optimum
    inst = generate(6, 0, max_total=6)
    opt = _solve(inst, "milp", backend=backend)
    assert opt.status == Status.OPTIMAL
    r = _solve(inst, "milp", backend=backend, hint=False, params=(("max_solutions", "1"),))
    assert r.status == Status.FEASIBLE, r.message
    assert r.bound is not None and r.bound < r.objective
    assert r.bound <= opt.objective * (1 + 1e-9) <= r.objective * (1 + 1e-9)
    assert r.gap is not None and r.gap > 0
    ev = evaluate(inst, r.solution, simulate=False)
    assert ev.feasible and ev.objective == pytest.approx(r.objective, rel=1e-9)
    w = _solve(inst, "whole-milp", backend=backend, hint=False, params=(("max_solutions", "1"),))
    assert w.status in (Status.FEASIBLE, Status.OPTIMAL)
    if w.status == Status.FEASIBLE:
        assert w.bound is None or w.bound <= w.objective


@pytest.mark.parametrize("backend", ["cbc", "highs"])
def test_infeasible_quota_is_infeasible(backend):
    # a stage without usable functions (cold start 1000 s) carries 30 req/s on VMs of 9 req/s: it
    # needs 4 VMs, the quota allows 1
    d = _tiny(functions={"price_per_gb_s": 0.001, "price_per_request": 0.0, "cold_start_ms": 1e6})
    d["vm"]["max_total"] = 1
    inst = load(d)
    for method in ("milp", "milp-onehot", "whole-milp"):
        r = _solve(inst, method, backend=backend)
        assert r.status == Status.INFEASIBLE, (method, r.status, r.message)
    d["vm"]["max_total"] = 4
    assert _solve(load(d), "milp", backend=backend).status == Status.OPTIMAL


def test_a_model_that_fails_to_build_is_an_error(monkeypatch):
    from optgap.formulations.stages import milp

    def broken(*a, **k):
        raise ValueError("cannot build")

    monkeypatch.setattr(milp, "build", broken)
    inst = generate(3, 0)
    for method in ("milp", "whole-milp"):
        r = _solve(inst, method)
        assert r.status == Status.ERROR and "cannot build" in r.message, (method, r.status)


def test_time_limit_without_solution_falls_back_to_the_warm_start(monkeypatch):
    from optgap.formulations.stages import milp
    from optgap.solvers.backends import Outcome

    monkeypatch.setattr(milp, "solve_pulp", lambda *a, **k: Outcome(Status.TIME_LIMIT, bound=0.1))
    inst = generate(4, 0)
    r = _solve(inst, "milp")
    assert r.status == Status.FEASIBLE and "serflow warm start" in r.message
    assert r.bound == pytest.approx(0.1) and r.objective > r.bound
    monkeypatch.setattr(milp, "solve_pulp", lambda *a, **k: Outcome(Status.TIME_LIMIT))
    r = registry.solve("stages", "whole-milp", inst, OPTS)  # no warm start: no answer
    assert r.status == Status.TIME_LIMIT


def test_warm_starts_through_the_front_door(monkeypatch):
    inst = generate(8, 1)
    r = _solve(inst, "milp")
    assert r.status == Status.OPTIMAL and r.stats["warm_accepted"] == ["serflow"]
    assert r.stats["warm_hint"] == "serflow"
    # a rejected warm start is not used, and is reported
    m = registry.method("stages", "serflow")
    bad = replace(
        m,
        run=lambda inst, o: replace(
            m.run(inst, o), solution={**m.run(inst, o).solution, "vms": [[-1]]}
        ),
    )
    monkeypatch.setitem(registry.METHODS["stages"], "serflow", bad)
    r2 = _solve(inst, "milp")
    assert r2.status == Status.OPTIMAL and r2.stats["warm_accepted"] == []
    assert "serflow" in r2.stats["warm_rejected"] and r2.stats["warm_hint"] is None
    assert r2.objective == pytest.approx(r.objective, rel=1e-9)


def test_formulations_import_no_heuristics():
    code = (
        "import sys, optgap.formulations.stages.milp, optgap.formulations.stages.dp, "
        "optgap.formulations.stages.whole, optgap.formulations.stages.evaluate; "
        "from optgap.instances.stages.generate import generate; "
        "from optgap.formulations.stages import milp, whole; "
        "from optgap.solvers.result import SolveOptions; i = generate(3, 0); "
        "milp.solve(i, SolveOptions(time_limit_s=20)); whole.solve(i, SolveOptions(time_limit_s=20)); "
        "print([m for m in sys.modules if m.startswith('optgap.heuristics')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


# ------------------------------------------------------------------ 4. evaluator by violation

KINDS = (
    "slo_ms",
    "length",
    "row_length",
    "negative",
    "vms_where_they_cannot_serve",
    "over_capacity",
    "unfit_memory",
    "unknown_memory",
    "quota",
    "fn_share",
    "memory_by_a_hair",
    "vms_by_a_hair",
)
METHODS = ("dp", "milp", "whole-milp", "serflow", "libra", "whole-libra", "vm-peak")


def _violate(
    inst, sol: dict, kind: str
) -> tuple[dict, str] | tuple[dict, str, SolveOptions] | None:
    """Apply one violation kind to an accepted solution; None where the kind cannot apply.
    The ``*_by_a_hair`` kinds keep the plan and lower the SLO (``--slo-ms``) by 1e-6 ms below
    the least at which its memory / its VMs fit."""
    shares = sol.get("fn_share")
    sol = {**sol, "vms": [list(r) for r in sol["vms"]], "memory_mb": list(sol["memory_mb"])}
    sol.pop("fn_share", None)
    units = _units(inst, sol)
    judged = E._judge_units(*units, inst, inst.slo_ms)
    S, T = len(sol["vms"]), len(sol["vms"][0])
    rates = inst.rates
    if kind == "slo_ms":
        return {**sol, "slo_ms": inst.slo_ms + 1e-3}, "solution.slo_ms"
    if kind == "length":
        return {**sol, "vms": sol["vms"][:-1]}, "vms:"
    if kind == "row_length":
        sol["vms"][0] = sol["vms"][0] + [0]
        return sol, "vms[0]"
    if kind == "negative":
        sol["vms"][S - 1][T - 1] = -1
        return sol, f"vms[{S - 1}][{T - 1}]"
    if kind == "vms_where_they_cannot_serve":
        for s, j in enumerate(judged):
            if not j.vm_ok:
                sol["vms"][s][0] += 1
                return sol, f"vms[{s}]"
        return None
    if kind == "over_capacity":  # one VM too few where no function may take the rest
        for s, j in enumerate(judged):
            for t in range(T):
                lam = rates[t] * units[0][s].visits
                v = sol["vms"][s][t]
                if (sol["memory_mb"][s] is None) and v > 0 and lam > j.cap * (v - 1) * (1 + 1e-6):
                    sol["vms"][s][t] -= 1
                    return sol, f"vms[{s}][{t}]: over capacity"
        return None
    if kind == "unfit_memory":
        for s, (u, j) in enumerate(zip(units[0], judged, strict=True)):
            bad = [m for m in u.fn_ms if m not in j.fits]
            if bad:
                sol["memory_mb"][s] = bad[0]
                return sol, f"memory_mb[{s}]"
        return None
    if kind == "unknown_memory":
        sol["memory_mb"][0] = 3
        return sol, "memory_mb[0]"
    if kind == "quota":
        mt = inst.vm.max_total
        if mt is None:
            return None
        s = next((s for s, j in enumerate(judged) if j.vm_ok), None)
        if s is None:
            return None
        sol["vms"][s][0] += mt + 1 - sum(r[0] for r in sol["vms"])
        return sol, "max_total"
    if kind in ("memory_by_a_hair", "vms_by_a_hair"):
        u0, tr, cv = units
        qf = E.lognormal_qf(inst.percentile, cv)
        total_q = sum(u.vm_ms * qf for u in u0)
        floor = total_q + sum(tr)  # the least SLO at which VMs may serve
        sol.pop("slo_ms", None)
        if kind == "vms_by_a_hair":
            s = next((s for s, row in enumerate(sol["vms"]) if any(row)), None)
            if s is None:
                return None
            return sol, f"vms[{s}]", SolveOptions(slo_ms=floor - 1e-6)
        for s, (u, j) in enumerate(zip(u0, judged, strict=True)):
            m = sol["memory_mb"][s]
            if m is None or not j.vm_ok:
                continue
            # share(SLO) = q_s + (SLO - floor) / S, so m fits iff SLO >= floor + S (need - q_s)
            need = inst.functions.cold_start_ms + u.fn_ms[m] * qf
            least = floor + len(u0) * (need - u.vm_ms * qf)
            if least - 1e-6 > floor and least > 1e-3:
                return sol, f"memory_mb[{s}]", SolveOptions(slo_ms=least - 1e-6)
        return None
    if kind == "fn_share":  # the smallest share the check must see: 1e-5 off the implied one
        sol["fn_share"] = [list(r) for r in shares]
        sol["fn_share"][0][0] += 1e-5
        return sol, "fn_share[0][0]"
    raise AssertionError(kind)


def _units(inst, sol):
    if sol.get("mode") == "whole":
        u, cv = E.whole_model(inst, sol.get("vm_type", "default"))
        return [u], [], cv
    return E._stage_units(inst)


def _reshape(data: dict, mode: str) -> dict:
    """Make the cases that bind: ``vm_free``, an SLO just below the VMs' service quantiles (no
    stage may use VMs; fast, warm functions fit); ``both``, the same functions and an SLO 1.5x
    the VMs' quantiles (both fit, and keep fitting just below the VMs' floor); ``vm_only``, functions that never fit (every
    stage carries all its traffic on VMs)."""
    if mode == "plain":
        return data
    inst = load(data)
    qf = inst.quantile_factor()
    vmq = sum(st.vm_ms * qf for st in inst.stages)
    tr = sum(inst.transfer_ms(s) for s in range(len(inst.stages) - 1))
    if mode in ("vm_free", "both"):
        data["functions"]["cold_start_ms"] = 0.0
        for x in data["stages"]:
            fastest = min(x["fn_ms"], key=lambda m: x["fn_ms"][m])
            x["fn_ms"][fastest] = max(1.0, x["vm_ms"] // 3)
        data["slo"]["latency_ms"] = (0.9 if mode == "vm_free" else 1.5) * vmq + tr
    else:
        data["functions"]["cold_start_ms"] = 1e9
        data["slo"]["latency_ms"] = 2 * vmq + tr + 100
    return data


def test_evaluator_by_violation():
    seen: Counter = Counter()

    @given(
        st.tuples(st.booleans(), st.booleans()).flatmap(
            lambda fq: instances(
                max_stages=3,
                max_windows=3,
                functions_everywhere=fq[0],
                quota=fq[1],
                busy=True,
                vm_types=True,
            )
        ),
        st.sampled_from(("plain", "vm_free", "both", "vm_only")),
        st.sampled_from(METHODS),
    )
    def run(data, mode, method):
        inst = load(_reshape(data, mode))
        if method == "dp" and inst.vm.max_total is not None:
            method = "milp"
        r = _solve(inst, method)
        assume(r.solution is not None)
        ev = evaluate(inst, r.solution, simulate=False)
        if registry.method("stages", method).kind == "exact":
            assert ev.feasible, (method, ev.violations)
        assume(ev.feasible)  # an online policy may under-provision a VM-only stage
        seen["accepted " + ("whole" if r.solution.get("mode") == "whole" else "stages")] += 1
        for kind in KINDS:
            got = _violate(inst, r.solution, kind)
            if got is None:
                continue
            sol, text, *opts = got
            bad = evaluate(inst, sol, *opts, simulate=False)
            assert not bad.feasible, (method, kind)
            if kind.endswith("hair") and "cannot be met" in bad.violations[0]:
                continue  # the lower SLO left some stage nothing at all: rejected, not counted
            assert any(text in x for x in bad.violations), (method, kind, bad.violations)
            seen[kind] += 1

    settings(max_examples=60)(run)()
    for kind in KINDS + ("accepted stages", "accepted whole"):
        assert seen[kind] > 0, (kind, seen)


# ------------------------------------------------------------------ 5. strategies that bind


def test_busy_strategy_uses_vms_and_changes_them():
    seen: Counter = Counter()

    @given(instances(max_stages=3, max_windows=4, busy=True, vm_types=True))
    def run(data):
        inst = load(data)
        r = _solve(inst, "dp")
        vms = r.solution["vms"]
        if any(any(row) for row in vms):
            seen["vms used"] += 1
        if any(len(set(row)) > 1 for row in vms):
            seen["vms change over windows"] += 1
        if any(
            sp.vm_ok and sp.utilisation_cap < inst.stage_vm(s).max_utilisation
            for s, sp in enumerate(inst.plan().stages)
        ):
            seen["queueing cap binds"] += 1
        if any(inst.stage_vm(s).workers > 1 and any(vms[s]) for s in range(len(vms))):
            seen["VMs with workers > 1 in use"] += 1
        if inst.vm_types and any(
            st.vm_type != "default" and any(vms[s]) for s, st in enumerate(inst.stages)
        ):
            seen["a second VM type in use"] += 1

    run()
    for key in (
        "vms used",
        "vms change over windows",
        "queueing cap binds",
        "VMs with workers > 1 in use",
        "a second VM type in use",
    ):
        assert seen[key] > 0, (key, seen)


@settings(max_examples=10)
@given(instances(busy=True))
def test_warm_starts_are_checked_without_the_simulation(data):
    """The solve layer checks warm starts with Family.check = evaluate_plan: the evaluator's own
    verdict and objective without the request simulation (which only adds metrics and costs
    seconds on long traces), for accepted and rejected plans alike."""
    from optgap.formulations.stages.evaluate import evaluate_plan

    assert registry.family("stages").check is not None
    inst = load(data)
    for method in ("serflow", "vm-peak", "milp"):
        r = _solve(inst, method)
        if r.solution is None:
            continue
        bad = {**r.solution, "vms": [[n + 1 for n in row] for row in r.solution["vms"]]}
        for sol in (r.solution, bad):
            full, plan = evaluate(inst, sol), evaluate_plan(inst, sol)
            assert (full.feasible, full.objective, full.violations) == (
                plan.feasible,
                plan.objective,
                plan.violations,
            )
            assert full.feasible <= ("sim_cost" in full.metrics)  # the simulation ran in full


def test_the_solve_layer_checks_warm_starts_with_family_check(monkeypatch):
    """registry._warm_starts calls Family.check (not the simulating evaluate) on each answer."""
    from dataclasses import replace as dc_replace

    from optgap.formulations.stages.evaluate import evaluate_plan

    calls = []

    def spy(inst, sol, options=None):
        calls.append(1)
        return evaluate_plan(inst, sol, options)

    fam = registry.family("stages")
    monkeypatch.setitem(registry.FAMILIES, "stages", dc_replace(fam, check=spy))
    inst = generate(8, 0)
    warm, stats = registry._warm_starts(
        "stages", registry.method("stages", "milp"), inst, SolveOptions(objective="cost")
    )
    assert calls and len(calls) == len(registry.method("stages", "milp").warm_start)
    assert [w.method for w in warm] == stats["warm_accepted"]
