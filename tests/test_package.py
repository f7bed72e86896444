"""optgap as a package: one import name in the wheel with all its data, a library API whose
README script runs, options checked alike in API and CLI, scriptable output, a fast start."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from optgap.solvers.cli import main

import optgap

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("ortools", "pulp", "cvxpy", "highspy", "optuna", "matplotlib", "dask", "onnx")


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------- fast start


@pytest.mark.parametrize(
    "code",
    [
        "import optgap.solvers.cli",
        "import optgap; optgap.families(); optgap.methods('stages')",
        "from optgap.solvers.cli import main; main(['list'])",
        "from optgap.solvers.cli import main; main(['list', '--json'])",
        *(
            f"from optgap.solvers.cli import main; main(['validate', '{name}'])"
            for name in (
                "dag/fork-3",
                "workflow/chatbot-k4",
                "stages/resnet50-wits-x0.3",
                "pipeload/toy-4",
                "steering/chsh-local",
            )
        ),
    ],
)
def test_list_and_validate_import_no_solver_library(code):
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd="/", check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_a_method_resolves_its_lazy_reference_on_first_call():
    probe = (
        "import sys, optgap\n"
        "assert 'ortools' not in sys.modules\n"
        "r = optgap.solve('dag/fork-3', 'cpsat', time_limit=5)\n"
        "assert r.status == 'optimal' and 'ortools' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd="/")


# ---------------------------------------------------------------------------- library API


def test_readme_script_runs(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"### From Python\n.*?```python\n(.*?)```", text, re.S)
    assert m, "README has no 'From Python' script"
    script = tmp_path / "script.py"
    script.write_text(m.group(1))
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "optimal 2.7 2.7" in out.stdout  # the comment beside the print states it
    assert "refused: family 'dag' has no objective 'cost'" in out.stdout
    assert (tmp_path / "fork-3.png").stat().st_size > 1000


def test_api_returns_the_result_type_and_loads_dicts():
    data = json.loads((ROOT / "instances/dag/fork-3.json").read_text())
    inst = optgap.load(data)
    r = optgap.solve(inst, "heft")
    assert isinstance(r, optgap.Result) and r.status == optgap.Status.FEASIBLE
    assert optgap.evaluate(inst, r).objective == r.objective
    assert optgap.evaluate(inst, r.solution).feasible  # a bare solution dict too
    assert "dag/fork-3" in optgap.shipped_instances()
    assert (Path(optgap.__file__).parent / "py.typed").exists()


# (API keyword arguments, CLI arguments, words the one-line error must contain)
BAD_OPTIONS = [
    ({"time_limit": -1}, ["--time-limit", "-1"], "time limit"),
    ({"time_limit": 0}, ["--time-limit", "0"], "time limit"),
    ({"threads": 0}, ["--threads", "0"], "threads"),
    ({"objective": "cost"}, ["--objective", "cost"], "no objective 'cost'"),
    ({"params": {"bogus": 1}}, ["--param", "bogus=1"], "--param bogus"),
    ({"slo_ms": -2}, ["--slo-ms", "-2"], "SLO"),
]


@pytest.mark.parametrize("kwargs,argv,words", BAD_OPTIONS)
def test_invalid_options_are_one_clear_error_in_api_and_cli(capsys, kwargs, argv, words):
    with pytest.raises(optgap.InputError, match=re.escape(words)):
        optgap.solve("dag/fork-3", "cpsat", **kwargs)
    for method in ("cpsat", "all"):
        code, out, err = _run(capsys, "solve", "dag/fork-3", "--method", method, *argv)
        assert code == 2 and words in err and err.count("\n") == 1, (method, err)
        assert "method" not in out  # refused before anything ran
    with pytest.raises(optgap.InputError):
        optgap.SolveOptions(threads=0)


def test_objective_the_family_lacks_is_an_error_for_every_method_set(capsys):
    code, _, err = _run(capsys, "solve", "dag/fork-3", "--objective", "cost")
    assert code == 2 and "objectives: latency, memory" in err


# ---------------------------------------------------------------------------- scriptable


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--json"],
        ["list", "--instances", "--json"],
        ["list", "--suites", "--json"],
        ["validate", "pipeload/toy-4", "--json"],
        ["solve", "dag/fork-3", "--method", "heft", "--json"],
        ["solve", "dag/fork-3", "--time-limit", "5", "--json"],
        ["solve", "dag/fork-3", "--method", "cpsat", "--verbose", "--time-limit", "5", "--json"],
    ],
)
def test_json_is_one_document_and_nothing_else(argv):
    out = subprocess.run(
        [sys.executable, "-m", "optgap.solvers.cli", *argv],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # the whole of stdout parses as one document
    assert isinstance(doc, dict)
    if argv[0] == "solve":
        assert all(r["evaluator"]["accepted"] for r in doc["results"])
        if "--verbose" in argv:  # the solver's log went to stderr, not into the JSON
            assert "CP-SAT" in out.stderr or "Starting" in out.stderr


def test_evaluate_json_and_solve_all_out(tmp_path, capsys):
    out = tmp_path / "all.json"
    code, _, _ = _run(capsys, "solve", "dag/fork-3", "--time-limit", "5", "--out", str(out))
    assert code == 0
    doc = json.loads(out.read_text())
    methods = {r["method"] for r in doc["results"]}
    assert methods == set(optgap.methods("dag", "latency"))
    one = tmp_path / "heft.json"
    _run(capsys, "solve", "dag/fork-3", "--method", "heft", "--out", str(one))
    code, text, _ = _run(capsys, "evaluate", "dag/fork-3", str(one), "--json")
    ev = json.loads(text)
    assert code == 0 and ev["feasible"] and ev["accepted"] and ev["objective"] == 2.7
    code, _, err = _run(capsys, "solve", "dag/fork-3", "--out", str(out))
    assert code == 2 and "already exists" in err


def test_version_and_exit_code_3(capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"optgap {optgap.__version__}"

    def boom(*a, **k):
        raise RuntimeError("planted")

    monkeypatch.setattr("optgap.solvers.cli.cmd_list", boom)
    code, _, err = _run(capsys, "list")
    assert code == 3 and "internal error: RuntimeError: planted" in err


def test_progress_lines_when_not_a_terminal():
    out = subprocess.run(
        [sys.executable, "-m", "optgap.solvers.cli", "solve", "dag/fork-3", "--time-limit", "5"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    lines = [x for x in out.stderr.splitlines() if x.startswith("optgap: solve ")]
    assert len(lines) == len(optgap.methods("dag", "latency"))  # one per finished method
    assert "optgap:" not in out.stdout


# ---------------------------------------------------------------------------- shipped data by name


def test_shipped_names_resolve_from_any_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "validate", "stages/resnet50-wits-x0.3")  # reads a .txt.gz trace
    assert code == 0 and "valid stages instance" in out
    from optgap.solvers.suite import read_suite

    from optgap.data import suite_path

    suite = read_suite(suite_path("quick"))
    # the five built-in families (other tests register toy plugin families in this process)
    assert {t.family for t in suite.tasks} == {"dag", "workflow", "stages", "pipeload", "steering"}
    code, _, err = _run(capsys, "validate", "dag/nosuch")
    assert code == 2 and "optgap list --instances" in err
    sol = tmp_path / "s.json"
    _run(capsys, "solve", "dag/fork-3", "--method", "heft", "--out", str(sol))
    assert json.loads(sol.read_text())["instance"] == "dag/fork-3"
    code, _, _ = _run(capsys, "plot", str(sol), "-o", str(tmp_path / "s.png"))
    assert code == 0  # the plot found the shipped instance by the name the file records


# ---------------------------------------------------------------------------- the wheel


EXPECTED_DATA = (
    "instances/**/*.json",
    "instances/**/*.txt.gz",
    "instances/**/*.csv",
    "instances/**/*.stg",
    "instances/ATTRIBUTION.md",
    "suites/*.toml",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    # build from a clean copy of the tracked files: an in-tree build/ folder may hold stale
    # files from an earlier build, which would hide a file the package data no longer lists
    src = tmp_path_factory.mktemp("src")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for rel in filter(None, (t.decode() for t in tracked)):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_NO_CACHE_DIR": "1"},
    )
    (path,) = out.glob("optgap-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_has_one_top_level_name_and_every_shipped_file(wheel):
    names = wheel.namelist()
    version = optgap.__version__
    assert {n.split("/")[0] for n in names} == {"optgap", f"optgap-{version}.dist-info"}
    for pattern in EXPECTED_DATA:
        files = [p for p in ROOT.glob(pattern) if ".venv" not in p.parts]
        assert files, pattern
        for p in files:
            assert "optgap/" + p.relative_to(ROOT).as_posix() in names, p
    for extra in ("optgap/py.typed", "optgap/schemas/dag.instance.json"):
        assert extra in names
    assert f"optgap-{version}.dist-info/licenses/LICENSE" in names
    meta = wheel.read(f"optgap-{version}.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in meta and "Classifier: Typing :: Typed" in meta
    assert "Project-URL:" in meta


def test_heartbeat_reports_a_long_step_periodically(capsys):
    import time

    from optgap.solvers.progress import heartbeat

    with heartbeat("solve cpsat", 60, every=0.2):
        time.sleep(0.9)
    lines = [x for x in capsys.readouterr().err.splitlines() if "solve cpsat:" in x]
    assert 2 <= len(lines) <= 5 and lines[0].endswith("of 60 s so far")


def test_formulations_import_no_heuristic():
    """Data flows one way: no module under formulations/ imports optgap.heuristics (issue 12)."""
    import ast

    root = Path(__file__).resolve().parents[1] / "formulations"
    bad = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [f"{path.name}: {n}" for n in names if n.startswith("optgap.heuristics")]
    assert bad == []
