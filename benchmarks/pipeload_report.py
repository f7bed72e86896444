"""Hermes's headline, honestly: PIPELOAD against the pipeline baseline and the exact optimum.

For each preset (block granularity, 1..8 loading agents, the default edge device of
instances/pipeload/generate.py) and each memory budget, prints the latency and peak memory of
every method and of the CP-SAT optimum (with its status), then PIPELOAD's speed-up and memory
saving against the pipeline baseline (PipeSwitch-style: one agent, nothing freed) beside the
figures Hermes reports (arXiv 2409.04249): 4.24x / -86.7 % for BERT and ViT, 2.58x / -90.3 % for
GPT-style models. "exact, loads in order" is the optimum when loads must start in layer order, as
PIPELOAD issues them; the rest of PIPELOAD's gap is its greedy timing. Last, per preset, the
memory objective: the least peak memory of a schedule no slower than the baseline.

Budgets: the least feasible (largest layer + activations), then 15 %, 25 % and 50 % of the
whole model's memory, and none. The baseline ignores the budget (it keeps the whole model), as
in the paper's comparison.

    .venv/bin/python benchmarks/pipeload_report.py [--time-limit 10] [--threads 2] [--quick]
        [--agent-mb-s 250] [--flops 1e11]       # the device: per-agent read rate, FLOP/s
        [--front bert-base --out-dir /tmp]      # also write an exact front file and its plot
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optgap.instances.pipeload.generate import PRESETS, Device, preset  # noqa: E402
from optgap.solvers import registry  # noqa: E402
from optgap.solvers.report import table  # noqa: E402
from optgap.solvers.result import SolveOptions, Status  # noqa: E402

HERMES = {"bert": (4.24, 86.7), "vit": (4.24, 86.7), "gpt": (2.58, 90.3)}
METHODS = ("planner", "pipeload", "load-all", "one-at-a-time")


def budgets(inst) -> list[tuple[str, int | None]]:
    whole = inst.fixed_kb(inst.k_min) + inst.model_kb
    out = [("min", inst.min_budget_kb())]
    for frac in (0.15, 0.25, 0.5):
        b = round(whole * frac)
        if b > inst.min_budget_kb():
            out.append((f"{frac:.0%}", b))
    out.append(("none", None))
    return out


def run(name: str, opts: SolveOptions, device: Device | None = None) -> list[tuple]:
    inst = preset(name, device or Device())
    family = PRESETS[name].kind
    base = registry.solve(
        "pipeload", "pipeswitch", inst, replace(opts, params=(("budget_mb", "none"),))
    )
    b_lat, b_mem = base.objective, base.stats["peak_mb"]
    print(
        f"\n## {name}: {inst.n} layers, {inst.model_kb / 1000:g} MB, pipeline baseline "
        f"{b_lat:g} ms / {b_mem:g} MB"
    )
    rows, summary = [], []
    for label, b in budgets(inst):
        p = (("budget_mb", "none" if b is None else str(b / 1000)),)
        o = replace(opts, params=p)
        exact = registry.solve("pipeload", "cpsat", inst, o)
        ordered = registry.solve(
            "pipeload", "cpsat", inst, replace(o, params=(*p, ("order", "layer")))
        )
        res = {m: registry.solve("pipeload", m, inst, o) for m in METHODS}
        cell = lambda r: (  # noqa: E731
            f"{r.objective:g} / {r.stats['peak_mb']:g}" if r.has_solution else "-"
        )
        status = (
            "opt"
            if exact.status == Status.OPTIMAL
            else f"{exact.status} gap {exact.gap:.1%}"
            if exact.gap is not None
            else str(exact.status)
        )
        rows.append(
            (
                label,
                "-" if b is None else f"{b / 1000:g}",
                f"{cell(exact)} ({status}, {exact.time_s:.1f} s)",
                cell(ordered) + ("" if ordered.status == Status.OPTIMAL else " (not proven)"),
                *(cell(res[m]) for m in METHODS),
            )
        )
        pl = res["planner"]
        if pl.has_solution:
            summary.append(
                (
                    label,
                    f"{b_lat / pl.objective:.2f}x",
                    f"{-(1 - pl.stats['peak_mb'] / b_mem):.1%}",
                    f"{b_lat / exact.objective:.2f}x" if exact.has_solution else "-",
                    f"{pl.objective / exact.objective - 1:.1%}" if exact.has_solution else "-",
                    pl.stats["agents"],
                )
            )
    print(
        table(
            [
                "budget",
                "MB",
                "exact ms / MB",
                "exact, loads in order",
                *(f"{m} ms / MB" for m in METHODS),
            ],
            rows,
            "lrrrrrrr",
        )
    )
    # the memory objective: the least memory that is no slower than the baseline
    mo = replace(opts, objective="memory", params=(("latency_ms", str(b_lat)),))
    em = registry.solve("pipeload", "cpsat", inst, mo)
    hm = registry.solve("pipeload", "planner", inst, mo)
    print(
        f"least memory no slower than the baseline ({b_lat:g} ms): exact "
        f"{em.objective:g} MB ({em.status}, {-(1 - em.objective / b_mem):.1%}), PIPELOAD planner "
        f"{hm.objective:g} MB ({-(1 - hm.objective / b_mem):.1%})"
    )
    s, m = HERMES[family]
    print(
        f"PIPELOAD (planner) vs the pipeline baseline; Hermes reports {s}x / -{m} % for {family}:"
    )
    print(
        table(
            ["budget", "speed-up", "memory", "exact speed-up", "PIPELOAD above optimum", "k"],
            summary,
            "lrrrrr",
        )
    )
    return summary


def front(name: str, opts: SolveOptions, out_dir: Path) -> None:
    import json
    import subprocess

    inst_path = out_dir / f"{name}.json"
    from optgap.formulations.pipeload.instance import dump

    inst_path.write_text(json.dumps(dump(preset(name))))
    sol = out_dir / f"{name}-front.json"
    png = out_dir / f"{name}-front.png"
    cli = [sys.executable, "-m", "optgap.solvers.cli"]
    subprocess.run(
        [
            *cli,
            "solve",
            str(inst_path),
            "--method",
            "cpsat",
            "--objective",
            "pareto",
            "--param",
            "points=12",
            "--time-limit",
            str(opts.time_limit_s),
            "--threads",
            str(opts.threads),
            "--out",
            str(sol),
            "--force",
        ],
        check=True,
    )
    subprocess.run([*cli, "plot", str(sol), "-o", str(png), "--force"], check=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="bert-base, vit-b16 and gpt2 only")
    ap.add_argument("--front", help="also write the exact front of this preset and its plot")
    ap.add_argument("--out-dir", default="/tmp")
    ap.add_argument(
        "--agent-mb-s", type=float, default=Device.agent_mb_s, help="per-agent read rate"
    )
    ap.add_argument("--flops", type=float, default=Device.flops, help="device FLOP/s")
    args = ap.parse_args()
    opts = SolveOptions(time_limit_s=args.time_limit, threads=args.threads)
    names = ("bert-base", "vit-b16", "gpt2") if args.quick else tuple(PRESETS)
    device = Device(flops=args.flops, agent_mb_s=args.agent_mb_s)
    print(f"device: {device.flops / 1e9:g} GFLOP/s, {device.agent_mb_s:g} MB/s per loading agent")
    for name in names:
        run(name, opts, device)
    if args.front:
        front(args.front, opts, Path(args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
