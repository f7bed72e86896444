"""`optgap plot` for F5 double-violation solutions: each pure Bob strategy's (v_AB, v_AC) with
the Alice of the solution, the chosen mixture, and the double-violation quadrant."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from optgap.formulations.steering import quantum as Q
from optgap.formulations.steering.instance import SteeringInstance, matrix_from_json
from optgap.solvers.errors import InputError


def plot_solution_file(inst: SteeringInstance, data: dict[str, Any], out_path: str) -> None:
    if inst.quantity != "double-violation":
        raise InputError(f"steering plots exist for double-violation, not {inst.quantity!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sol = data["solution"]
    qs = np.asarray(sol.get("weights", []), dtype=float)
    if len(qs) != len(inst.strategies):
        raise InputError("solution.weights: one weight per strategy expected")
    pts = []
    for s, strat in enumerate(inst.strategies):
        dd = Q.strategy_data(inst, strat)
        if inst.alice is not None:
            obs = [m.observable for m in inst.alice]
        else:
            obs = [matrix_from_json(a, f"solution.alice[{s}]") for a in sol["alice"][s]]
        vab = sum(float(np.real(np.trace(o @ x))) for o, x in zip(obs, dd["x_ab"], strict=True))
        vac = sum(float(np.real(np.trace(o @ x))) for o, x in zip(obs, dd["x_ac"], strict=True))
        pts.append((vab - dd["c_ab"], vac - dd["c_ac"]))
    pts_arr = np.array(pts)
    mix = qs @ pts_arr
    fig, ax = plt.subplots(figsize=(5.5, 5))
    lo = min(pts_arr.min(), mix.min(), -0.1) - 0.05
    hi = max(pts_arr.max(), mix.max(), 0.1) + 0.05
    ax.fill_between([0, hi], 0, hi, color="tab:green", alpha=0.12, label="double violation")
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.scatter(pts_arr[:, 0], pts_arr[:, 1], c="tab:blue", label="pure strategies")
    for s, (x, y) in enumerate(pts):
        label = "/".join(k if k != "unsharp" else f"η={e:g}" for k, e in inst.strategies[s])
        ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.scatter([mix[0]], [mix[1]], marker="*", s=160, c="tab:red", label="mixture (solution)")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("A-B violation  W_AB - C_AB")
    ax.set_ylabel("A-C violation  W_AC - C_AC")
    title = f"{inst.name or 'double violation'} ({data.get('method', '?')})"
    ax.set_title(textwrap.fill(title, 60), fontsize=8)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
