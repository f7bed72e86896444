"""F1 heuristics on hand-checked cases (schedules worked out in the comments)."""

from __future__ import annotations

from hypothesis import given

from formulations.dag.evaluate import evaluate
from formulations.dag.instance import load
from solvers import registry
from solvers.errors import InputError
from solvers.result import SolveOptions, Status
from tests.strategies import dag_json

# Two independent operators, one CPU slot. x: GPU 5, CPU 50 (100 MB); y: GPU 1, CPU 10 (10 MB).
TWO = load(
    {
        "family": "dag",
        "devices": [{"id": "cpu0", "kind": "cpu"}, {"id": "gpu0", "kind": "gpu"}],
        "operators": [
            {"id": "x", "time_ms": {"cpu": 50, "gpu": 5}, "mem_mb": 100},
            {"id": "y", "time_ms": {"cpu": 10, "gpu": 1}, "mem_mb": 10},
        ],
    }
)


def _run(inst, method, **kw):
    r = registry.solve("dag", method, inst, SolveOptions(time_limit_s=20, **kw))
    assert r.status == Status.FEASIBLE or r.stats["kind"] == "exact"
    ev = evaluate(inst, r.solution)
    assert ev.feasible and ev.objective == r.objective
    return r


def test_list_schedulers_by_hand():
    # HEFT: rank x = 27.5 > y = 5.5; x -> GPU [0,5]; y: GPU finish 6 < CPU 10 -> GPU. 6 ms.
    # CPOP: CP = [x], CP device GPU; y by EFT -> GPU. 6 ms. PEFT: OCT = 0, same choices. 6 ms.
    # cpls: x first (bl 5 > 1), starts 0 on both, earlier finish -> GPU; y starts earliest on the
    # CPU (0 < 5) -> CPU [0, 10]. 10 ms. The optimum is 6 (both on the GPU).
    assert _run(TWO, "cpsat").objective == 6
    for name in ("heft", "cpop", "peft", "gpu-only"):
        assert _run(TWO, name).objective == 6, name
    assert _run(TWO, "cpls").objective == 10
    assert _run(TWO, "cpu-only").objective == 60


def test_offload_by_hand():
    # SLO 6 (GPU-only): moving x gives 50 ms, moving y 10 ms: no move fits -> 110 MB.
    assert _run(TWO, "offload", objective="memory", slo_ms=6).objective == 110
    # SLO 10: y -> CPU keeps 10 ms, saves 10 MB -> 100 MB; the optimum is the same.
    assert _run(TWO, "offload", objective="memory", slo_ms=10).objective == 100
    assert _run(TWO, "cpsat", objective="memory", slo_ms=10).objective == 100
    # SLO 50: y saves 10 MB per 4 ms (2.5/ms), x 100 MB per 44 ms (2.27/ms): greedy moves y,
    # then x no longer fits (60 ms on the one CPU slot) -> 100 MB; the optimum moves x -> 10 MB.
    assert _run(TWO, "offload", objective="memory", slo_ms=50).objective == 100
    assert _run(TWO, "cpsat", objective="memory", slo_ms=50).objective == 10


def test_offload_fails_cleanly_when_nothing_meets_the_slo():
    r = registry.solve("dag", "offload", TWO, SolveOptions(objective="memory", slo_ms=5.5))
    assert r.status == Status.ERROR and "meets the SLO" in r.message


def test_cpop_keeps_the_critical_path_on_one_device():
    # chain a -> b -> c heavy on GPU, d a light side branch. CP = a, b, c on the GPU.
    inst = load(
        {
            "family": "dag",
            "devices": [{"id": "cpu0", "kind": "cpu", "slots": 2}, {"id": "gpu0", "kind": "gpu"}],
            "operators": [
                {"id": "a", "time_ms": {"cpu": 8, "gpu": 2}},
                {"id": "b", "time_ms": {"cpu": 8, "gpu": 2}},
                {"id": "c", "time_ms": {"cpu": 8, "gpu": 2}},
                {"id": "d", "time_ms": {"cpu": 1, "gpu": 1}},
            ],
            "edges": [{"src": "a", "dst": "b"}, {"src": "b", "dst": "c"}, {"src": "a", "dst": "d"}],
            "links": {"latency_ms": 0.5},
        }
    )
    r = _run(inst, "cpop")
    devices = {op: s["device"] for op, s in r.solution["schedule"].items()}
    assert devices["a"] == devices["b"] == devices["c"] == "gpu0"
    assert r.objective == 6  # a, b, c back to back; d fits in the CPU or after a on the GPU


@given(
    dag_json(min_ops=2, max_ops=12, cpu_slots=(1, 4), gpus=(1, 2), capacity=True, zero_times=True)
)
def test_every_heuristic_is_checked_by_the_evaluator(data):
    inst = load(data)
    for objective in ("latency", "memory"):
        for name, m in registry.methods("dag").items():
            if m.kind != "heuristic" or objective not in m.objectives:
                continue
            try:
                r = registry.solve("dag", name, inst, SolveOptions(objective=objective))
            except InputError:  # memory pattern, and GPU-only (the default SLO) does not fit
                assert objective == "memory"
                continue
            assert r.status in (Status.FEASIBLE, Status.ERROR)
            if r.status == Status.FEASIBLE:
                ev = evaluate(inst, r.solution)
                assert ev.feasible, (name, ev.violations)
                assert ev.objective == r.objective
