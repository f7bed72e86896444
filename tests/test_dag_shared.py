"""F1 shared links (link contention): a shared link is one lane whose transfers do not overlap, in
the loader, the evaluator, the left shift, both exact models, every heuristic, the generator and
the brute force; without a shared link everything is as before.

Binding cases are counted (``_Count``): the shared optimum must be strictly above the delay-only
optimum of the same instance (both by brute force) in some drawn examples, two transfers must
meet on one lane, and both kinds of lane (the default link's, a pair's) must occur.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optgap.formulations.dag import cpsat, milp
from optgap.formulations.dag.evaluate import evaluate
from optgap.formulations.dag.instance import dump, load
from optgap.formulations.dag.schedule import left_shift_all
from optgap.heuristics.dag.common import HeuristicFailure, solution_of
from optgap.heuristics.dag.cpls import cpls_schedule
from optgap.heuristics.dag.cpop import cpop_schedule
from optgap.heuristics.dag.heft import heft_schedule
from optgap.heuristics.dag.peft import peft_schedule
from optgap.instances.dag.generate import generate, generate_json
from optgap.instances.dag.strategies import dag_json
from optgap.solvers import registry
from optgap.solvers.cli import main
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

from tests.bruteforce_dag import brute_force
from tests.test_dag_trust import _Count

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
HEURISTICS = ("heft", "peft", "cpop", "cpls", "gpu-only", "cpu-only")
SHIPPED = Path(__file__).parent.parent / "instances" / "dag" / "shared-n10-s1.json"

# a and b (1 ms each) on cpu0's two slots, c (1 ms) on gpu0; each edge moves 1 MB at 1 GB/s
# = 1 ms. Delay-only: both inputs arrive at 2 ms, c ends at 3 ms. One lane: the second transfer
# waits for the first (1-2 ms, 2-3 ms), c ends at 4 ms.
FORK = {
    "family": "dag",
    "devices": [{"id": "cpu0", "kind": "cpu", "slots": 2}, {"id": "gpu0", "kind": "gpu"}],
    "operators": [
        {"id": "a", "time_ms": {"cpu": 1}},
        {"id": "b", "time_ms": {"cpu": 1}},
        {"id": "c", "time_ms": {"gpu": 1}},
    ],
    "edges": [
        {"src": "a", "dst": "c", "bytes": 1000000},
        {"src": "b", "dst": "c", "bytes": 1000000},
    ],
    "links": {"latency_ms": 0, "bandwidth_gb_s": 1, "shared": True},
}


def _fork(shared: bool = True):
    data = copy.deepcopy(FORK)
    data["links"]["shared"] = shared
    return load(data)


def _solve(inst, method, backend=None, **kw):
    return registry.solve("dag", method, inst, dataclasses.replace(OPTS, backend=backend, **kw))


def _good():
    """A feasible, left-shifted solution of the fork by hand: a's transfer first."""
    return {
        "schedule": {
            "a": {"device": "cpu0", "start_ms": 0},
            "b": {"device": "cpu0", "start_ms": 0},
            "c": {"device": "gpu0", "start_ms": 3},
        },
        "transfers": [
            {"edge": ["a", "c"], "start_ms": 1},
            {"edge": ["b", "c"], "start_ms": 2},
        ],
    }


RAW = {
    "heft": heft_schedule,
    "peft": peft_schedule,
    "cpop": cpop_schedule,
    "cpls": cpls_schedule,
    "gpu-only": lambda inst: heft_schedule(inst, "gpu"),
    "cpu-only": lambda inst: heft_schedule(inst, "cpu"),
}


def _check_raw_schedules(inst) -> None:
    """Every list scheduler's own schedule, before the left shift (which would hide a lane it
    failed to reserve), is feasible: the lane reservations are the heuristics' own."""
    for name, build in RAW.items():
        try:
            sched = build(inst)
        except HeuristicFailure:
            continue
        ev = evaluate(inst, solution_of(inst, sched, OPTS), None)
        assert ev.feasible and ev.objective * 1000 == sched.makespan, (name, ev.violations)


