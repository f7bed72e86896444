"""F3 headline: every policy's cost against the MILP's, judged by the simulator, per preset and trace.

    python benchmarks/stages_report.py           # full-scale traces (~10 min on one core)
    python benchmarks/stages_report.py --quick   # traces scaled to 10 % of their rate

Cases: the presets at the loose 2,000 ms SLO (stage-split on one CPU VM type), and at SLOs where
the queueing cap binds (ResNet-50 at 400 and 600 ms on CPU VMs; the ``resnet50-gpu`` preset --
CPU VMs for conv2-3, GPU VMs for conv4-5 -- at 300 and 400 ms). Baselines beside the stage-split
ones: ``whole-milp`` (the offline optimum of serving the whole model as one unit) and
``whole-libra`` (LIBRA's smoothing on the whole model). Every plan is also simulated without
the balancer's function fallback (``fallback=off``: the plan's own VM / function split).

For each preset (early-exit ResNet-50, early-exit BERT-base) and trace (WITS, 45,000 s; LIBRA's
sine trace, 10,000 s; a generated bursty day), prints per method: the plan cost (the planning
model the MILP minimises; the MILP is the offline optimum, the policies are online), its gap to
the MILP, the simulated cost, the simulated p95/p99 latency and SLO violation rate, and the share
of stage visits served by functions. Then the saving of the stage-wise policy (serflow) over the
stage-agnostic one and over LIBRA, in plan and in simulated cost, beside SERFLOW's reported 23 %.

First (``--section queueing``, seconds): a check of the queueing bound behind the utilisation
cap. One ResNet stage without usable functions, Poisson arrivals at exactly v VMs x the cap, for
several SLOs and service cvs: the simulated p95 latency must stay within the SLO (violations
<= 5 %). With v = 1 the pool is one M/G/4 queue, the model's own case; with v = 4 the simulator's
pooled queue is better than the model's per-VM split, so the bound is looser.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from optgap.formulations.stages.evaluate import evaluate
from optgap.formulations.stages.instance import load
from optgap.instances.stages.generate import rates_pattern
from optgap.instances.stages.presets import preset
from optgap.solvers import registry
from optgap.solvers.report import pct, table
from optgap.solvers.result import SolveOptions

# (label, method, --param pairs); serflow/trend: serflow with a linear-trend forecast
METHODS = (
    ("milp", "milp", ()),
    ("serflow", "serflow", ()),
    ("serflow/trend", "serflow", (("forecast", "trend"),)),
    ("stage-agnostic", "stage-agnostic", ()),
    ("libra", "libra", ()),
    ("whole-milp", "whole-milp", ()),
    ("whole-libra", "whole-libra", ()),
    ("functions-only", "functions-only", ()),
    ("vm-peak", "vm-peak", ()),
)
PAPER_SAVING = 0.23
NO_FALLBACK = ("milp", "serflow", "whole-milp", "whole-libra")  # also simulated with fallback=off


def traces(scale: float):
    import numpy as np

    bursty = rates_pattern("bursty", 288, 150.0 * scale, np.random.default_rng(7))
    return [
        ("WITS 45,000 s", {"window_s": 300, "trace": "wits", "scale": scale}),
        ("sine 10,000 s", {"window_s": 250, "trace": "sine", "scale": scale}),
        ("bursty 24 h", {"window_s": 300, "rates": bursty, "seed": 7}),
    ]


def _stage_json(slo: float, cv: float, rate: float, T: int = 30, W: int = 60) -> dict:  # noqa: N803
    return {
        "family": "stages",
        "version": 1,
        "stages": [{"id": "conv3", "vm_ms": 42.125, "fn_ms": {"1769": 51.1}, "exit_prob": 1.0}],
        "arrivals": {"window_s": W, "rates": [rate] * T, "seed": 1},
        "vm": {"price_per_hour": 0.17, "workers": 4, "cold_start_s": 90.0},
        "functions": {
            "price_per_gb_s": 1.66667e-5,
            "price_per_request": 2e-7,
            "cold_start_ms": 1e6,  # functions never fit: every query queues on the VMs
        },
        "slo": {"latency_ms": slo, "percentile": 95.0},
        "service_cv": cv,
    }


def queueing_check() -> None:
    """Simulated p95 (pooled FCFS queue, no fallback) against the pooled prediction (M/M/4v wait,
    Allen-Cunneen, convolved with the lognormal service) and the per-VM model the cap uses."""
    from optgap.formulations.stages import evaluate as E
    from optgap.formulations.stages.simulate import Unit, simulate

    print("== queueing: one ResNet stage (42.1 ms, 4 workers per VM), Poisson at v x cap")
    rows = []
    for cv in (0.5, 1.0):
        for slo in (150.0, 300.0, 600.0):
            sp = load(_stage_json(slo, cv, 1.0)).plan().stages[0]
            for v in (1, 2, 4, 8):
                inst = load(_stage_json(slo, cv, v * sp.cap, T=10))
                units = [Unit(4, sp.wait_budget_ms / 1000, sp.cap, None, [1.0] * inst.n_windows)]
                m = simulate(inst, [[v] * inst.n_windows], units, slo, fallback=False)
                rho = float(inst.rates.mean()) / (v * 4 * 1000 / 42.125)
                pooled = E.latency_quantile_ms(4 * v, rho, 42.125, 0.95, cv)
                per_vm = E.latency_quantile_ms(4, rho, 42.125, 0.95, cv)
                rows.append(
                    [
                        cv,
                        slo,
                        v,
                        round(sp.utilisation_cap, 3),
                        round(m["latency_p95_ms"], 1),
                        round(pooled, 1),
                        pct(m["latency_p95_ms"] / pooled - 1),
                        round(per_vm, 1),
                        pct(m["slo_violation_rate"]),
                    ]
                )
    print(
        table(
            [
                "cv",
                "SLO ms",
                "VMs",
                "rho cap",
                "sim p95",
                "pooled",
                "sim/pooled",
                "per-VM",
                "> SLO",
            ],
            rows,
            "rrrrrrrrr",
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--binding-only", action="store_true", help="only the binding-SLO cases")
    ap.add_argument("--scale", type=float, default=None, help="trace rate factor (default 1)")
    ap.add_argument("--section", choices=("all", "queueing", "headline"), default="all")
    args = ap.parse_args()
    if args.section in ("all", "queueing"):
        queueing_check()
    if args.section == "queueing":
        return
    scale = args.scale if args.scale is not None else (0.1 if args.quick else 1.0)
    opts = SolveOptions(time_limit_s=60, threads=1)
    others = ("stage-agnostic", "libra", "whole-libra", "whole-milp")
    savings = {k: [] for k in others}
    offline: list[tuple[str, str, float]] = []
    off = SolveOptions(params=(("fallback", "off"),))
    cases = [(m, None) for m in ("resnet50", "bert-base")]
    binding = [
        ("resnet50", 400.0),
        ("resnet50", 600.0),
        ("resnet50-gpu", 300.0),
        ("resnet50-gpu", 400.0),
    ]
    cases = binding if args.binding_only else cases + binding
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for model, slo in cases:
        for label, arrivals in traces(scale):
            if slo is not None and not label.startswith("WITS"):
                continue  # binding SLOs: the WITS trace only (time)
            inst = load(preset(model, arrivals, slo))
            print(
                f"\n== {model} at {inst.slo_ms:g} ms on {label} (rate x{scale:g}): "
                f"{registry.family('stages').describe(inst)}"
            )
            res = {}
            for m, method, params in METHODS:
                w, c = time.perf_counter(), time.process_time()
                r = registry.solve("stages", method, inst, replace(opts, params=params))
                ev = evaluate(inst, r.solution) if r.solution is not None else None
                if ev is None or not ev.feasible:  # e.g. an online policy at a VM-only stage
                    why = ev.violations[0] if ev else r.message
                    print(f"{m}: REJECTED ({len(ev.violations) if ev else 1} violation(s)): {why}")
                    continue
                ev_off = evaluate(inst, r.solution, off) if m in NO_FALLBACK else None
                res[m] = (r, ev, ev_off, time.perf_counter() - w, time.process_time() - c)
            best = res["milp"][0].objective
            rows = []
            for m, (r, ev, ev_off, wall, cpu) in res.items():
                x = ev.metrics
                visits = x["stage_visits"]
                fn = sum(s * v for s, v in zip(x["sim_fn_share"], visits, strict=True)) / sum(
                    visits
                )
                rows.append(
                    [
                        m,
                        r.status,
                        r.objective,
                        pct(r.objective / best - 1),
                        x["sim_cost"],
                        pct(x["sim_cost"] / res["milp"][1].metrics["sim_cost"] - 1),
                        round(x["latency_p95_ms"], 1),
                        round(x["latency_p99_ms"], 1),
                        pct(x["slo_violation_rate"]),
                        pct(ev_off.metrics["slo_violation_rate"]) if ev_off else "-",
                        pct(fn),
                        f"{wall:.1f}/{cpu:.1f}",
                    ]
                )
            print(
                table(
                    [
                        "method",
                        "status",
                        "plan $",
                        "vs MILP",
                        "sim $",
                        "vs MILP",
                        "p95 ms",
                        "p99 ms",
                        f"> {inst.slo_ms:g} ms",
                        "> (fallback off)",
                        "on fn",
                        "wall/CPU s",
                    ],
                    rows,
                    "llrrrrrrrrrr",
                )
            )
            sf = res.get("serflow")
            case = f"{model}@{inst.slo_ms:g}"
            for other in savings:
                if "serflow" not in res or other not in res:
                    continue
                o = res[other]
                plan_s = 1 - sf[0].objective / o[0].objective
                sim_s = 1 - sf[1].metrics["sim_cost"] / o[1].metrics["sim_cost"]
                savings[other].append((case, label, plan_s, sim_s))
                print(f"serflow saves {pct(plan_s)} (plan) / {pct(sim_s)} (simulated) over {other}")
            split = 1 - res["milp"][0].objective / res["whole-milp"][0].objective
            print(f"offline: the stage-split optimum saves {pct(split)} over the whole-model one")
            offline.append((case, label, split))
    print(f"\n== serflow's saving, beside SERFLOW's reported {PAPER_SAVING:.0%}")
    rows = []
    for other, lst in savings.items():
        if not lst:  # every online policy was rejected (binding SLOs without usable functions)
            continue
        for model, label, p, s in lst:
            rows.append([other, model, label, pct(p), pct(s)])
        rows.append(
            [
                other,
                "median",
                "",
                pct(statistics.median(p for *_, p, _ in lst)),
                pct(statistics.median(s for *_, s in lst)),
            ]
        )
    print(table(["over", "case", "trace", "plan cost", "simulated cost"], rows, "lllrr"))
    print("\n== offline: the stage-split optimum (milp) against the whole-model one (whole-milp)")
    rows = [[case, label, pct(x)] for case, label, x in offline]
    if offline:
        rows.append(["median", "", pct(statistics.median(x for *_, x in offline))])
    print(table(["case", "trace", "milp saves"], rows, "llr"))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"\nheadline: {wall:.0f} s wall, {cpu:.0f} s CPU (ratio {cpu / wall:.2f})")


if __name__ == "__main__":
    main()
