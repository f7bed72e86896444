"""F1 heuristics: hand-checked cases (schedules worked out in the comments), the evaluator and
the exact optimum as referees on random instances, and the Gantt chart."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from optgap.formulations.dag import cpsat
from optgap.formulations.dag.evaluate import evaluate
from optgap.formulations.dag.instance import load, slo_us
from optgap.heuristics.dag.common import HeuristicFailure, fixed_placement_schedule
from optgap.heuristics.dag.cpls import cpls
from optgap.heuristics.dag.cpop import cpop
from optgap.heuristics.dag.heft import gpu_only, heft, heft_schedule
from optgap.heuristics.dag.offload import heft_order, offload, offload_schedule
from optgap.heuristics.dag.peft import peft
from optgap.instances.dag.generate import generate
from optgap.instances.dag.strategies import dag_json
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.gantt import plot_gantt, slot_rows
from optgap.solvers.result import SolveOptions, Status

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
    ev = evaluate(inst, r.solution, SolveOptions(**kw))
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
                ev = evaluate(inst, r.solution, SolveOptions(objective=objective))
                assert ev.feasible, (name, ev.violations)
                assert ev.objective == r.objective
                assert ev.metrics["left_shifted"], name


# --------------------------------------------------------------------- a chain worked by hand

# a -> b -> c, one CPU slot and one GPU, 1 ms per transfer between them (no bytes).
#        CPU  GPU  (ms)   memory
#   a     2    6           10 MB
#   b    10    2          100 MB
#   c     3    6           20 MB
CHAIN = load(
    {
        "family": "dag",
        "devices": [{"id": "cpu0", "kind": "cpu"}, {"id": "gpu0", "kind": "gpu"}],
        "operators": [
            {"id": "a", "time_ms": {"cpu": 2, "gpu": 6}, "mem_mb": 10},
            {"id": "b", "time_ms": {"cpu": 10, "gpu": 2}, "mem_mb": 100},
            {"id": "c", "time_ms": {"cpu": 3, "gpu": 6}, "mem_mb": 20},
        ],
        "edges": [{"src": "a", "dst": "b"}, {"src": "b", "dst": "c"}],
        "links": {"latency_ms": 1},
    }
)


def _placement(r):
    return {op: s["device"] for op, s in r.solution["schedule"].items()}


def test_chain_by_hand():
    # Optimum 9: a CPU [0,2], b GPU [3,5], c CPU [6,9] (all-GPU 14, all-CPU 15, a/b GPU 12).
    assert _run(CHAIN, "cpsat").objective == 9
    # HEFT: mean times a 4, b 6, c 4.5, mean transfer 1: rank_u c 4.5, b 11.5, a 16.5.
    #   a: finish CPU 2 < GPU 6 -> CPU [0,2]. b: CPU 12, GPU 3+2 = 5 -> GPU [3,5].
    #   c: CPU ready 6 -> 9, GPU 11 -> CPU [6,9]. 9 ms, the optimum.
    r = _run(CHAIN, "heft")
    assert r.objective == 9 and _placement(r) == {"a": "cpu0", "b": "gpu0", "c": "cpu0"}
    # CPOP: rank_d a 0, b 4+1 = 5, c 5+6+1 = 12, so every priority is 16.5: the CP is the whole
    #   chain. CP device: CPU 2+10+3 = 15, GPU 6+2+6 = 14 -> all on the GPU: 14 ms.
    r = _run(CHAIN, "cpop")
    assert r.objective == 14 and set(_placement(r).values()) == {"gpu0"}
    # PEFT: OCT(c,·) = 0; OCT(b,cpu) = min(3, 6+1) = 3, OCT(b,gpu) = min(3+1, 6) = 4;
    #   OCT(a,cpu) = min(3+10, 4+2+1) = 7, OCT(a,gpu) = min(3+10+1, 4+2) = 6.
    #   a: CPU 2+7 = 9 < GPU 6+6 = 12 -> CPU. b: CPU 12+3 = 15, GPU 5+4 = 9 -> GPU.
    #   c: CPU 9+0 < GPU 11+0 -> CPU. 9 ms.
    r = _run(CHAIN, "peft")
    assert r.objective == 9 and _placement(r) == {"a": "cpu0", "b": "gpu0", "c": "cpu0"}
    # cpls: bottom levels with the fastest times: c 3, b 2+3 = 5, a 2+5 = 7.
    #   a: starts 0 on both, finishes first on the CPU -> CPU [0,2]. b: starts at 2 on the CPU,
    #   3 on the GPU (transfer) -> CPU [2,12]. c: CPU 12 < GPU 13 -> CPU [12,15]. 15 ms.
    r = _run(CHAIN, "cpls")
    assert r.objective == 15 and set(_placement(r).values()) == {"cpu0"}
    assert _run(CHAIN, "gpu-only").objective == 14
    assert _run(CHAIN, "cpu-only").objective == 15


def test_offload_chain_by_hand():
    # SLO 14 (GPU-only). Moves by memory: b, c, a. b -> CPU: the path a(6) +1 +b(10) +1 +c(6) is
    # 24 > 14, skipped by the bound. c -> CPU: 6+2+1+3 = 12 <= 14, free. a -> CPU: a [0,2],
    # b [3,5], c [6,9], free. Next pass: b -> CPU would be all-CPU, 15 > 14. Left: b, 100 MB,
    # which is the optimum (b on the CPU makes a path of at least 2+10+3 = 15).
    r = _run(CHAIN, "offload", objective="memory", slo_ms=14)
    assert r.objective == 100 and r.stats["makespan_ms"] == 9
    assert r.stats["moves"] == 2 and r.stats["passes"] == 2
    assert _run(CHAIN, "cpsat", objective="memory", slo_ms=14).objective == 100
    # SLO 15: the same two free moves, then b -> CPU costs 15-9 = 6 ms and fits: 0 MB.
    r = _run(CHAIN, "offload", objective="memory", slo_ms=15)
    assert r.objective == 0 and r.stats["moves"] == 3 and r.stats["makespan_ms"] == 15


def test_offload_stops_at_the_time_limit_with_the_schedule_so_far():
    # with the deadline already passed it tries no move and answers its start: GPU-only, 14 ms
    # (within SLO 15), all 10 + 100 + 20 = 130 MB on the GPU (the full greedy reaches 0 MB above)
    options = SolveOptions(time_limit_s=0, objective="memory", slo_ms=15)
    r = registry.solve("dag", "offload", CHAIN, options)
    assert r.status == Status.FEASIBLE and r.objective == 130 and r.stats["moves"] == 0
    assert r.stats["schedules_evaluated"] == 0  # no trial schedule is computed past the deadline
    assert r.stats["stopped"] == "time limit" and "time limit" in r.message
    ev = evaluate(CHAIN, r.solution, options)
    assert ev.feasible and ev.objective == 130
    # stopped before its second trial schedule: c -> CPU (free, 12 ms) is applied, a is not
    calls: list[int] = []
    sched, stats = offload_schedule(CHAIN, 15_000, lambda: bool(calls.append(1)) or len(calls) > 1)
    assert stats["moves"] == 1 and stats["stopped"] == "time limit" and len(calls) == 2
    assert stats["schedules_evaluated"] == 1  # c's trial only: the check comes before each trial
    assert sched.device == {"a": "gpu0", "b": "gpu0", "c": "cpu0"} and sched.makespan == 12_000
    full = _run(CHAIN, "offload", objective="memory", slo_ms=15)
    assert "stopped" not in full.stats and full.message == ""


def test_offload_is_memory_pattern_only():
    r = offload(CHAIN, SolveOptions(objective="latency"))
    assert r.status == Status.ERROR and "memory-pattern" in r.message
    assert registry.method("dag", "offload").objectives == ("memory",)


# ------------------------------------------------------------------------------ properties

EXACT = SolveOptions(time_limit_s=20, threads=1, seed=0)
LIST_HEURISTICS = {"heft": heft, "cpop": cpop, "peft": peft, "cpls": cpls, "gpu-only": gpu_only}


def _feasible(inst, r):
    """The independent evaluator accepts the result and reproduces its objective exactly."""
    assert r.status == Status.FEASIBLE, r.message
    ev = evaluate(inst, r.solution)
    assert ev.feasible, ev.violations
    assert ev.objective == r.objective
    return ev


def _grid(x: float) -> int:
    """ms -> µs, MB -> kB: CP-SAT's objective can be off the grid by a float rounding error."""
    return round(x * 1000)


