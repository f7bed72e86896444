"""Hostile input never reaches a traceback or an internal error (exit 3).

Per family: mutations of the shipped instance files (tests/fuzzing.py: deleted, renamed and
duplicated keys, wrong types, NaN/Infinity/huge numbers, unicode, deep nesting, truncation,
garbage, cycles, unknown and duplicate ids) give exit 0 or exit 2 with one line; mutations of a
heuristic's solution file give exit 0, 1 or 2. Then the crash signatures found by the long run
(benchmarks/fuzz.py), each as a file of its own, must be a one-line error naming the field.
The CLI runs in-process (tests/fuzzing.run_cli), so a case costs milliseconds.
"""

from __future__ import annotations

import functools
import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzzing import FAMILIES, base_solution, mutate_text, run_cli, shipped

TMP = Path(tempfile.mkdtemp(prefix="optgap-test-fuzz-"))
# the smallest shipped instance of each family: the seed of solution mutations
SMALL = {
    "dag": "fork-3.json",
    "workflow": "random-n12-s0.json",
    "stages": "bert-base-sine-x0.1.json",
    "pipeload": "toy-4.json",
    "steering": "chsh-local.json",
}


def _one_line_error(code: int, err: str) -> None:
    assert "internal error" not in err and "Traceback" not in err, err
    if code == 2:
        assert err.startswith("optgap: error: ") and err.count("\n") == 1, err


def _write(text: str, name: str) -> Path:
    path = TMP / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@functools.cache
def _solution(family: str) -> tuple[Path, str]:
    inst = shipped(family)[[p.name for p in shipped(family)].index(SMALL[family])]
    sol = base_solution(family, inst, TMP / f"base-{family}.json")
    assert sol is not None, f"no heuristic solution of {inst}"
    return inst, sol.read_text()


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=max(60, settings.default.max_examples))
@given(data=st.data())
def test_mutated_instances_give_acceptance_or_a_one_line_error(family, data):
    files = shipped(family)
    source = data.draw(st.sampled_from(files), label="file")
    rng = data.draw(st.randoms(use_true_random=False), label="rng")
    text, how = mutate_text(source.read_text(), rng)
    code, err = run_cli(["validate", str(_write(text, f"inst-{family}.json"))])
    assert code in (0, 2), (how, code, err)
    _one_line_error(code, err)


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=max(60, settings.default.max_examples))  # a case costs milliseconds
@given(rng=st.randoms(use_true_random=False))
def test_mutated_solutions_give_acceptance_rejection_or_a_one_line_error(family, rng):
    inst, text = _solution(family)
    mutated, how = mutate_text(text, rng)
    code, err = run_cli(["evaluate", str(inst), str(_write(mutated, f"sol-{family}.json"))])
    assert code in (0, 1, 2), (how, code, err)
    _one_line_error(code, err)


def test_the_mutations_reach_every_outcome():
    """The mutator is not so gentle that everything is valid, nor so rough that nothing is."""
    rng = random.Random(0)
    codes = []
    for family in FAMILIES:
        for _ in range(12):
            text, _how = mutate_text(shipped(family)[0].read_text(), rng)
            codes.append(run_cli(["validate", str(_write(text, "reach.json"))])[0])
    assert codes.count(0) >= 3 and codes.count(2) >= 30, codes


# ------------------------------------------------------------------ the signatures found


def _dag() -> dict:
    return json.loads((Path(shipped("dag")[0].parent) / "fork-3.json").read_text())


def _stages() -> dict:
    return json.loads((shipped("stages")[0].parent / "bert-base-sine-x0.1.json").read_text())


def _with(data: dict, path: tuple, value) -> str:
    d = data
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    return json.dumps(data)


def _dag_op_time(value) -> str:
    data = _dag()
    data["operators"][0]["time_ms"] = {k: value for k in data["operators"][0]["time_ms"]}
    return json.dumps(data)


SIGNATURES = [
    # (name, file text, what the message must name)
    ("deep array", "[" * 2000 + "]" * 2000, "nested too deeply"),
    ("deep object", '{"a":' * 2000 + "1" + "}" * 2000, "nested too deeply"),
    ("5000 digits", json.dumps(_dag()).replace('"slots": 1', '"slots": 1' + "0" * 5000, 1), None),
    ("10**400", _with(_dag(), ("slo_ms",), 10**400), "slo_ms"),
    ("slo 1e306", _with(_dag(), ("slo_ms",), 1e306), "slo_ms"),
    ("op time 6e300", _dag_op_time(6e300), "time_ms"),
    ("op time 1e10 ms", _dag_op_time(1e10), "time_ms"),
    ("list device id", None, "links.pairs[0].devices[0]"),
    ("slots 1e8", _with(_dag(), ("devices", 0, "slots"), 10**8), "slots"),
    ("stages scale 1e300", _with(_stages(), ("arrivals", "scale"), 1e300), "scale"),
    ("stages start_s 1e30", _with(_stages(), ("arrivals", "start_s"), 1e30), "start_s"),
    ("stages duration_s 1e19", _with(_stages(), ("arrivals", "duration_s"), 10**19), "duration_s"),
    ("lone surrogate", '{"family": "dag", "name": "\\ud800"}', "surrogate"),
]


