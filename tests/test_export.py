"""Exported models are self-describing: another solver reading the file finds the optimum that
`optgap solve` reports, in the same units (objective constant and scaling are in the file).

Each family with exports: the MILP as .lp and .mps solved by HiGHS (highspy reading the file,
presolve off as in the solve layer) and the CP-SAT model as .pb and .pbtxt solved by plain
CP-SAT from the proto; each is compared with `optgap solve` of the same method, which is
checked by the family's evaluator.
"""

from __future__ import annotations

import math

import pytest
from optgap.solvers import registry
from optgap.solvers.cli import main
from optgap.solvers.result import Status

# (family, shipped instance, objective, methods with an export); small enough for CI
CASES = [
    ("dag", "dag/fork-3", "latency", ("cpsat", "milp")),
    ("dag", "dag/fork-3", "memory", ("cpsat", "milp")),
    ("workflow", "workflow/random-n12-s0", "cost", ("cpsat", "milp")),
    ("workflow", "workflow/chatbot-k4", "coupled", ("cpsat", "milp")),
    ("stages", "stages/random-bursty-T48-s2", "cost", ("milp",)),
    ("pipeload", "pipeload/toy-4", "latency", ("cpsat", "milp")),
    ("pipeload", "pipeload/toy-4", "memory", ("cpsat", "milp")),
]


def highs_optimum(path: str) -> float:
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")  # as the solve layer: HiGHS 1.14's MIP presolve errs
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    h.setOptionValue("threads", 1)
    assert h.readModel(path) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, h.modelStatusToString(
        h.getModelStatus()
    )
    return h.getInfo().objective_function_value


def cpsat_optimum(path: str) -> float:
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    if path.endswith(".pbtxt"):
        with open(path, encoding="utf-8") as f:
            m.proto.parse_text_format(f.read())
    else:
        from google.protobuf import text_format
        from ortools.sat import cp_model_pb2

        with open(path, "rb") as f:
            proto = cp_model_pb2.CpModelProto.FromString(f.read())
        m.proto.parse_text_format(text_format.MessageToString(proto))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.relative_gap_limit = 0.0
    solver.parameters.absolute_gap_limit = 0.0
    solver.parameters.max_time_in_seconds = 60
    assert solver.solve(m) == cp_model.OPTIMAL
    return solver.objective_value


def _export(tmp_path, name, method, objective, ext, capsys) -> str:
    out = str(tmp_path / f"{method}-{objective}{ext}")
    code = main(["export", name, "--method", method, "--objective", objective, "-o", out])
    capsys.readouterr()
    assert code == 0
    return out


@pytest.mark.parametrize("family,name,objective,methods", CASES, ids=lambda c: str(c))
def test_exported_model_gives_the_optimum_of_optgap_solve(
    tmp_path, capsys, family, name, objective, methods
):
    from optgap import api

    inst = api.load(name)
    for method in methods:
        r = api.solve(inst, method, time_limit=60, objective=objective)
        assert r.status == Status.OPTIMAL, (method, r.message)
        ev = api.evaluate(inst, r)
        assert ev.feasible and math.isclose(ev.objective, r.objective, rel_tol=1e-9)
        m = registry.method(family, method)
        exts = (".lp", ".mps") if m.backends[0] in ("cbc", "highs") else (".pb", ".pbtxt")
        for ext in exts:
            path = _export(tmp_path, name, method, objective, ext, capsys)
            with open(path, "rb") as f:
                head = f.read(400)
            if ext != ".pb":  # binary protos carry the header in the model's name
                assert b"optgap export" in head and b"objective value in" in head
            theirs = highs_optimum(path) if ext in (".lp", ".mps") else cpsat_optimum(path)
            assert math.isclose(theirs, r.objective, rel_tol=1e-6, abs_tol=1e-6), (
                method,
                ext,
                theirs,
                r.objective,
            )


def test_binary_proto_names_its_units(tmp_path, capsys):
    from ortools.sat import cp_model_pb2

    path = _export(tmp_path, "dag/fork-3", "cpsat", "latency", ".pb", capsys)
    with open(path, "rb") as f:
        proto = cp_model_pb2.CpModelProto.FromString(f.read())
    assert "objective value in ms" in proto.name
    # fork-3's times (3, 1, 1.2 ms) and its 0.5 ms link latency are multiples of 100 µs,
    # so CP-SAT runs on a 100 µs grid: one model unit is 0.1 ms
    assert "one time unit = 100 µs" in proto.name
    assert math.isclose(proto.objective.scaling_factor, 0.1)


@pytest.mark.parametrize(
    "method,ext", [("cpsat", ".lp"), ("cpsat", ".mps"), ("milp", ".pb"), ("milp", ".json")]
)
def test_extension_that_does_not_match_the_format_is_refused(tmp_path, capsys, method, ext):
    out = tmp_path / f"m{ext}"
    code = main(["export", "dag/fork-3", "--method", method, "-o", str(out)])
    _, err = capsys.readouterr()
    assert code == 2 and "exported as" in err
    assert not out.exists()


def test_write_pulp_keeps_the_model_objective(tmp_path):
    """Exporting must not change the model that is then solved (the objective is restored)."""
    import pulp
    from optgap.solvers.backends import write_pulp

    prob = pulp.LpProblem("t", pulp.LpMinimize)
    x = pulp.LpVariable("x", 0, 4)
    prob += 3 * x + 7
    prob += x >= 1
    write_pulp(prob, str(tmp_path / "t.lp"), factor=0.5)
    assert prob.objective.constant == 7 and dict(prob.objective) == {x: 3}
    assert math.isclose(highs_optimum(str(tmp_path / "t.lp")), 0.5 * (3 + 7))
    with pytest.raises(ValueError):
        write_pulp(prob, str(tmp_path / "t.pb"))