def _check_against_exact(inst):
    exact = cpsat.solve(inst, EXACT)
    for name, fn in LIST_HEURISTICS.items():
        r = fn(inst, SolveOptions())
        if r.status == Status.ERROR:  # memory capacities can defeat a list scheduler
            assert "memory" in r.message, (name, r.message)
            continue
        ev = _feasible(inst, r)
        if exact.status == Status.OPTIMAL:
            assert _grid(ev.metrics["makespan_ms"]) >= _grid(exact.objective), name
    try:
        slo_ms = slo_us(inst, None) / 1000  # GPU-only latency
    except InputError:  # GPU-only does not fit the capacities: no default SLO
        return
    mem = SolveOptions(objective="memory", slo_ms=slo_ms)
    r = offload(inst, mem)
    ev = _feasible(inst, r)
    assert _grid(ev.metrics["makespan_ms"]) <= _grid(slo_ms)
    assert _grid(r.objective) <= _grid(_feasible(inst, gpu_only(inst, mem)).objective)
    exact_mem = cpsat.solve(inst, replace(EXACT, objective="memory", slo_ms=slo_ms))
    if exact_mem.status == Status.OPTIMAL:
        assert _grid(r.objective) >= _grid(exact_mem.objective)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 10), st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 2))
def test_generated_instances_against_the_optimum(size, seed, cpu_slots, gpus):
    _check_against_exact(generate(size, seed, cpu_slots=cpu_slots, gpus=gpus))


