"""Pictures of F4 solution files (matplotlib, Agg).

- a front (``objective: pareto``): peak memory (x) against latency (y), the file's points as a
  staircase, with each heuristic's point at the same budgets (PIPELOAD's planner) and the
  baselines' single points beside it;
- a single schedule: one row per loading agent and one for the inference agent, and below it the
  memory in use over time against the budget.

It lives in the solve layer, not in formulations/, because the front overlays the heuristics'
points: formulations depend on no heuristic.
"""

from __future__ import annotations

from typing import Any

from optgap.formulations.pipeload.instance import PipeloadInstance


def plot(inst: PipeloadInstance, data: dict, out_path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sol = data["solution"]
    if sol.get("objective") == "pareto":
        fig = _front(plt, inst, data)
    else:
        fig = _schedule(plt, inst, sol, data.get("method", "?"))
    fig.savefig(out_path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _front(plt, inst: PipeloadInstance, data: dict):
    from optgap.formulations.pipeload.evaluate import evaluate
    from optgap.formulations.pipeload.pareto import budgets
    from optgap.heuristics.pipeload.simulate import HeuristicFailure, simulate

    ev = evaluate(inst, data["solution"])
    if not ev.feasible:
        raise ValueError(f"the front does not evaluate: {ev.summary()}")
    pts = ev.metrics["front"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    sweep = (data.get("stats") or {}).get("sweep", "")
    label = f"{data.get('method', '?')} ({data.get('status', '?')}; {sweep or 'front'})"
    # the staircase is what the points achieve; with a sampled sweep the true front may lie below
    ax.step(xs, ys, where="post", color="C0", alpha=0.5)
    ax.plot(xs, ys, "o", color="C0", label=label)
    # PIPELOAD (the planner's best k) at an even grid of budgets and at each point's memory
    hx, hy = [], []
    grid = set(budgets(inst, 10)) | {round(x * 1000) for x in xs}
    for b in sorted(grid):
        tried = []
        for k in inst.agents_range:
            if inst.fixed_kb(k) + max(x.mem_kb for x in inst.layers) > b:
                continue
            try:
                tried.append(simulate(inst, k, b))
            except HeuristicFailure:
                continue
        if tried:
            s = min(tried, key=lambda s: (s.latency_us, s.peak_kb))
            hx.append(s.peak_kb / 1000)
            hy.append(s.latency_us / 1000)
    ax.plot(
        hx,
        hy,
        "x",
        color="C1",
        label="PIPELOAD (planner): budget = each point's memory, and 10 even budgets",
    )
    base = {
        "pipeline baseline": simulate(inst, inst.k_min, None, free=False),
        "load-all-then-run": simulate(inst, inst.k_max, None, free=False, run_after_all=True),
        "one-at-a-time": simulate(inst, inst.k_min, None, one_at_a_time=True),
    }
    for j, (name, s) in enumerate(base.items()):
        ax.plot(s.peak_kb / 1000, s.latency_us / 1000, "s^v"[j], color=f"C{j + 2}", label=name)
    ax.set_xlabel("peak memory (MB)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"{inst.name or 'instance'}: latency–memory front ({len(pts)} points)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _schedule(plt, inst: PipeloadInstance, sol: dict[str, Any], method: str):
    k = sol["agents"]
    sched = sol["schedule"]
    fig, (ax, axm) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=(2, 1))
    events = []
    end = max(sched[x.name]["run_start_ms"] + x.compute_us / 1000 for x in inst.layers)
    free = sol.get("free_after_run", True)
    for i, x in enumerate(inst.layers):
        e = sched[x.name]
        ls, rs = e["load_start_ms"], e["run_start_ms"]
        ax.barh(e["agent"], x.load_us / 1000, left=ls, color=f"C{i % 10}", edgecolor="k", lw=0.3)
        ax.barh(k, x.compute_us / 1000, left=rs, color=f"C{i % 10}", edgecolor="k", lw=0.3)
        release = rs + x.compute_us / 1000 if free else end  # no daemon: held to the end
        events += [(ls, 1, x.mem_kb), (release, 0, -x.mem_kb)]
    ax.set_yticks(range(k + 1), [f"loader {a}" for a in range(k)] + ["inference"])
    ax.set_title(f"{inst.name or 'instance'}: {method} schedule ({sol.get('objective')})")
    held, t_prev, xs, ys = 0, 0.0, [0.0], [inst.fixed_kb(k) / 1000]
    for t, _, d in sorted(events):
        held += d
        if xs and xs[-1] == t:  # a release and a load at one instant: one step, no dip
            ys[-1] = (inst.fixed_kb(k) + held) / 1000
        else:
            xs.append(t)
            ys.append((inst.fixed_kb(k) + held) / 1000)
        t_prev = t
    axm.step(xs, ys, where="post")
    budget = sol.get("budget_mb")
    if budget is not None:
        axm.axhline(budget, color="r", ls="--", lw=1, label=f"budget {budget:g} MB")
        axm.legend(fontsize=8)
    axm.set_ylabel("memory (MB)")
    axm.set_xlabel(f"time (ms); latency {t_prev:g} ms")
    return fig
