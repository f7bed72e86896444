"""How far past --time-limit each exact method (and backend) runs on large instances.

    python benchmarks/bench_timelimits.py [--limit 5] [--families dag stages] [--big]

Every run is a fresh process (``--one``) that loads the instance, then times ``registry.solve``
alone: wall time, CPU time of the process and of its children (CBC runs as one), status. The
overshoot is wall - limit; the solve layer promises at most max(2 s, 25 % of the limit) (+3 s for
CBC's kill) after the deadline, when the model's loops call ``backends.check_time``. The machine
is shared: read CPU beside wall.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _chain(n: int) -> dict:
    ops = [{"id": f"o{i}", "time_ms": {"cpu": 1.0 + i % 7, "gpu": 0.5}} for i in range(n)]
    edges = [{"src": f"o{i}", "dst": f"o{i + 1}", "bytes": 1000} for i in range(n - 1)]
    return {
        "family": "dag",
        "devices": [{"id": "cpu", "kind": "cpu", "slots": 4}, {"id": "gpu", "kind": "gpu"}],
        "operators": ops,
        "edges": edges,
        "links": {"latency_ms": 0.01, "bandwidth_gb_s": 10},
    }


def _steering(d: int) -> dict:
    return {
        "family": "steering",
        "version": 1,
        "name": f"phi-plus d={d}, three MUB settings",
        "quantity": "robustness",
        "state": {"kind": "phi-plus", "dim": d},
        "alice": [{"mub": 0}, {"mub": 1}, {"mub": 2}],
    }


def _generated(family: str, size: int, **kw) -> dict:
    from optgap.solvers import registry
    from optgap.solvers.suite import generate_instance

    fam = registry.family(family)
    return fam.dump(generate_instance(family, size, 0, kw))


def cases(big: bool) -> list[tuple[str, str, dict, list[tuple[str, str | None]]]]:
    """(family, label, instance JSON, [(method, backend)])."""
    out = [
        (
            "dag",
            "random n=300",
            _generated("dag", 300),
            [("milp", "cbc"), ("milp", "highs"), ("cpsat", None)],
        ),
        (
            "workflow",
            "random n=80",
            _generated("workflow", 80),
            [("milp", "highs"), ("milp", "cbc"), ("cpsat", None)],
        ),
        (
            "stages",
            "T=2000 windows",
            _generated("stages", 2000),
            [("milp", "cbc"), ("milp", "highs"), ("milp-onehot", "highs"), ("dp", None)],
        ),
        (
            "pipeload",
            "random L=80",
            _generated("pipeload", 80),
            [("cpsat", None), ("milp", "highs"), ("milp", "cbc")],
        ),
        (
            "steering",
            "phi-plus d=11",
            _steering(11),
            [("sdp", "clarabel"), ("sdp", "scs"), ("seesaw", None)],
        ),
    ]
    if big:
        out.append(("dag", "chain n=100k", _chain(100_000), [("cpsat", None)]))
    return out


def one(path: str, method: str, backend: str, limit: float) -> None:
    from optgap.solvers import registry
    from optgap.solvers.fields import read_json
    from optgap.solvers.result import SolveOptions

    fam, inst = registry.load_instance(read_json(path))
    options = SolveOptions(time_limit_s=limit, backend=None if backend == "-" else backend)
    wall, cpu = time.perf_counter(), time.process_time()
    r = registry.solve(fam.id, method, inst, options)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu + child.ru_utime + child.ru_stime,
                "status": str(r.status),
                "message": (r.message or "")[:80],
            }
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=float, default=5.0)
    ap.add_argument("--families", nargs="+")
    ap.add_argument("--big", action="store_true", help="also a 100k-operator chain (cpsat)")
    ap.add_argument("--one", nargs=4, metavar=("FILE", "METHOD", "BACKEND", "LIMIT"))
    args = ap.parse_args()
    if args.one:
        one(args.one[0], args.one[1], args.one[2], float(args.one[3]))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="optgap-bench-tl-"))
    print(f"--time-limit {args.limit:g} s; machine shared (CPU beside wall)")
    print(
        f"{'family':9} {'instance':16} {'method':12} {'backend':8} {'status':10} "
        f"{'wall s':>7} {'CPU s':>7} {'over s':>7} {'wall/limit':>10}"
    )
    for family, label, data, runs in cases(args.big):
        if args.families and family not in args.families:
            continue
        path = tmp / f"{family}-{label.replace(' ', '_').replace('=', '')}.json"
        path.write_text(json.dumps(data))
        for method, backend in runs:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                str(path),
                method,
                backend or "-",
                str(args.limit),
            ]
            hard = 10 * args.limit + 120
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=hard)
                lines = p.stdout.strip().splitlines()
                rec = json.loads(lines[-1]) if p.returncode == 0 and lines else None
                if rec is None:
                    rec = {
                        "wall": float("nan"),
                        "cpu": float("nan"),
                        "status": "crashed",
                        "message": p.stderr.strip()[-80:],
                    }
            except subprocess.TimeoutExpired:
                rec = {"wall": hard, "cpu": float("nan"), "status": "killed", "message": ""}
            over = rec["wall"] - args.limit
            print(
                f"{family:9} {label:16} {method:12} {backend or '-':8} {rec['status']:10} "
                f"{rec['wall']:7.1f} {rec['cpu']:7.1f} {over:7.1f} "
                f"{rec['wall'] / args.limit:10.2f}  {rec['message']}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