def _signature_text(name: str, text: str | None) -> str:
    if text is not None:
        return text
    data = _dag()
    ids = [d["id"] for d in data["devices"]]
    data["links"] = {"pairs": [{"devices": [[ids[0]], ids[-1]], "latency_ms": 1}]}
    return json.dumps(data)


@pytest.mark.parametrize("name,text,field", SIGNATURES, ids=[s[0] for s in SIGNATURES])
def test_each_crash_signature_is_a_one_line_error(name, text, field):
    code, err = run_cli(["validate", str(_write(_signature_text(name, text), "sig.json"))])
    assert code == 2, err
    _one_line_error(code, err)
    if field:
        assert field in err, err


def test_a_bound_names_the_largest_value_allowed():
    code, err = run_cli(["validate", str(_write(_dag_op_time(6e300), "big.json"))])
    assert code == 2 and "at most 1e+09" in err and "10^12 µs" in err, err
    # the largest value itself is accepted, the next representable one is not
    assert run_cli(["validate", str(_write(_dag_op_time(1e9), "edge.json"))])[0] == 0


def test_a_size_limit_is_checked_and_can_be_raised(monkeypatch):
    path = _write(_with(_dag(), ("devices", 0, "slots"), 2000), "slots.json")
    code, err = run_cli(["validate", str(path)])
    assert code == 2 and "dag.slots" in err and "exceeds the limit 1000" in err, err
    code, err = run_cli(["--limit", "dag.slots=5000", "validate", str(path)])
    assert code == 0, err
    monkeypatch.delenv("OPTGAP_LIMITS", raising=False)
    monkeypatch.setenv("OPTGAP_LIMITS", "dag.slots=1999")
    assert run_cli(["validate", str(path)])[0] == 2
    code, err = run_cli(["--limit", "dag.nope=3", "validate", str(path)])
    assert code == 2 and "unknown limit" in err, err


def test_stages_rates_with_a_huge_window_is_refused_before_allocating():
    data = _stages()
    data["arrivals"] = {"window_s": 10**9, "rates": [1.0, 2.0]}
    code, err = run_cli(["validate", str(_write(json.dumps(data), "win.json"))])
    assert code == 2 and "stages.seconds" in err, err


def test_steering_huge_dim_is_refused_before_allocating():
    data = {"family": "steering", "version": 1, "quantity": "robustness"}
    data |= {"state": {"kind": "phi-plus", "dim": 131}, "alice": [{"mub": 0}]}
    code, err = run_cli(["validate", str(_write(json.dumps(data), "dim.json"))])
    assert code == 2 and "steering.dim" in err, err


def _solution_with(family: str, edit) -> str:
    data = json.loads(_solution(family)[1])
    edit(data)
    return json.dumps(data)


def _first_op(data):
    return next(iter(data["solution"]["schedule"].values()))


SOLUTION_SIGNATURES = [
    ("dag", "NaN start", lambda d: _first_op(d).update(start_ms=float("nan"))),
    ("dag", "Infinity start", lambda d: _first_op(d).update(start_ms=float("inf"))),
    ("dag", "10**400 start", lambda d: _first_op(d).update(start_ms=10**400)),
    ("dag", "list device", lambda d: _first_op(d).update(device=["cpu"])),
    ("dag", "dict device", lambda d: _first_op(d).update(device={"a": 1})),
    ("dag", "string objective", lambda d: d.update(objective="fast")),
    ("dag", "list objective", lambda d: d.update(objective=[1])),
    ("dag", "10**400 objective", lambda d: d.update(objective=10**400)),
    ("pipeload", "NaN everywhere", lambda d: d["solution"].update(budget_mb=float("nan"))),
    ("stages", "Infinity VMs", lambda d: d["solution"]["vms"][0].__setitem__(0, float("inf"))),
    ("stages", "10**15 VMs", lambda d: d["solution"]["vms"][0].__setitem__(0, 10**15)),
    ("workflow", "huge slo", lambda d: d["solution"].update(slo_ms=10**400)),
]


@pytest.mark.parametrize(
    "family,name,edit", SOLUTION_SIGNATURES, ids=[f"{s[0]}-{s[1]}" for s in SOLUTION_SIGNATURES]
)
def test_each_solution_crash_signature_is_a_rejection_or_a_one_line_error(family, name, edit):
    inst, _ = _solution(family)
    path = _write(_solution_with(family, edit), f"solsig-{family}.json")
    code, err = run_cli(["evaluate", str(inst), str(path)])
    assert code in (1, 2), (code, err)
    _one_line_error(code, err)
