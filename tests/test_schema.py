"""JSON Schemas of the instance files: valid draft 2020-12, shipped, and in step with the loaders.

Every shipped and generated instance (generators and the hypothesis strategies of each family)
must validate; a sample of inputs each loader rejects (missing, unknown, mistyped, negative,
out-of-range fields) must be rejected by the schema too.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from optgap.solvers import registry
from optgap.solvers.cli import main
from optgap.solvers.errors import InputError

from optgap.data import shipped_instances
from optgap.schema import FAMILIES, build, schema


def _validator(family: str, solution: bool = False):
    s = build(family, solution=solution)
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s)


@pytest.mark.parametrize("family", FAMILIES)
def test_shipped_schema_files_are_the_built_ones(family):
    for sol in (False, True):
        assert schema(family, solution=sol) == build(family, solution=sol), (
            "optgap/schemas is stale: run python -m optgap.schema"
        )


def test_every_shipped_instance_validates():
    names = shipped_instances()
    assert {n.split("/")[0] for n in names} == set(FAMILIES)
    for name, path in names.items():
        data = json.loads(path.read_text(encoding="utf-8"))
        errors = list(_validator(name.split("/")[0]).iter_errors(data))
        assert not errors, (name, errors[0].message)


@pytest.mark.parametrize("family", FAMILIES)
def test_generated_instances_validate(family):
    fam = registry.family(family)
    v = _validator(family)
    sizes = (2, 3) if family == "steering" else (2, 4, 7)
    for size in sizes:
        for seed in range(3):
            data = fam.dump(fam.generate(size, seed))
            registry.load_instance(data)  # the loader accepts it ...
            errors = list(v.iter_errors(data))
            assert not errors, (size, seed, errors[0].message)  # ... and so does the schema


def _strategy(family: str):
    import importlib

    mod = importlib.import_module(f"optgap.instances.{family}.strategies")
    return mod.instances()


@pytest.mark.parametrize("family", FAMILIES)
def test_strategy_instances_validate(family):
    v = _validator(family)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_strategy(family))
    def check(data):
        try:
            registry.load_instance(copy.deepcopy(data))
        except InputError:
            return  # strategies may draw some inputs the loader refuses; the schema may too
        errors = list(v.iter_errors(data))
        assert not errors, errors[0].message

    check()


# (family, shipped instance, a change that the loader refuses)
def _set(path, value):
    def apply(d):
        node = d
        for k in path[:-1]:
            node = node[k]
        if value is ...:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return apply


REJECTED = [
    ("dag", "dag/fork-3", _set(["operators"], ...)),
    ("dag", "dag/fork-3", _set(["colour"], "red")),
    ("dag", "dag/fork-3", _set(["devices", 0, "kind"], "tpu")),
    ("dag", "dag/fork-3", _set(["devices", 0, "slots"], 0)),
    ("dag", "dag/fork-3", _set(["operators", 0, "time_ms", "cpu"], -1)),
    ("dag", "dag/fork-3", _set(["operators", 0, "time_ms"], {})),
    ("dag", "dag/fork-3", _set(["version"], 2)),
    ("dag", "dag/fork-3", _set(["devices"], [])),
    ("workflow", "workflow/chatbot-k4", _set(["slo_ms"], 0)),
    ("workflow", "workflow/chatbot-k4", _set(["prices"], "aws")),
    ("workflow", "workflow/chatbot-k4", _set(["cpu_grid"], [])),
    ("workflow", "workflow/chatbot-k4", _set(["functions", 0, "model", "kind"], "neural")),
    ("workflow", "workflow/chatbot-k4", _set(["edges"], [["a"]])),
    ("stages", "stages/random-bursty-T48-s2", _set(["slo", "percentile"], 100)),
    ("stages", "stages/random-bursty-T48-s2", _set(["vm", "max_utilisation"], 1.0)),
    ("stages", "stages/random-bursty-T48-s2", _set(["stages", 0, "exit_prob"], 1.5)),
    ("stages", "stages/random-bursty-T48-s2", _set(["stages", 0, "fn_ms"], {"0": 5})),
    ("stages", "stages/random-bursty-T48-s2", _set(["version"], ...)),
    ("stages", "stages/resnet50-wits-x0.3", _set(["arrivals", "trace"], "azure")),
    ("pipeload", "pipeload/toy-4", _set(["agents"], 0)),
    ("pipeload", "pipeload/toy-4", _set(["layers", 0, "mem_mb"], -2)),
    ("pipeload", "pipeload/toy-4", _set(["layers", 0, "weights"], 1)),
    ("pipeload", "pipeload/toy-4", _set(["budget_mb"], 0)),
    ("pipeload", "pipeload/toy-4", _set(["agents"], {"min": 1})),
    ("steering", "steering/chsh-tsirelson", _set(["quantity"], "entropy")),
    ("steering", "steering/phi-plus-robustness-3", _set(["alice"], ...)),
    ("steering", "steering/phi-plus-robustness-3", _set(["state", "kind"], "ghz")),
    ("steering", "steering/phi-plus-robustness-3", _set(["alice", 0], {"pauli": "w"})),
    ("steering", "steering/sequential-unsharp-chsh", _set(["bob", 0, "bloch"], [1, 0])),
    ("steering", "steering/sequential-unsharp-chsh", _set(["inequality"], "bell-ish")),
]


@pytest.mark.parametrize("family,name,change", REJECTED)
def test_inputs_the_loader_rejects_are_rejected_by_the_schema(family, name, change):
    data = json.loads(shipped_instances()[name].read_text(encoding="utf-8"))
    assert not list(_validator(family).iter_errors(data))  # the unchanged file is valid
    change(data)
    with pytest.raises(InputError):
        registry.load_instance(copy.deepcopy(data))
    assert list(_validator(family).iter_errors(data)), "the schema accepts what the loader refuses"


def test_solution_files_validate(tmp_path, capsys):
    for family, name, method in [
        ("dag", "dag/fork-3", "heft"),
        ("workflow", "workflow/chatbot-k4", "aarc"),
        ("stages", "stages/random-bursty-T48-s2", "serflow"),
        ("pipeload", "pipeload/toy-4", "pipeload"),
        ("steering", "steering/chsh-local", "closed-form"),
    ]:
        out = tmp_path / f"{family}.json"
        assert main(["solve", name, "--method", method, "--out", str(out)]) in (0, 1)
        data = json.loads(out.read_text())
        errors = list(_validator(family, solution=True).iter_errors(data))
        assert not errors, (family, errors[0].message)
        data["status"] = "great"
        assert list(_validator(family, solution=True).iter_errors(data))
    capsys.readouterr()


def test_schema_command_prints_the_schema(capsys):
    assert main(["schema", "pipeload"]) == 0
    assert json.loads(capsys.readouterr().out) == build("pipeload")
    assert main(["schema", "dag", "--solution"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["family"] == {"const": "dag"}
    assert main(["schema", "nosuch"]) == 2
    assert "unknown family" in capsys.readouterr().err
