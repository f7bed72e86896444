"""The compare harness: every method on generated instances, gaps to the proven optimum.

Each finished run is appended to a JSON-lines file at once (and flushed), so an interrupted run
keeps what it did; ``resume=True`` skips the runs already there. A file written with other
settings (pattern, SLO, time limit, threads, seed) is refused rather than mixed.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from solvers import registry
from solvers.errors import InputError
from solvers.report import pct, table
from solvers.result import SolveOptions, Status


def _config(options: SolveOptions, objective: str) -> dict[str, Any]:
    return {
        "objective": objective,
        "slo_ms": options.slo_ms,
        "time_limit_s": options.time_limit_s,
        "threads": options.threads,
        "seed": options.seed,
        "hint": options.hint,
    }


def compare(
    family_id: str,
    sizes: list[int],
    seeds: list[int],
    methods: list[str],
    options: SolveOptions,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    fam = registry.family(family_id)
    objective = options.objective or fam.objectives[0]
    options = SolveOptions(**{**options.__dict__, "objective": objective})
    config = _config(options, objective)
    out = Path(out)
    done = _read_existing(out, family_id, config) if resume else []
    if out.exists() and not resume:
        raise InputError(
            f"{out}: already exists; pass --resume to continue it or choose another --out"
        )
    keys = {(r["size"], r["seed"], r["method"]) for r in done}
    jobs = [(n, s, m) for n in sizes for s in seeds for m in methods if (n, s, m) not in keys]

    from tqdm import tqdm

    records = list(done)
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        out.open("a", encoding="utf-8") as f,
        tqdm(
            total=len(jobs), disable=None if progress else True, desc="compare", unit="run"
        ) as bar,
    ):
        cache: dict[tuple[int, int], Any] = {}
        for size, seed, name in jobs:
            bar.set_postfix_str(f"n={size} seed={seed} {name}")
            if (size, seed) not in cache:
                cache = {(size, seed): fam.generate(size, seed)}
            inst = cache[size, seed]
            result = registry.solve(family_id, name, inst, options)
            record = {
                "family": family_id,
                "size": size,
                "seed": seed,
                "instance": getattr(inst, "name", ""),
                **{k: v for k, v in result.to_json().items() if k not in ("family", "solution")},
                "config": config,
                "evaluation": _evaluate(fam, inst, result),
            }
            f.write(json.dumps(record) + "\n")
            f.flush()
            records.append(record)
            bar.update(1)
    return records


def _evaluate(fam, inst, result) -> dict[str, Any]:
    if result.solution is None:
        return {"verdict": "none"}
    ev = fam.evaluate(inst, result.solution)
    if not ev.feasible:
        return {"verdict": "rejected", "violations": ev.violations[:5]}
    agrees = result.objective is None or math.isclose(
        ev.objective, result.objective, rel_tol=1e-9, abs_tol=1e-9
    )
    return {
        "verdict": "feasible" if agrees else "rejected",
        "objective": ev.objective,
        **(
            {}
            if agrees
            else {"violations": [f"objective {result.objective} != evaluator {ev.objective}"]}
        ),
    }


def _read_existing(out: Path, family_id: str, config: dict) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    records = []
    with out.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                # the last line of an interrupted run may be cut short: drop it, keep the rest
                if not line.endswith("\n"):
                    _truncate_last_line(out)
                    break
                raise InputError(
                    f"{out}:{lineno}: not a JSON line; is this a compare results file?"
                ) from None
            if r.get("family") != family_id:
                raise InputError(
                    f"{out}:{lineno}: results of family {r.get('family')!r}, not {family_id!r}"
                )
            if r.get("config") != config:
                raise InputError(
                    f"{out}:{lineno}: written with other settings {r.get('config')}; "
                    f"resume with the same options or use another --out"
                )
            records.append(r)
    return records


def _truncate_last_line(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: data.rfind(b"\n") + 1])


def reference(records: list[dict[str, Any]]) -> dict[tuple[int, int], tuple[float, bool]]:
    """Per instance: (value, proven). The best proven optimum; else the best exact bound."""
    refs: dict[tuple[int, int], tuple[float, bool]] = {}
    by_inst: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for r in records:
        by_inst[r["size"], r["seed"]].append(r)
    for key, rs in by_inst.items():
        exact = [
            r
            for r in rs
            if r["stats"].get("kind") == "exact" and r["evaluation"]["verdict"] != "rejected"
        ]
        opt = [r["objective"] for r in exact if r["status"] == Status.OPTIMAL]
        if opt:
            refs[key] = (min(opt), True)
            continue
        bounds = [r["bound"] for r in exact if r["bound"] is not None]
        if bounds:
            refs[key] = (max(bounds), False)
    return refs


def summarise(records: list[dict[str, Any]]) -> str:
    """A table per size and method: gap to the optimum (or to the best bound, marked *)."""
    refs = reference(records)
    groups: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[r["size"], r["method"]].append(r)
    rows = []
    any_bound = False
    for (size, method), rs in sorted(groups.items()):
        gaps = []
        marked = False
        for r in rs:
            ref = refs.get((r["size"], r["seed"]))
            if r["evaluation"]["verdict"] != "feasible" or ref is None:
                continue
            value, proven = ref
            marked |= not proven
            gaps.append(
                0.0
                if r["objective"] == value
                else (r["objective"] - value) / abs(value)
                if value
                else math.inf
            )
        any_bound |= marked
        mark = "*" if marked else ""
        rows.append(
            (
                size,
                method,
                len(rs),
                sum(r["evaluation"]["verdict"] == "feasible" for r in rs),
                sum(r["status"] == Status.OPTIMAL for r in rs),
                (pct(sum(gaps) / len(gaps)) + mark) if gaps else "-",
                (pct(max(gaps)) + mark) if gaps else "-",
                f"{sum(r['time_s'] for r in rs) / len(rs):.3f}",
                sum(r["evaluation"]["verdict"] == "rejected" for r in rs),
            )
        )
    text = table(
        [
            "size",
            "method",
            "runs",
            "solved",
            "optimal",
            "mean gap",
            "max gap",
            "mean time s",
            "rejected",
        ],
        rows,
        "llrrrrrrr",
    )
    note = "gap = (objective - optimum) / optimum over evaluator-checked runs"
    if any_bound:
        note += "; * = no proven optimum for some instance: gap to the best exact bound"
    return text + "\n" + note
