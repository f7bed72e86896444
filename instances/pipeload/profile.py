"""Import a per-layer profile (what Hermes's profiler measures) as an F4 instance.

Profile format: UTF-8 CSV, one row per layer in execution order, with the header
``name,load_ms,compute_ms,mem_mb`` (any column order; no other columns). Lines starting with
``#`` are comments, except ``# key: value`` lines for these instance fields:
``resident_mb``, ``agent_mb``, ``agents`` (``4`` or ``1-8``), ``budget_mb``, ``disk_mb_s``,
``name``. Example::

    # name: bert-base measured on a Raspberry Pi 4
    # resident_mb: 52
    # agents: 1-6
    name,load_ms,compute_ms,mem_mb
    embed,402.1,3.2,93.8
    block0,120.4,35.0,28.3

Usage: ``python -m optgap.instances.pipeload.profile PROFILE.csv -o instance.json [--budget-mb X]``.
Every problem is an InputError naming the line.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from typing import Any

from optgap.formulations.pipeload.instance import load
from optgap.solvers.errors import InputError
from optgap.solvers.fields import read_text, write_json_new

COLUMNS = ("name", "load_ms", "compute_ms", "mem_mb")
KEYS = ("resident_mb", "agent_mb", "agents", "budget_mb", "disk_mb_s", "name")


def import_profile(path: str, **overrides: Any) -> dict[str, Any]:
    text = read_text(path, "a CSV profile")
    header: dict[str, Any] = {}
    rows: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            key, sep, value = s[1:].partition(":")
            key = key.strip()
            if sep and key in KEYS:
                header[key] = _header_value(key, value.strip(), f"{path}:{lineno}")
            continue
        rows.append((lineno, line))
    if not rows:
        raise InputError(f"{path}: no header row ({','.join(COLUMNS)})")
    first_line, first = rows[0]
    cols = [c.strip() for c in next(csv.reader(io.StringIO(first)))]
    if sorted(cols) != sorted(COLUMNS):
        raise InputError(
            f"{path}:{first_line}: header must name exactly {', '.join(COLUMNS)}; got {', '.join(cols)}"
        )
    layers = []
    for lineno, line in rows[1:]:
        cells = [c.strip() for c in next(csv.reader(io.StringIO(line)))]
        if len(cells) != len(cols):
            raise InputError(f"{path}:{lineno}: expected {len(cols)} fields, got {len(cells)}")
        rec = dict(zip(cols, cells, strict=True))
        layer: dict[str, Any] = {"name": rec["name"]}
        for key in ("load_ms", "compute_ms", "mem_mb"):
            try:
                layer[key] = float(rec[key])
            except ValueError:
                raise InputError(f"{path}:{lineno}: {key} {rec[key]!r} is not a number") from None
        layers.append(layer)
    data: dict[str, Any] = {
        "family": "pipeload",
        "version": 1,
        "name": header.pop("name", path.rsplit("/", 1)[-1].rsplit(".", 1)[0]),
        "layers": layers,
        "resident_mb": header.pop("resident_mb", 0),
        "agents": header.pop("agents", 1),
        **header,
        "meta": {"source": f"profile {path.rsplit('/', 1)[-1]}", "importer": __name__},
    }
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        load(data)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None
    return data


def _header_value(key: str, value: str, where: str) -> Any:
    if key == "name":
        return value
    if key == "agents":
        lo, sep, hi = value.partition("-")
        try:
            return {"min": int(lo), "max": int(hi)} if sep else int(lo)
        except ValueError:
            raise InputError(f"{where}: agents {value!r}: expected k or a range a-b") from None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{where}: {key} {value!r} is not a number") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m optgap.instances.pipeload.profile")
    ap.add_argument("profile")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--budget-mb", type=float)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    try:
        data = import_profile(args.profile, budget_mb=args.budget_mb)
        write_json_new(args.out, data, force=args.force)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(data['layers'])} layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
