"""Exact MILP (pulp; HiGHS or CBC): one configuration per function, every path within the SLO.

Sets: functions F, edges E ⊆ F×F, candidate configurations of f after the presolve of
``optgap.formulations.workflow.space`` (dominated and never-fitting configurations removed), indexed
k = 0..K_f-1 by increasing runtime. Being Pareto-optimal they have strictly *decreasing* cost.
Parameters: runtime d_fk (ms, exact µs / 1000), cost c_fk, SLO T, and from the fastest
configurations head_f (earliest start) and tail_f (least time needed after f).

Multiple-choice problem, written in the *incremental* form: z_fk ∈ {0,1} (k = 1..K_f-1) says "f
runs in configuration k or a slower one", so f's configuration is Σ_k z_fk, and
x_fk = z_fk - z_f,k+1 is the usual one-hot choice. S_f ≥ 0 is f's start time (ms).

    D_f = d_f0 + Σ_k (d_fk - d_f,k-1) z_fk               runtime of f
    C_f = c_f0 + Σ_k (c_fk - c_f,k-1) z_fk               cost of f

    min  Σ_f C_f
    s.t. z_fk ≤ z_f,k-1                                 ∀ f, k ≥ 2     (one configuration)
         S_g ≥ S_f + D_f                                ∀ (f, g) ∈ E   (precedence)
         S_f + D_f ≤ T - tail_f                         ∀ f            (SLO; tail_f tightens)
         head_f ≤ S_f ≤ T - tail_f - d_f0               ∀ f            (time window)

Every path's runtime sum is then ≤ T, i.e. the workflow latency (longest path) meets the SLO;
conversely the earliest-start schedule of any feasible configuration satisfies the constraints.
The incremental form has the LP relaxation of the one-hot form (x ↔ z is unimodular), but a
branch on z_fk splits f's runtimes into faster / slower than a threshold, which is balanced;
on the hardest 200-function instances (benchmarks/bench_workflow.py, tight group) it proved the
optimum about twice as fast with HiGHS as the one-hot form.
The ``coupled`` objective solves the same model over coupled configurations only.
"""

from __future__ import annotations

import pulp
from optgap.formulations.workflow import space as SP
from optgap.formulations.workflow.instance import WorkflowInstance, mode_of, slo_us
from optgap.solvers.backends import solve_pulp, write_pulp
from optgap.solvers.errors import InputError
from optgap.solvers.result import Result, SolveOptions, Status

# the family's --param keys (all used by heuristics); the exact models accept and ignore them so
# that `optgap solve --method all --param trials=20` works, and refuse anything else
FAMILY_PARAMS = frozenset({"trials", "cpu_points", "rounds", "noise", "start", "steps", "tries"})


def check_params(options: SolveOptions) -> None:
    for key, _ in options.params:
        if key not in FAMILY_PARAMS:
            raise InputError(
                f"--param {key}: unknown for the workflow family "
                f"(known: {', '.join(sorted(FAMILY_PARAMS))})"
            )


def build_model(
    space: SP.Space,
) -> tuple[pulp.LpProblem, list[list[pulp.LpVariable]]]:
    """The model and its z variables (z[f][k-1] for k = 1..K_f-1)."""
    n = len(space.choices)
    T = space.slo_us / 1000
    ch = space.choices  # per function by increasing runtime, decreasing cost (see space.pareto)
    prob = pulp.LpProblem("workflow_config", pulp.LpMinimize)
    z = [
        [pulp.LpVariable(f"z_{f}_{k}", cat="Binary") for k in range(1, len(ch[f]))]
        for f in range(n)
    ]
    # the window's upper end is never below its lower one: past an infeasible SLO the SLO rows
    # then prove it (an empty variable domain would make CBC fail and CP-SAT call it invalid)
    S = [
        pulp.LpVariable(
            f"S_{f}",
            lowBound=space.head[f] / 1000,
            upBound=max(space.head[f], space.slo_us - space.tail[f] - ch[f][0].d) / 1000,
        )
        for f in range(n)
    ]
    D = [
        ch[f][0].d / 1000
        + pulp.lpSum(
            (ch[f][k].d - ch[f][k - 1].d) / 1000 * z[f][k - 1] for k in range(1, len(ch[f]))
        )
        for f in range(n)
    ]
    prob += pulp.lpSum(
        ch[f][0].cost
        + pulp.lpSum(
            (ch[f][k].cost - ch[f][k - 1].cost) * z[f][k - 1] for k in range(1, len(ch[f]))
        )
        for f in range(n)
    )
    for f in range(n):
        for k in range(1, len(z[f])):
            prob += z[f][k] <= z[f][k - 1], f"order_{f}_{k}"
        prob += S[f] + D[f] <= T - space.tail[f] / 1000, f"slo_{f}"
        for g in space.succs[f]:
            prob += S[g] >= S[f] + D[f], f"prec_{f}_{g}"
    return prob, z


def picks_of(space: SP.Space, z: list[list[pulp.LpVariable]]) -> list[SP.Choice]:
    return [
        space.choices[f][sum(1 for v in zs if (v.varValue or 0.0) > 0.5)] for f, zs in enumerate(z)
    ]


def prepare(inst: WorkflowInstance, options: SolveOptions) -> tuple[str, SP.Space]:
    mode = mode_of(options.objective)
    slo = slo_us(inst, options.slo_ms)
    return mode, SP.build(inst, slo, SP.candidates(inst, mode))


def solve_space(
    inst: WorkflowInstance, mode: str, space: SP.Space, options: SolveOptions, backend: str
) -> Result:
    """Solve the model over a prepared space (also used by the fit heuristic on a fitted table)."""
    stats = SP.presolve_stats(mode, space)
    if not space.feasible:
        return Result(
            "", "", backend, Status.INFEASIBLE, stats=stats, message=SP.infeasible_message(space)
        )
    prob, z = build_model(space)
    out = solve_pulp(prob, options, backend)
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return Result(
            "", "", backend, out.status, bound=out.bound, stats=stats, message=out.message
        )
    picks = picks_of(space, z)
    objective = SP.total_cost(picks)
    return Result(
        "",
        "",
        backend,
        out.status,
        objective=objective,
        bound=out.bound,
        solution=SP.solution_dict(inst, mode, space.slo_us, picks),
        stats=stats,
    )


def solve(inst: WorkflowInstance, options: SolveOptions) -> Result:
    check_params(options)
    backend = options.backend or "highs"
    try:
        mode, space = prepare(inst, options)
    except SP.NoConfiguration as e:
        return Result("", "", backend, Status.INFEASIBLE, message=str(e))
    return solve_space(inst, mode, space, options, backend)


def export(inst: WorkflowInstance, options: SolveOptions, path: str) -> None:
    _, space = prepare(inst, options)
    if not space.feasible:
        raise ValueError(SP.infeasible_message(space))
    from optgap.solvers.backends import export_header

    prob, _ = build_model(space)
    legend = [
        "functions f numbered in file order; configurations k of f sorted by runtime",
        "z_f_k: 1 if function f runs no faster than its configuration k+1 (z_f_k >= z_f_k+1)",
        "S_f: start of function f in ms; the chosen configuration is the first k with z_f_k = 0",
    ]
    unit = f"the cost unit of the instance's price model ({options.objective or 'cost'})"
    header = export_header("workflow", "milp", options.objective or "cost", unit, legend)
    write_pulp(prob, path, header=header)
