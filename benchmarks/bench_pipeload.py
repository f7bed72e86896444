"""Speed of the F4 exact model on 48-block-sublayer Transformers (GPT-2-medium and BERT-large
split into attention and MLP: 48 + embedding + head = 50 layers, 100 interval variables).

For each memory budget: CP-SAT's latency, status, bound and wall time on 2 threads (limit 30 s),
the process CPU time (both threads; the machine may be shared, so wall time can exceed it
by the load), the PIPELOAD planner's latency and time, the heuristic/exact time ratio and PIPELOAD's distance
from the optimum; then the same with loads forced into layer order (PIPELOAD's rule), which
separates what the greedy loses from what loading out of order gains.

    .venv/bin/python benchmarks/bench_pipeload.py [--time-limit 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optgap.instances.pipeload.generate import preset  # noqa: E402
from optgap.solvers import registry  # noqa: E402
from optgap.solvers.report import table  # noqa: E402
from optgap.solvers.result import SolveOptions, Status  # noqa: E402

BUDGETS_MB = {
    "gpt2-medium": (214.249, 300, 400, 500, 650, 900),
    "bert-large": (131.326, 200, 250, 300, 400, 600),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=list(BUDGETS_MB))
    args = ap.parse_args()
    opts = SolveOptions(time_limit_s=args.time_limit, threads=args.threads)
    proven_under_30 = 0
    total = 0
    for name in args.models:
        inst = preset(name, granularity="sublayer")
        print(
            f"\n## {name} (sublayers): {inst.n} layers, {2 * inst.n} interval variables, "
            f"{inst.model_kb / 1000:g} MB, least budget {inst.min_budget_kb() / 1000:g} MB"
        )
        rows = []
        for b in BUDGETS_MB[name]:
            o = replace(opts, params=(("budget_mb", str(b)),))
            cpu0 = time.process_time()
            exact = registry.solve("pipeload", "cpsat", inst, o)
            cpu = time.process_time() - cpu0
            ordered = registry.solve(
                "pipeload", "cpsat", inst, replace(o, params=(*o.params, ("order", "layer")))
            )
            t0 = time.perf_counter()
            heur = registry.solve("pipeload", "planner", inst, o)
            t_h = time.perf_counter() - t0
            total += 1
            ok = exact.status == Status.OPTIMAL
            proven_under_30 += ok and exact.time_s < 30
            rows.append(
                (
                    f"{b:g}",
                    f"{exact.objective:g}",
                    "optimal" if ok else f"gap {exact.gap:.1%}",
                    f"{exact.time_s:.2f}",
                    f"{cpu:.2f}",
                    f"{ordered.objective:g}"
                    + ("" if ordered.status == Status.OPTIMAL else f" (gap {ordered.gap:.1%})"),
                    f"{heur.objective:g}",
                    f"{t_h * 1000:.1f}",
                    f"{t_h / exact.time_s:.1e}",
                    f"{heur.objective / exact.objective - 1:+.1%}",
                )
            )
        print(
            table(
                [
                    "budget MB",
                    "exact ms",
                    "status",
                    "exact s",
                    "CPU s",
                    "exact, loads in order",
                    "PIPELOAD ms",
                    "PIPELOAD ms-time",
                    "heur/exact time",
                    "PIPELOAD vs exact",
                ],
                rows,
                "rrlrrrrrrr",
            )
        )
    print(f"\nproven optimal in under 30 s on {args.threads} threads: {proven_under_30} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
