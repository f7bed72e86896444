"""Output never harms: paths checked before any work, unique temporary files, nothing left behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from optgap.solvers import fields
from optgap.solvers.errors import InputError

from tests.fuzzing import ROOT, run_cli

FORK = str(ROOT / "instances" / "dag" / "fork-3.json")


def test_a_users_tmp_file_is_never_touched(tmp_path):
    mine = tmp_path / "mine.json.tmp"
    mine.write_text("my own notes")
    fields.write_json_new(tmp_path / "mine.json", {"a": 1})
    assert mine.read_text() == "my own notes"
    assert json.loads((tmp_path / "mine.json").read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json", "mine.json.tmp"]


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(InputError, match="No space left"):
        fields.write_json_new(tmp_path / "out.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_refused_and_force_replaces_it(tmp_path):
    out = tmp_path / "x.json"
    out.write_text("keep")
    with pytest.raises(InputError, match="already exists"):
        fields.write_json_new(out, {})
    assert out.read_text() == "keep"
    fields.write_json_new(out, {"b": 2}, force=True)
    assert json.loads(out.read_text()) == {"b": 2}


@pytest.mark.parametrize("kind", ["directory", "under a file"])
def test_solve_refuses_a_bad_out_before_solving(tmp_path, kind):
    if kind == "directory":
        out = tmp_path
    else:
        (tmp_path / "f").write_text("")
        out = tmp_path / "f" / "sol.json"
    code, err = run_cli(["solve", FORK, "--method", "heft", "--out", str(out), "--force"])
    assert code == 2 and err.count("\n") == 1, err
    assert "directory" in err, err


def test_report_to_an_existing_file_is_a_clean_error(tmp_path):
    results = tmp_path / "r.jsonl"
    code, err = run_cli(
        [
            "compare",
            "dag",
            "--sizes",
            "4",
            "--seeds",
            "0",
            "--methods",
            "heft",
            "--out",
            str(results),
        ]
    )
    assert code == 0, err
    target = tmp_path / "report.md"
    target.write_text("mine")
    code, err = run_cli(["report", str(results), "-o", str(target)])
    assert code == 2 and "not a directory" in err and target.read_text() == "mine", err


def test_a_compare_that_fails_before_its_first_record_leaves_no_file(tmp_path, monkeypatch):
    from optgap.solvers import compare

    def fail(task):
        raise InputError("the instance cannot be built")

    monkeypatch.setattr(compare, "execute", fail)
    out = tmp_path / "results.jsonl"
    code, err = run_cli(
        ["compare", "dag", "--sizes", "4", "--seeds", "0", "--methods", "heft", "--out", str(out)]
    )
    assert code == 2 and not out.exists(), err
    monkeypatch.undo()
    code, err = run_cli(  # the next run is not blocked by an empty file
        ["compare", "dag", "--sizes", "4", "--seeds", "0", "--methods", "heft", "--out", str(out)]
    )
    assert code == 0 and len(out.read_text().splitlines()) == 1, err


def test_oserror_is_a_one_line_error(tmp_path, monkeypatch):
    from optgap.solvers import cli

    def denied(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(cli, "cmd_validate", denied)
    code, err = run_cli(["validate", FORK])
    assert code == 2 and "Permission denied" in err and err.count("\n") == 1, err


def test_nothing_is_left_in_the_output_folder_after_a_run(tmp_path):
    out = tmp_path / "sol.json"
    code, err = run_cli(["solve", FORK, "--method", "heft", "--out", str(out)])
    assert code == 0, err
    assert [p.name for p in Path(tmp_path).iterdir()] == ["sol.json"]


def test_a_written_file_gets_the_usual_mode(tmp_path):
    """Written through mkstemp (0600) but left with 0666 & ~umask, like any file the user makes."""
    import os

    old = os.umask(0o022)
    try:
        fields.write_json_new(tmp_path / "out.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o644


def test_export_writes_through_a_temporary_file(tmp_path, monkeypatch, capsys):
    """A failed export (format refused) leaves nothing behind; a good one leaves only its file."""
    from optgap.solvers.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["export", "dag/fork-3", "--method", "cpsat", "-o", "m.lp"]) == 2
    assert "not '.lp'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["export", "dag/fork-3", "--method", "cpsat", "-o", "m.pb"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["m.pb"]
    # an exporter that dies half-way leaves neither a partial file nor its temporary one
    from dataclasses import replace

    from optgap.solvers import registry

    def half(inst, options, path):
        with open(path, "w") as f:
            f.write("partial")
        raise ValueError("exporter failed")

    m = registry.method("dag", "milp")
    monkeypatch.setitem(registry.METHODS["dag"], "milp", replace(m, export=half))
    assert main(["export", "dag/fork-3", "--method", "milp", "-o", "m.lp"]) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["m.pb"]
