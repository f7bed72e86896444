"""F3 speed benchmark: the trace-wide MILP on day-long traces, and the simulator's replay rate.

    python benchmarks/bench_stages.py           # the full run quoted in the README (~3 min)
    python benchmarks/bench_stages.py --quick   # a smoke run

Prints (1) for 4-stage, 288-window (24 h in 5-min windows) instances -- generated steady, sine and
bursty traces and the WITS trace replayed over 24 h (ResNet-50 and BERT presets), each also with
a VM quota that couples the stages -- the MILP's status, gap and time on CBC and HiGHS with 2
threads and a 60-s limit, and whether its cost equals the per-stage DP's (uncoupled cases);
(2) the simulator replaying the 45,000-s WITS trace: requests simulated per second of wall time.
"""

from __future__ import annotations

import argparse
import math
import time

from optgap.formulations.stages.evaluate import evaluate
from optgap.formulations.stages.instance import load
from optgap.instances.stages.generate import generate
from optgap.instances.stages.presets import preset
from optgap.solvers import registry
from optgap.solvers.report import pct, table
from optgap.solvers.result import SolveOptions, Status


def day_instances(quick: bool):
    out = []
    for seed in range(1 if quick else 3):
        out.append((f"generated seed {seed}", generate(288, seed)))
    for name in ("resnet50",) if quick else ("resnet50", "bert-base"):
        arr = {"window_s": 300, "trace": "wits", "duration_s": 86400}
        out.append((f"{name} WITS 24 h", load(preset(name, arr))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args()

    print(f"(1) MILP, 4 stages x 288 windows, {args.threads} threads, {args.time_limit:g} s limit")
    rows = []
    worst = 0.0
    within = total = 0
    for label, inst in day_instances(args.quick):
        dp = registry.solve("stages", "dp", inst, SolveOptions())
        peak_need = [max(r) for r in dp.solution["vms"]]
        for quota in (None, max(1, int(0.8 * sum(peak_need)))):
            case = inst if quota is None else _with_quota(inst, quota)
            for backend in ("cbc", "highs"):
                opts = SolveOptions(
                    time_limit_s=args.time_limit, threads=args.threads, backend=backend
                )
                r = registry.solve("stages", "milp", case, opts)
                ok = r.status in (Status.OPTIMAL, Status.FEASIBLE) and (r.gap or 0) <= 0.01
                total += 1
                within += ok and r.time_s < 60
                worst = max(worst, r.time_s)
                same = "-"
                if quota is None and r.objective is not None:
                    same = "yes" if math.isclose(r.objective, dp.objective, rel_tol=1e-7) else "NO"
                rows.append(
                    [
                        label,
                        "-" if quota is None else quota,
                        backend,
                        r.status,
                        r.objective,
                        pct(r.gap),
                        f"{r.time_s:.2f}",
                        same,
                        r.stats.get("integers"),
                    ]
                )
    print(
        table(
            ["instance", "quota", "backend", "status", "cost $", "gap", "time s", "= DP", "ints"],
            rows,
            "lrllrrrlr",
        )
    )
    print(f"within 1 % in < 60 s: {within}/{total}; slowest {worst:.2f} s")

    print("\n(2) simulator: the 45,000-s WITS trace (ResNet-50 preset), every plan replayed")
    inst = load(preset("resnet50", {"window_s": 300, "trace": "wits"}))
    n = int(inst.per_second.sum())
    rows = []
    rates = []
    for method in ("milp",) if args.quick else ("milp", "serflow", "functions-only"):
        r = registry.solve("stages", method, inst, SolveOptions())
        t0, c0 = time.perf_counter(), time.process_time()
        m = evaluate(inst, r.solution).metrics  # the plan check is negligible beside the replay
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        rates.append(n / dt)
        rows.append(
            [
                method,
                n,
                sum(m["stage_visits"]),
                f"{dt:.2f}",
                f"{n / dt:,.0f}",
                f"{n / dc:,.0f}",
                m["latency_p95_ms"],
            ]
        )
    print(
        table(
            ["plan", "requests", "stage visits", "wall s", "req / wall s", "req / CPU s", "p95 ms"],
            rows,
            "lrrrrrr",
        )
    )
    print(f"slowest replay: {min(rates):,.0f} requests per wall second (target >= 1,000)")


def _with_quota(inst, quota: int):
    from dataclasses import replace

    return replace(inst, vm=replace(inst.vm, max_total=quota))


if __name__ == "__main__":
    main()