def _check_model_optimum(rs, truth: int) -> None:
    """The models' own optimum (before the left shift and repair) is the truth too."""
    cp, mi = rs
    assert round(cp.stats["solver_makespan_ms"] * 1000) == truth, cp.stats
    assert round(mi.stats["solver_objective"]) == truth, mi.stats


def _plain(data: dict) -> dict:
    """The same instance with every link delay-only."""
    data = copy.deepcopy(data)
    data["links"].pop("shared", None)
    for p in data["links"].get("pairs", []):
        p.pop("shared", None)
    return data


# ------------------------------------------------------------------------------- by hand


def test_fork_by_hand_every_method():
    inst, plain = _fork(), _fork(False)
    assert brute_force(plain) == 3000 and brute_force(inst) == 4000
    ev = evaluate(inst, _good(), None)
    assert ev.feasible and ev.objective == 4 and ev.metrics["left_shifted"], ev.violations
    assert ev.metrics["lane_transfers"] == 2
    assert inst.gpu_only_latency_us == 4000  # c is the only GPU operator; its inputs queue
    for method, backend in (("cpsat", None), ("milp", "cbc"), ("milp", "highs")):
        for i, shared in ((inst, 4.0), (plain, 3.0)):
            r = _solve(i, method, backend)
            assert r.status == Status.OPTIMAL and r.objective == shared, (backend, r.objective)
            ev = evaluate(i, r.solution, None)
            assert ev.feasible and ev.metrics["left_shifted"], ev.violations
            assert ("transfers" in r.solution) == (i is inst)
    for name in HEURISTICS:
        r = _solve(inst, name)
        ev = evaluate(inst, r.solution, None)
        assert ev.feasible and ev.objective == r.objective == 4, (name, ev.violations)
        assert len(r.solution["transfers"]) == 2, name
    _check_raw_schedules(inst)
    assert load(json.loads(json.dumps(dump(inst)))) == inst


def test_a_pair_lane_is_only_that_pair():
    """links.pairs[i].shared makes that pair one lane; the default link stays delay-only, and a
    pair's entry inherits nothing from the default (here the default is shared, the pair not)."""
    data = copy.deepcopy(FORK)
    data["devices"].append({"id": "gpu1", "kind": "gpu"})
    data["operators"][2]["devices"] = ["gpu1"]
    data["links"]["pairs"] = [
        {"devices": ["cpu0", "gpu1"], "latency_ms": 0, "bandwidth_gb_s": 1, "shared": True}
    ]
    data["links"]["shared"] = False
    inst = load(data)
    assert inst.lane("gpu1", "cpu0", 1) == frozenset(("cpu0", "gpu1"))
    assert inst.lane("cpu0", "gpu0", 1) is None
    assert brute_force(inst) == 4000 and _solve(inst, "cpsat").objective == 4
    data["links"]["shared"] = True
    data["links"]["pairs"][0]["shared"] = False
    inst = load(data)
    assert inst.lane("cpu0", "gpu1", 1) is None and inst.lane("cpu0", "gpu0", 1) is not None
    assert brute_force(inst) == 3000 and _solve(inst, "milp").objective == 3


def test_both_directions_are_one_lane():
    """a (cpu0) -> c (gpu0) and b (gpu0) -> d (cpu0), 1 ms each way: the two transfers share the
    lane cpu0-gpu0 although they go opposite ways; 3 ms delay-only, 4 ms shared."""
    data = copy.deepcopy(FORK)
    data["operators"] = [
        {"id": "a", "time_ms": {"cpu": 1}, "devices": ["cpu0"]},
        {"id": "b", "time_ms": {"gpu": 1}},
        {"id": "c", "time_ms": {"gpu": 1}},
        {"id": "d", "time_ms": {"cpu": 1}},
    ]
    data["edges"] = [
        {"src": "a", "dst": "c", "bytes": 1000000},
        {"src": "b", "dst": "d", "bytes": 1000000},
    ]
    inst = load(data)
    assert brute_force(inst) == 4000 and brute_force(load(_plain(data))) == 3000
    for method, backend in (("cpsat", None), ("milp", "cbc"), ("heft", None)):
        r = _solve(inst, method, backend)
        assert r.objective == 4 and evaluate(inst, r.solution, None).feasible, method
    both = {
        "schedule": {
            "a": {"device": "cpu0", "start_ms": 0},
            "b": {"device": "gpu0", "start_ms": 0},
            "c": {"device": "gpu0", "start_ms": 2},
            "d": {"device": "cpu0", "start_ms": 2},
        },
        "transfers": [
            {"edge": ["a", "c"], "start_ms": 1},
            {"edge": ["b", "d"], "start_ms": 1},
        ],
    }
    v = evaluate(inst, both, None).violations
    assert any("lane cpu0-gpu0: transfers" in x for x in v), v


