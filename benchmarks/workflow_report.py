"""F2 headline: every method against the proven optimum on AARC-like workflows and random DAGs.

For each workflow shape (chatbot, ML pipeline, video analytics, random DAG; two sizes; seeds)
the exact MILP gives the optimum; every heuristic is run through the registry, its answer
checked by the evaluator, and its profiling counted by the oracle. Printed per shape and method:
cost / optimum (mean and worst), SLO met, samples (profiling runs) and simulated search time
(sum of the profiled runtimes). Then AARC's reductions against BO and MAFF — total search time
and mean cost — beside the four figures the paper reports, the decoupled optimum against the
coupled one, and our fit-milp against AARC.

    .venv/bin/python benchmarks/workflow_report.py [--seeds 0 1 2] [--prices aarc|cloudrun]
        [--trials 100] [--noise 0.1] [--quick]
"""

from __future__ import annotations

import argparse
import statistics as stats
from collections import defaultdict

from optgap.instances.workflow.generate import generate
from optgap.solvers import registry
from optgap.solvers.result import SolveOptions, Status

PAPER = {  # AARC (arXiv 2502.20846), abstract: reductions of AARC against BO and MAFF
    ("bo", "search time"): 0.858,
    ("bo", "cost"): 0.496,
    ("maff", "search time"): 0.896,
    ("maff", "cost"): 0.617,
}
HEURISTICS = ("aarc", "fit-milp", "bo", "maff", "powertune")
CASES = (
    ("chatbot", (4, 8)),
    ("ml-pipeline", (3, 6)),
    ("video-analytics", (3, 6)),
    ("random", (10, 20)),
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--prices", default="aarc", choices=("aarc", "cloudrun"))
    ap.add_argument("--trials", type=int, default=100, help="BO trials (default 100)")
    ap.add_argument("--quick", action="store_true", help="one seed, the smaller sizes only")
    ap.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="multiplicative noise on every runtime cell (e.g. 0.1): no parametric model fits",
    )
    a = ap.parse_args()
    seeds = a.seeds[:1] if a.quick else a.seeds
    opts = SolveOptions(time_limit_s=60, threads=1, seed=0, params=(("trials", str(a.trials)),))
    fam = registry.family("workflow")
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    coupled_ratio: list[float] = []
    n_inst = 0
    for shape, sizes in CASES:
        for size in sizes[:1] if a.quick else sizes:
            for seed in seeds:
                inst = generate(size, seed, shape=shape, prices=a.prices, noise=a.noise)
                opt = registry.solve("workflow", "milp", inst, opts)
                assert opt.status == Status.OPTIMAL, opt.message
                cpl = registry.solve("workflow", "milp", inst, SolveOptions(objective="coupled"))
                coupled_ratio.append(cpl.objective / opt.objective)
                n_inst += 1
                for name in HEURISTICS:
                    r = registry.solve("workflow", name, inst, opts)
                    ok = r.solution is not None and fam.evaluate(inst, r.solution).feasible
                    rows[(shape, name)].append(
                        {
                            "ratio": r.objective / opt.objective if ok else None,
                            "ok": ok,
                            "samples": r.stats.get("samples", 0),
                            "search_s": r.stats.get("search_time_s", 0.0),
                            "cost": r.objective if ok else None,
                        }
                    )
    print(
        f"F2 workflow report: {n_inst} instances ({len(seeds)} seed(s)), prices {a.prices}, "
        f"noise {a.noise:g}, "
        f"BO {a.trials} trials; cost relative to the proven MILP optimum"
    )
    hdr = (
        f"{'shape':>16} {'method':>10} {'cost/opt mean':>13} {'worst':>7} {'SLO met':>8} "
        f"{'samples':>8} {'search s':>9}"
    )
    print(hdr)
    print("-" * len(hdr))
    for shape, _ in (*CASES, ("all", ())):
        for name in HEURISTICS:
            rs = (
                [x for (s, n), v in rows.items() if n == name for x in v]
                if shape == "all"
                else rows[(shape, name)]
            )
            ratios = [x["ratio"] for x in rs if x["ok"]]
            print(
                f"{shape:>16} {name:>10} {_f(stats.mean(ratios) if ratios else None):>13} "
                f"{_f(max(ratios) if ratios else None):>7} "
                f"{sum(x['ok'] for x in rs):>4}/{len(rs):<3} "
                f"{stats.mean(x['samples'] for x in rs):>8.0f} "
                f"{stats.mean(x['search_s'] for x in rs):>9.0f}"
            )
        print()
    every = {n: [x for (s, m), v in rows.items() if m == n for x in v] for n in HEURISTICS}
    print("AARC's reductions (ours measured | the paper's):")
    for base in ("bo", "maff"):
        t_aarc = sum(x["search_s"] for x in every["aarc"])
        t_base = sum(x["search_s"] for x in every[base])
        pairs = [
            (x["cost"], y["cost"])
            for x, y in zip(every["aarc"], every[base], strict=True)
            if x["ok"] and y["ok"]
        ]
        cost_red = stats.mean(1 - ca / cb for ca, cb in pairs)
        print(
            f"  vs {base.upper():>4}: search time {_p(1 - t_aarc / t_base)} | "
            f"{_p(PAPER[(base, 'search time')])}   cost {_p(cost_red)} | "
            f"{_p(PAPER[(base, 'cost')])}"
        )
    pairs = [
        (x, y) for x, y in zip(every["fit-milp"], every["aarc"], strict=True) if x["ok"] and y["ok"]
    ]
    n_ours = sum(x["samples"] for x, _ in pairs) / sum(y["samples"] for _, y in pairs)
    t_ours = sum(x["search_s"] for x, _ in pairs) / sum(y["search_s"] for _, y in pairs)
    c_ours = stats.mean(x["cost"] / y["cost"] for x, y in pairs)
    print(
        f"fit-milp against AARC (negative = fit-milp lower): cost {100 * (c_ours - 1):+.1f} %, "
        f"samples {100 * (n_ours - 1):+.1f} %, simulated search time {100 * (t_ours - 1):+.1f} %"
    )
    print(
        f"coupled optimum / decoupled optimum: mean {stats.mean(coupled_ratio):.3f}, "
        f"range {min(coupled_ratio):.3f}-{max(coupled_ratio):.3f} "
        "(what decoupling CPU from memory saves at the optimum)"
    )


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _p(x: float) -> str:
    return f"{100 * x:+.1f} %" if x < 0 else f"{100 * x:.1f} %"


if __name__ == "__main__":
    main()