@settings(max_examples=50, deadline=None)
@given(dag_json(min_ops=2, max_ops=9, cpu_slots=(1, 3), gpus=(1, 2), capacity=True))
def test_restricted_and_capacitated_instances_against_the_optimum(data):
    _check_against_exact(load(data))


@settings(max_examples=30, deadline=None)
@given(dag_json(min_ops=1, max_ops=15, cpu_slots=(1, 3), gpus=(1, 2), capacity=True))
def test_fixed_placement_schedule_keeps_the_placement(data):
    inst = load(data)
    for kind in ("gpu", None):
        try:
            start = heft_schedule(inst, kind)
        except HeuristicFailure:
            continue
        # in HEFT's own order, its placement gives back exactly its schedule
        again = fixed_placement_schedule(inst, start.device, heft_order(inst, kind))
        assert again.__dict__ == start.__dict__
        sched = fixed_placement_schedule(inst, start.device)  # rank order of the placement
        assert sched.device == start.device
        sol = {
            "schedule": {
                o: {"device": sched.device[o], "start_ms": sched.start[o] / 1000}
                for o in sched.device
            }
        }
        assert evaluate(inst, sol).feasible


# ------------------------------------------------------------------------------------ plot


def test_plot_writes_readable_files(tmp_path):
    big = generate(300, 1, cpu_slots=4, gpus=2)
    r = heft(big, SolveOptions())
    png = tmp_path / "big.png"
    plot_gantt(big, r.solution, str(png), title="HEFT, 300 operators")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    r = offload(CHAIN, SolveOptions(objective="memory", slo_ms=15))
    svg = tmp_path / "chain.svg"
    plot_gantt(CHAIN, r.solution, str(svg))
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml")
    assert "SLO 15 ms" in text and "makespan 15 ms" in text  # matplotlib keeps texts as comments
    assert svg.stat().st_size > 5_000


@settings(max_examples=30, deadline=None)
@given(dag_json(min_ops=2, max_ops=12, cpu_slots=(1, 4), gpus=(1, 2), zero_times=True))
def test_slot_rows_fit_the_slots_and_never_overlap(data):
    inst = load(data)
    for fn in (heft, cpls, cpop):
        sched = fn(inst, SolveOptions()).solution["schedule"]
        rows = slot_rows(inst, sched)
        busy: dict = {}
        for op in inst.operators:
            dev, slot = rows[op.id]
            assert dev == sched[op.id]["device"] and slot < inst.device(dev).slots
            s = round(sched[op.id]["start_ms"] * 1000)
            e = s + op.time_us[inst.device(dev).kind]
            if e > s:
                busy.setdefault((dev, slot), []).append((s, e))
        for intervals in busy.values():
            intervals.sort()
            assert all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:], strict=False))


def test_plot_draws_shared_link_transfers(tmp_path):
    """A solution with lane transfers gets one row per lane and a bar per transfer, as long as its
    delay (the shipped shared-link instance, solved by HEFT, which reserves the lane)."""
    from optgap.solvers.gantt import lane_bars

    path = Path(__file__).parent.parent / "instances" / "dag" / "shared-n10-s1.json"
    inst = load(json.loads(path.read_text()))
    r = heft(inst, SolveOptions())
    bars = lane_bars(inst, r.solution)
    assert bars and sum(len(b) for b in bars.values()) == len(r.solution["transfers"])
    starts = {tuple(x["edge"]): x["start_ms"] for x in r.solution["transfers"]}
    for name, items in bars.items():
        for start, delay, edge in items:
            u, v = edge.split("->")
            a, b = (r.solution["schedule"][k]["device"] for k in (u, v))
            assert name == "-".join(sorted((a, b))) and delay > 0 and start == starts[u, v]
    svg = tmp_path / "shared.svg"
    plot_gantt(inst, r.solution, str(svg))
    text = svg.read_text()
    for name in bars:
        assert f"lane {name}" in text
    assert "red bars: transfers on a shared link" in text