def test_zero_delay_transfers_take_no_lane():
    data = copy.deepcopy(FORK)
    for e in data["edges"]:
        e["bytes"] = 0
    inst = load(data)
    assert inst.lane("cpu0", "gpu0", 0) is None
    r = _solve(inst, "cpsat")
    assert r.objective == 2 and "transfers" not in r.solution
    assert evaluate(inst, r.solution, None).feasible
    extra = r.solution | {"transfers": [{"edge": ["a", "c"], "start_ms": 1}]}
    assert "occupies no shared lane" in evaluate(inst, extra, None).violations[0]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"shared": "yes"}, r"links.shared: expected true or false"),
        ({"shared": 1}, r"links.shared: expected true or false"),
        (
            {"pairs": [{"devices": ["cpu0", "gpu0"], "shared": None}]},
            r"links.pairs\[0\].shared: expected true or false",
        ),
        ({"lanes": 1}, r"links.lanes: unknown field"),
    ],
)
def test_bad_shared_flags_are_one_line_errors(patch, message):
    data = copy.deepcopy(FORK)
    data["links"] |= patch
    with pytest.raises(InputError, match=message):
        load(data)


def test_no_shared_link_no_new_variables():
    """Without a shared link the models are the delay-only ones (no transfer variables)."""
    plain = _fork(False)
    model = cpsat.build(plain, OPTS)
    names = [v.name for v in model.model.Proto().variables]
    assert model.transfer == {} and not [n for n in names if n.startswith(("T[", "z["))]
    prob, v = milp.build(plain, OPTS)
    assert v.transfer == v.lane_w == v.lane_q == {}
    assert not [x.name for x in prob.variables() if x.name.startswith(("T_", "w_", "q_"))]
    shared = cpsat.build(_fork(), OPTS)
    assert len(shared.transfer) == 2  # and with one, they are there


# ---------------------------------------------------------------------------- evaluator


def _violations(solution) -> list[str]:
    ev = evaluate(_fork(), solution, None)
    assert not ev.feasible and ev.objective is None
    return ev.violations


def _with(**transfers):
    """The good solution with transfer entries replaced (key: edge 'ac' or 'bc')."""
    sol = _good()
    for k, entry in enumerate(sol["transfers"]):
        name = "".join(entry["edge"])
        if name in transfers:
            sol["transfers"][k] = transfers[name]
    return sol


