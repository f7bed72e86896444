"""Verdicts: certificates decide bound and status (solvers/verdict.py), gaps near zero, and a
solution file's top level of any type is a clean error.

The toycert family (tests/plugin_toy.py) maximises x in 1..n, so the optimum is n; its evaluator
certifies an upper bound ub only when ub >= n. Every expected value below follows from that.
"""

from __future__ import annotations

import importlib
import json
import math

import pytest
from optgap.solvers import registry
from optgap.solvers.cli import main
from optgap.solvers.errors import InputError
from optgap.solvers.result import GAP_SCALE, Result, SolveOptions, Status, gap_to, relative_gap
from optgap.solvers.verdict import CERT_ATOL, CERT_RTOL, check

importlib.import_module("tests.plugin_toy")

N = 4


# ------------------------------------------------------------------ gaps near zero


def test_gaps_by_hand():
    assert GAP_SCALE == 1e-3  # the values below are derived with it
    # round-off is no gap: 2.2e-16 against an optimum of 0 (was -inf)
    assert gap_to(2.2e-16, 0.0, "max") == 0.0
    assert gap_to(0.0, 2.2e-16, "max") == 0.0
    # near 0 the gap is relative to GAP_SCALE: a violation 0.05 below an optimum of 0
    assert gap_to(-0.05, 0.0, "max") == pytest.approx(0.05 / 1e-3)
    assert gap_to(5e-4, 0.0, "min") == pytest.approx(0.5)
    assert gap_to(-5e-4, 0.0, "min") == pytest.approx(-0.5)  # better than the reference
    # away from 0 it is the plain relative gap
    assert gap_to(3.0, 1.0, "min") == pytest.approx(2.0)
    assert gap_to(1.0, 3.0, "max") == pytest.approx(2.0 / 3.0)
    assert gap_to(-2.0, -1.0, "min") == pytest.approx(-1.0)
    # relative_gap (objective against a bound): relative to max(|objective|, GAP_SCALE)
    assert relative_gap(0.0, 0.0) == 0.0
    assert relative_gap(1e-4, 0.0, "min") == pytest.approx(0.1)
    assert relative_gap(0.0, 1e-4, "max") == pytest.approx(0.1)
    assert relative_gap(2.0, 1.5, "min") == pytest.approx(0.25)
    assert relative_gap(2.0, 2.5, "min") == 0.0  # a bound beyond the objective is no gap
    assert relative_gap(1.0, None) is None
    for v in (gap_to(1.0, 0.0), gap_to(0.0, 1e-300, "max"), relative_gap(1.0, 0.0)):
        assert math.isfinite(v)


def test_compare_gaps_are_finite_when_the_optimum_is_zero():
    from optgap.solvers.compare import gaps

    def rec(method, kind, status, objective, verdict="feasible"):
        return {
            "family": "steering",
            "instance": "i",
            "method": method,
            "status": status,
            "objective": objective,
            "bound": objective if status == "optimal" else None,
            "stats": {"kind": kind},
            "options": {"objective": "value"},
            "evaluation": {"verdict": verdict},
            "size": 2,
        }

    records = [
        rec("sdp", "exact", "optimal", 0.0),
        rec("seesaw", "heuristic", "feasible", 2.2e-16),
        rec("seesaw2", "heuristic", "feasible", -0.01),
    ]
    got = {r["method"]: g for r, g, _ in gaps(records)}
    assert got == {"sdp": 0.0, "seesaw": 0.0, "seesaw2": pytest.approx(0.01 / 1e-3)}


# ------------------------------------------------------------------ certificates


def _checked(name, n=N):
    fam = registry.family("toycert")
    r = registry.solve("toycert", name, {"n": n}, SolveOptions())
    return check(fam, {"n": n}, r, SolveOptions(objective="value"))


