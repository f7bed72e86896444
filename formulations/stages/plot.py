"""`optgap plot` for stages: arrival rate and each stage's VMs and function share over the trace."""

from __future__ import annotations

from typing import Any

from optgap.solvers.errors import InputError


def plot_solution_file(instance: Any, data: dict, path: str) -> None:
    """Check the plan with the evaluator (without simulating), then draw one panel per stage:
    the stage's traffic (req/s), the part its VMs carry at the cap, and its VM count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    from optgap.formulations.stages.evaluate import evaluate

    sol = data.get("solution")
    ev = evaluate(instance, sol, simulate=False)
    if not ev.feasible:
        raise InputError(f"the evaluator rejects this plan: {ev.summary()}")
    if sol.get("mode") == "whole":  # the whole model as one unit: plot its 1-stage view
        from optgap.formulations.stages.whole import whole_instance

        instance = whole_instance(instance, sol.get("vm_type", "default"))
    plan = instance.plan(sol.get("slo_ms"))
    S, W = len(instance.stages), instance.window_s
    hours = [t * W / 3600 for t in range(instance.n_windows)]
    fig, axes = plt.subplots(S, 1, figsize=(10, 2.2 * S), sharex=True, squeeze=False)
    for s, ax in enumerate(axes[:, 0]):
        lam = instance.rates * instance.reach[s]
        vms = sol["vms"][s]
        on_vm = [min(x, plan.stages[s].cap * v) for x, v in zip(lam, vms, strict=True)]
        ax.step(hours, lam, where="post", color="black", lw=1, label="traffic req/s")
        ax.fill_between(hours, on_vm, step="post", alpha=0.4, label="on VMs (capped)")
        ax.fill_between(
            hours, on_vm, lam, step="post", alpha=0.4, color="tab:orange", label="on functions"
        )
        ax.set_ylabel(f"{instance.stages[s].id}\nreq/s")
        twin = ax.twinx()
        twin.step(hours, vms, where="post", color="tab:green", lw=1, label="VMs (right axis)")
        twin.set_ylabel("VMs", color="tab:green")
        twin.yaxis.set_major_locator(MaxNLocator(integer=True))  # VM counts are whole
        twin.set_ylim(bottom=0)
        if s == 0:
            lines, labels = ax.get_legend_handles_labels()
            more, more_labels = twin.get_legend_handles_labels()
            ax.legend(lines + more, labels + more_labels, loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("hours")
    fig.suptitle(
        f"{instance.name or 'stages'}: {data.get('method', '?')} ({data.get('status', '?')}), "
        f"plan cost ${ev.objective:.4g}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