@pytest.mark.parametrize(
    ("solution", "needle"),
    [
        # the lane: a's transfer at 1.5-2.5 ms overlaps b's at 2-3 ms
        (
            _with(ac={"edge": ["a", "c"], "start_ms": 1.5}),
            "lane cpu0-gpu0: transfers a->c and b->c",
        ),
        # a transfer before its producer ends (a ends at 1 ms)
        (_with(ac={"edge": ["a", "c"], "start_ms": 0}), "transfer a->c: starts at 0 ms, before a"),
        # the consumer before its transfer ends (b's ends at 3 ms, c starts at 2.5)
        (
            _good()
            | {"schedule": _good()["schedule"] | {"c": {"device": "gpu0", "start_ms": 2.5}}},
            "transfer b->c: c starts at 2.5 ms, before the transfer ends at 3 ms",
        ),
        # missing entries
        (_good() | {"transfers": _good()["transfers"][:1]}, "missing the transfer of edge b->c"),
        ({"schedule": _good()["schedule"]}, "missing the transfer of edge a->c"),
        # extra entries: listed twice, not an edge, an edge that crosses no lane
        (
            _good() | {"transfers": _good()["transfers"] + [_good()["transfers"][0]]},
            "transfers[2].edge: a->c listed twice",
        ),
        (
            _good() | {"transfers": _good()["transfers"] + [{"edge": ["c", "a"], "start_ms": 1}]},
            "transfers[2].edge: ['c', 'a'] is not an edge",
        ),
        # malformed values
        (_good() | {"transfers": {"a": 1}}, "transfers: expected a list"),
        (_good() | {"transfers": "x"}, "transfers: expected a list"),
        (_with(ac=[1, 2]), "transfers[0]: expected an object with exactly"),
        (_with(ac={"edge": ["a", "c"]}), "transfers[0]: expected an object with exactly"),
        (_with(ac={"edge": ["a", "c"], "start_ms": 1, "x": 0}), "transfers[0]: expected an obj"),
        (_with(ac={"edge": "a->c", "start_ms": 1}), "transfers[0].edge: 'a->c' is not an edge"),
        (_with(ac={"edge": ["a", 1], "start_ms": 1}), "transfers[0].edge:"),
        (_with(ac={"edge": ["a", "c", "d"], "start_ms": 1}), "transfers[0].edge:"),
        (_with(ac={"edge": [["a"], "c"], "start_ms": 1}), "transfers[0].edge:"),
        (_with(ac={"edge": ["a", "c"], "start_ms": math.nan}), "transfers[0]: start_ms must be"),
        (_with(ac={"edge": ["a", "c"], "start_ms": math.inf}), "transfers[0]: start_ms must be"),
        (_with(ac={"edge": ["a", "c"], "start_ms": -1}), "transfers[0]: start_ms must be"),
        (_with(ac={"edge": ["a", "c"], "start_ms": 1e300}), "transfers[0]: start_ms must be"),
        (_with(ac={"edge": ["a", "c"], "start_ms": True}), "transfers[0]: start_ms must be"),
        (_with(ac={"edge": ["a", "c"], "start_ms": "1"}), "transfers[0]: start_ms must be"),
        (_with(ac={"edge": ["a", "c"], "start_ms": None}), "transfers[0]: start_ms must be"),
        (
            _with(ac={"edge": ["a", "c"], "start_ms": 1.0005}),
            "transfers[0]: start_ms 1.0005 is not on the 1 µs grid",
        ),
    ],
)
def test_evaluator_rejects_each_violation_naming_it(solution, needle):
    v = _violations(solution)
    assert any(needle in x for x in v), v


def test_a_solution_without_lanes_may_not_state_transfers():
    plain = _fork(False)
    sol = _good()
    assert "occupies no shared lane" in evaluate(plain, sol, None).violations[0]
    sol["transfers"] = []
    assert evaluate(plain, sol, None).feasible


def test_left_shifted_metric_sees_transfers():
    """A transfer that could start earlier (b's at 2.5 ms although the lane is free from 2 ms)
    makes the schedule not left-shifted, even though it is feasible."""
    late = _good()
    late["transfers"][1]["start_ms"] = 2.5
    late["schedule"]["c"]["start_ms"] = 3.5
    ev = evaluate(_fork(), late, None)
    assert ev.feasible and not ev.metrics["left_shifted"]
    late["schedule"]["c"]["start_ms"] = 3  # c must now wait: infeasible
    assert not evaluate(_fork(), late, None).feasible


@settings(max_examples=40)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=3),
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids),
        max_leaves=8,
    )
)
def test_any_transfers_value_is_a_clean_verdict(value):
    ev = evaluate(_fork(), _good() | {"transfers": value}, None)
    assert not ev.feasible and ev.violations


# ------------------------------------------------------------------------- random, exact