def test_a_certificate_that_meets_the_objective_keeps_optimal():
    c = _checked("exact")
    assert c.accepted and not c.claims
    assert (c.result.status, c.result.bound, c.result.gap) == (Status.OPTIMAL, 4.0, 0.0)
    assert "certified bound 4" in c.verdict


def test_a_loose_certificate_demotes_to_feasible_with_the_certified_bound():
    c = _checked("loose")  # claims optimal and bound 4, certifies only ub = 5
    assert c.accepted
    assert c.result.status == Status.FEASIBLE
    assert c.result.bound == 5.0 and c.result.gap == pytest.approx((5 - 4) / 4)
    assert any("demoted" in x for x in c.claims)
    assert any("bound 4 is not supported" in x for x in c.claims)
    assert c.code == 0 and c.strict_code == 1


@pytest.mark.parametrize("name", ["nocert", "falsecert"])
def test_optimal_without_a_valid_certificate_is_demoted(name):
    c = _checked(name)  # falsecert: x = 3 with ub = 3 < n, which the evaluator does not certify
    assert c.accepted
    assert c.result.status == Status.FEASIBLE and c.result.bound is None and c.result.gap is None
    assert any("without a certificate" in x for x in c.claims)
    assert c.strict_code == 1


def test_the_certificate_tolerance_is_stated_and_holds_both_ways():
    assert (CERT_ATOL, CERT_RTOL) == (1e-6, 1e-6)
    fam = registry.family("toycert")
    opts = SolveOptions(objective="value")
    for n in (1, 1000):
        tol = CERT_ATOL + CERT_RTOL * n
        for ub, status in ((n + 0.5 * tol, Status.OPTIMAL), (n + 2 * tol, Status.FEASIBLE)):
            sol = {"x": n, "ub": ub}
            r = Result(
                "toycert", "exact", "python", Status.OPTIMAL, float(n), float(n), solution=sol
            )
            c = check(fam, {"n": n}, r, opts)
            assert c.result.status == status and c.result.bound == ub


def test_a_heuristic_answer_is_not_held_to_a_certificate():
    c = _checked("one")
    assert c.accepted and not c.claims
    assert (c.result.status, c.result.bound) == (Status.FEASIBLE, None)


