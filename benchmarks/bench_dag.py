"""F1 benchmarks: what CP-SAT proves, and in what time (wall and CPU), on shared cores.

    python benchmarks/bench_dag.py jobshop   [--limit 60] [--hint on,off]   # la11-la20, ft10
    python benchmarks/bench_dag.py hint      [--limit 20]   # hint on/off: generated + RNN graphs
    python benchmarks/bench_dag.py related   [--limit 60]   # related machines, 30/60 tasks
    python benchmarks/bench_dag.py big       [--limit 60] [--seeds 3] [--sizes 300 1000]
    python benchmarks/bench_dag.py generated [--limit 60]   # 60-operator graphs, heuristic gaps
    python benchmarks/bench_dag.py relaxation [--limit 600] [--seeds 3] [--upper-ms U0 U1 U2]
        # the placement MIP (bound 5) alone, one thread, to its optimum: the best bound it can give

Every run goes through the solve layer (warm starts, evaluator) with 2 threads; each row prints
wall time and the process CPU time (all solver threads) beside it. The machine these figures
come from is shared: CPU / wall below 2 means the solver got less than its 2 cores.
``--out FILE`` appends one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from optgap.formulations.dag.evaluate import evaluate
from optgap.formulations.dag.instance import load
from optgap.instances import HERE
from optgap.instances.dag.generate import generate
from optgap.solvers import registry
from optgap.solvers.report import pct, table
from optgap.solvers.result import SolveOptions, Status

JOBSHOPS = ["la11", "la12", "la13", "la14", "la15", "la16", "la17", "la18", "la19", "la20", "ft10"]


def _run(inst, method: str, args, **kw) -> tuple:
    params = tuple(kw.pop("params", ()))
    options = SolveOptions(
        time_limit_s=args.limit, threads=args.threads, seed=0, params=params, **kw
    )
    wall, cpu = time.perf_counter(), time.process_time()
    r = registry.solve("dag", method, inst, options)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ev = evaluate(inst, r.solution, options) if r.solution else None
    assert ev is None or (ev.feasible and ev.metrics["left_shifted"]), ev
    return r, wall, cpu


def _record(args, **row) -> None:
    if args.out:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, default=str) + "\n")


def jobshop(args) -> None:
    hints = args.hint.split(",")
    rows = []
    for name in args.only or JOBSHOPS:
        inst = load(json.loads((HERE / "dag" / "jobshop" / f"{name}.json").read_text()))
        opt = inst.meta["optimum_ms"]
        row = [name, opt]
        for h in hints:
            r, wall, cpu = _run(inst, "cpsat", args, params=[("hint", h)])
            proven = r.status == Status.OPTIMAL
            row += [r.status.value, r.objective, r.bound, f"{wall:.1f}", f"{cpu:.1f}"]
            _record(args, bench="jobshop", name=name, hint=h, status=r.status, objective=r.objective,
                    bound=r.bound, wall_s=wall, cpu_s=cpu, optimum=opt)  # fmt: skip
            assert not proven or round(r.objective) == opt, (name, r.objective, opt)
        rows.append(row)
        print(name, row[2:], flush=True)
    head = ["instance", "optimum"]
    for h in hints:
        head += [f"hint={h}", "makespan", "bound", "wall s", "cpu s"]
    print(table(head, rows))
    for k, h in enumerate(hints):
        n = sum(1 for r in rows if r[2 + 5 * k] == "optimal")
        print(f"hint={h}: proven optimal {n} of {len(rows)} within {args.limit:g} s")


def _rnn(cell: str, layers: int, steps: int):
    from optgap.instances.dag.rnn import rnn_instance

    return load(rnn_instance(cell, layers=layers, timesteps=steps, hidden=1024)[0])


def hint(args) -> None:
    cases = [
        (f"gen-{n}-s{s}", lambda n=n, s=s: generate(n, s)) for n in (60, 100) for s in range(3)
    ]
    cases += [
        (f"{c}-L{L}-T{T}", lambda c=c, L=L, T=T: _rnn(c, L, T))
        for c, L, T in (("lstm", 2, 8), ("gru", 2, 16), ("lstm", 4, 16))
    ]
    rows = []
    for name, make in cases:
        inst = make()
        row = [name, len(inst.operators)]
        for h in ("on", "off"):
            r, wall, cpu = _run(inst, "cpsat", args, params=[("hint", h)])
            row += [r.status.value, r.objective, pct(r.gap), f"{wall:.1f}", f"{cpu:.1f}"]
            _record(args, bench="hint", name=name, hint=h, status=r.status, objective=r.objective,
                    bound=r.bound, wall_s=wall, cpu_s=cpu)  # fmt: skip
        rows.append(row)
        print(row, flush=True)
    head = ["instance", "ops"]
    for h in ("on", "off"):
        head += [f"hint={h}", "makespan", "gap", "wall s", "cpu s"]
    print(table(head, rows))


def related(args) -> None:
    rows = []
    for n in (30, 60):
        proven = 0
        for seed in range(args.seeds):
            inst = generate(n, seed, related=True)
            r, wall, cpu = _run(inst, "cpsat", args, params=list(args.param))
            h, _, _ = _run(inst, "heft", args)
            proven += r.status == Status.OPTIMAL
            rows.append([n, seed, r.status.value, r.objective, r.bound, pct(r.gap),
                         f"{wall:.1f}", f"{cpu:.1f}", h.objective])  # fmt: skip
            _record(args, bench="related", n=n, seed=seed, status=r.status, objective=r.objective,
                    bound=r.bound, wall_s=wall, cpu_s=cpu, heft=h.objective,
                    params=args.param)  # fmt: skip
            print(rows[-1], flush=True)
        print(f"{n} tasks: proven optimal in {proven} of {args.seeds}", flush=True)
    print(table(["tasks", "seed", "status", "makespan", "bound", "gap", "wall s", "cpu s",
                 "heft"], rows))  # fmt: skip


def big(args) -> None:
    rows = []
    for n in args.sizes or (300, 1000):
        for seed in range(args.seeds):
            inst = generate(n, seed)
            r, wall, cpu = _run(inst, "cpsat", args, params=list(args.param))
            h, _, _ = _run(inst, "heft", args)
            heft_gap = None if r.bound is None else (h.objective - r.bound) / h.objective
            lns = r.stats.get("lns") or {}
            lbs = r.stats.get("lower_bounds_ms") or {}
            lp, mip = lbs.get("lp"), lbs.get("mip")
            nodes = (r.stats.get("mip_bound") or {}).get("nodes", "-")
            rows.append([n, seed, r.status.value, r.objective, r.bound, pct(r.gap),
                         f"{wall:.1f}", f"{cpu:.1f}", h.objective, pct(heft_gap), lp, mip, nodes,
                         f"{lns.get('iterations', '-')}/{lns.get('improvements', '-')}"])  # fmt: skip
            _record(args, bench="big", n=n, seed=seed, status=r.status, objective=r.objective,
                    bound=r.bound, gap=r.gap, wall_s=wall, cpu_s=cpu, heft=h.objective,
                    lp_bound=lp, mip_bound=mip, mip_nodes=nodes, lns=lns,
                    params=args.param)  # fmt: skip
            print(rows[-1], flush=True)
    print(table(["ops", "seed", "status", "makespan", "bound", "gap", "wall s", "cpu s", "heft",
                 "heft gap to bound", "lp bound", "mip bound", "mip nodes", "lns it/impr"],
                rows))  # fmt: skip


def generated(args) -> None:
    rows, proven = [], 0
    for seed in range(args.seeds):
        inst = generate(60, seed)
        r, wall, cpu = _run(inst, "cpsat", args)
        proven += r.status == Status.OPTIMAL
        row = [seed, r.status.value, r.objective, r.bound, f"{wall:.2f}", f"{cpu:.2f}"]
        for name in ("heft", "gpu-only"):
            h, _, _ = _run(inst, name, args)
            ok = r.status == Status.OPTIMAL
            row.append(pct((h.objective - r.objective) / r.objective if ok else None))
        rows.append(row)
    print(table(["seed", "status", "makespan ms", "bound", "wall s", "cpu s", "heft gap",
                 "gpu-only gap"], rows))  # fmt: skip
    print(f"60 operators: proven optimal in {proven} of {args.seeds} seeds")


def relaxation(args) -> None:
    from optgap.formulations.dag.bounds import PlacementMip

    rows = []
    for n in args.sizes or (300,):
        for seed in range(args.seeds):
            inst = generate(n, seed)
            h, _, _ = _run(inst, "heft", args)
            upper = args.upper_ms[seed] if args.upper_ms else h.objective
            wall, cpu = time.perf_counter(), time.process_time()
            mip = PlacementMip(inst, args.limit, round(upper * 1000))
            mip.wait()
            value = mip.result()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            ms = None if value is None else value / 1000
            gap = None if ms is None else (upper - ms) / upper
            rows.append([n, seed, mip.stats["status"], ms, upper, pct(gap), mip.stats["nodes"],
                         f"{wall:.1f}", f"{cpu:.1f}"])  # fmt: skip
            _record(args, bench="relaxation", n=n, seed=seed, mip_ms=ms, upper_ms=upper,
                    wall_s=wall, cpu_s=cpu, **mip.stats)  # fmt: skip
            print(rows[-1], flush=True)
    print(table(["ops", "seed", "mip status", "mip bound", "C <= (upper)", "gap at upper",
                 "nodes", "wall s", "cpu s"], rows))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "bench", choices=["jobshop", "hint", "related", "big", "generated", "relaxation"]
    )
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--hint", default="on,off")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--sizes", nargs="*", type=int, help="big: operator counts (300 1000)")
    ap.add_argument("--param", nargs="*", default=[], type=lambda s: tuple(s.split("=", 1)))
    ap.add_argument("--upper-ms", nargs="*", type=float, help="relaxation: C <= this, per seed")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    print(f"CP-SAT, {args.threads} threads, {args.limit:g} s limit (shared machine: see cpu s)")
    globals()[args.bench](args)


if __name__ == "__main__":
    main()
