"""F1 exact at scale: data divided by their GCD (mapped back exactly), left-shifted answers, gap
tolerances that are stated and never reported as optimal."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optgap.formulations.dag.evaluate import evaluate
from optgap.formulations.dag.instance import load
from optgap.formulations.dag.schedule import left_shift
from optgap.instances.dag.strategies import dag_json
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

from tests.bruteforce_dag import brute_force
from tests.jobshop import jobshop

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)


def _solve(inst, method="cpsat", backend=None, **kw):
    return registry.solve("dag", method, inst, dataclasses.replace(OPTS, backend=backend, **kw))


def _scaled(data: dict, k: int, m: int) -> dict:
    """Times and latencies times k (whole µs), memory and capacities times m, no bandwidth term
    (so every transfer is a latency, a multiple of k)."""
    data = json.loads(json.dumps(data))
    for o in data["operators"]:
        o["time_ms"] = {key: round(t * k, 3) for key, t in o["time_ms"].items()}
        o["mem_mb"] = round(o.get("mem_mb", 0) * m, 3)
    for d in data["devices"]:
        if "mem_capacity_mb" in d:
            d["mem_capacity_mb"] = round(d["mem_capacity_mb"] * m, 3)
    data["links"] = {"latency_ms": round(data["links"]["latency_ms"] * k, 3)}
    return data


@settings(max_examples=20)
@given(
    dag_json(min_ops=2, max_ops=5, cpu_slots=(1, 2), gpus=(1, 2), capacity=True),
    st.sampled_from([3, 7, 1000]),
    st.sampled_from([1, 4, 10]),
)
def test_scaled_data_solve_to_the_brute_force_optimum(data, k, m):
    inst = load(_scaled(data, k, m))
    r = _solve(inst)
    truth = brute_force(inst)
    if truth is None:
        assert r.status == Status.INFEASIBLE
        return
    assert r.status == Status.OPTIMAL and round(r.objective * 1000) == truth
    assert r.stats["time_unit_us"] % k == 0  # the model ran on the coarser grid
    assert round(evaluate(inst, r.solution, None).objective * 1000) == truth
    # memory pattern at the optimal latency: the memory grid too
    rm = _solve(inst, objective="memory", slo_ms=truth / 1000)
    mem = brute_force(inst, "memory", truth)
    assert rm.status == Status.OPTIMAL and round(rm.objective * 1000) == mem
    assert rm.stats["memory_unit_kb"] % m == 0 or all(o.mem_kb == 0 for o in inst.operators)


def test_gcd_by_hand_capacity_and_slo_are_floored():
    # times 1 ms and 4 ms (unit 1000 µs); memory 2 MB and 4 MB (unit 2000 kB); the GPU holds
    # 5 MB: floor(5/2) = 2 units, so only one of them fits (both there: 2 ms); an SLO of
    # 7.999 ms floors to 7 units, so the two cannot both run on the CPU (8 ms)
    inst = load(
        {
            "family": "dag",
            "devices": [
                {"id": "cpu0", "kind": "cpu"},
                {"id": "gpu0", "kind": "gpu", "mem_capacity_mb": 5},
            ],
            "operators": [
                {"id": "a", "time_ms": {"cpu": 4, "gpu": 1}, "mem_mb": 2},
                {"id": "b", "time_ms": {"cpu": 4, "gpu": 1}, "mem_mb": 4},
            ],
        }
    )
    r = _solve(inst)
    assert r.status == Status.OPTIMAL and r.objective == 4.0  # one on each device
    assert r.stats["time_unit_us"] == 1000
    m = _solve(inst, objective="memory", slo_ms=2)  # would need both on the GPU: 6 MB > 5 MB
    assert m.status == Status.INFEASIBLE and "proven by CP-SAT" in m.message
    m = _solve(inst, objective="memory", slo_ms=8)  # both on the CPU
    assert m.status == Status.OPTIMAL and m.objective == 0.0 and m.stats["memory_unit_kb"] == 2000
    m = _solve(inst, objective="memory", slo_ms=7.999)  # a on the GPU
    assert m.status == Status.OPTIMAL and m.objective == 2.0


def test_jobshops_run_on_their_own_scale():
    r = _solve(jobshop("ft06"))
    assert r.status == Status.OPTIMAL and r.objective == 55.0 and r.stats["time_unit_us"] == 1000


# ------------------------------------------------------------------ left shift


@settings(max_examples=25)
@given(
    dag_json(min_ops=2, max_ops=9, cpu_slots=(1, 3), gpus=(1, 2), gpu_slots=(1, 2),
             pair_links=True, related=True, cpus=(1, 2), zero_times=True),
    st.lists(st.integers(0, 30), min_size=9, max_size=9),
)  # fmt: skip
def test_left_shift_undoes_any_delay_and_never_moves_later(data, delays):
    inst = load(data)
    r = _solve(inst)
    s = r.solution["schedule"]
    device = {i: s[i]["device"] for i in s}
    start = {i: round(s[i]["start_ms"] * 1000) for i in s}
    # delays growing in start order keep every constraint (edges and slot overlaps only loosen)
    late, shift = {}, 0
    for k, i in enumerate(sorted(start, key=lambda i: (start[i], inst.topological_order.index(i)))):
        shift += delays[k % len(delays)]
        late[i] = start[i] + shift
    sol = {"schedule": {i: {"device": device[i], "start_ms": late[i] / 1000} for i in late}}
    ev_late = evaluate(inst, sol, None)
    assert ev_late.feasible, ev_late.violations
    back = left_shift(inst, device, late)
    assert all(back[i] <= late[i] for i in late)
    sol = {"schedule": {i: {"device": device[i], "start_ms": back[i] / 1000} for i in back}}
    ev = evaluate(inst, sol, None)
    assert ev.feasible and ev.metrics["left_shifted"], ev.violations
    assert ev.objective <= ev_late.objective
    assert ev.objective == r.objective  # the optimum cannot be beaten, and is reached again


def test_left_shift_by_hand():
    # HEFT-like late start: b waits on the GPU although its input is there at 1 ms
    inst = load(
        {
            "family": "dag",
            "devices": [{"id": "cpu0", "kind": "cpu", "slots": 2}, {"id": "gpu0", "kind": "gpu"}],
            "operators": [
                {"id": "a", "time_ms": {"gpu": 1}},
                {"id": "b", "time_ms": {"gpu": 1}},
                {"id": "c", "time_ms": {"cpu": 3}},
                {"id": "d", "time_ms": {"cpu": 3}},
            ],
            "edges": [{"src": "a", "dst": "b"}],
        }
    )
    device = {"a": "gpu0", "b": "gpu0", "c": "cpu0", "d": "cpu0"}
    assert left_shift(inst, device, {"a": 0, "b": 5000, "c": 1000, "d": 2000}) == {
        "a": 0,
        "b": 1000,
        "c": 0,
        "d": 0,  # two CPU slots
    }
    late = {"schedule": {i: {"device": device[i], "start_ms": t} for i, t in
                         {"a": 0, "b": 5, "c": 1, "d": 2}.items()}}  # fmt: skip
    assert not evaluate(inst, late, None).metrics["left_shifted"]


# ------------------------------------------------------------------ gap tolerances


def test_a_gap_tolerance_stops_early_and_is_never_optimal():
    inst = jobshop("la01")
    r = _solve(inst, params=(("gap", "0.5"),))
    assert r.stats["gap_tolerance"] == {"rel": 0.5, "abs": 0.0}
    assert r.status == Status.FEASIBLE and r.bound < r.objective  # stopped within 50 %
    assert (r.objective - r.bound) / r.objective <= 0.5
    assert "gap tolerance" in r.message
    assert evaluate(inst, r.solution, None).feasible
    a = _solve(inst, params=(("abs_gap", "400"),))  # ms
    assert a.status == Status.FEASIBLE and a.objective - a.bound <= 400
    assert a.stats["gap_tolerance"] == {"rel": 0.0, "abs": 400.0}
    # a tolerance the solver closes anyway: proven, so optimal
    z = _solve(jobshop("ft06"), params=(("gap", "0.0001"),))
    assert z.status == Status.OPTIMAL and z.objective == z.bound == 55.0


@pytest.mark.parametrize("value", ["-0.1", "x", "inf", "nan"])
def test_bad_gap_values_are_input_errors(value):
    with pytest.raises(InputError, match="--param gap"):
        _solve(jobshop("tiny"), params=(("gap", value),))


def test_hint_policy():
    from optgap.formulations.dag.cpsat import HINT_FROM_OPS, use_hint

    assert not use_hint(SolveOptions(), HINT_FROM_OPS - 1)
    assert use_hint(SolveOptions(), HINT_FROM_OPS)
    assert use_hint(SolveOptions(params=(("hint", "on"),)), 5)
    assert not use_hint(SolveOptions(params=(("hint", "off"),)), 10_000)
    with pytest.raises(InputError, match="--param hint=yes"):
        use_hint(SolveOptions(params=(("hint", "yes"),)), 5)
