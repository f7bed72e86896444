"""F1 speed benchmark: how far CP-SAT gets on generated instances, as ratios and counts.

    python benchmarks/bench_dag.py            # the full run quoted in README.md (~20 min)
    python benchmarks/bench_dag.py --quick    # a smoke run

Prints (1) on 60-operator instances (1 GPU + 1 CPU with 4 slots), how many of the seeds CP-SAT
proves optimal within the limit on 2 threads, and the time ratio heuristic / exact; (2) the
remaining gap (objective - bound) / objective at 150 and 300 operators after the limit, beside
HEFT's gap to the same bound.
"""

from __future__ import annotations

import argparse
import statistics

from optgap.instances.dag.generate import generate
from optgap.solvers import registry
from optgap.solvers.report import pct, table
from optgap.solvers.result import SolveOptions, Status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    limit = 5.0 if args.quick else args.time_limit
    seeds = range(3) if args.quick else range(10)
    big = [(150, range(1 if args.quick else 3)), (300, range(1 if args.quick else 3))]
    exact = SolveOptions(time_limit_s=limit, threads=args.threads, seed=0)

    print(f"CP-SAT, {args.threads} threads, {limit:g} s limit; heuristics single-threaded")
    rows, proven, ratios = [], 0, {"heft": [], "gpu-only": []}
    for seed in seeds:
        inst = generate(60, seed)
        r = registry.solve("dag", "cpsat", inst, exact)
        proven += r.status == Status.OPTIMAL
        row = [seed, r.status, r.objective, r.bound, f"{r.time_s:.2f}"]
        for name in ratios:
            h = registry.solve("dag", name, inst, SolveOptions())
            ratios[name].append(h.time_s / r.time_s)
            row.append(
                pct(
                    None
                    if r.status != Status.OPTIMAL
                    else (h.objective - r.objective) / r.objective
                )
            )
        rows.append(row)
    print(
        table(
            ["seed", "status", "makespan ms", "bound", "time s", "heft gap", "gpu-only gap"], rows
        )
    )
    print(f"60 operators: proven optimal in {proven} of {len(seeds)} seeds")
    for name, rs in ratios.items():
        print(f"time ratio {name} / cpsat: median {statistics.median(rs):.2e}, max {max(rs):.2e}")

    print()
    rows = []
    for n, ss in big:
        for seed in ss:
            inst = generate(n, seed)
            r = registry.solve("dag", "cpsat", inst, exact)
            h = registry.solve("dag", "heft", inst, SolveOptions())
            heft_gap = None if r.bound is None else (h.objective - r.bound) / h.objective
            rows.append(
                [n, seed, r.status, r.objective, r.bound, pct(r.gap), h.objective, pct(heft_gap)]
            )
    print(
        table(
            ["ops", "seed", "status", "makespan ms", "bound", "gap", "heft", "heft gap to bound"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
