"""Does --time-limit bound the whole F4 exact method on large instances? (issue 17, point 3)

For generated instances of growing size, each exact method and backend runs both objectives
through the solve layer (warm start, build, solve, fallback: everything `optgap solve` does)
with a limit of --time-limit seconds. Printed per run: status, wall time, the overshoot
(wall - limit) and its ratio to the limit, and CPU time of this process and of its solver
subprocesses (CBC runs as one): the machine is shared, so wall time can exceed CPU time.

    .venv/bin/python benchmarks/bench_pipeload_limits.py [--time-limit 5] [--sizes 20 100 300]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optgap.solvers import registry  # noqa: E402
from optgap.solvers.report import table  # noqa: E402
from optgap.solvers.result import SolveOptions  # noqa: E402

RUNS = (("cpsat", None), ("milp", "cbc"), ("milp", "highs"))


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 300])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    fam = registry.family("pipeload")
    rows = []
    worst = 0.0
    for n in args.sizes:
        inst = fam.generate(n, args.seed)
        for method, backend in RUNS:
            for objective in ("latency", "memory"):
                opts = SolveOptions(
                    time_limit_s=args.time_limit, threads=1, objective=objective, backend=backend
                )
                c0, k0, t0 = time.process_time(), _children_cpu(), time.perf_counter()
                r = registry.solve("pipeload", method, inst, opts)
                wall = time.perf_counter() - t0
                cpu, kids = time.process_time() - c0, _children_cpu() - k0
                over = wall - args.time_limit
                worst = max(worst, over)
                rows.append(
                    (
                        n,
                        f"{method}/{backend or 'cpsat'}",
                        objective,
                        str(r.status),
                        f"{wall:.2f}",
                        f"{over:+.2f}",
                        f"{wall / args.time_limit:.2f}",
                        f"{cpu:.2f}",
                        f"{kids:.2f}",
                        (r.stats.get("solution_from") or r.message or "")[:48],
                    )
                )
                print(*rows[-1], sep="  ", flush=True)
    print()
    print(
        table(
            [
                "layers",
                "method",
                "objective",
                "status",
                "wall s",
                "overshoot s",
                "wall/limit",
                "cpu s",
                "solver cpu s",
                "note",
            ],
            rows,
            "rlllrrrrrl",
        )
    )
    print(f"\nlimit {args.time_limit:g} s; worst overshoot {worst:+.2f} s (machine shared)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
