"""`optgap plot` for workflow: the earliest-start schedule of a configuration, one row per
function, each bar labelled with its (vCPU, memory) and shaded by its share of the cost; the
critical path in red and the SLO as a dashed line. The evaluator checks the answer first."""

from __future__ import annotations

from typing import Any

from optgap.formulations.workflow.evaluate import evaluate
from optgap.solvers.errors import InputError


def plot_solution_file(instance: Any, data: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sol = data["solution"]
    ev = evaluate(instance, sol)
    if not ev.feasible:
        raise InputError(f"the evaluator rejects this configuration: {ev.summary()}")
    cpu, mem = list(instance.cpu_grid), list(instance.mem_grid_mb)
    d, start, finish, parent = {}, {}, {}, {}
    for f in instance.functions:
        c = sol["configs"][f.id]
        d[f.id] = f.runtime_us[cpu.index(c["cpu"])][mem.index(c["mem_mb"])] / 1000
    for v in instance.topological_order:
        preds = [a for a, b in instance.edges if b == v]
        start[v] = max((finish[u] for u in preds), default=0.0)
        parent[v] = max(preds, key=lambda u: finish[u]) if preds else None
        finish[v] = start[v] + d[v]
    crit, v = set(), max(finish, key=finish.get)
    while v is not None:
        crit.add(v)
        v = parent[v]
    order = list(instance.topological_order)
    fig, ax = plt.subplots(figsize=(11, 1.0 + 0.35 * len(order)))
    p = instance.prices
    cost = {
        f: d[f]
        / 1000
        * (
            p.per_vcpu_s * sol["configs"][f]["cpu"]
            + p.per_gb_s * sol["configs"][f]["mem_mb"] / 1024
        )
        + p.per_request
        for f in order
    }
    top = max(cost.values()) or 1.0
    for y, f in enumerate(reversed(order)):
        c = sol["configs"][f]
        ax.barh(
            y,
            d[f],
            left=start[f],
            height=0.7,
            color=plt.cm.Blues(0.25 + 0.7 * cost[f] / top),
            edgecolor="#C44E52" if f in crit else "white",
            linewidth=1.5 if f in crit else 0.5,
        )
        ax.text(finish[f], y, f" {c['cpu']:g} vCPU / {c['mem_mb']:g} MB", va="center", fontsize=7)
    slo = ev.metrics["slo_ms"]
    ax.axvline(slo, color="#C44E52", linestyle="--", linewidth=1)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(
                facecolor=plt.cm.Blues(0.6),
                edgecolor="#C44E52",
                linewidth=1.5,
                label="critical path",
            ),
            Patch(
                facecolor=plt.cm.Blues(0.6), edgecolor="white", label="function (darker: costlier)"
            ),
            plt.Line2D([], [], color="#C44E52", linestyle="--", linewidth=1, label="SLO"),
        ],
        fontsize=7,
        loc="lower right",
    )
    ax.set_yticks(range(len(order)), list(reversed(order)), fontsize=7)
    ax.set_xlabel("time (ms)")
    ax.set_xlim(0, max(slo, max(finish.values())) * 1.25)
    ax.set_title(
        f"{instance.name or 'workflow'}: {data.get('method', '?')} ({data.get('status', '?')}), "
        f"cost {ev.objective:.6g}, latency {ev.metrics['latency_ms']:g} ms, SLO {slo:g} ms "
        f"({sol.get('mode', 'decoupled')})",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
