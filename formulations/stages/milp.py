r"""F3 exact model: a MILP over the whole trace (pulp; CBC or HiGHS).

Sets      s ∈ S stages, t ∈ T = {0..|T|-1} windows of W seconds, m ∈ M_s memory sizes of stage s.
Data      λ_t mean arrival rate of window t (req/s); r_s reach of stage s (∏_{q<s} (1 - e_q));
          λ_st = r_s λ_t; p VM price per second; k VM cold start (s), paid from launch;
          κ_s capacity of one VM at stage s (req/s) = ρ_s · workers · 1000 / vm_ms_s, where the
          utilisation cap ρ_s is the largest ρ ≤ max_utilisation whose p-quantile queueing delay
          (M/M/c per VM, c = workers, Erlang-C tail P(W > t) = C e^{-(cμ-λ)t}, times the
          Allen-Cunneen factor (1 + cv²)/2 for lognormal service) fits the stage's queueing
          allowance = its SLO share - the VM service p-quantile (the SLO net of transfers is
          split into the VM service p-quantiles plus equal parts of the slack);
          c_sm $ per query on a function of m MB = price_req + price_GBs · m/1024 · fn_ms_sm/1000;
          M_s^ok the memories whose cold start + service p-quantile fit the stage's share;
          V_s = ⌈max_t λ_st / κ_s⌉ (more VMs never lower the cost); N optional VM quota.
Variables v_st ∈ {0..V_s} VMs serving in window t (integer); u_st ∈ Z≥0 VMs launched for t;
          x_st ≥ 0 req/s sent to functions (the share f_st = x_st / λ_st);
          y_sm ∈ {0,1} memory choice (only in the ``onehot`` variant, with x_stm ≥ 0 per memory).
Constraints
  (carry)     x_st + κ_s v_st ≥ λ_st                   ∀ s, t   (VMs at the cap + functions)
  (launch)    u_st ≥ v_st - v_s,t-1,  v_s,-1 = 0        ∀ s, t   (a VM serving in t was started
              k seconds before t's start, paid from then; stopping is free at a window's end)
  (quota)     Σ_s v_st ≤ N                              ∀ t      (if vm.max_total is set)
  (no-VM)     v_st = 0 where the VM service p-quantile alone exceeds the stage's share
  (no-fn)     x_st = 0 where M_s^ok is empty
  onehot:     Σ_{m ∈ M_s^ok} y_sm = 1;  x_stm ≤ λ_st y_sm;  x_st = Σ_m x_stm
Objective
  min Σ_st p (W v_st + k u_st) + Σ_st c_s W x_st     (default: c_s = min_{m ∈ M_s^ok} c_sm)
  onehot:  ... + Σ_stm c_sm W x_stm
Why the default is exact: the memory of a stage enters only through the price c_sm of its
function traffic (the SLO fit is a filter), so for any v the cheapest fitting memory is optimal;
the ``onehot`` variant keeps the binary choice and must reach the same optimum (tested).
u_st is declared integer although integral v makes some optimal u integral anyway: with u
continuous, HiGHS 1.14's presolve returned a wrong "optimal" plan (2 % too costly) on two
day-long traces (seen in benchmarks/bench_stages.py). The same presolve also fails on tiny MIPs
(min 6.94 v + 0.0042 x s.t. 100 v + x >= 5, v binary: "optimal" v = 1), so, as a guard, a
claimed optimum that a known feasible plan undercuts is reported as an error (the known plans: the warm starts, SERFLOW's by default, which the
solve layer runs and the evaluator accepts first -- ``warm_start`` in solvers/catalog/stages.py --,
and the DP optimum without a quota). CBC with one thread runs in its serial mode ("threads 0"): its
"threads 1" mode now and then deadlocks until the time limit on tiny models.
LP strength: with the memory precomputed the only integers are VM counts; the relaxation differs
from the optimum only by rounding VMs, and both solvers prove day-long traces optimal in seconds.
Infeasible SLO: reported without a solve, naming the stage and the latencies that miss it; an
infeasible quota (stages without functions need more VMs than N) is proven by the solver.
"""

from __future__ import annotations

import pulp
from optgap.formulations.stages.plan import (
    check_params,
    max_useful_vms,
    plan_cost,
    slo_of,
    solution,
)
from optgap.solvers.backends import solve_pulp, write_pulp
from optgap.solvers.result import Result, SolveOptions, Status


