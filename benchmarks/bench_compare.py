"""Harness benchmark: parallel speed-up of the quick suite and per-instance overhead.

    python benchmarks/bench_compare.py

Prints (1) the wall time of `suites/quick.toml` with 2 worker processes as a fraction of its time
with 1 worker process (the issue asks for <= 0.6 on 2 cores), and (2) the harness's own cost per
instance: a heuristic that does nothing (tests/plugin_toy.py `noop`) run over 300 instances,
in-process and through one worker process; the figure is wall time per run, everything included
(generation, registry, evaluation, JSON line written and flushed, IPC where there is a worker).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.plugin_toy, for the no-op method

from optgap.solvers.compare import run  # noqa: E402
from optgap.solvers.report import table  # noqa: E402
from optgap.solvers.suite import parse_suite, read_suite  # noqa: E402


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (the worker processes)."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(tasks, **kw) -> tuple[float, list, float]:
    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), _cpu()
        records = run(tasks, Path(d) / "r.jsonl", progress=False, **kw)
        return time.perf_counter() - t0, records, _cpu() - c0


def main() -> None:
    quick = read_suite(ROOT / "suites" / "quick.toml").tasks
    t1, r1, c1 = timed(quick, workers=1)
    t2, r2, c2 = timed(quick, workers=2)
    solved = sum(r["evaluation"]["verdict"] == "feasible" for r in r2)
    print(f"quick suite: {len(quick)} runs ({solved} evaluator-accepted with 2 workers)")
    print(
        table(
            ["workers", "wall s", "CPU s", "ratio to 1 worker (wall)"],
            [
                (1, f"{t1:.1f}", f"{c1:.1f}", "1.00"),
                (2, f"{t2:.1f}", f"{c2:.1f}", f"{t2 / t1:.2f}"),
            ],
        )
    )
    print()
    noop = parse_suite(
        {
            "plugins": ["tests.plugin_toy"],
            "run": [
                {"family": "toy", "sizes": list(range(1, 301)), "seeds": [0], "methods": ["noop"]}
            ],
        }
    ).tasks
    rows = []
    for label, kw in (("in-process", {}), ("1 worker process", {"workers": 1})):
        t, records, c = timed(noop, **kw)
        n = len(records)
        rows.append((label, n, f"{1000 * t / n:.2f}", f"{1000 * c / n:.2f}"))
    print("harness overhead (no-op heuristic, per run, all included)")
    print(table(["mode", "runs", "wall ms per run", "CPU ms per run"], rows))
    print("(the worker figure includes starting the worker process once: about 1 s of imports)")


if __name__ == "__main__":
    main()
