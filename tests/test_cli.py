"""The `optgap` command as a user meets it: one-line errors, no overwrites, resumable compares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from optgap.solvers.cli import main

GOOD = {
    "family": "dag",
    "version": 1,
    "devices": [{"id": "cpu0", "kind": "cpu", "slots": 2}, {"id": "gpu0", "kind": "gpu"}],
    "operators": [
        {"id": "a", "time_ms": {"cpu": 3, "gpu": 1}},
        {"id": "b", "time_ms": {"cpu": 3, "gpu": 1}},
        {"id": "c", "time_ms": {"cpu": 1.2, "gpu": 1}},
    ],
    "edges": [{"src": "a", "dst": "b"}, {"src": "a", "dst": "c"}],
    "links": {"latency_ms": 0.5},
}


def _write(tmp_path: Path, data, name="inst.json") -> str:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(p)


ROOT = Path(__file__).resolve().parents[1]


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _bad(**changes):
    data = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        *head, last = path.split(".")
        node = data
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is ...:
            del node[last if not isinstance(node, list) else int(last)]
        else:
            node[int(last) if isinstance(node, list) else last] = value
    return data


BAD_INPUTS = {
    "cycle": (
        _bad(edges=[{"src": "a", "dst": "b"}, {"src": "b", "dst": "c"}, {"src": "c", "dst": "a"}]),
        "cycle: a -> b -> c -> a",
    ),
    "self loop": (_bad(edges=[{"src": "a", "dst": "a"}]), "edges[0]: self-loop"),
    "unknown operator": (
        _bad(edges=[{"src": "a", "dst": "zz"}]),
        "edges[0].dst: unknown operator 'zz'",
    ),
    "negative time": (
        _bad(**{"operators.1.time_ms": {"cpu": -1}}),
        "operators[1].time_ms.cpu: must not be negative",
    ),
    "missing time": (
        _bad(**{"operators.1.time_ms": ...}),
        "operators[1].time_ms: missing required field",
    ),
    "string time": (
        _bad(**{"operators.1.time_ms": {"gpu": "fast"}}),
        "operators[1].time_ms.gpu: expected a number",
    ),
    "unknown field": (_bad(**{"operators.0.tme_ms": 1}), "operators[0].tme_ms: unknown field"),
    "unknown top field": (_bad(deadline=3), "instance.deadline: unknown field"),
    "unknown kind": (
        _bad(**{"devices.1.kind": "tpu"}),
        "devices[1].kind: 'tpu' is not one of cpu, gpu",
    ),
    "zero slots": (_bad(**{"devices.0.slots": 0}), "devices[0].slots: must not be below 1"),
    "duplicate id": (_bad(**{"operators.1.id": "a"}), "operators[1].id: duplicate id 'a'"),
    "no device fits": (
        _bad(**{"operators.0.devices": ["gpu0"], "operators.0.time_ms": {"cpu": 1}}),
        "operators[0] (a): can run on no device",
    ),
    "unknown pinned device": (
        _bad(**{"operators.0.devices": ["gpu9"]}),
        "operators[0].devices[0]: unknown device 'gpu9'",
    ),
    "negative bytes": (
        _bad(edges=[{"src": "a", "dst": "b", "bytes": -5}]),
        "edges[0].bytes: must not be negative",
    ),
    "zero bandwidth": (_bad(links={"bandwidth_gb_s": 0}), "links.bandwidth_gb_s: must be > 0"),
    "unknown family": (_bad(family="dagz"), "unknown family 'dagz'"),
    "not an object": ([1, 2], "expected a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_clear_line(tmp_path, capsys, case):
    data, expected = BAD_INPUTS[case]
    path = _write(tmp_path, data)
    for argv in (["validate", path], ["solve", path, "--method", "heft"]):
        code, out, err = _run(capsys, *argv)
        assert code == 2
        assert expected in err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_malformed_json_and_missing_file(tmp_path, capsys):
    path = _write(tmp_path, '{"family": "dag", "devices": [,]}')
    code, _, err = _run(capsys, "validate", path)
    assert code == 2 and "malformed JSON at line 1, column 31" in err
    code, _, err = _run(capsys, "validate", str(tmp_path / "nope.json"))
    assert code == 2 and "no such file" in err


def test_solve_all_prints_comparison_with_evaluator(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    code, out, _ = _run(capsys, "solve", path)
    assert code == 0
    lines = {
        line.split()[0]: line
        for line in out.splitlines()
        if line.split() and line.split()[0] in ("cpsat", "heft", "gpu-only")
    }
    # by hand: a on GPU [0,1]; b on GPU [1,2]; c on CPU [1.5, 2.7] -> 2.7; GPU-only 3.0
    assert "optimal" in lines["cpsat"] and " 2.7 " in lines["cpsat"]
    assert (
        "feasible" in lines["gpu-only"]
        and " 3 " in lines["gpu-only"]
        and "11.11%" in lines["gpu-only"]
    )
    assert all("(agrees)" in line for line in lines.values())


def test_solve_writes_solution_and_never_overwrites(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    sol = tmp_path / "sol.json"
    code, out, _ = _run(capsys, "solve", path, "--method", "exact", "--out", str(sol))
    assert code == 0 and "status     optimal" in out
    data = json.loads(sol.read_text())
    assert data["status"] == "optimal" and data["objective"] == 2.7 and data["method"] == "cpsat"
    before = sol.read_text()
    code, _, err = _run(capsys, "solve", path, "--method", "heft", "--out", str(sol))
    assert code == 2 and "already exists" in err and sol.read_text() == before
    code, out, _ = _run(capsys, "evaluate", path, str(sol))
    assert code == 0 and "objective  2.7 (file says 2.7)" in out


def test_evaluate_rejects_a_tampered_solution(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    sol = tmp_path / "sol.json"
    _run(capsys, "solve", path, "--method", "cpsat", "--out", str(sol))
    data = json.loads(sol.read_text())
    data["solution"]["schedule"]["b"]["start_ms"] = 0.5
    sol.write_text(json.dumps(data))
    code, out, _ = _run(capsys, "evaluate", path, str(sol))
    assert code == 1 and "INFEASIBLE" in out and "before its input" in out
    data["solution"]["schedule"]["b"]["start_ms"] = 1.0
    data["objective"] = 2.0
    sol.write_text(json.dumps(data))
    code, out, _ = _run(capsys, "evaluate", path, str(sol))
    assert code == 1 and "DISAGREES" in out


def test_memory_pattern_infeasible_slo(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    code, out, _ = _run(
        capsys, "solve", path, "--method", "cpsat", "--objective", "memory", "--slo-ms", "1.5"
    )
    assert code == 0
    assert "status     infeasible: SLO 1.5 ms is below the critical path 2 ms" in out


def test_generate_and_export(tmp_path, capsys):
    out_file = tmp_path / "g.json"
    code, _, _ = _run(capsys, "generate", "dag", "--size", "15", "--seed", "4", "-o", str(out_file))
    assert code == 0
    code, _, err = _run(
        capsys, "generate", "dag", "--size", "15", "--seed", "5", "-o", str(out_file)
    )
    assert code == 2 and "already exists" in err
    model = tmp_path / "m.pb"
    code, _, _ = _run(capsys, "export", str(out_file), "--method", "cpsat", "-o", str(model))
    assert code == 0
    from ortools.sat import cp_model_pb2

    proto = cp_model_pb2.CpModelProto()
    proto.ParseFromString(model.read_bytes())
    assert len(proto.variables) > 15 and proto.HasField("objective")
    code, _, err = _run(
        capsys, "export", str(out_file), "--method", "heft", "-o", str(tmp_path / "h.pb")
    )
    assert code == 2 and "no model to export" in err


def test_unknown_method_and_backend(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    code, _, err = _run(capsys, "solve", path, "--method", "hfet")
    assert code == 2 and "unknown method 'hfet'" in err
    code, _, err = _run(capsys, "solve", path, "--method", "cpsat", "--backend", "cbc")
    assert code == 2 and "has no backend 'cbc'" in err


def test_list(capsys):
    code, out, _ = _run(capsys, "list")
    assert code == 0 and "dag:" in out and "heft" in out and "cpsat" in out


def test_compare_appends_and_resumes(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    argv = [
        "compare",
        "dag",
        "--sizes",
        "5",
        "8",
        "--seeds",
        "0",
        "1",
        "--methods",
        "cpsat",
        "heft",
        "--out",
        str(out),
        "--time-limit",
        "10",
    ]
    code, text, _ = _run(capsys, *argv)
    assert code == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 8
    assert "0.00%" in text  # cpsat against itself
    # refuse to overwrite without --resume
    code, _, err = _run(capsys, *argv)
    assert code == 2 and "--resume" in err
    # an interrupted run: keep 5 lines and half of the 6th
    out.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20])
    code, text, _ = _run(capsys, *argv, "--resume")
    assert code == 0
    again = out.read_text().splitlines()
    assert len(again) == 8 and again[:5] == lines[:5]
    keys = [(json.loads(x)["size"], json.loads(x)["seed"], json.loads(x)["method"]) for x in again]
    assert len(set(keys)) == 8
    # other settings: refused, file untouched
    code, _, err = _run(capsys, *argv[:-2], "--time-limit", "5", "--resume")
    assert code == 2 and "other settings" in err
    assert out.read_text().splitlines() == again


def test_plot_writes_a_png_from_the_solution_file(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    sol = tmp_path / "sol.json"
    assert main(["solve", path, "--method", "cpsat", "--out", str(sol)]) == 0
    png = tmp_path / "g.png"
    code, out, _ = _run(capsys, "plot", str(sol), "-o", str(png))
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    code, _, err = _run(capsys, "plot", str(sol), "-o", str(png))
    assert code == 2 and "already exists" in err
    data = json.loads(sol.read_text())
    data["solution"]["schedule"]["b"]["start_ms"] = 0.5
    sol.write_text(json.dumps(data))
    code, _, err = _run(capsys, "plot", str(sol), "-o", str(tmp_path / "h.png"))
    assert code == 2 and "rejects this schedule" in err


def test_every_shipped_instance_validates_and_round_trips(capsys):
    from optgap.formulations.dag.instance import dump, load
    from optgap.instances import HERE

    files = sorted((HERE / "dag").glob("*.json"))
    assert len(files) >= 6
    for f in files:
        assert main(["validate", str(f)]) == 0, f
        inst = load(json.loads(f.read_text()))
        assert load(json.loads(json.dumps(dump(inst)))) == inst
    capsys.readouterr()


def test_generate_with_generator_arguments(tmp_path, capsys):
    out = tmp_path / "w.json"
    code, text, _ = _run(
        capsys, "generate", "workflow", "--size", "6", "--set", "shape=chatbot", "-o", str(out)
    )
    assert code == 0 and json.loads(out.read_text())["family"] == "workflow"
    out2 = tmp_path / "d.json"
    code, _, _ = _run(
        capsys, "generate", "dag", "--size", "6", "--set", "gpu_speedup=[1, 6]", "-o", str(out2)
    )
    assert code == 0
    code, _, err = _run(
        capsys,
        "generate",
        "dag",
        "--size",
        "6",
        "--set",
        "colour=1",
        "-o",
        str(tmp_path / "x.json"),
    )
    assert code == 2 and "colour" in err and not (tmp_path / "x.json").exists()
    code, _, err = _run(
        capsys, "generate", "dag", "--size", "6", "--set", "oops", "-o", str(tmp_path / "x.json")
    )
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = _run(capsys, "generate", "dag", "--size", "6", "-o", str(out2))
    assert code == 2 and "already exists" in err


def test_params_are_routed_to_the_methods_that_read_them(capsys):
    # stages: only serflow and stage-agnostic read `forecast`; before routing, `--method all`
    # failed on the MILP, which refuses keys it does not know
    path = str(ROOT / "instances/stages/random-bursty-T48-s2.json")
    code, out, err = _run(capsys, "solve", path, "--param", "forecast=trend", "--time-limit", "20")
    assert code == 0, err
    assert "serflow" in out and "milp" in out
    code, _, err = _run(capsys, "solve", path, "--param", "forcast=trend")
    assert code == 2 and "no method here reads it" in err and "forecast" in err
    # a method called alone still refuses a key it does not read
    code, _, err = _run(capsys, "solve", path, "--method", "milp", "--param", "forecast=trend")
    assert code == 2 and "forecast" in err
    code, out, _ = _run(capsys, "list")
    assert "--param" in out and "forecast" in out
