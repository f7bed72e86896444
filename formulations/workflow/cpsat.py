"""Exact CP-SAT model, the second model of F2: the same multiple-choice problem in integers.

Sets, parameters and the presolve as in ``milp.py``. Times are integer µs (the instance's own
unit, so no rounding of time). CP-SAT needs integer costs: c_fk is scaled by K = 10^p, the
largest power of ten with K * max c_fk <= 10^9, and rounded. The model is optimal for the rounded
costs; the reported objective is the true cost of its choice. Each rounded cost is off by at most
1 / (2K), so the choice is within n / K of the true optimum (n functions): at most n * 1e-9 times
the largest configuration cost, far below every tolerance used here. The reported bound is the
solver's bound minus n / (2K), a valid bound for the true costs.

Variables: x_fk Boolean, S_f ∈ [head_f, T - tail_f - min_k d_fk] and D_f (runtime) integer µs.

    min  Σ round(K c_fk) x_fk
    s.t. ExactlyOne(x_fk : k ∈ K_f)                     ∀ f
         D_f = Σ_k d_fk x_fk                            ∀ f
         S_g ≥ S_f + D_f                                ∀ (f, g) ∈ E
         S_f + D_f ≤ T - tail_f                         ∀ f
"""

from __future__ import annotations

import math

from optgap.formulations.workflow import space as SP
from optgap.formulations.workflow.instance import WorkflowInstance
from optgap.formulations.workflow.milp import check_params, prepare
from optgap.solvers.backends import solve_cpsat, write_cpsat
from optgap.solvers.result import Result, SolveOptions, Status
from ortools.sat.python import cp_model


def cost_scale(space: SP.Space) -> float:
    top = max((c.cost for r in space.choices for c in r), default=1.0)
    if top <= 0:
        return 1.0
    return 10.0 ** math.floor(9 - math.log10(top))


def build_model(space: SP.Space) -> tuple[cp_model.CpModel, list[list], float]:
    m = cp_model.CpModel()
    n = len(space.choices)
    K = cost_scale(space)
    x = [[m.NewBoolVar(f"x_{f}_{k}") for k in range(len(space.choices[f]))] for f in range(n)]
    S = [
        m.NewIntVar(  # never an empty domain (see milp.py): the SLO rows prove infeasibility
            space.head[f],
            max(space.head[f], space.slo_us - space.tail[f] - min(c.d for c in space.choices[f])),
            f"S_{f}",
        )
        for f in range(n)
    ]
    # an explicit runtime variable per function: with the sum written into every precedence
    # instead, CP-SAT took 40 s rather than 0.6 s on a 200-function instance (bench_workflow.py)
    dur = []
    for f in range(n):
        ds = [c.d for c in space.choices[f]]
        d = m.NewIntVar(min(ds), max(ds), f"D_{f}")
        m.Add(d == sum(c.d * x[f][k] for k, c in enumerate(space.choices[f])))
        dur.append(d)
    for f in range(n):
        m.AddExactlyOne(x[f])
        m.Add(S[f] + dur[f] <= space.slo_us - space.tail[f])
        for g in space.succs[f]:
            m.Add(S[g] >= S[f] + dur[f])
    m.Minimize(
        sum(round(c.cost * K) * x[f][k] for f in range(n) for k, c in enumerate(space.choices[f]))
    )
    # hint: the fastest configuration of each function is always feasible after the presolve
    for f in range(n):
        fastest = min(range(len(space.choices[f])), key=lambda k: space.choices[f][k].d)
        for k, v in enumerate(x[f]):
            m.AddHint(v, k == fastest)
    return m, x, K


def solve(inst: WorkflowInstance, options: SolveOptions) -> Result:
    check_params(options)
    try:
        mode, space = prepare(inst, options)
    except SP.NoConfiguration as e:
        return Result("", "", "cpsat", Status.INFEASIBLE, message=str(e))
    stats = SP.presolve_stats(mode, space)
    if not space.feasible:
        return Result(
            "", "", "cpsat", Status.INFEASIBLE, stats=stats, message=SP.infeasible_message(space)
        )
    model, x, K = build_model(space)
    out, solver = solve_cpsat(model, options, scale=K)
    stats["cost_scale"] = K
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return Result(
            "", "", "cpsat", out.status, bound=out.bound, stats=stats, message=out.message
        )
    picks = [
        space.choices[f][next(k for k, v in enumerate(xs) if solver.Value(v))]
        for f, xs in enumerate(x)
    ]
    n = len(picks)
    bound = None if out.bound is None else out.bound - n / (2 * K)
    return Result(
        "",
        "",
        "cpsat",
        out.status,
        objective=SP.total_cost(picks),
        bound=bound,
        solution=SP.solution_dict(inst, mode, space.slo_us, picks),
        stats=stats,
    )


def export(inst: WorkflowInstance, options: SolveOptions, path: str) -> None:
    _, space = prepare(inst, options)
    if not space.feasible:
        raise ValueError(SP.infeasible_message(space))
    from optgap.solvers.backends import export_header

    model, _, K = build_model(space)
    legend = [
        "functions f numbered in file order; x_f_k: 1 if function f uses configuration k",
        "S_f, D_f: start and duration of function f in µs",
        f"costs are integers (x {K:g}); scaling_factor = 1/{K:g} gives the instance's cost unit",
    ]
    unit = f"the cost unit of the instance's price model ({options.objective or 'cost'})"
    header = export_header("workflow", "cpsat", options.objective or "cost", unit, legend)
    write_cpsat(model, path, scale=K, header=header)
