"""F1 lower bounds (formulations/dag/bounds.py): each one never exceeds the brute-force optimum,
on classic (kinds, slots, capacities) and related-machine (speeds, per-device times, per-pair
links) instances, and is tight often enough that a bound one unit too high would be caught."""

from __future__ import annotations

from hypothesis import given, settings
from optgap.formulations.dag import bounds as B
from optgap.formulations.dag.instance import load
from optgap.instances.dag.strategies import dag_json
from optgap.solvers import registry
from optgap.solvers.result import SolveOptions, Status

from tests.bruteforce_dag import brute_force
from tests.test_dag_trust import _Count

CLASSIC = dict(min_ops=1, max_ops=5, cpu_slots=(1, 2), gpus=(1, 2), capacity=True, zero_times=True)
RELATED = dict(min_ops=1, max_ops=5, cpus=(1, 2), gpus=(1, 1), related=True, pair_links=True)
NAMES = ("critical_path", "work", "energetic", "lp")


def _check_all(data, count) -> None:
    inst = load(data)
    truth = brute_force(inst)
    if truth is None:  # the capacities admit no schedule: any bound is vacuous
        return
    b = B.bounds(inst)
    values = {name: getattr(b, name) for name in NAMES}
    assert values["lp"] is not None
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
    assert B.lower_bound(inst) == max(values.values())


def test_bounds_below_the_brute_force_classic():
    count = _Count(
        *(f"{n} tight" for n in NAMES), "lp above the static bounds", "lp tight with slots"
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
    )

    @settings(max_examples=30)
    @given(dag_json(**RELATED))
    def check(data):
        _check_all(data, count)

    check()
    count.check()


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
