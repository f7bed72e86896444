"""F1 related machines: device speeds and per-device-id times, in the loader, the evaluator, both
exact models, the heuristics, the generator and the brute force."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from optgap.formulations.dag.evaluate import evaluate
from optgap.formulations.dag.instance import dump, load
from optgap.instances.dag.generate import generate
from optgap.instances.dag.strategies import dag_json
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

from tests.bruteforce_dag import brute_force
from tests.test_dag_trust import _Count

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
EXACT = [("cpsat", None), ("milp", "cbc"), ("milp", "highs")]
RELATED = dict(cpus=(1, 2), gpus=(1, 2), cpu_slots=(1, 1), related=True, pair_links=True)

# a -> b. cpu0 speed 1, cpu1 speed 2, gpu0 speed 4; b has its own time on cpu0.
BY_HAND = {
    "family": "dag",
    "devices": [
        {"id": "cpu0", "kind": "cpu"},
        {"id": "cpu1", "kind": "cpu", "speed": 2},
        {"id": "gpu0", "kind": "gpu", "speed": 4},
    ],
    "operators": [
        {"id": "a", "time_ms": {"cpu": 0.003, "gpu": 0.002}},
        {"id": "b", "time_ms": {"cpu": 8, "cpu0": 1}},
    ],
    "edges": [{"src": "a", "dst": "b"}],
}


def _solve(inst, method="cpsat", backend=None, **kw):
    return registry.solve("dag", method, inst, dataclasses.replace(OPTS, backend=backend, **kw))


def _on(device, a_start=0.0, b_start=None, b_dev="cpu0"):
    return {
        "schedule": {
            "a": {"device": device, "start_ms": a_start},
            "b": {"device": b_dev, "start_ms": b_start},
        }
    }


def test_speeds_and_per_device_times_by_hand():
    inst = load(BY_HAND)
    # a: 3 µs on cpu0, 3/2 = 1.5 -> 2 µs on cpu1 (halves up), 2/4 = 0.5 -> 1 µs on gpu0
    # b: 1 ms on cpu0 (its own time), 8 / 2 = 4 ms on cpu1, no time on the GPU
    assert [inst.duration_us(inst.operators[0], d) for d in inst.devices] == [3, 2, 1]
    assert [d.id for d in inst.allowed(inst.operators[1])] == ["cpu0", "cpu1"]
    assert inst.duration_us(inst.operators[1], inst.devices[0]) == 1000
    assert inst.duration_us(inst.operators[1], inst.devices[1]) == 4000
    ev = evaluate(inst, _on("gpu0", 0, 0.001), None)
    assert ev.feasible and ev.objective == 1.001
    assert not evaluate(inst, _on("gpu0", 0, 0.0), None).feasible  # a ends at 1 µs
    assert evaluate(inst, _on("cpu1", 0, 0.002, "cpu1"), None).objective == 4.002
    assert "no time on a gpu" in evaluate(inst, _on("gpu0", 0, 1, "gpu0"), None).violations[0]
    # optimum: a on the GPU (1 µs), b on cpu0 (1 ms, free transfer): 1.001 ms
    for method, backend in EXACT:
        r = _solve(inst, method, backend)
        assert r.status == Status.OPTIMAL and r.objective == 1.001, (backend, r.objective)
    assert brute_force(inst) == 1001
    assert load(json.loads(json.dumps(dump(inst)))) == inst


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"speed": 0}, "devices[1].speed: must be > 0"),
        ({"speed": -1}, "devices[1].speed: must be > 0"),
        ({"speed": "2"}, "devices[1].speed: expected a number"),
        ({"speed": 1e9}, "devices[1].speed: expected a number in"),
    ],
)
def test_bad_speeds_are_one_line_errors(patch, message):
    data = json.loads(json.dumps(BY_HAND))
    data["devices"][1] |= patch
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(data)


def test_unknown_time_key_names_the_field():
    data = json.loads(json.dumps(BY_HAND))
    data["operators"][0]["time_ms"]["tpu0"] = 1
    with pytest.raises(InputError, match=r"operators\[0\].time_ms.tpu0: neither a device kind"):
        load(data)


def _related_cases(inst, r) -> set[str]:
    s = r.solution["schedule"]
    devs = {d.id: d for d in inst.devices}
    cases = set()
    for o in inst.operators:
        d = devs[s[o.id]["device"]]
        if d.id in o.time_dev_us:
            cases.add("per-device time used")
        elif d.speed != 1 and o.time_us[d.kind] > 0:
            cases.add("speed used")
    if (
        len({s[o.id]["device"] for o in inst.operators if devs[s[o.id]["device"]].kind == "cpu"})
        > 1
    ):
        cases.add("2 CPUs used")
    return cases


def test_related_machines_brute_force_and_both_models_agree():
    count = _Count("per-device time used", "speed used", "2 CPUs used")

    @settings(max_examples=30)
    @given(dag_json(min_ops=2, max_ops=5, **RELATED))
    def check(data):
        inst = load(data)
        truth = brute_force(inst)
        rs = [_solve(inst, m, b) for m, b in EXACT]
        assert all(r.status == Status.OPTIMAL for r in rs), [(r.backend, r.status) for r in rs]
        assert {round(r.objective * 1000) for r in rs} == {truth}, [r.objective for r in rs]
        for r in rs:
            ev = evaluate(inst, r.solution, None)
            assert (
                ev.feasible and ev.metrics["left_shifted"] and round(ev.objective * 1000) == truth
            )
            for case in _related_cases(inst, r):
                count(case)
        for name in ("heft", "peft", "cpop", "cpls", "gpu-only"):
            h = _solve(inst, name)
            ev = evaluate(inst, h.solution, None)
            assert (
                ev.feasible and ev.objective == h.objective and h.objective * 1000 >= truth - 1e-6
            )

    check()
    count.check()


def test_generated_related_instances_are_the_saga_model():
    inst = generate(20, 3, related=True)
    assert [(d.kind, d.speed) for d in inst.devices] == [("cpu", 1), ("cpu", 1), ("gpu", 4)]
    for o in inst.operators:
        assert o.time_us["cpu"] == o.time_us["gpu"]
        assert inst.duration_us(o, inst.devices[2]) == (2 * o.time_us["cpu"] + 4) // 8
    assert generate(20, 3, related=True) == inst
    r = _solve(inst, "cpsat")
    assert r.status == Status.OPTIMAL and evaluate(inst, r.solution, None).feasible


def test_same_device_booleans_equal_the_brute_force():
    """``--param edges=same``: one Boolean per edge instead of a constraint per device pair, where
    every pair has the same delay (uniform links); checked against the brute force."""
    count = _Count("uniform edge with a delay", "speed used")

    @settings(max_examples=25)
    @given(dag_json(min_ops=2, max_ops=5, cpus=(1, 2), gpus=(1, 2), related=True))
    def check(data):
        inst = load(data)
        r = _solve(inst, params=(("edges", "same"),))
        truth = brute_force(inst)
        assert r.status == Status.OPTIMAL and round(r.objective * 1000) == truth
        ev = evaluate(inst, r.solution, None)
        assert ev.feasible and round(ev.objective * 1000) == truth
        if any(inst.transfer_us("cpu0", "gpu0", e.bytes) > 0 for e in inst.edges):
            count("uniform edge with a delay")
        for case in _related_cases(inst, r) & {"speed used"}:
            count(case)

    check()
    count.check()
