"""Chrion's headline, recomputed exactly: how much can a CPU+GPU partition gain over GPU-only?

    python benchmarks/chrion_report.py [--time-limit 60] [--threads 2] [--hidden 1024] [--quick]
                                       [--only "lstm L4 T32" ...] [--memory-only]

Graphs: stacked LSTM and GRU networks unrolled over T timesteps and L layers (L ∈ {2, 4},
T ∈ {8, 16, 32}; hidden size 1024, batch 1, as in GNMT-sized RNNs) and the nine light CNN graphs
shipped in the onnx wheel, all through the same ONNX importer and the ``server`` profile (Xeon
slots + V100 over PCIe). For each graph:
- latency pattern: the reduction of makespan against GPU-only for the exact CP-SAT schedule
  (a range [objective, bound] when not proven in the limit) and for each heuristic;
- memory pattern at SLO = GPU-only latency: the reduction of GPU memory against GPU-only for the
  exact schedule and for the greedy offload heuristic.
Chrion (arXiv 2307.11339) reports at most −19.4 % latency and −67.5 % GPU memory.
"""

from __future__ import annotations

import argparse
import os

import onnx
from optgap.formulations.dag.instance import load
from optgap.instances.dag.onnx_import import import_onnx_with_report as import_onnx
from optgap.instances.dag.rnn import rnn_instance
from optgap.solvers import registry
from optgap.solvers.report import table
from optgap.solvers.result import SolveOptions, Status

HEURISTICS = ("heft", "peft", "cpop", "cpls", "cpu-only")


def graphs(hidden: int, quick: bool):
    sizes = [(2, 8)] if quick else [(2, 8), (2, 16), (2, 32), (4, 8), (4, 16), (4, 32)]
    for cell in ("lstm", "gru"):
        for layers, timesteps in sizes:
            yield (
                f"{cell} L{layers} T{timesteps}",
                rnn_instance(cell, layers, timesteps, hidden=hidden)[0],
            )
    light = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    names = sorted(f for f in os.listdir(light) if f.endswith(".onnx"))
    for f in names[:2] if quick else names:
        yield f.removeprefix("light_").removesuffix(".onnx"), import_onnx(os.path.join(light, f))[0]


def reduction(base: float, value: float | None) -> str:
    return "-" if value is None or base == 0 else f"{100 * (value - base) / base:+.1f}%"


def exact_range(base: float, r) -> str:
    """The reduction of the exact model: a value if proven, else [incumbent, bound] as a range."""
    if r.status == Status.OPTIMAL:
        return reduction(base, r.objective)
    if r.status == Status.FEASIBLE:
        return f"{reduction(base, r.objective)} .. {reduction(base, r.bound)}"
    return str(r.status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", help="graph names as printed (e.g. 'gru L4 T32')")
    ap.add_argument("--memory-only", action="store_true", help="skip the latency table")
    args = ap.parse_args()
    exact = SolveOptions(time_limit_s=args.time_limit, threads=args.threads)
    lat_rows, mem_rows = [], []
    for name, data in graphs(args.hidden, args.quick):
        if args.only and name not in args.only:
            continue
        inst = load(data)
        gpu = registry.solve("dag", "gpu-only", inst, SolveOptions())
        base_ms, base_mb = gpu.objective, gpu.stats["gpu_mem_mb"]
        opt = None
        if not args.memory_only:
            opt = registry.solve("dag", "cpsat", inst, exact)
            row = [name, len(inst.operators), base_ms, exact_range(base_ms, opt)]
            row += [
                reduction(base_ms, registry.solve("dag", h, inst, SolveOptions()).objective)
                for h in HEURISTICS
            ]
            lat_rows.append(row)
        mem_exact = registry.solve(
            "dag",
            "cpsat",
            inst,
            SolveOptions(**{**exact.__dict__, "objective": "memory", "slo_ms": base_ms}),
        )
        off = registry.solve(
            "dag", "offload", inst, SolveOptions(objective="memory", slo_ms=base_ms)
        )
        mem_rows.append(
            [name, base_mb, exact_range(base_mb, mem_exact), reduction(base_mb, off.objective)]
        )
        latency = "" if opt is None else f"exact latency {opt.status} in {opt.time_s:.1f} s, "
        print(
            f"{name}: done ({len(inst.operators)} ops; {latency}memory {mem_exact.status} in "
            f"{mem_exact.time_s:.1f} s, offload {off.time_s:.1f} s)",
            flush=True,
        )
    print()
    if lat_rows:
        print(
            f"Latency vs GPU-only (Chrion: up to -19.4 %); CP-SAT {args.time_limit:g} s on {args.threads} threads; a .. b = [incumbent, bound]"
        )
        print(table(["graph", "ops", "GPU-only ms", "exact", *HEURISTICS], lat_rows))
        print()
    print("GPU memory vs GPU-only at SLO = GPU-only latency (Chrion: -67.5 %)")
    print(table(["graph", "GPU-only MB", "exact", "offload"], mem_rows))


if __name__ == "__main__":
    main()
