"""F1 lower bounds (formulations/dag/bounds.py): each one never exceeds the brute-force optimum,
on classic (kinds, slots, capacities), related-machine (speeds, per-device times, per-pair
links) and shared-link instances, and is tight often enough that a bound one unit too high would
be caught. Bound 5 (the placement MIP) is checked the same way, solved to its end."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from optgap.formulations.dag import bounds as B
from optgap.formulations.dag.instance import load
from optgap.instances.dag.strategies import dag_json
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

from tests.bruteforce_dag import brute_force
from tests.test_dag_trust import _Count

CLASSIC = dict(min_ops=1, max_ops=5, cpu_slots=(1, 2), gpus=(1, 2), capacity=True, zero_times=True)
RELATED = dict(min_ops=1, max_ops=5, cpus=(1, 2), gpus=(1, 1), related=True, pair_links=True)
NAMES = ("critical_path", "work", "energetic", "lp", "mip")


def _mip(inst) -> int | None:
    mip = B.PlacementMip(inst, 30.0)
    mip.wait()
    value = mip.result()
    assert mip.stats["status"] == "Optimal", mip.stats  # tiny instances: solved to the end
    return value


def _check_all(data, count) -> None:
    inst = load(data)
    truth = brute_force(inst)
    if truth is None:  # the capacities admit no schedule: any bound is vacuous
        return
    b = replace(B.bounds(inst), mip=_mip(inst))
    values = {name: getattr(b, name) for name in NAMES}
    assert values["lp"] is not None and values["mip"] is not None
    for name, v in values.items():
        assert v <= truth, (name, v, truth, values)
        if v == truth:
            count(f"{name} tight")
    if any(o.time_dev_us for o in inst.operators) and values["lp"] == truth:
        count("lp tight with a per-device time")
    if any(d.speed != 1 for d in inst.devices) and values["lp"] == truth:
        count("lp tight with a speed")
    if any(d.slots > 1 for d in inst.devices) and values["lp"] == truth:
        count("lp tight with slots")
    if values["lp"] > max(values["critical_path"], values["work"]):
        count("lp above the static bounds")
    if values["energetic"] > max(values["critical_path"], values["work"]):
        count("energetic above critical path and work")
    if values["mip"] > values["lp"]:
        count("mip above the lp")
    if values["mip"] == truth and any(d.slots > 1 for d in inst.devices):
        count("mip tight with slots")
    if inst.has_shared_links and values["mip"] == truth:
        count("mip tight with a shared link")
    assert B.lower_bound(inst) == max(v for k, v in values.items() if k != "mip")


def test_bounds_below_the_brute_force_classic():
    count = _Count(
        *(f"{n} tight" for n in NAMES),
        "lp above the static bounds",
        "lp tight with slots",
        "mip above the lp",
        "mip tight with slots",
    )

    @settings(max_examples=30)
    @given(dag_json(**CLASSIC))
    def check(data):
        _check_all(data, count)

    check()
    count.check()


def test_bounds_below_the_brute_force_related():
    count = _Count(
        "critical_path tight",
        "lp tight",
        "lp above the static bounds",
        "lp tight with a per-device time",
        "lp tight with a speed",
        "mip tight",
        "mip above the lp",
    )

    @settings(max_examples=30)
    @given(dag_json(**RELATED))
    def check(data):
        _check_all(data, count)

    check()
    count.check()


def test_bounds_below_the_brute_force_shared_links():
    """Lane contention only adds delay: every bound (the LP's lane-load row included) stays
    below the optimum."""
    count = _Count("mip tight with a shared link", "mip above the lp")

    @settings(max_examples=20)
    @given(dag_json(**CLASSIC))
    def check(data):
        data["links"] = {**data.get("links", {}), "shared": True}
        data["links"].setdefault("latency_ms", 0.005)
        _check_all(data, count)

    check()
    count.check()


def _gpu_pair_into_cpu() -> dict:
    """g1, g2 -> c: g1 and g2 only on the one GPU (5 ms each), c only on the CPU (10 ms)."""
    return {
        "family": "dag",
        "devices": [{"id": "cpu0", "kind": "cpu"}, {"id": "gpu0", "kind": "gpu"}],
        "operators": [
            {"id": "g1", "time_ms": {"gpu": 5}},
            {"id": "g2", "time_ms": {"gpu": 5}},
            {"id": "c", "time_ms": {"cpu": 10}},
        ],
        "edges": [{"src": "g1", "dst": "c"}, {"src": "g2", "dst": "c"}],
    }


def test_work_rows_by_hand():
    """g1, g2 -> c, g1 and g2 only on the one GPU (5 ms each), c only on the CPU (10 ms), no
    transfer delay. Critical path 5 + 10 = 15 ms and the old LP said the same (S_c ≥ 5); the GPU
    must run g1 and g2 one after the other before c starts, so the optimum is 20 ms, which the
    ancestor-work row S_c ≥ (5 + 5) / 1 gives to the LP. With two GPU slots the same row only
    gives S_c ≥ 10 / 2 = 5: the bound is 15 ms, and so is the optimum."""
    data = _gpu_pair_into_cpu()
    inst = load(data)
    b = B.bounds(inst)
    assert b.critical_path == 15_000 and b.lp == 20_000 == brute_force(inst)
    data["devices"][1]["slots"] = 2
    two = load(data)
    assert B.bounds(two).lp == 15_000 == brute_force(two)


def test_mip_by_hand():
    """Two independent operators a, b: 1 ms on the GPU, 3 ms on the CPU (one slot each). Any
    placement: both on the GPU 2 ms, one on each 3 ms, both on the CPU 6 ms: optimum 2 ms.
    The LP splits each 3/4 GPU, 1/4 CPU: durations 1.5 ms, loads 1.5 ms on the GPU and 1.5 ms on
    the CPU: 1.5 ms. The MIP must pick whole devices: 2 ms, the optimum."""
    data = {
        "family": "dag",
        "devices": [{"id": "cpu0", "kind": "cpu"}, {"id": "gpu0", "kind": "gpu"}],
        "operators": [{"id": i, "time_ms": {"cpu": 3, "gpu": 1}} for i in "ab"],
        "edges": [],
    }
    inst = load(data)
    assert B.bounds(inst).lp == 1500
    assert _mip(inst) == 2000 == brute_force(inst)


def test_energetic_window_by_hand():
    """a -> {b, c, d} -> e on one CPU with two slots, every operator 1 ms. Critical path 3 ms,
    work ceil(5 / 2) = 2.5 ms; the window after a (head 1 ms) and before e (tail 1 ms) holds b, c
    and d on two slots: C >= 1 + 1 + ceil(3 / 2) = 3.5 ms, above both. The optimum is 4 ms (a,
    then b and c in parallel, then d, then e)."""
    ops = ["a", "b", "c", "d", "e"]
    data = {
        "family": "dag",
        "devices": [{"id": "cpu0", "kind": "cpu", "slots": 2}],
        "operators": [{"id": i, "time_ms": {"cpu": 1}} for i in ops],
        "edges": [{"src": "a", "dst": m} for m in "bcd"] + [{"src": m, "dst": "e"} for m in "bcd"],
    }
    inst = load(data)
    b = B.bounds(inst)
    assert (b.critical_path, b.work, b.energetic) == (3000, 2500, 3500)
    assert brute_force(inst) == 4000
    assert b.lp == 3000 and b.best == 3500


def test_model_takes_the_bound_in_its_own_time_unit():
    """Durations in whole ms (GCD 1000 µs), a bound equal to the optimum and warm starts above
    it: with ``--param lp_bound=on`` the bound enters the model as ceil(LB / 1000) and CP-SAT's
    own makespan variable ends at the brute-force optimum (a bound left in µs would pin it to the
    warm start's horizon, one unit too high would leave it one unit above the optimum)."""
    data = {
        "family": "dag",
        "devices": [{"id": "cpu0", "kind": "cpu", "slots": 2}, {"id": "gpu0", "kind": "gpu"}],
        "operators": [
            {"id": f"o{i}", "time_ms": {"cpu": c, "gpu": g}}
            for i, (c, g) in enumerate([(6, 2), (6, 2), (4, 3), (6, 4), (4, 4)])
        ],
        "edges": [
            {"src": a, "dst": b}
            for a, b in [("o0", "o1"), ("o0", "o3"), ("o0", "o4"), ("o2", "o4"), ("o3", "o4")]
        ],
        "links": {"latency_ms": 2},
    }
    inst = load(data)
    truth = brute_force(inst)
    assert B.lower_bound(inst) == truth  # tight here
    options = SolveOptions(time_limit_s=20, threads=1, seed=0, params=(("lp_bound", "on"),))
    warm = [registry.solve("dag", m, inst, options).objective for m in ("heft", "peft", "cpop")]
    assert min(warm) * 1000 > truth  # the horizon is above the optimum
    r = registry.solve("dag", "cpsat", inst, options)
    assert r.stats["time_unit_us"] == 1000
    assert r.status == Status.OPTIMAL and round(r.objective * 1000) == truth
    assert round(r.stats["solver_makespan_ms"] * 1000) == truth


def test_mip_stopped_early_is_still_a_bound():
    """Stopped after one node, HiGHS's dual bound is below the MIP's optimum (a genuine partial
    bound, so returning the primal value instead would fail) and below CP-SAT's proven optimum."""
    from optgap.instances.dag.generate import generate

    stopped = 0
    for size, seed in ((40, 4), (50, 4)):
        inst = generate(size, seed)
        early = B.PlacementMip(inst, 60.0, node_limit=1)
        early.wait()
        full = B.PlacementMip(inst, 60.0)
        full.wait()
        e, f = early.result(), full.result()
        assert full.stats["status"] == "Optimal"
        r = registry.solve("dag", "cpsat", inst, SolveOptions(time_limit_s=60, threads=1, seed=0))
        assert r.status == Status.OPTIMAL
        assert e <= f <= round(r.objective * 1000), (seed, e, f, r.objective)
        if early.stats["status"] != "Optimal":
            stopped += 1
            assert e < f
    assert stopped >= 1  # the early stop happened (else this test proves nothing)


def test_cpsat_runs_the_mip_bound():
    """``--param mip_bound=on``: alone it runs first (one thread), beside the LNS on a second
    thread; its value is in the stats and enters the bound; malformed values are rejected."""
    from optgap.instances.dag.generate import generate

    inst = load(
        {
            "family": "dag",
            "devices": [{"id": "cpu0", "kind": "cpu"}, {"id": "gpu0", "kind": "gpu"}],
            "operators": [{"id": i, "time_ms": {"cpu": 3, "gpu": 1}} for i in "ab"],
            "edges": [],
        }
    )
    on = (("mip_bound", "on"),)
    r = registry.solve("dag", "cpsat", inst, SolveOptions(time_limit_s=20, threads=1, params=on))
    assert r.stats["lower_bounds_ms"]["mip"] == 2.0 and r.stats["lower_bounds_ms"]["lp"] == 1.5
    assert r.stats["mip_bound"]["status"] == "Optimal"
    assert r.status == Status.OPTIMAL and r.objective == 2.0
    off = registry.solve("dag", "cpsat", inst, SolveOptions(time_limit_s=20, threads=1))
    assert "mip_bound" not in off.stats and off.stats["lower_bounds_ms"]["mip"] is None
    mem = registry.solve(
        "dag", "cpsat", inst, SolveOptions(time_limit_s=20, objective="memory", params=on)
    )
    assert "mip_bound" not in mem.stats  # it bounds the makespan, not the memory

    big = generate(30, 0)
    both = (("mip_bound", "on"), ("lns", "on"), ("lns_iterations", "2"))
    r = registry.solve("dag", "cpsat", big, SolveOptions(time_limit_s=30, threads=2, params=both))
    assert r.stats["lns"]["iterations"] <= 2 and "mip_bound" in r.stats
    mip = r.stats["lower_bounds_ms"]["mip"]
    assert mip is not None and mip <= r.bound <= r.objective

    with pytest.raises(InputError, match=r"--param mip_bound=maybe: expected on, off or auto"):
        registry.solve(
            "dag", "cpsat", inst, SolveOptions(time_limit_s=5, params=(("mip_bound", "maybe"),))
        )


def test_mip_alone_is_stopped_before_the_lns_starts():
    """With one thread (or no LNS) the MIP runs first and is stopped before the LNS: its thread
    is no longer alive when ``_start_mip`` returns, and its value is taken once (HiGHS overran its
    own time limit inside the root node by seconds on this graph, so the caller interrupts it)."""
    import time

    from optgap.formulations.dag import cpsat
    from optgap.instances.dag.generate import generate

    inst = generate(300, 0)
    options = SolveOptions(time_limit_s=2, threads=1, params=(("mip_bound", "on"),))
    mip = cpsat._start_mip(inst, options, "latency", None, time.perf_counter(), concurrent=True)
    assert mip is not None and not mip._thread.is_alive()
    first = mip.result()
    assert first == mip.result() and mip.stats["status"] in ("Interrupted by user", "Optimal",
                                                             "Time limit reached")  # fmt: skip
    beside = cpsat._start_mip(
        inst, replace(options, threads=2), "latency", None, time.perf_counter(), concurrent=True
    )
    assert beside._thread.is_alive()  # beside the LNS it keeps running until result()
    beside.result()
    assert not beside._thread.is_alive()


def test_work_rows_are_left_out_past_their_size_limit(monkeypatch):
    """Past WORK_ROWS_ENTRIES_MAX the LP is the one without work rows (the g1, g2 -> c example
    of test_work_rows_by_hand: 15 ms, the critical path, instead of 20)."""
    data = _gpu_pair_into_cpu()
    inst = load(data)
    assert B.lp_bound(inst) == 20_000
    monkeypatch.setattr(B, "WORK_ROWS_ENTRIES_MAX", 0)
    assert B.lp_bound(inst) == 15_000


def test_mip_thread_is_stopped_when_the_lns_fails(monkeypatch):
    """An exception in the LNS must not leave HiGHS running on the second core."""
    from optgap.formulations.dag import lns
    from optgap.instances.dag.generate import generate

    made = []

    class Recorded(B.PlacementMip):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            made.append(self)

    def failing(*args, **kw):
        raise RuntimeError("planted LNS failure")

    monkeypatch.setattr(B, "PlacementMip", Recorded)
    monkeypatch.setattr(lns, "improve", failing)
    options = SolveOptions(time_limit_s=30, threads=2)
    r = registry.solve("dag", "cpsat", generate(300, 0), options)
    assert r.status == Status.ERROR and "planted LNS failure" in r.message
    assert len(made) == 1 and not made[0]._thread.is_alive()


def test_exit_with_a_running_mip_is_clean():
    """A process that exits (or is interrupted) while HiGHS still runs in its thread exits cleanly:
    without the atexit hook it aborts with "terminate called without an active exception"."""
    import subprocess
    import sys

    code = (
        "from optgap.formulations.dag import bounds as B\n"
        "from optgap.instances.dag.generate import generate\n"
        "mip = B.PlacementMip(generate(300, 0), 60.0)\n"
        "assert mip._thread.is_alive()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "terminate" not in out.stderr, out.stderr


def test_lane_load_row_by_hand():
    """a (GPU only, 1 ms) -> b0, b1, b2 (CPU only, 1 ms, three slots), 2 MB per edge over a shared
    1 GB/s link: each transfer takes 2 ms on the one lane, so the lane is busy 6 ms and the LP
    says C ≥ 6 ms (without the lane-load row: 1 + 2 + 1 = 4 ms, which is the optimum when the link
    is not shared). The shared optimum is 1 + 3·2 + 1 = 8 ms."""
    data = {
        "family": "dag",
        "devices": [{"id": "cpu0", "kind": "cpu", "slots": 3}, {"id": "gpu0", "kind": "gpu"}],
        "operators": [{"id": "a", "time_ms": {"gpu": 1}}]
        + [{"id": f"b{k}", "time_ms": {"cpu": 1}} for k in range(3)],
        "edges": [{"src": "a", "dst": f"b{k}", "bytes": 2_000_000} for k in range(3)],
        "links": {"latency_ms": 0, "bandwidth_gb_s": 1, "shared": True},
    }
    shared = load(data)
    assert B.lp_bound(shared) == 6_000 and brute_force(shared) == 8_000
    data["links"]["shared"] = False
    plain = load(data)
    assert B.lp_bound(plain) == 4_000 == brute_force(plain)
