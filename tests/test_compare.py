"""The compare harness at scale: suites, worker processes, Dask, crashes, kill -9 and resume."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from optgap.solvers.compare import gaps, read_records, run, summarise
from optgap.solvers.errors import InputError
from optgap.solvers.result import Status
from optgap.solvers.suite import build_instance, parse_suite, read_suite
from optgap.solvers.testing import instances

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "tests.plugin_toy"


def toy_suite(methods, sizes=(1, 2, 3), **settings):
    return parse_suite(
        {
            "plugins": [PLUGIN],
            "time_limit_s": 5,
            **settings,
            "run": [{"family": "toy", "sizes": list(sizes), "seeds": [0], "methods": methods}],
        }
    )


def by_method(records):
    out = {}
    for r in records:
        out.setdefault(r["method"], []).append(r)
    return out


def test_suite_tasks_and_gaps(tmp_path):
    suite = toy_suite(["exact", "worst"])
    assert len(suite.tasks) == 6 and len({t.key for t in suite.tasks}) == 6
    records = run(suite.tasks, tmp_path / "r.jsonl", progress=False)
    assert [r["status"] for r in by_method(records)["exact"]] == ["optimal"] * 3
    # worst returns n = size, optimum is 1: gap (n - 1) / 1 by hand = 0, 1, 2
    text = summarise(records)
    assert "200.00%" in text and "100.00%" in text
    assert all(r["evaluation"]["verdict"] == "feasible" for r in records)


def test_failures_are_recorded_and_the_run_goes_on(tmp_path):
    suite = toy_suite(["boom", "crash", "hang", "exact"], sizes=(2,), task_timeout_s=3)
    records = run(suite.tasks, tmp_path / "r.jsonl", workers=2, progress=False, task_timeout_s=3)
    got = {r["method"]: r for r in records}
    assert got["boom"]["status"] == Status.ERROR and "boom" in got["boom"]["message"]
    assert got["crash"]["status"] == Status.ERROR and "died" in got["crash"]["message"]
    assert "139" in got["crash"]["message"]
    assert got["hang"]["status"] == Status.TIME_LIMIT and "killed" in got["hang"]["message"]
    assert got["exact"]["status"] == Status.OPTIMAL
    assert len(read_records(tmp_path / "r.jsonl")) == 4


def test_workers_give_the_same_records_as_in_process(tmp_path):
    suite = parse_suite(
        {
            "time_limit_s": 10,
            "run": [
                {"family": "dag", "sizes": [6, 9], "seeds": [0, 1], "methods": ["cpsat", "heft"]}
            ],
        }
    )
    a = run(suite.tasks, tmp_path / "a.jsonl", progress=False)
    b = run(suite.tasks, tmp_path / "b.jsonl", workers=2, progress=False)
    assert [(r["key"], r["objective"], r["status"]) for r in a] == [
        (r["key"], r["objective"], r["status"]) for r in b
    ]


def test_resume_refuses_another_suite(tmp_path):
    out = tmp_path / "r.jsonl"
    run(toy_suite(["exact"]).tasks, out, progress=False)
    with pytest.raises(InputError, match="already exists"):
        run(toy_suite(["exact"]).tasks, out, progress=False)
    with pytest.raises(InputError, match="other settings"):
        run(toy_suite(["exact"], time_limit_s=7).tasks, out, resume=True, progress=False)
    # same suite, more methods: the old records stay, only the new ones run
    records = run(toy_suite(["exact", "worst"]).tasks, out, resume=True, progress=False)
    assert len(records) == 6 and len(out.read_text().splitlines()) == 6


def test_kill_9_loses_nothing_written_and_resume_finishes(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        f'plugins = ["{PLUGIN}"]\nparams = {{ sleep = "0.15" }}\n'
        '[[run]]\nfamily = "toy"\nsizes = [1, 2, 3, 4, 5, 6, 7, 8]\nseeds = [0, 1]\n'
        'methods = ["sleepy", "exact"]\n'
    )
    out = tmp_path / "r.jsonl"
    argv = [
        sys.executable,
        "-m",
        "optgap.solvers.cli",
        "compare",
        "--suite",
        str(suite),
        "--out",
        str(out),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_bytes().splitlines()) >= 5:
            break
        assert proc.poll() is None, "the compare run ended before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = read_records(out)
    assert 5 <= len(written) < 32
    for r in written.values():  # every line that survived is a whole record
        assert r["status"] in ("optimal", "feasible")
    # a half-written last line, as a kill in mid-write leaves it
    with out.open("a") as f:
        f.write('{"key": "abc", "fam')
    done = subprocess.run(argv + ["--resume"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    final = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(final) == 32 and len({r["key"] for r in final}) == 32
    for key, r in written.items():  # nothing already written was redone or lost
        assert next(f for f in final if f["key"] == key) == r


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    suite = toy_suite(["exact", "worst", "boom"])
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        records = run(
            suite.tasks, tmp_path / "r.jsonl", scheduler=cluster.scheduler_address, progress=False
        )
    assert len(records) == 9
    got = by_method(records)
    assert all(r["status"] == "optimal" for r in got["exact"])
    assert [r["objective"] for r in got["worst"]] == [1.0, 2.0, 3.0]
    assert all(r["status"] == "error" for r in got["boom"])


def test_bad_suites_are_clear(tmp_path):
    bad = [
        ({"run": []}, "at least 1"),
        ({"run": [{"family": "nope", "sizes": [1]}]}, "unknown family"),
        ({"run": [{"family": "dag", "sizes": [1], "methods": ["hfet"]}]}, "unknown method"),
        ({"run": [{"family": "dag"}]}, "either sizes"),
        ({"run": [{"family": "dag", "sizes": [0]}]}, "sizes"),
        ({"run": [{"family": "dag", "sizes": [5], "colour": 1}]}, "unknown field"),
        ({"run": [{"family": "dag", "files": ["missing.json"]}]}, "no such file"),
        ({"plugins": ["no_such_module_xyz"], "run": [{"family": "dag", "sizes": [5]}]}, "plugin"),
        ({"time_limit_s": -1, "run": [{"family": "dag", "sizes": [5]}]}, "time_limit_s"),
    ]
    for data, msg in bad:
        with pytest.raises(InputError, match=msg):
            parse_suite(data)
    p = tmp_path / "x.toml"
    p.write_text("run = [ {family = ")
    with pytest.raises(InputError, match="not valid TOML"):
        read_suite(p)


def test_shipped_suites_parse():
    suites = sorted((ROOT / "suites").glob("*.toml"))
    assert suites
    for p in suites:
        tasks = read_suite(p).tasks
        assert tasks, p
        # every generator argument is accepted: build the smallest instance of each run
        smallest = {}
        for t in tasks:
            if "generate" in t.source:
                kw = json.dumps(t.source["generate"]["kwargs"], sort_keys=True)
                if (t.family, kw) not in smallest or t.size < smallest[t.family, kw].size:
                    smallest[t.family, kw] = t
        for t in smallest.values():
            assert build_instance(t.family, t.source) is not None


def test_report_markdown_and_html(tmp_path):
    from optgap.solvers.results_report import write_report

    suite = parse_suite(
        {
            "time_limit_s": 10,
            "run": [
                {
                    "family": "dag",
                    "sizes": [6, 9],
                    "seeds": [0, 1],
                    "methods": ["cpsat", "heft", "cpls"],
                },
                {"family": "toy", "sizes": [2, 3], "methods": ["exact", "worst", "boom"]},
            ],
            "plugins": [PLUGIN],
        }
    )
    results = tmp_path / "r.jsonl"
    records = run(suite.tasks, results, progress=False)
    md = write_report(results, tmp_path / "rep")
    text = md.read_text()
    for name in (
        "dag-latency-gap.png",
        "dag-latency-time.png",
        "dag-latency-proven.png",
        "dag-latency-worst.png",
        "toy-value-gap.png",
    ):
        assert (tmp_path / "rep" / name).stat().st_size > 1000, name
        assert f"({name})" in text
    # the table's max gap for cpls is the largest gap the harness computed for it
    worst = max(g for r, g, _ in gaps(records) if r["method"] == "cpls")
    assert f"{100 * worst:.2f}%" in text
    with pytest.raises(InputError, match="not empty"):
        write_report(results, tmp_path / "rep")
    page = write_report(results, tmp_path / "rep", fmt="html", force=True)
    for line in text.splitlines():  # every table row has as many cells as its header
        if line.startswith("| "):
            assert line.count("|") == 13, line
    assert page.name == "report.html" and '<img src="data:image/png;base64,' in page.read_text()


def test_adversary_finds_and_saves_reproducible_worst_cases(tmp_path):
    from optgap.solvers import registry
    from optgap.solvers.adversary import ratio_of, save, search
    from optgap.solvers.fields import read_json
    from optgap.solvers.result import SolveOptions

    options = SolveOptions(time_limit_s=5, threads=1, seed=0)
    found = search(
        "dag", "heft", sizes=(5, 8), iterations=40, keep=3, seed=1, options=options, progress=False
    )
    assert found and [f.ratio for f in found] == sorted((f.ratio for f in found), reverse=True)
    out = save(found, tmp_path / "adv", "dag", "heft", force=False)
    summary = read_json(out / "adversary.json")
    for entry, f in zip(summary["worst"], found, strict=True):
        assert entry["ratio"] == f.ratio
        fam, inst = registry.load_instance(read_json(out / entry["file"]))
        opt = registry.solve("dag", "cpsat", inst, options)
        h = registry.solve("dag", "heft", inst, options)
        ev = fam.evaluate(inst, h.solution)
        assert opt.status == "optimal" and ev.feasible
        # the saved ratio is what an independent re-solve of the saved file gives
        assert entry["ratio"] == pytest.approx(
            ratio_of(ev.objective, opt.objective, "min"), rel=1e-9
        )
        assert entry["ratio"] >= 1.0
    with pytest.raises(InputError, match="not empty"):
        save(found, tmp_path / "adv", "dag", "heft", force=False)
    with pytest.raises(InputError, match="exact method"):
        search("dag", "cpsat", iterations=1, progress=False)


def test_adversary_climbs_beyond_the_generator_range():
    from optgap.solvers.adversary import search

    importlib.import_module(PLUGIN)
    # toy: worst answers n, the optimum is 1, so the ratio is n; generated n = size + seed is at
    # most 3 + seed here, and only scale moves can push n higher
    found = search("toy", "worst", sizes=(1, 3), iterations=60, keep=1, seed=0, progress=False)
    gen_max = max(size + seed for size in (1, 2, 3) for seed in [0])
    assert found[0].ratio == found[0].data["n"] and found[0].data["n"] > gen_max


# ------------------------------------------------------------------ helpers for users' own tests


@given(instances("dag"))
def test_users_can_check_a_heuristic_with_the_public_helpers(data):
    from optgap.solvers.testing import assert_within

    # a registered heuristic by name; HEFT is never better than the proven optimum
    value, best = assert_within("dag", "heft", data, ratio=100.0)
    assert value >= best * (1 - 1e-9)

    # a user's own function returning a solution dict: everything on the first GPU, in order
    def everything_on_gpu0(inst, options):
        from optgap.solvers import registry

        return registry.solve("dag", "gpu-only", inst, options).solution

    assert_within("dag", everything_on_gpu0, data, ratio=100.0)


def test_assert_within_catches_a_bad_heuristic():
    from optgap.solvers.testing import assert_within

    data = json.loads((ROOT / "instances/dag/fork-3.json").read_text())
    # fork-3 by hand: GPU-only takes 3 ms, the optimum 2.7 ms; ratio 3 / 2.7 = 1.111...
    value, best = assert_within("dag", "gpu-only", data, ratio=1.12)
    assert (value, best) == (pytest.approx(3.0), pytest.approx(2.7))
    with pytest.raises(AssertionError, match="optimum"):
        assert_within("dag", "gpu-only", data, ratio=1.1)
    with pytest.raises(AssertionError, match="infeasible"):
        assert_within("dag", lambda inst, options: {"pattern": "latency", "schedule": {}}, data)


@pytest.mark.parametrize(
    "family,method,sizes",
    [
        ("workflow", "aarc", (3, 5)),
        ("stages", "serflow", (3, 5)),
        ("pipeload", "pipeload", (3, 5)),
        ("steering", "closed-form", (2, 3)),
    ],
)
def test_adversary_works_for_every_family(family, method, sizes):
    from optgap.solvers import registry
    from optgap.solvers.adversary import ratio_of, search
    from optgap.solvers.result import SolveOptions

    options = SolveOptions(time_limit_s=10, threads=1, seed=0)
    found = search(
        family, method, sizes=sizes, iterations=6, keep=2, seed=0, options=options, progress=False
    )
    assert found
    fam = registry.family(family)
    for f in found:  # a heuristic is never better than the proven optimum, in either sense
        assert f.ratio >= 1 - 1e-7
        assert f.ratio == pytest.approx(ratio_of(f.heuristic, f.optimum, fam.sense))
        fam.load(f.data)  # every saved candidate is a valid instance


def test_summary_shows_the_profiling_samples_a_search_spent(tmp_path):
    suite = parse_suite(
        {
            "time_limit_s": 10,
            "run": [
                {"family": "workflow", "sizes": [5], "seeds": [0, 1], "methods": ["milp", "aarc"]}
            ],
        }
    )
    records = run(suite.tasks, tmp_path / "r.jsonl", progress=False)
    aarc = [r["stats"]["samples"] for r in records if r["method"] == "aarc"]
    row = next(line for line in summarise(records).splitlines() if " aarc " in line)
    assert row.split()[-1] == f"{sum(aarc) / len(aarc):.1f}"
    milp_row = next(line for line in summarise(records).splitlines() if " milp " in line)
    assert milp_row.split()[-1] == "-"


# ------------------------------------------------------------------ compare correct (issue 12.7)


def test_two_families_at_the_same_size_and_seed_get_their_own_instances(tmp_path):
    suite = parse_suite(
        {
            "time_limit_s": 10,
            "run": [
                {"family": "dag", "sizes": [4], "seeds": [0], "methods": ["heft"]},
                {"family": "workflow", "sizes": [4], "seeds": [0], "methods": ["aarc"]},
            ],
        }
    )
    records = run(suite.tasks, tmp_path / "r.jsonl", progress=False)  # in-process: one cache
    assert [(r["family"], r["status"], r["evaluation"]["verdict"]) for r in records] == [
        ("dag", "feasible", "feasible"),
        ("workflow", "feasible", "feasible"),
    ]


def _rec(method, kind, status, objective, verdict, bound=None):
    return {
        "family": "toy",
        "instance": "i",
        "method": method,
        "status": status,
        "objective": objective,
        "bound": bound,
        "stats": {"kind": kind},
        "options": {"objective": "value"},
        "evaluation": {"verdict": verdict},
        "size": 1,
    }


def test_the_reference_optimum_comes_only_from_accepted_exact_runs():
    from optgap.solvers.compare import reference

    importlib.import_module(PLUGIN)
    records = [
        _rec("liar", "exact", "optimal", 0.5, "rejected", 0.5),  # better, but rejected
        _rec("ghost", "exact", "optimal", 0.7, "none", 0.7),  # no solution was checked
        _rec("exact", "exact", "optimal", 1.0, "feasible", 1.0),
        _rec("worst", "heuristic", "feasible", 3.0, "feasible"),
    ]
    assert reference(records) == {("toy", "value", "i"): (1.0, True)}
    # no accepted optimum: the tightest bound of a non-rejected exact run, marked unproven
    records = [
        _rec("liar", "exact", "optimal", 0.5, "rejected", 0.5),
        _rec("slow", "exact", "time_limit", None, "none", 0.8),
        _rec("slower", "exact", "feasible", 2.0, "feasible", 0.9),
    ]
    assert reference(records) == {("toy", "value", "i"): (0.9, False)}


def test_compare_records_the_certified_bound_and_demoted_status(tmp_path):
    suite = parse_suite(
        {
            "plugins": [PLUGIN],
            "run": [
                {
                    "family": "toycert",
                    "sizes": [4],
                    "seeds": [0],
                    "methods": ["exact", "loose", "nocert", "one"],
                }
            ],
        }
    )
    records = run(suite.tasks, tmp_path / "r.jsonl", progress=False)
    got = {r["method"]: r for r in records}
    assert (got["exact"]["status"], got["exact"]["bound"]) == ("optimal", 4.0)
    assert (got["loose"]["status"], got["loose"]["bound"]) == ("feasible", 5.0)
    assert got["loose"]["gap"] == pytest.approx(0.25)  # (5 - 4) / 4
    assert got["loose"]["evaluation"]["certified_bound"] == 5.0
    assert got["loose"]["evaluation"]["unsupported"]
    assert (got["nocert"]["status"], got["nocert"]["bound"]) == ("feasible", None)
    g = {r["method"]: (gap, proven) for r, gap, proven in gaps(records)}
    assert g["one"] == (pytest.approx(0.75), True)  # x = 1 against the proven 4: 3 / 4


def test_the_per_task_limit_starts_when_the_worker_is_ready(tmp_path, monkeypatch):
    # a worker that takes 3 s to import must not eat into a 1.5 s per-task limit
    monkeypatch.setenv("TOY_IMPORT_SLEEP", "3")
    suite = toy_suite(["exact"], sizes=(2,))
    records = run(suite.tasks, tmp_path / "r.jsonl", workers=1, progress=False, task_timeout_s=1.5)
    assert [r["status"] for r in records] == ["optimal"]


def test_compare_exits_1_on_errors_and_says_how_many_unless_allowed(tmp_path, capsys):
    from optgap.solvers.cli import main

    argv = ["compare", "toy", "--sizes", "1", "2", "--seeds", "0", "--methods", "exact", "boom"]
    argv += ["--plugin", PLUGIN]
    assert main(argv + ["--out", str(tmp_path / "a.jsonl")]) == 1
    assert "2 of 4 runs ended in status error" in capsys.readouterr().err
    assert main(argv + ["--out", str(tmp_path / "b.jsonl"), "--allow-errors"]) == 0
    assert "2 of 4 runs ended in status error" in capsys.readouterr().err
    ok = ["compare", "toy", "--sizes", "1", "--methods", "exact", "--plugin", PLUGIN]
    assert main(ok + ["--out", str(tmp_path / "c.jsonl")]) == 0


def test_resume_retry_failed_reruns_dead_and_killed_tasks_once(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        f'plugins = ["{PLUGIN}"]\ntask_timeout_s = 2\n'
        '[[run]]\nfamily = "toy"\nsizes = [1, 2]\nseeds = [0]\n'
        'methods = ["crash-once", "hang-once", "exact"]\n'
    )
    out = tmp_path / "r.jsonl"
    argv = [sys.executable, "-m", "optgap.solvers.cli", "compare", "--suite", str(suite)]
    argv += ["--out", str(out), "--workers", "2"]
    once = tmp_path / "once"
    once.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOY_ONCE_DIR": str(once)}
    first = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == 1, first.stderr  # two crashes are errors
    assert "2 of 6 runs ended in status error" in first.stderr
    before = read_records(out)
    lost = {k for k, r in before.items() if r.get("failure")}
    assert sorted(before[k]["failure"] for k in lost) == ["died", "died", "killed", "killed"]
    # resume alone keeps the failures; with --retry-failed they run again, once each
    again = subprocess.run(argv + ["--resume"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 1 and read_records(out) == before
    done = subprocess.run(
        argv + ["--resume", "--retry-failed"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    final = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(final) == 6 and len({r["key"] for r in final}) == 6  # replaced, not duplicated
    by_key = {r["key"]: r for r in final}
    for key, r in before.items():
        if key in lost:
            assert by_key[key]["status"] == "feasible" and "failure" not in by_key[key]
        else:
            assert by_key[key] == r  # what did not fail is untouched
