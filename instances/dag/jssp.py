"""Classic job shops (the usual ``.jss`` text format) as F1 instances.

A job shop is an F1 instance: one CPU-kind device of one slot per machine, every operation
pinned to its machine, a chain of edges per job, free transfers. The text format: ``#`` comment
lines, then ``jobs machines``, then one line per job of ``machine time`` pairs.

    python -m optgap.instances.dag.jssp FILE.jss NAME OPTIMUM -o OUT.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from optgap.solvers.errors import InputError


def parse_jss(text: str) -> list[list[tuple[int, int]]]:
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    try:
        n_jobs, n_machines = (int(v) for v in rows[0])
        jobs = []
        for k, row in enumerate(rows[1 : 1 + n_jobs]):
            vals = [int(v) for v in row]
            if len(vals) != 2 * n_machines:
                raise InputError(f"job {k}: expected {n_machines} (machine, time) pairs")
            jobs.append([(vals[2 * i], vals[2 * i + 1]) for i in range(n_machines)])
    except (ValueError, IndexError):
        raise InputError("not a .jss job shop (jobs machines, then machine/time pairs)") from None
    if len(jobs) != n_jobs:
        raise InputError(f"expected {n_jobs} jobs, found {len(jobs)}")
    return jobs


def jobshop_json(jobs: list[list[tuple[int, int]]], name: str, meta: dict[str, Any]) -> dict:
    machines = sorted({m for job in jobs for m, _ in job})
    ops, edges = [], []
    for j, job in enumerate(jobs):
        for k, (m, t) in enumerate(job):
            ops.append({"id": f"j{j}o{k}", "time_ms": {"cpu": t}, "devices": [f"m{m}"]})
            if k:
                edges.append({"src": f"j{j}o{k - 1}", "dst": f"j{j}o{k}"})
    return {
        "family": "dag",
        "version": 1,
        "name": name,
        "devices": [{"id": f"m{m}", "kind": "cpu"} for m in machines],
        "operators": ops,
        "edges": edges,
        "meta": meta,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("name")
    ap.add_argument("optimum", type=int)
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    with open(args.file, encoding="utf-8") as f:
        jobs = parse_jss(f.read())
    meta = {
        "source": "github.com/ptal/kobe-scheduling data/jssp (commit a36af08), from OR-Library",
        "optimum_ms": args.optimum,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(jobshop_json(jobs, args.name, meta), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