@st.composite
def shared_json(draw, **kw) -> dict:
    """dag_json with shared links: the default link, some pairs, or both. To reach the cases
    where lanes bind (an optimum avoids transfers where it can), some operators are pinned to one
    device they can use and some extra edges with bytes are added."""
    data = draw(dag_json(**kw))
    devices = {d["id"]: d["kind"] for d in data["devices"]}
    for op in data["operators"]:
        usable = [
            d
            for d, kind in devices.items()
            if (kind in op["time_ms"] or d in op["time_ms"]) and d in op.get("devices", [d])
        ]
        if usable and draw(st.booleans()):
            op["devices"] = [draw(st.sampled_from(usable))]
    have = {(e["src"], e["dst"]) for e in data["edges"]}
    ids = [op["id"] for op in data["operators"]]
    for j in range(1, len(ids)):
        for i in range(j):
            if (ids[i], ids[j]) not in have and draw(st.integers(0, 3)) == 0:
                data["edges"].append(
                    {"src": ids[i], "dst": ids[j], "bytes": draw(st.integers(1, 40)) * 1000}
                )
    data["links"]["bandwidth_gb_s"] = draw(st.sampled_from([0.5, 1.0, 4.0]))
    mode = draw(st.sampled_from(["default", "pairs", "both"]))
    if mode != "pairs":
        data["links"]["shared"] = True
    for p in data["links"].get("pairs", []):
        if mode != "default":
            p["shared"] = draw(st.booleans())
    return data


SMALL = dict(min_ops=4, max_ops=5, cpu_slots=(1, 2), gpus=(1, 2), pair_links=True)


def _lane_cases(inst, solution) -> set[str]:
    device = {i: s["device"] for i, s in solution["schedule"].items()}
    lanes: dict[frozenset, int] = {}
    cases = set()
    for e in inst.edges:
        lane = inst.lane(device[e.src], device[e.dst], e.bytes)
        if lane is not None:
            lanes[lane] = lanes.get(lane, 0) + 1
            cases.add("pair lane used" if lane in inst.pair_links else "default lane used")
    if any(k >= 2 for k in lanes.values()):
        cases.add("two transfers on one lane")
    return cases


def test_shared_links_brute_force_and_both_models_agree():
    count = _Count(
        "contention binds",
        "two transfers on one lane",
        "pair lane used",
        "default lane used",
    )

    @settings(max_examples=50)
    @given(shared_json(**SMALL))
    def check(data):
        inst = load(data)
        truth = brute_force(inst)
        plain = brute_force(load(_plain(data)))
        assert truth >= plain  # contention only adds constraints
        if truth > plain:
            count("contention binds")
        rs = [_solve(inst, "cpsat"), _solve(inst, "milp", "cbc")]
        assert all(r.status == Status.OPTIMAL for r in rs), [(r.backend, r.status) for r in rs]
        assert [round(r.objective * 1000) for r in rs] == [truth] * 2, [r.objective for r in rs]
        _check_model_optimum(rs, truth)
        _check_raw_schedules(inst)
        for r in rs:
            ev = evaluate(inst, r.solution, None)
            assert ev.feasible and ev.metrics["left_shifted"], ev.violations
            assert round(ev.objective * 1000) == truth
            for case in _lane_cases(inst, r.solution):
                count(case)
        for name in HEURISTICS:
            h = _solve(inst, name)
            ev = evaluate(inst, h.solution, None)
            assert ev.feasible and ev.metrics["left_shifted"], (name, ev.violations)
            assert ev.objective == h.objective and h.objective * 1000 >= truth

    check()
    count.check()


def test_shared_links_memory_pattern_agrees_with_brute_force():
    """Memory pattern at the delay-only optimum as SLO (contention can make it infeasible) or a
    little above the shared optimum (feasible)."""
    count = _Count("contention makes the SLO infeasible", "feasible under contention")

    @settings(max_examples=40)
    @given(shared_json(**SMALL), st.booleans(), st.integers(0, 20))
    def check(data, tight, slack):
        inst = load(data)
        shared, plain = brute_force(inst), brute_force(load(_plain(data)))
        slo = plain if tight else shared + slack
        truth = brute_force(inst, "memory", slo)
        count(
            "feasible under contention"
            if truth is not None
            else "contention makes the SLO infeasible"
        )
        for method, backend in (("cpsat", None), ("milp", "cbc")):
            r = _solve(inst, method, backend, objective="memory", slo_ms=slo / 1000)
            if truth is None:
                assert r.status == Status.INFEASIBLE, (backend, r.status, r.message)
                continue
            assert r.status == Status.OPTIMAL and round(r.objective * 1000) == truth, r.message
            opts = SolveOptions(objective="memory", slo_ms=slo / 1000)
            assert evaluate(inst, r.solution, opts).feasible

    check()
    count.check()


