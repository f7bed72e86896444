"""Mutations of instance and solution files, and the CLI outcome of each (for the fuzz tests and
benchmarks/fuzz.py).

A mutation takes the text of a shipped file and a ``random.Random`` and returns new text: a
structural edit of the parsed JSON (a key deleted, renamed or duplicated, a value replaced by one
of another type, a hostile number, unicode, a deep nest, a cycle of edges, an unknown or
duplicate id) or a raw edit of the text (truncation, garbage bytes). The outcome of a file is the
exit code of ``optgap validate`` (instances) or ``optgap evaluate`` (solutions), run in-process.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("dag", "workflow", "stages", "pipeload", "steering")

# Values that have broken loaders: every JSON type, non-finite and huge numbers, deep nests.
HOSTILE = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2,
    0.5,
    -0.0,
    1e-320,
    1e19,
    1e30,
    6e300,
    1e306,
    -1e306,
    2**53 + 1,
    2**63,
    10**400,
    "",
    "x",
    "é\u202e\U0001f600",
    "cpu",
    "gpu",
    [],
    [1],
    [[]],
    {},
    {"id": "x"},
    [0, 1],
    ["a", "a"],
]
RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1" + "0" * 5000, "1e400", "-1e400", "1e-400"]


def shipped(family: str) -> list[Path]:
    return sorted((ROOT / "instances" / family).glob("*.json"))


# ------------------------------------------------------------------------------ mutations


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indices) inside a JSON value, the root included."""
    out = [prefix]
    stack = [(data, prefix)]
    while stack:
        value, p = stack.pop()
        items = (
            value.items()
            if isinstance(value, dict)
            else enumerate(value)
            if isinstance(value, list)
            else ()
        )
        for k, v in items:
            out.append(p + (k,))
            if isinstance(v, dict | list):
                stack.append((v, p + (k,)))
    return out


def _get(data: Any, path: tuple) -> Any:
    for k in path:
        data = data[k]
    return data


def _set(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(data, path[:-1])[path[-1]] = value
    return data


def _deep_text(match: re.Match) -> str:
    """The text of a nest of arrays or objects, ``depth`` levels deep."""
    kind, depth = match.group(1), int(match.group(2))
    return (
        ("[" * depth + "1" + "]" * depth)
        if kind == "list"
        else ('{"a":' * depth + "1" + "}" * depth)
    )


def _ids(data: Any) -> list[str]:
    return [
        _get(data, p)
        for p in _paths(data)
        if p and p[-1] == "id" and isinstance(_get(data, p), str)
    ]


def mutate_data(data: Any, rng: random.Random) -> tuple[Any, str]:
    """One structural mutation of a parsed JSON value (in place where possible)."""
    paths = _paths(data)
    path = rng.choice(paths)
    parent = _get(data, path[:-1]) if path else None
    kind = rng.choice(
        [
            "delete",
            "rename",
            "duplicate",
            "hostile",
            "hostile",
            "hostile",
            "scale",
            "deep",
            "unicode",
            "id",
            "cycle",
            "grow",
        ]
    )
    if kind == "delete" and path and isinstance(parent, dict | list):
        del parent[path[-1]]
    elif kind == "rename" and path and isinstance(parent, dict):
        parent[rng.choice(["x", path[-1] + "_", path[-1].upper(), ""])] = parent.pop(path[-1])
    elif kind == "duplicate" and path and isinstance(parent, list):
        parent.insert(path[-1], json.loads(json.dumps(parent[path[-1]])))
    elif kind == "scale":
        v = _get(data, path)
        if isinstance(v, int | float) and not isinstance(v, bool):
            data = _set(data, path, v * rng.choice([-1, 0, 1e3, 1e6, 1e12, 1e18, 1e300, 1e-9]))
        else:
            data = _set(data, path, rng.choice(HOSTILE))
    elif kind == "deep":
        # a marker, replaced in the text: json.dumps itself cannot write 2000 levels
        data = _set(
            data,
            path,
            f"__DEEP_{rng.choice(['list', 'dict'])}_{rng.choice([50, 300, 600, 2000])}__",
        )
    elif kind == "unicode":
        data = _set(data, path, rng.choice(["\x00", "\ud800x", "é" * 1000, "\u202e", "a\nb"]))
    elif kind == "id":
        ids = _ids(data)
        id_paths = [p for p in paths if p and p[-1] in ("id", "src", "dst", "devices")]
        if ids and id_paths:
            p = rng.choice(id_paths)
            data = _set(data, p, rng.choice(ids + ["nope", ["a", "b"], {"x": 1}]))
    elif kind == "cycle" and isinstance(data, dict) and isinstance(data.get("edges"), list):
        edges = [e for e in data["edges"] if isinstance(e, dict)]
        if edges:
            e = rng.choice(edges)
            data["edges"].append({**e, "src": e.get("dst"), "dst": e.get("src")})
    elif kind == "grow":
        v = _get(data, path)
        if isinstance(v, list) and v:
            data = _set(data, path, v * rng.choice([2, 10, 100]))
        else:
            data = _set(data, path, rng.choice(HOSTILE))
    else:
        data = _set(data, path, json.loads(json.dumps(rng.choice(HOSTILE))))
    return data, kind


def mutate_text(text: str, rng: random.Random) -> tuple[str, str]:
    """One mutation of the text of a JSON file: mostly structural, sometimes raw."""
    r = rng.random()
    if r < 0.08:
        return text[: rng.randrange(len(text) + 1)], "truncate"
    if r < 0.14:
        pos = rng.randrange(len(text) + 1)
        junk = rng.choice(["\x00", "\xff", "{", "]", ",", '"', "[" * 2000, "\ufeff", "NaN"])
        return text[:pos] + junk + text[pos:], "garbage"
    if r < 0.24:  # a raw number no Python value round-trips to (NaN, 5000 digits, 1e400)
        data = json.loads(text)
        paths = [p for p in _paths(data) if isinstance(_get(data, p), int | float)]
        if paths:
            marker = "__RAW_NUMBER__"
            data = _set(data, rng.choice(paths), marker)
            return json.dumps(data).replace(f'"{marker}"', rng.choice(RAW_NUMBERS)), "raw-number"
    if r < 0.28:
        data = json.loads(text)
        if isinstance(data, dict) and data:
            key = rng.choice(list(data))
            body = json.dumps(data)[:-1]
            return body + f", {json.dumps(key)}: {json.dumps(rng.choice(HOSTILE))}}}", "dup-key"
    data = json.loads(text)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        data, kind = mutate_data(data, rng)
    return re.sub(r'"__DEEP_(list|dict)_(\d+)__"', _deep_text, json.dumps(data)), kind


# ------------------------------------------------------------------------------ outcomes


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Exit code and stderr of the optgap CLI, run in-process."""
    from optgap.solvers.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = e.code if isinstance(e.code, int) else 2
    return code, err.getvalue()


def base_solution(family: str, instance: Path, out: Path) -> Path | None:
    """A heuristic's solution file for a shipped instance (the seed of solution mutations)."""
    heuristics = {
        "dag": "heft",
        "workflow": "aarc",
        "stages": "serflow",
        "pipeload": "pipeload",
        "steering": "closed-form",
    }
    code, err = run_cli(
        ["solve", str(instance), "--method", heuristics[family], "--out", str(out), "--force"]
    )
    return out if code == 0 and out.exists() else None
