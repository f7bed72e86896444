"""Exact MILP (pulp; CBC or HiGHS): one configuration per function, every path within the SLO.

Sets: functions F, edges E ⊆ F×F, candidate configurations K_f of f (after the presolve of
``formulations.workflow.space``: dominated and never-fitting configurations removed).
Parameters: runtime d_fk (ms, exact µs / 1000), cost c_fk, SLO T, and from the fastest
configurations head_f (earliest start) and tail_f (least time needed after f).
Variables: x_fk ∈ {0,1} (f runs in configuration k), S_f ≥ 0 (start time of f, ms).

    min  Σ_f Σ_k c_fk x_fk
    s.t. Σ_k x_fk = 1                                   ∀ f            (one configuration)
         S_g ≥ S_f + Σ_k d_fk x_fk                      ∀ (f, g) ∈ E   (precedence)
         S_f + Σ_k d_fk x_fk ≤ T - tail_f               ∀ f            (SLO; tail_f tightens)
         head_f ≤ S_f ≤ T - tail_f - min_k d_fk          ∀ f            (time window)

Every path's runtime sum is then ≤ T, i.e. the workflow latency (longest path) meets the SLO;
conversely the earliest-start schedule of any feasible configuration satisfies the constraints.
The ``coupled`` objective solves the same model over coupled configurations only.
"""

from __future__ import annotations

import pulp

from formulations.workflow import space as SP
from formulations.workflow.instance import WorkflowInstance, mode_of, slo_us
from solvers.backends import solve_pulp, write_pulp
from solvers.errors import InputError
from solvers.result import Result, SolveOptions, Status

# the family's --param keys (all used by heuristics); the exact models accept and ignore them so
# that `optgap solve --method all --param trials=20` works, and refuse anything else
FAMILY_PARAMS = frozenset({"trials", "cpu_points", "rounds"})


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
    n = len(space.choices)
    T = space.slo_us / 1000
    prob = pulp.LpProblem("workflow_config", pulp.LpMinimize)
    x = [
        [pulp.LpVariable(f"x_{f}_{k}", cat="Binary") for k in range(len(space.choices[f]))]
        for f in range(n)
    ]
    S = [
        pulp.LpVariable(
            f"S_{f}",
            lowBound=space.head[f] / 1000,
            upBound=(space.slo_us - space.tail[f] - min(c.d for c in space.choices[f])) / 1000,
        )
        for f in range(n)
    ]
    dur = [
        pulp.lpSum(c.d / 1000 * x[f][k] for k, c in enumerate(space.choices[f])) for f in range(n)
    ]
    prob += pulp.lpSum(c.cost * x[f][k] for f in range(n) for k, c in enumerate(space.choices[f]))
    for f in range(n):
        prob += pulp.lpSum(x[f]) == 1, f"one_{f}"
        prob += S[f] + dur[f] <= T - space.tail[f] / 1000, f"slo_{f}"
        for g in space.succs[f]:
            prob += S[g] >= S[f] + dur[f], f"prec_{f}_{g}"
    return prob, x


def prepare(inst: WorkflowInstance, options: SolveOptions) -> tuple[str, SP.Space]:
    mode = mode_of(options.objective)
    slo = slo_us(inst, options.slo_ms)
    return mode, SP.build(inst, slo, SP.candidates(inst, mode))


def solve_space(
    inst: WorkflowInstance, mode: str, space: SP.Space, options: SolveOptions, backend: str
) -> Result:
    """Solve the model over a prepared space (also used by the fit heuristic on a fitted table)."""
    stats = {
        "mode": mode,
        "configs_before_presolve": space.before,
        "configs_after_presolve": space.after,
        "fastest_latency_ms": space.fastest_us / 1000,
    }
    if not space.feasible:
        return Result(
            "", "", backend, Status.INFEASIBLE, stats=stats, message=SP.infeasible_message(space)
        )
    prob, x = build_model(space)
    out = solve_pulp(prob, options, backend)
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return Result(
            "", "", backend, out.status, bound=out.bound, stats=stats, message=out.message
        )
    picks = [
        space.choices[f][max(range(len(xs)), key=lambda k: xs[k].varValue or 0.0)]
        for f, xs in enumerate(x)
    ]
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
    mode, space = prepare(inst, options)
    return solve_space(inst, mode, space, options, options.backend or "highs")


def export(inst: WorkflowInstance, options: SolveOptions, path: str) -> None:
    _, space = prepare(inst, options)
    if not space.feasible:
        raise ValueError(SP.infeasible_message(space))
    prob, _ = build_model(space)
    write_pulp(prob, path)