@settings(max_examples=15)
@given(shared_json(**SMALL), st.integers(0, 30), st.integers(1, 20))
def test_left_shift_undoes_a_delay_with_transfers(data, at, delay):
    """Delay every operator and transfer starting at or after ``at`` µs by ``delay``: still
    feasible; the left shift brings it back to a left-shifted schedule, nothing later."""
    inst = load(data)
    r = _solve(inst, "heft")
    sched = r.solution["schedule"]
    device = {i: s["device"] for i, s in sched.items()}
    start = {i: round(s["start_ms"] * 1000) for i, s in sched.items()}
    transfer = {
        tuple(x["edge"]): round(x["start_ms"] * 1000) for x in r.solution.get("transfers", [])
    }
    late = {i: t + delay * (t >= at) for i, t in start.items()}
    late_t = {k: t + delay * (t >= at) for k, t in transfer.items()}

    def sol(s, t):
        return {
            "schedule": {i: {"device": device[i], "start_ms": s[i] / 1000} for i in s},
            "transfers": [{"edge": list(k), "start_ms": v / 1000} for k, v in t.items()],
        }

    assert evaluate(inst, sol(late, late_t), None).feasible
    back, back_t = left_shift_all(inst, device, late, late_t)
    ev = evaluate(inst, sol(back, back_t), None)
    assert ev.feasible and ev.metrics["left_shifted"], ev.violations
    assert all(back[i] <= late[i] for i in late) and all(back_t[k] <= late_t[k] for k in late_t)


@settings(max_examples=20)
@given(shared_json(min_ops=1, max_ops=10, cpu_slots=(1, 3), gpus=(1, 2), gpu_slots=(1, 2),
                   capacity=True, pair_links=True, zero_times=True))  # fmt: skip
def test_default_slo_equals_the_gpu_only_heuristic_with_lanes(data):
    """The instance module's GPU-only schedule reserves lanes as the `gpu-only` heuristic does."""
    inst = load(data)
    r = _solve(inst, "gpu-only")
    try:
        default = inst.gpu_only_latency_us
    except InputError:
        assert r.status == Status.ERROR
        return
    assert r.stats["makespan_ms"] + r.stats.get("left_shift_ms", 0) == pytest.approx(
        default / 1000, abs=1e-9
    )


# ------------------------------------------------------------------- generator, CLI, file


def test_generator_marks_the_default_link_shared():
    plain, shared = generate_json(6, 2), generate_json(6, 2, shared=True)
    assert "shared" not in plain["links"] and shared["links"]["shared"] is True
    assert shared["operators"] == plain["operators"] and shared["edges"] == plain["edges"]
    assert generate(6, 2, shared=True) == load(shared)
    with pytest.raises(ValueError, match="shared"):
        generate_json(6, 2, shared="yes")


def test_shipped_shared_instance_solves_and_evaluates(tmp_path, capsys):
    """`optgap solve` with cpsat, milp and heft; `optgap evaluate` accepts each output; the two
    exact models agree, and contention binds (above the delay-only optimum)."""
    data = json.loads(SHIPPED.read_text())
    assert data["links"]["shared"] is True
    plain = _solve(load(_plain(data)), "cpsat")
    objectives = {}
    for method in ("cpsat", "milp", "heft"):
        out = tmp_path / f"{method}.json"
        assert main(["solve", str(SHIPPED), "--method", method, "--out", str(out)]) == 0
        assert main(["evaluate", str(SHIPPED), str(out)]) == 0
        text = capsys.readouterr().out
        assert "evaluator  feasible" in text and "agrees" in text, text
        result = json.loads(out.read_text())
        assert result["solution"]["transfers"], method
        objectives[method] = (result["status"], result["objective"])
    assert objectives["cpsat"] == objectives["milp"] == ("optimal", objectives["cpsat"][1])
    assert plain.status == Status.OPTIMAL and objectives["cpsat"][1] > plain.objective
    assert objectives["heft"][1] >= objectives["cpsat"][1]