def build(inst, slo_ms: float, onehot: bool = False):
    plan = inst.plan(slo_ms)
    S, T, W = len(inst.stages), inst.n_windows, inst.window_s
    prob = pulp.LpProblem("stages", pulp.LpMinimize)
    v: dict[tuple[int, int], pulp.LpVariable] = {}
    cost = []
    for s in range(S):
        sp = plan.stages[s]
        per_s, boot = inst.vm_price_s(s), inst.stage_vm(s).cold_start_s
        lam = [float(inst.rates[t]) * inst.reach[s] for t in range(T)]
        vmax = max_useful_vms(inst, s, slo_ms)
        fn_ok = sp.fn_memory is not None
        y = {}
        if onehot and fn_ok:
            y = {m: pulp.LpVariable(f"y_{s}_{m}", cat=pulp.LpBinary) for m in sp.fn_ok_memories}
            prob += pulp.lpSum(y.values()) == 1, f"onemem_{s}"
        for t in range(T):
            if vmax > 0:
                v[s, t] = pulp.LpVariable(f"v_{s}_{t}", 0, vmax, cat=pulp.LpInteger)
                u = pulp.LpVariable(f"u_{s}_{t}", 0, cat=pulp.LpInteger)
                prev = v[s, t - 1] if t > 0 else 0
                prob += u >= v[s, t] - prev, f"launch_{s}_{t}"
                cost.append(per_s * (W * v[s, t] + boot * u))
                carry = sp.cap * v[s, t]
            else:
                carry = 0
            if not fn_ok:
                prob += carry >= lam[t], f"carry_{s}_{t}"
                continue
            if onehot:
                xs = {m: pulp.LpVariable(f"x_{s}_{t}_{m}", 0) for m in y}
                for m, xm in xs.items():
                    prob += xm <= lam[t] * y[m], f"pick_{s}_{t}_{m}"
                    cost.append(inst.fn_cost_per_query(s, m) * W * xm)
                prob += pulp.lpSum(xs.values()) + carry >= lam[t], f"carry_{s}_{t}"
            else:
                x = pulp.LpVariable(f"x_{s}_{t}", 0)
                cost.append(sp.fn_cost * W * x)
                prob += x + carry >= lam[t], f"carry_{s}_{t}"
    if inst.vm.max_total is not None:
        for t in range(T):
            terms = [v[s, t] for s in range(S) if (s, t) in v]
            if terms:
                prob += pulp.lpSum(terms) <= inst.vm.max_total, f"quota_{t}"
    prob += pulp.lpSum(cost)
    return prob, v


def _warm_rows(inst, warm, slo: float) -> list[tuple[str, list[list[int]]]]:
    """The VM counts of the accepted warm starts (the solve layer ran the heuristics and had the
    evaluator accept them), cheapest first, clipped to the model's V_s (more VMs never help)."""
    out = []
    for w in sorted(warm, key=lambda w: w.objective):
        sol = w.solution
        rows = sol.get("vms") if sol.get("mode", "stages") == "stages" else None
        if not isinstance(rows, list) or len(rows) != len(inst.stages):
            continue
        rows = [
            [min(int(x), max_useful_vms(inst, s, slo)) for x in row] for s, row in enumerate(rows)
        ]
        out.append((w.method, rows))
    return out


def _run(inst, options: SolveOptions, onehot: bool, warm=()) -> Result:
    check_params(options, ("max_nodes", "max_solutions"))
    backend = options.backend or "cbc"
    slo = slo_of(inst, options)
    plan = inst.plan(slo)
    if plan.infeasible:
        return Result("", "", backend, Status.INFEASIBLE, message=plan.infeasible)
    prob, v = build(inst, slo, onehot)
    S, T = len(inst.stages), inst.n_windows
    starts = [(m, r) for m, r in _warm_rows(inst, warm, slo) if _fits_quota(inst, r)]
    hinted = False
    if options.hint and backend == "cbc" and starts:
        for (s, t), var in v.items():
            var.setInitialValue(starts[0][1][s][t])
        hinted = True
    # CBC's "threads 1" runs its threaded code with one worker, which now and then deadlocks;
    # solve_pulp passes no thread count for threads <= 1, i.e. CBC's serial mode
    out = solve_pulp(
        prob, options, backend, warm_start=hinted, limits=node_limits(options, backend)
    )
    stats = {
        "variables": len(prob.variables()),
        "integers": sum(1 for var in prob.variables() if var.cat == pulp.LpInteger),
        "constraints": prob.numConstraints(),
        "windows": T,
        "utilisation_caps": [round(sp.utilisation_cap, 6) for sp in plan.stages],
        "warm_hint": starts[0][0] if hinted else None,
    }
    name = "milp-onehot" if onehot else "milp"
    if out.status == Status.TIME_LIMIT and starts:  # the fallback answer: the best warm start
        vms = starts[0][1]
        obj = plan_cost(inst, vms, slo)
        bound = None if out.bound is None else min(out.bound, obj)
        return Result(
            "",
            "",
            backend,
            Status.FEASIBLE,
            objective=obj,
            bound=bound,
            message=f"{backend} found no solution in time; the {starts[0][0]} warm start",
            solution=solution(inst, vms, slo, name),
            stats=stats,
        )
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        msg = out.message
        if out.status == Status.INFEASIBLE:
            msg = (
                f"the stages without usable functions need more VMs than vm.max_total = "
                f"{inst.vm.max_total} in some window ({backend} proved the MILP infeasible)"
            )
        return Result("", "", backend, out.status, bound=out.bound, message=msg, stats=stats)
    vms = [
        [int(round(v[s, t].value() or 0.0)) if (s, t) in v else 0 for t in range(T)]
        for s in range(S)
    ]
    objective = plan_cost(inst, vms, slo)
    wrong = _contradicted(inst, slo, objective, starts) if out.status == Status.OPTIMAL else ""
    if wrong:
        return Result("", "", backend, Status.ERROR, message=f"{backend}: {wrong}", stats=stats)
    bound = out.bound
    if out.status == Status.OPTIMAL:
        bound = objective
    elif bound is not None:
        bound = min(bound, objective)
    return Result(
        "",
        "",
        backend,
        out.status,
        objective=objective,
        bound=bound,
        solution=solution(inst, vms, slo, name),
        stats=stats,
    )