def test_solve_reports_the_certified_bound(capsys, tmp_path):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps({"family": "toycert", "version": 1, "n": N}))
    out = tmp_path / "loose.json"
    assert main(["solve", str(inst), "--method", "loose", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "status     feasible" in text and "bound      5" in text and "gap        25.00%" in text
    saved = json.loads(out.read_text())
    assert (saved["status"], saved["bound"]) == ("feasible", 5.0)
    # --method all: only the supported optimum is 'optimal' and is the reference
    assert main(["solve", str(inst), "--method", "all"]) == 0
    rows = {
        line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line[:1].isalpha()
    }
    assert " optimal " in rows["exact"]
    for name in ("loose", "nocert", "falsecert"):
        assert " feasible " in rows[name], rows[name]
    assert "25.00%" in rows["falsecert"]  # x = 3 against the optimum 4 (max): (4 - 3) / 4
    assert "0.00%" in rows["loose"] and "75.00%" in rows["one"]  # x = 1: (4 - 1) / 4


def _file(tmp_path, name, **fields):
    base = {
        "family": "toycert",
        "method": "exact",
        "status": "optimal",
        "objective": 4.0,
        "bound": 4.0,
        "solution": {"x": 4, "ub": 4},
    }
    p = tmp_path / name
    p.write_text(json.dumps({**base, **fields}))
    return str(p)


@pytest.mark.parametrize(
    "fields,code,says",
    [
        ({}, 0, "status     optimal"),
        ({"status": "feasible", "bound": None}, 0, "bound      4"),  # the certified bound
        ({"bound": 3.5}, 1, "bound 3.5 is not supported"),  # tighter than ub = 4 certifies
        ({"solution": {"x": 4, "ub": 5}}, 1, "demoted"),  # optimal, certificate only 5
        ({"solution": {"x": 4}}, 1, "without a certificate"),
        ({"solution": {"x": 4}, "status": "feasible", "bound": None}, 0, "bound      -"),
        (
            {"solution": {"x": 3, "ub": 3}, "objective": 3.0, "bound": 3.0},
            1,
            "without a certificate",
        ),
        ({"status": "infeasible"}, 1, "evaluator accepts"),
        ({"objective": 3.0}, 1, "DISAGREES"),
        ({"solution": {"x": 9}}, 1, "INFEASIBLE"),
    ],
)
def test_evaluate_exits_1_on_claims_the_certificate_does_not_support(
    tmp_path, capsys, fields, code, says
):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps({"family": "toycert", "version": 1, "n": N}))
    assert main(["evaluate", str(inst), _file(tmp_path, "s.json", **fields)]) == code
    assert says in capsys.readouterr().out


# ------------------------------------------------------------------ solution files of any type

BAD_TOP = [
    ("objective", "4"),
    ("objective", [4]),
    ("objective", {"v": 4}),
    ("objective", True),
    ("objective", float("nan")),
    ("objective", float("inf")),
    ("objective", 10**400),
    ("bound", "x"),
    ("bound", 10**400),
    ("gap", [0]),
    ("time_s", "1"),
    ("time_s", None),
    ("status", 3),
    ("status", "great"),
    ("status", None),
    ("stats", [1]),
    ("stats", "s"),
    ("stats", {"objective_pattern": [1]}),
    ("stats", {"objective_pattern": 3}),
    ("family", 7),
    ("method", None),
    ("backend", 1),
    ("message", []),
    ("solution", [1]),
    ("solution", "x"),
]


@pytest.mark.parametrize("field,value", BAD_TOP)
def test_from_json_rejects_any_wrong_type_naming_the_field(field, value):
    d = {
        "family": "toy",
        "method": "exact",
        "status": "optimal",
        "objective": 1.0,
        "solution": {"x": 1},
        field: value,
    }
    with pytest.raises(InputError, match=f"solution file.{field}"):
        Result.from_json(d)


@pytest.mark.parametrize("field,value", BAD_TOP)
def test_evaluate_with_any_wrong_type_is_a_one_line_error(tmp_path, capsys, field, value):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps({"family": "toy", "version": 1, "n": 3}))
    sol = tmp_path / "s.json"
    d = {
        "family": "toy",
        "method": "exact",
        "status": "optimal",
        "objective": 1.0,
        "solution": {"x": 1},
        field: value,
    }
    sol.write_text(json.dumps(d))  # NaN and Infinity as Python's json writes them
    assert main(["evaluate", str(inst), str(sol)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("optgap: error: ") and field in err


def test_from_json_accepts_a_written_result():
    r = registry.solve("toy", "exact", {"n": 3}, SolveOptions())
    back = Result.from_json(json.loads(json.dumps(r.to_json())))
    assert back == r


def test_the_library_api_returns_results_as_their_certificates_support_them():
    """optgap.solve / optgap.compare go through the same verdict as the CLI: a loose certificate
    demotes `optimal` (toycert: optimum n = 4, `loose` certifies only 5), and compare's reference
    optimum comes only from accepted exact runs."""
    import optgap

    data = {"family": "toycert", "version": 1, "n": N}
    r = optgap.solve(data, "loose")
    assert (r.status, r.bound) == (Status.FEASIBLE, 5.0)
    assert r.stats["accepted"] is True and "demoted" in r.stats["verdict"]
    assert optgap.solve(data, "exact").status == Status.OPTIMAL
    rows = {row.result.method: row for row in optgap.compare([data], ["exact", "loose", "one"])}
    assert rows["exact"].accepted and rows["exact"].gap == 0.0
    assert rows["one"].gap == pytest.approx((4 - 1) / 4)  # 1 against the proven optimum 4
    assert rows["loose"].result.status == Status.FEASIBLE
