"""JSON Schemas (draft 2020-12) of every family's instance file, and of solution files.

The schemas describe what each family's loader (formulations/<family>/instance.py) accepts:
fields, types, required and optional keys, enumerations and sign constraints. Checks that span
fields (ids that must exist, acyclic graphs, a grid that increases, a density matrix that is
PSD) stay the loader's: a file the schema accepts may still be refused with a one-line error.
They are shipped as files too (optgap/schemas/*.json, written by ``python -m optgap.schema``);
`optgap schema FAMILY` prints them.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
FAMILIES = ("dag", "workflow", "stages", "pipeload", "steering")

# ------------------------------------------------------------------------------ building blocks

NUM = {"type": "number"}
NONNEG = {"type": "number", "minimum": 0}
POS = {"type": "number", "exclusiveMinimum": 0}
INT = {"type": "integer"}
NONNEG_INT = {"type": "integer", "minimum": 0}
POS_INT = {"type": "integer", "minimum": 1}
STR = {"type": "string", "minLength": 1}
META = {"type": "object", "description": "free-form provenance; not read by any method"}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None, **extra) -> dict:
    """A closed object: the loader refuses unknown keys (solvers/fields.obj)."""
    props = {**required, **(optional or {})}
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = sorted(required)
    return out | extra


def _arr(items: dict, min_items: int = 0, **extra) -> dict:
    out: dict[str, Any] = {"type": "array", "items": items}
    if min_items:
        out["minItems"] = min_items
    return out | extra


def _top(family: str, title: str, required: dict, optional: dict, version_required=False) -> dict:
    fixed = {"family": {"const": family}}
    version = {"version": {"const": 1}}
    req = {**fixed, **required, **(version if version_required else {})}
    opt = {**optional, **({} if version_required else version)}
    return {
        "$schema": DRAFT,
        "$id": f"https://optgap.invalid/schemas/{family}.instance.json",
        "title": title,
        **_obj(req, opt),
    }


# ------------------------------------------------------------------------------ families


def _dag() -> dict:
    # shared: the link is one lane, its transfers do not overlap (link contention)
    link = {"latency_ms": NONNEG, "bandwidth_gb_s": POS, "shared": {"type": "boolean"}}
    return _top(
        "dag",
        "optgap F1 dag instance (Chrion): operators, devices, edges",
        {
            "devices": _arr(
                _obj(
                    {"id": STR, "kind": {"enum": ["cpu", "gpu"]}},
                    {"slots": POS_INT, "mem_capacity_mb": NONNEG, "speed": POS},
                ),
                1,
            ),
            "operators": _arr(
                _obj(
                    {
                        "id": STR,
                        "time_ms": {  # by kind, or by device id (related machines)
                            "type": "object",
                            "properties": {"cpu": NONNEG, "gpu": NONNEG},
                            "additionalProperties": NONNEG,
                            "minProperties": 1,
                        },
                    },
                    {
                        "mem_mb": NONNEG,
                        "devices": {"anyOf": [_arr(STR, 1), {"type": "null"}]},
                        "op_type": {"anyOf": [STR, {"type": "null"}]},
                    },
                ),
                1,
            ),
        },
        {
            "name": {"type": "string"},
            "edges": _arr(_obj({"src": STR, "dst": STR}, {"bytes": NONNEG_INT})),
            "links": _obj(
                {},
                {
                    **link,
                    "pairs": _arr(
                        _obj({"devices": _arr(STR, 2, maxItems=2)}, link),
                    ),
                },
            ),
            "slo_ms": {"anyOf": [POS, {"type": "null"}]},
            "meta": META,
        },
    )


def _workflow() -> dict:
    grid = _arr(POS, 1)
    table = _obj(
        {
            "kind": {"const": "table"},
            "runtime_ms": _arr(_arr({"anyOf": [NONNEG, {"type": "null"}]})),
        }
    )
    parametric = _obj(
        {
            "kind": {"const": "parametric"},
            "serial_ms": NONNEG,
            "parallel_ms": NONNEG,
            "parallelism": POS,
            "base_mem_mb": NONNEG,
        },
        {"working_set_mb": NONNEG, "slowdown": NONNEG},
    )
    return _top(
        "workflow",
        "optgap F2 workflow instance (AARC): serverless functions, CPU and memory grids, prices",
        {
            "cpu_grid": grid,
            "mem_grid_mb": grid,
            "prices": {
                "anyOf": [
                    {"enum": ["aarc", "cloudrun"], "description": "a price preset"},
                    _obj({"per_vcpu_s": NONNEG, "per_gb_s": NONNEG}, {"per_request": NONNEG}),
                ]
            },
            "slo_ms": POS,
            "functions": _arr(
                _obj(
                    {"id": STR, "model": {"oneOf": [table, parametric]}},
                    # run-to-run ratios to the mean runtime, for the noisy profiling oracle
                    {"spread": _arr({"type": "number", "minimum": 0.1, "maximum": 10})},
                ),
                1,
            ),
        },
        {
            "name": {"type": "string"},
            "edges": _arr(_arr(STR, 2, maxItems=2)),
            "mb_per_vcpu": POS,
            "meta": META,
        },
    )


def _stages() -> dict:
    arrivals_common = {"window_s": POS_INT}
    by_trace = _obj(
        {**arrivals_common, "trace": {"enum": ["wits", "sine"]}},
        {"scale": POS, "start_s": NONNEG_INT, "duration_s": POS_INT},
    )
    by_seconds = _obj({**arrivals_common, "per_second": _arr(NONNEG_INT, 1)})
    by_rates = _obj({**arrivals_common, "rates": _arr(NONNEG, 1)}, {"seed": NONNEG_INT})
    return _top(
        "stages",
        "optgap F3 stages instance (SERFLOW): early-exit stages, arrivals, VM and function prices",
        {
            "stages": _arr(
                _obj(
                    {
                        "id": STR,
                        "vm_ms": POS,
                        "fn_ms": {
                            "type": "object",
                            "minProperties": 1,
                            "propertyNames": {"pattern": "^[1-9][0-9]*$"},
                            "additionalProperties": POS,
                        },
                        "exit_prob": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                    {
                        "activation_bytes": NONNEG_INT,
                        "vm_type": STR,
                        "vm_ms_on": {"type": "object", "additionalProperties": POS},
                    },
                ),
                1,
            ),
            "arrivals": {"oneOf": [by_trace, by_seconds, by_rates]},
            "vm": _obj(
                {"price_per_hour": NONNEG, "workers": POS_INT, "cold_start_s": NONNEG},
                {
                    "max_utilisation": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "exclusiveMaximum": 1,
                    },
                    "max_total": {"anyOf": [NONNEG_INT, {"type": "null"}]},
                },
            ),
            "functions": _obj(
                {"price_per_gb_s": NONNEG, "price_per_request": NONNEG, "cold_start_ms": NONNEG},
                {"keep_alive_s": NONNEG},
            ),
            "slo": _obj(
                {"latency_ms": POS},
                {"percentile": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100}},
            ),
        },
        {
            "network": _obj(
                {}, {"latency_ms": NONNEG, "bandwidth_mb_s": {"anyOf": [POS, {"type": "null"}]}}
            ),
            "service_cv": NONNEG,
            "sim_seed": NONNEG_INT,
            "name": {"type": "string"},
            "meta": META,
            "vm_types": {
                "type": "object",
                "propertyNames": {"not": {"const": "default"}},
                "additionalProperties": _obj(
                    {"price_per_hour": NONNEG, "workers": POS_INT, "cold_start_s": NONNEG},
                    {
                        "max_utilisation": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "exclusiveMaximum": 1,
                        }
                    },
                ),
            },
            "overhead_ms": _obj({}, {"vm": NONNEG, "fn": NONNEG}),
        },
        version_required=True,
    )


def _pipeload() -> dict:
    return _top(
        "pipeload",
        "optgap F4 pipeload instance (Hermes / PIPELOAD): layers, loading agents, memory",
        {
            "layers": _arr(
                _obj({"name": STR, "load_ms": NONNEG, "compute_ms": NONNEG, "mem_mb": NONNEG}), 1
            ),
            "agents": {"anyOf": [POS_INT, _obj({"min": POS_INT, "max": POS_INT})]},
        },
        {
            "name": STR,
            "resident_mb": NONNEG,
            "agent_mb": NONNEG,
            "budget_mb": {"anyOf": [POS, {"type": "null"}]},
            "latency_bound_ms": {"anyOf": [POS, {"type": "null"}]},
            "disk_mb_s": {"anyOf": [POS, {"type": "null"}]},
            "meta": META,
        },
    )


def _steering() -> dict:
    real_matrix = _arr(_arr(NUM, 1), 1)
    matrix = {
        "anyOf": [
            real_matrix,
            _obj({"re": real_matrix}, {"im": real_matrix}),
        ]
    }
    sharp = {"type": "number", "minimum": 0, "maximum": 1}

    def one_of(key: str, value: dict, extra: dict | None = None) -> dict:
        return _obj({key: value}, extra)

    measurement = {
        "oneOf": [
            one_of("pauli", {"enum": ["x", "y", "z"]}, {"sharpness": sharp}),
            one_of("bloch", _arr(NUM, 3, maxItems=3), {"sharpness": sharp}),
            one_of("identity", {"const": True}),
            one_of("observable", matrix),
            one_of("povm", _arr(matrix, 2)),
            one_of("mub", NONNEG_INT),
        ]
    }
    settings = _arr(measurement, 1, maxItems=12)
    state = _obj(
        {"kind": {"enum": ["phi-plus", "singlet", "psi-theta", "density"]}},
        {
            "dim": POS_INT,
            "theta": NUM,
            "dims": _arr(POS_INT, 2, maxItems=2),
            "re": real_matrix,
            "im": real_matrix,
            "visibility": {"type": "number", "minimum": 0, "maximum": 1},
        },
    )
    # the quantity names and the fields each needs are the loader's own tables (one source)
    from optgap.formulations.steering.instance import ALTERNATIVE, QUANTITIES, REQUIRED

    complex_matrix = _obj({"re": real_matrix}, {"im": real_matrix})
    operator_table = _arr(_arr(complex_matrix, 1), 1, maxItems=12)

    quantities = list(QUANTITIES)
    pair = _arr(POS_INT, 2, maxItems=2)
    parts = _obj({}, {"A": {"type": "array"}, "B": {"type": "array"}, "AB": {"type": "array"}})
    bell = _obj(
        {"inputs": pair},
        {
            "outputs": _arr({"type": "integer", "minimum": 2}, 2, maxItems=2),
            "constant": NUM,
            "probabilities": {"type": "array"},
            "collins_gisin": parts,
            "correlators": parts,
        },
        oneOf=[
            {"required": ["probabilities"]},
            {"required": ["collins_gisin"]},
            {"required": ["correlators"]},
        ],
    )
    schema = _top(
        "steering",
        "optgap F5 steering instance: a scenario (state, measurements) and the quantity wanted",
        {"quantity": {"enum": quantities}},
        {
            "name": STR,
            "meta": META,
            "state": state,
            "dim": {"type": "integer", "minimum": 1},
            "bell": bell,
            "level": {"anyOf": [{"enum": [1, 2, 3, 4]}, {"enum": ["1", "1+AB", "2", "3", "4"]}]},
            "alice": settings,
            "bob": settings,
            "charlie": settings,
            "expression": real_matrix,
            "inequality": {"enum": ["steering", "bell"]},
            "strategies": {
                "type": "array",
                "description": "sequential strategies (see formulations/steering/instance.py)",
            },
            "identity_bound": {"enum": ["trusted", "declared"]},
            # network-fnn: the two sources of the bilocal network and the witness wanted
            "sources": _obj({"ab": state, "bc": state}),
            "witness": {"enum": ["cn", "nc", "fnn"]},
            "sequential": _obj(
                {}, {"mode": {"enum": ["passive", "cooperating"]}, "charlie2": settings}
            ),
            # a given assemblage σ[x][a] / steering functional F[x][a] ({re, im} matrices)
            "assemblage": operator_table,
            "functional": operator_table,
            "alice_dim": POS_INT,
        },
        version_required=True,
    )
    # which fields each quantity needs (REQUIRED in the loader, or its ALTERNATIVE)
    needs = {q: sorted(REQUIRED[q]) for q in QUANTITIES}

    def then(q: str) -> dict:
        if q not in ALTERNATIVE:
            return {"required": needs[q]}
        return {"anyOf": [{"required": needs[q]}, {"required": sorted(ALTERNATIVE[q])}]}

    schema["allOf"] = [
        {
            "if": {"properties": {"quantity": {"const": q}}, "required": ["quantity"]},
            "then": then(q),
        }
        for q in needs
    ]
    return schema


BUILDERS = {
    "dag": _dag,
    "workflow": _workflow,
    "stages": _stages,
    "pipeload": _pipeload,
    "steering": _steering,
}


# the decisions of a dag solution (formulations/dag/evaluate.py); open: other keys are ignored
DAG_SOLUTION = {
    "type": "object",
    "properties": {
        "pattern": {"enum": ["latency", "memory"]},
        "slo_ms": {"anyOf": [NUM, {"type": "null"}]},
        "schedule": {
            "type": "object",
            "additionalProperties": _obj({"device": STR, "start_ms": NONNEG}),
        },
        "transfers": _arr(
            _obj({"edge": _arr(STR, 2, maxItems=2), "start_ms": NONNEG}),
            description="start of every transfer over a shared lane (shared links only)",
        ),
    },
    "required": ["schedule"],
}


def solution_schema(family: str) -> dict:
    """A solution file: the Result of `optgap solve --out` (the family's decisions in
    ``solution``, whose fields the family's evaluator documents and checks)."""
    num_or_null = {"anyOf": [NUM, {"type": "null"}]}
    decisions = {"type": "object"} if family != "dag" else DAG_SOLUTION
    return {
        "$schema": DRAFT,
        "$id": f"https://optgap.invalid/schemas/{family}.solution.json",
        "title": f"optgap {family} solution file (optgap solve --out)",
        "type": "object",
        "required": ["family", "method", "status", "solution"],
        "additionalProperties": False,
        "properties": {
            "family": {"const": family},
            "method": STR,
            "backend": {"type": "string"},
            "status": {"enum": ["optimal", "feasible", "infeasible", "time_limit", "error"]},
            "objective": num_or_null,
            "bound": num_or_null,
            "gap": num_or_null,
            "time_s": NONNEG,
            "solution": {
                "anyOf": [decisions, {"type": "null"}],
                "description": "the decisions, as the family's evaluator reads them",
            },
            "stats": {"type": "object"},
            "message": {"type": "string"},
            "instance": {
                "type": "string",
                "description": "the instance file, relative to this file, or a shipped name",
            },
        },
    }


def build(family: str, *, solution: bool = False) -> dict:
    if family not in BUILDERS:
        raise KeyError(family)
    return solution_schema(family) if solution else BUILDERS[family]()


def schema(family: str, *, solution: bool = False) -> dict:
    """The shipped schema file of a family (identical to `build`; a test checks they agree)."""
    name = f"{family}.{'solution' if solution else 'instance'}.json"
    path = Path(str(files("optgap") / "schemas" / name))
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    return build(family, solution=solution)


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fam in FAMILIES:
        for sol in (False, True):
            p = out / f"{fam}.{'solution' if sol else 'instance'}.json"
            p.write_text(json.dumps(build(fam, solution=sol), indent=2) + "\n", encoding="utf-8")
            written.append(p)
    return written


if __name__ == "__main__":  # python -m optgap.schema: rewrite optgap/schemas/*.json
    for p in write_all(Path(__file__).resolve().parent / "schemas"):
        print(p, file=sys.stderr)