def node_limits(options: SolveOptions, backend: str) -> dict[str, int]:
    """``--param max_nodes=N`` / ``max_solutions=N``: stop the branch and bound after N nodes or
    N incumbents (deterministic limits, for tests of status honesty; N >= 0 / >= 1), in the
    solver's own names: CBC ``maxNodes`` / ``maxSolutions``, HiGHS ``mip_max_nodes`` /
    ``mip_max_improving_sols``."""
    names = {
        "cbc": ("maxNodes", "maxSolutions"),
        "highs": ("mip_max_nodes", "mip_max_improving_sols"),
    }[backend]
    out = {}
    if options.param("max_nodes") is not None:
        out[names[0]] = options.int_param("max_nodes", 0, lo=0)
    if options.param("max_solutions") is not None:
        out[names[1]] = options.int_param("max_solutions", 1, lo=1)
    return out


def _contradicted(inst, slo: float, objective: float, starts=()) -> str:
    """A known feasible plan cheaper than a claimed optimum means the solver is wrong: checked
    against the accepted warm starts and, without a quota, the per-stage DP (both cheap)."""
    from optgap.formulations.stages.dp import stage_vms

    witnesses = [(f"the {m} plan", rows) for m, rows in starts]
    if inst.vm.max_total is None:
        rows = [stage_vms(inst, s, slo) for s in range(len(inst.stages))]
        if all(r is not None for r in rows):
            witnesses.append(("the DP optimum", rows))
    for name, vms in witnesses:
        other = plan_cost(inst, vms, slo)
        if _feasible(inst, vms, slo) and other < objective * (1 - 1e-9) - 1e-12:
            return f"claimed optimal at {objective:.10g}, but {name} costs {other:.10g}"
    return ""


def _feasible(inst, vms, slo: float) -> bool:
    plan = inst.plan(slo)
    for s, sp in enumerate(plan.stages):
        for t, v in enumerate(vms[s]):
            lam = float(inst.rates[t]) * inst.reach[s]
            if sp.fn_memory is None and lam - sp.cap * v > 1e-9 * max(1.0, lam):
                return False
            if not sp.vm_ok and v:
                return False
    return True


def _fits_quota(inst, vms) -> bool:
    mt = inst.vm.max_total
    return mt is None or all(sum(col) <= mt for col in zip(*vms, strict=True))


def solve(inst, options: SolveOptions, warm=()) -> Result:
    """The MILP with each stage's function memory fixed to its cheapest fitting size (exact).
    ``warm``: evaluator-accepted heuristic answers (hint, fallback, and a check of the optimum)."""
    return _run(inst, options, onehot=False, warm=warm)


def solve_onehot(inst, options: SolveOptions, warm=()) -> Result:
    """The MILP with one binary per stage and memory size (a cross-check of ``solve``)."""
    return _run(inst, options, onehot=True, warm=warm)


def export(inst, options: SolveOptions, path: str) -> None:
    check_params(options)
    from optgap.solvers.backends import export_header

    prob, _ = build(inst, slo_of(inst, options))
    legend = [
        "stages s and windows t numbered from 0 (stage s = stages[s], window t = arrivals[t])",
        "v_s_t: VMs of stage s in window t; u_s_t: VMs launched (cold starts) at window t",
        "x_*: requests of stage s in window t served by serverless functions; y_*: their memory",
    ]
    header = export_header("stages", "milp", "cost", "$ (cost of the plan)", legend)
    write_pulp(prob, path, header=header)
