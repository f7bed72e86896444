r"""F3 second exact method: dynamic programming per stage (when no VM quota couples the stages).

Without ``vm.max_total`` the MILP (see :mod:`optgap.formulations.stages.milp`) separates by stage, and
each stage is a shortest path over windows with state v ∈ {0..V_s} (VMs serving):

    F_t(v) = g_t(v) + min_{v'} [ F_{t-1}(v') + p k max(0, v - v') ],   F_{-1}(v') = 0 iff v' = 0
    g_t(v) = p W v + c_s W max(0, λ_st - κ_s v)   (+∞ if the stage has no usable function and
                                                   κ_s v < λ_st)

The minimum of F_{|T|-1} is the stage's optimal cost; the VM counts come from back-pointers.
The inner minimum splits into v' >= v (a suffix minimum of F) and v' < v (a prefix minimum of
F(v') - p k v', plus p k v), so a stage takes O(|T| V_s) with numpy. Exact for the same model, so it must agree with the MILP.
"""

from __future__ import annotations

import numpy as np
from optgap.formulations.stages.plan import (
    check_params,
    max_useful_vms,
    plan_cost,
    slo_of,
    solution,
)
from optgap.solvers.result import Result, SolveOptions, Status


def stage_vms(inst, s: int, slo_ms: float) -> list[int] | None:
    sp = inst.plan(slo_ms).stages[s]
    T, W = inst.n_windows, inst.window_s
    per_s = inst.vm_price_s(s)
    k = per_s * inst.stage_vm(s).cold_start_s  # $ per launch
    V = max_useful_vms(inst, s, slo_ms)
    vs = np.arange(V + 1, dtype=np.float64)
    pos = np.arange(V + 1)
    prev = np.full(V + 1, np.inf)
    prev[0] = 0.0
    back = np.zeros((T, V + 1), dtype=np.int64)
    for t in range(T):
        lam = float(inst.rates[t]) * inst.reach[s]
        x = np.maximum(0.0, lam - sp.cap * vs)
        g = per_s * W * vs
        if sp.fn_memory is None:
            g = np.where(x > 1e-9 * max(1.0, lam), np.inf, g)
        else:
            g = g + sp.fn_cost * W * x
        # min over v' >= v of F(v') (no launch): a suffix minimum, with its argument
        rev = prev[::-1]
        smin = np.minimum.accumulate(rev)
        sarg = V - np.maximum.accumulate(np.where(rev <= smin, pos, 0))
        smin, sarg = smin[::-1], sarg[::-1]
        # min over v' < v of F(v') + k (v - v'): a prefix minimum of F(v') - k v', shifted
        h = prev - k * vs
        pmin = np.minimum.accumulate(h)
        parg = np.maximum.accumulate(np.where(h <= pmin, pos, 0))
        up = np.full(V + 1, np.inf)
        uarg = np.zeros(V + 1, dtype=np.int64)
        up[1:] = pmin[:-1] + k * vs[1:]
        uarg[1:] = parg[:-1]
        take_up = up < smin
        back[t] = np.where(take_up, uarg, sarg)
        prev = g + np.where(take_up, up, smin)
    if not np.isfinite(prev.min()):
        return None
    v = int(np.argmin(prev))
    out = [0] * T
    for t in range(T - 1, -1, -1):
        out[t] = v
        v = int(back[t, v])
    return out


def solve(inst, options: SolveOptions) -> Result:
    check_params(options)
    slo = slo_of(inst, options)
    plan = inst.plan(slo)
    if plan.infeasible:
        return Result("", "", "numpy", Status.INFEASIBLE, message=plan.infeasible)
    if inst.vm.max_total is not None:
        return Result(
            "",
            "",
            "numpy",
            Status.ERROR,
            message="dp solves stages separately; vm.max_total couples them (use milp)",
        )
    vms = []
    for s in range(len(inst.stages)):
        row = stage_vms(inst, s, slo)
        if row is None:  # cannot happen: V_s VMs carry every window when the plan is feasible
            return Result("", "", "numpy", Status.ERROR, message=f"dp: stage {s} has no path")
        vms.append(row)
    cost = plan_cost(inst, vms, slo)
    return Result(
        "", "", "numpy", Status.OPTIMAL, cost, cost, solution=solution(inst, vms, slo, "dp")
    )
