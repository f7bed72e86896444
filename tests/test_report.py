"""The results report a reader can trust: one self-contained HTML file, readable gap scales, and
Dolan-Moré performance profiles computed as defined (checked by hand on small tables)."""

from __future__ import annotations

import math
import re

import pytest
from optgap.solvers.compare import run
from optgap.solvers.results_report import (
    performance_profile,
    quality_ratios,
    time_ratios,
    write_report,
)
from optgap.solvers.suite import parse_suite

INF = math.inf


def test_performance_profile_by_hand():
    # three instances; A is best on two, within 1.5x on the third; B fails once
    ratios = {"A": [1.0, 1.0, 1.5], "B": [2.0, 1.0, INF]}
    prof = performance_profile(ratios, [1.0, 1.4, 1.5, 2.0, 100.0])
    assert prof["A"] == pytest.approx([2 / 3, 2 / 3, 1.0, 1.0, 1.0])
    assert prof["B"] == pytest.approx([1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3])  # never reaches 1


def _rec(
    method, inst, objective, status="feasible", time_s=1.0, verdict="feasible", kind="heuristic"
):
    return {
        "family": "dag",
        "options": {"objective": "latency"},
        "instance": inst,
        "method": method,
        "objective": objective,
        "status": status,
        "time_s": time_s,
        "evaluation": {"verdict": verdict},
        "stats": {"kind": kind},
    }


def test_time_ratios_count_only_accepted_proofs():
    recs = [
        _rec("cpsat", "i1", 10, "optimal", 2.0, kind="exact"),
        _rec("milp", "i1", 10, "optimal", 8.0, kind="exact"),
        _rec("cpsat", "i2", 5, "optimal", 3.0, kind="exact"),
        _rec("milp", "i2", 5, "feasible", 1.0, kind="exact"),  # no proof: inf
        _rec("cpsat", "i3", 7, "optimal", 1.0, verdict="rejected", kind="exact"),  # rejected: inf
        _rec("milp", "i3", 7, "optimal", 4.0, kind="exact"),
    ]
    r = time_ratios(recs, ["cpsat", "milp"])
    assert r == {"cpsat": [1.0, 1.0, INF], "milp": [4.0, INF, 1.0]}


def test_quality_ratios_are_one_plus_gap_and_inf_without_an_answer():
    recs = [_rec("a", "i1", 10), _rec("b", "i1", 12), _rec("a", "i2", 5)]
    g = [(recs[0], 0.0, True), (recs[1], 0.2, True), (recs[2], 0.0, True)]
    assert quality_ratios(g, recs, ["a", "b"]) == {"a": [1.0, 1.0], "b": [1.2, INF]}


def test_html_report_is_one_self_contained_file(tmp_path):
    suite = parse_suite(
        {
            "time_limit_s": 10,
            "run": [
                {
                    "family": "dag",
                    "sizes": [5, 7],
                    "seeds": [0, 1],
                    "methods": ["cpsat", "milp", "heft", "cpu-only"],
                }
            ],
        }
    )
    results = tmp_path / "r.jsonl"
    run(suite.tasks, results, progress=False)
    page = write_report(results, tmp_path / "rep", fmt="html")
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["report.html"]
    text = page.read_text()
    srcs = re.findall(r'src="([^"]*)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "img{max-width:100%" in text
    assert "performance profile (all methods)" in text
    assert "performance profile (exact methods)" in text
    md = write_report(results, tmp_path / "md")
    names = {p.name for p in (tmp_path / "md").iterdir()}
    assert {"dag-latency-profile-quality.png", "dag-latency-profile-time.png"} <= names
    assert "(dag-latency-profile-quality.png)" in md.read_text()
