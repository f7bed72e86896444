r"""F4 second exact model: a time-indexed MILP (pulp; CBC or HiGHS), independent of CP-SAT.

Time grid. All durations are multiples of g = gcd of the non-zero load and compute times (µs).
Flooring every start of a feasible schedule to the g-grid keeps it feasible and no slower: every
constraint is a difference x_b − x_a ≥ (multiple of g), which flooring preserves, so two
intervals that did not overlap still do not; intervals that overlap after flooring overlapped
pairwise before, hence (Helly, on a line) all at one instant — so agent and memory use at any
instant is bounded by some instant of the original. Hence the grid loses no optimum, for both
objectives (a latency bound T becomes ⌊T/g⌋ steps).

Sets      I layers, t ∈ 0..H steps of g µs (H: the best heuristic latency, or the bound).
Data      d_i = L_i/g, p_i = c_i/g steps; m_i, R, a (kB); B budget or bound H.
Variables x_{i,t} ∈ {0,1} load i starts at t; y_{i,t} ∈ {0,1} run i starts at t; k ∈ Z agents;
          C latency (steps); P peak memory (memory objective).
Constraints
  (once)     Σ_t x_{i,t} = 1,  Σ_t y_{i,t} = 1                                    ∀ i
  (arrive)   Σ_t t y_{i,t} ≥ Σ_t t x_{i,t} + d_i                                  ∀ i
  (order)    Σ_t t y_{i+1,t} ≥ Σ_t t y_{i,t} + p_i                                 ∀ i < n
  (latency)  C ≥ Σ_t t y_{n,t} + p_n
  (agents)   Σ_i Σ_{t = τ−d_i+1}^{τ} x_{i,t} ≤ k                                   ∀ τ
  (memory)   h_{i,τ} = Σ_{t ≤ τ} x_{i,t} − Σ_{t ≤ τ−p_i} y_{i,t}  (= 1 iff i is held at τ)
             Σ_i m_i h_{i,τ} ≤ B − R − a k   (latency)   or   ≤ P − R − a k   (memory) ∀ τ
Objectives  latency: min C;  memory: min P.
The running sums Σ_{t ≤ τ} x_{i,t} and Σ_{t ≤ τ} y_{i,t} are continuous variables SX_{i,τ},
SY_{i,τ} with SX_{i,τ} = SX_{i,τ−1} + x_{i,τ} (the same polytope; the matrix has O(n H) nonzeros
instead of O(n H²), which HiGHS's and CBC's setup cannot interrupt on large grids).
Only for small instances: the model has about 2 n H binaries; it refuses more than 40,000
(10,000 with CBC, whose setup does not stop at its time limit on larger ones).
Loads may be in any order, as in the CP-SAT model (``--param order=layer``: LS_i ≤ LS_{i+1}).
Warm starts (the solve layer's evaluator-accepted heuristic answers, ``warm=``): the fastest
that fits the budget sets H (latency objective); floored to the grid (which keeps it feasible,
above) it is CBC's starting solution unless ``--no-hint``; if the solver finds nothing in time it
is the answer, ``feasible`` with the solver's bound (and also when the solver calls the model
infeasible although the warm start solves it: CBC does when its limit cuts presolve short).
The limit covers the whole method: the build stops (and the method falls back or reports
``time_limit``) when it runs out. A latency bound below latency_lower_bound_us is infeasible up
front. This module imports no heuristic.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from functools import reduce

from optgap.formulations.pipeload.cpsat import (
    Sched,
    assign_agents,
    peak_kb,
    unsupported,
    warm_schedules,
)
from optgap.formulations.pipeload.instance import (
    PipeloadInstance,
    below_latency_bound,
    below_minimum,
    latency_bound_us,
    latency_lower_bound_us,
    params,
    schedule_solution,
)
from optgap.solvers.backends import solve_pulp, write_pulp
from optgap.solvers.result import Result, SolveOptions, Status

MAX_BINARIES = 40_000
# CBC's setup (reading the model, the root LP, completing a warm start) ignores its time limit:
# at 40 layers (~25,000 binaries) it ran 30-130 s past a 5 s limit (bench_pipeload_limits.py)
MAX_BINARIES_CBC = 10_000


def grid_us(inst: PipeloadInstance) -> int:
    times = [x.load_us for x in inst.layers] + [x.compute_us for x in inst.layers]
    return reduce(math.gcd, [t for t in times if t > 0], 0) or 1


def build(
    inst: PipeloadInstance,
    pattern: str,
    budget: int | None,
    horizon_us: int,
    in_order: bool = False,
    t_end: float = math.inf,
    prefix: bool = True,
    backend: str = "highs",
):
    """The model above; raises OutOfTime if the clock passes ``t_end`` while building.
    ``prefix``: the running sums in (agents) and (memory) are auxiliary variables (the same
    polytope, a far sparser matrix); off: written out, as in the formulation."""
    import pulp

    g = grid_us(inst)
    H = horizon_us // g
    n = inst.n
    d = [x.load_us // g for x in inst.layers]
    p = [x.compute_us // g for x in inst.layers]
    mem = [x.mem_kb for x in inst.layers]
    tail = [sum(p[i:]) for i in range(n)]
    cap = min(MAX_BINARIES, MAX_BINARIES_CBC) if backend == "cbc" else MAX_BINARIES
    if 2 * n * (H + 1) > cap:
        raise ValueError(
            f"time-indexed model too large: {n} layers x {H + 1} steps of {g} µs "
            f"(> {cap} binaries{' for CBC, whose setup ignores the time limit' if backend == 'cbc' else ''}); "
            "use cpsat" + (" or highs" if backend == "cbc" else "")
        )
    prob = pulp.LpProblem("pipeload", pulp.LpMinimize)
    # run i starts no later than H - tail_i; its load no later than that minus d_i
    x = {
        (i, t): pulp.LpVariable(f"x_{i}_{t}", cat="Binary")
        for i in range(n)
        for t in range(max(0, H - tail[i] - d[i]) + 1)
    }
    y = {
        (i, t): pulp.LpVariable(f"y_{i}_{t}", cat="Binary")
        for i in range(n)
        for t in range(d[i], max(d[i], H - tail[i]) + 1)
    }
    k = pulp.LpVariable("k", inst.k_min, inst.k_max, cat="Integer")
    C = pulp.LpVariable("C", 0, H)
    LS = {i: pulp.lpSum(t * v for (j, t), v in x.items() if j == i) for i in range(n)}
    RS = {i: pulp.lpSum(t * v for (j, t), v in y.items() if j == i) for i in range(n)}
    for i in range(n):
        prob += pulp.lpSum(v for (j, _), v in x.items() if j == i) == 1, f"once_load_{i}"
        prob += pulp.lpSum(v for (j, _), v in y.items() if j == i) == 1, f"once_run_{i}"
        prob += RS[i] >= LS[i] + d[i], f"arrive_{i}"
        if i + 1 < n:
            prob += RS[i + 1] >= RS[i] + p[i], f"order_{i}"
            if in_order:
                prob += LS[i + 1] >= LS[i], f"load_order_{i}"
    prob += C >= RS[n - 1] + p[n - 1], "latency"
    fixed = inst.resident_kb + inst.agent_kb * k
    P = None
    if pattern == "memory":
        P = pulp.LpVariable("P", inst.fixed_kb(inst.k_min) + max(mem))
        prob += P >= fixed + max(mem), "peak_holds_largest"
    # per layer, its start variables in time order (x_{i,t} for t = 0.., y_{i,t} for t = d_i..)
    xs = [[x[i, t] for t in range(max(0, H - tail[i] - d[i]) + 1)] for i in range(n)]
    ys = [[y[i, t] for t in range(d[i], max(d[i], H - tail[i]) + 1)] for i in range(n)]
    if prefix:  # SX_{i,τ} = Σ_{t ≤ τ} x_{i,t} as variables: O(n H) nonzeros, not O(n H²)
        SX = [_prefix(prob, xs[i], f"SX_{i}") for i in range(n)]
        SY = [_prefix(prob, ys[i], f"SY_{i}") for i in range(n)]

    def started(i: int, tau: int):  # Σ_{t ≤ τ} x_{i,t}
        if tau < 0:
            return 0
        if prefix:
            return SX[i][tau] if tau < len(SX[i]) else 1
        return pulp.lpSum(xs[i][: tau + 1])

    def ended(i: int, tau: int):  # Σ_{t ≤ τ − p_i} y_{i,t}
        j = tau - p[i] - d[i]  # position of y_{i, τ − p_i} in ys[i]
        if j < 0:
            return 0
        if prefix:
            return SY[i][j] if j < len(SY[i]) else 1
        return pulp.lpSum(ys[i][: j + 1])

    for tau in range(H + 1):
        if time.perf_counter() > t_end:
            raise OutOfTime(f"the limit ran out building the model (step {tau} of {H + 1})")
        loading = [i for i in range(n) if d[i] > 0 and tau - d[i] + 1 < len(xs[i])]
        if len(loading) > 1:  # loads in progress at τ: started by τ, not by τ − d_i
            prob += (
                pulp.lpSum(started(i, tau) - started(i, tau - d[i]) for i in loading) <= k,
                f"agents_{tau}",
            )
        held = pulp.lpSum(mem[i] * (started(i, tau) - ended(i, tau)) for i in range(n))
        if P is not None:
            prob += held + fixed <= P, f"memory_{tau}"
        elif budget is not None:
            prob += held + fixed <= budget, f"memory_{tau}"
    if budget is not None and pattern == "latency":
        prob += fixed + max(mem) <= budget, "largest_fits"
    prob += P if P is not None else C
    return prob, x, y, k, g


def _prefix(prob, vs: list, name: str) -> list:
    """Continuous S_t = S_{t-1} + v_t (S_0 = v_0): the running sums of a layer's start binaries."""
    import pulp

    out = []
    for t, v in enumerate(vs):
        s = pulp.LpVariable(f"{name}_{t}", 0, 1)
        prob += (s == (out[-1] + v if out else v)), f"{name}_{t}_sum"
        out.append(s)
    return out


class OutOfTime(Exception):
    """The time limit ran out while the model was being built."""


def solve(inst: PipeloadInstance, options: SolveOptions, warm: tuple = ()) -> Result:
    t_end = time.perf_counter() + options.time_limit_s
    backend = options.backend or "cbc"
    pattern = options.objective or "latency"
    if reason := unsupported(inst):
        return Result("", "", backend, Status.ERROR, message=reason)
    prm = params(inst, options)
    budget = prm.budget_kb if pattern == "latency" else None
    bound = latency_bound_us(inst, prm) if pattern == "memory" else None
    if budget is not None and budget < inst.min_budget_kb():
        return Result("", "", backend, Status.INFEASIBLE, message=below_minimum(inst, budget))
    if bound is not None and bound < latency_lower_bound_us(inst):
        return Result("", "", backend, Status.INFEASIBLE, message=below_latency_bound(inst, bound))
    starts = warm_schedules(inst, warm, prm.in_order)
    if pattern == "latency":
        fit = [s for s in starts if budget is None or s.peak_kb <= budget]
        best = min(fit, key=lambda s: s.latency_us) if fit else None
    else:
        fit = [s for s in starts if s.latency_us <= bound]
        best = min(fit, key=lambda s: s.peak_kb) if fit else None
    horizon = _horizon(inst, pattern, bound, best)
    extra = (
        {"budget_mb": None if budget is None else budget / 1000}
        if pattern == "latency"
        else {"latency_bound_ms": bound / 1000}
    )
    try:
        prob, x, y, _k, g = build(
            inst, pattern, budget, horizon, prm.in_order, t_end, backend=backend
        )
    except ValueError as e:
        return Result("", "", backend, Status.ERROR, message=str(e))
    except OutOfTime as e:
        return _fallback(inst, backend, pattern, best, extra, None, {}, str(e))
    stats = {"binaries": len(x) + len(y), "grid_us": g, "horizon_steps": horizon // g}
    hinted = options.hint and best is not None and _set_start(inst, best, x, y, _k, g)
    stats["warm_start_given"] = bool(hinted)
    left = t_end - time.perf_counter()
    if left <= 0:
        return _fallback(inst, backend, pattern, best, extra, None, stats, "no time left to solve")
    # CBC counts CPU seconds by default; on a shared machine the wall clock is what binds
    limits = {"timeMode": "elapsed"} if backend == "cbc" else None
    out = solve_pulp(
        prob, replace(options, time_limit_s=left), backend, warm_start=hinted, limits=limits
    )
    # the model counts in grid steps (latency) or kB (memory); report ms / MB
    scale = g / 1000 if pattern == "latency" else 1 / 1000
    bound_out = None if out.bound is None else out.bound * scale
    if out.status == Status.TIME_LIMIT and best is not None:
        return _fallback(inst, backend, pattern, best, extra, bound_out, stats, out.message)
    if out.status == Status.INFEASIBLE and best is not None:
        # the warm start, floored to the grid, is a solution of this very model: the claim is
        # wrong (CBC 2.10 says "pre-processing says infeasible" when its limit cuts presolve)
        why = f"{backend} said infeasible although the warm start is feasible (a solver fault)"
        return _fallback(inst, backend, pattern, best, extra, None, stats, why)
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        msg = out.message
        if out.status == Status.INFEASIBLE and pattern == "memory":
            msg = f"no schedule meets the latency bound {horizon / 1000:g} ms (proven by {backend})"
        return Result("", "", backend, out.status, bound=bound_out, message=msg, stats=stats)
    n = inst.n
    ls = [next(t for (j, t), v in x.items() if j == i and v.value() > 0.5) * g for i in range(n)]
    rs = [next(t for (j, t), v in y.items() if j == i and v.value() > 0.5) * g for i in range(n)]
    # k appears in no constraint when no two loads can overlap and agents hold no memory
    k = inst.k_min if _k.value() is None else round(_k.value())
    latency = rs[-1] + inst.layers[-1].compute_us
    peak = peak_kb(inst, ls, rs, k)
    sched = Sched(k, ls, rs, assign_agents(inst, ls, k), latency, peak)
    objective = latency / 1000 if pattern == "latency" else peak / 1000
    stats |= {"latency_ms": latency / 1000, "peak_mb": peak / 1000, "agents": k}
    return Result(
        "",
        "",
        backend,
        out.status,
        objective=objective,
        bound=bound_out,
        solution=schedule_solution(inst, pattern, sched, extra),
        stats=stats,
    )


def _set_start(inst: PipeloadInstance, s: Sched, x, y, k, g: int) -> bool:
    """Give CBC the warm schedule floored to the g-grid (still feasible, see above)."""
    n = inst.n
    lt = [s.load_start[i] // g for i in range(n)]
    rt = [s.run_start[i] // g for i in range(n)]
    if any((i, lt[i]) not in x or (i, rt[i]) not in y for i in range(n)):
        return False  # outside the horizon's ranges
    for (i, t), v in x.items():
        v.setInitialValue(1 if t == lt[i] else 0)
    for (i, t), v in y.items():
        v.setInitialValue(1 if t == rt[i] else 0)
    k.setInitialValue(s.k)
    return True


def _fallback(inst, backend, pattern, best: Sched | None, extra, bound, stats, why) -> Result:
    """Out of time: the warm schedule as ``feasible`` with the solver's bound, else time_limit."""
    if best is None:
        return Result("", "", backend, Status.TIME_LIMIT, bound=bound, message=why, stats=stats)
    value = (best.latency_us if pattern == "latency" else best.peak_kb) / 1000
    return Result(
        "",
        "",
        backend,
        Status.FEASIBLE,
        objective=value,
        bound=None if bound is None else min(bound, value),
        solution=schedule_solution(inst, pattern, best, extra),
        stats={
            **stats,
            "solution_from": "warm start",
            "latency_ms": best.latency_us / 1000,
            "peak_mb": best.peak_kb / 1000,
            "agents": best.k,
        },
        message=f"{why}; the answer is the warm start",
    )


def export(inst: PipeloadInstance, options: SolveOptions, path: str) -> None:
    pattern = options.objective or "latency"
    if pattern not in ("latency", "memory"):
        raise ValueError("the MILP handles the latency and memory objectives")
    if reason := unsupported(inst):
        raise ValueError(reason)
    prm = params(inst, options)
    budget = prm.budget_kb if pattern == "latency" else None
    bound = latency_bound_us(inst, prm) if pattern == "memory" else None
    horizon = _horizon(inst, pattern, bound, None)
    from optgap.solvers.backends import export_header

    g = grid_us(inst)
    unit = "ms (latency)" if pattern == "latency" else "MB (peak memory)"
    legend = [
        f"time is indexed in steps of {g} µs; layers numbered in file order (layer i = layers[i])",
        "x_i_t: 1 if layer i starts loading at step t; y_i_t: 1 if it starts running at step t",
        "k: number of loading agents; C: latency in steps; P: peak memory in kB",
        f"the objective is written in ms (C x {g}/1000) or MB (P / 1000)",
    ]
    header = export_header("pipeload", "milp", pattern, unit, legend)
    factor = g / 1000 if pattern == "latency" else 1e-3
    write_pulp(
        build(inst, pattern, budget, horizon, prm.in_order)[0], path, factor=factor, header=header
    )


def _horizon(inst: PipeloadInstance, pattern: str, bound: int | None, best: Sched | None) -> int:
    """Memory: the bound. Latency: one layer at a time (fits any feasible budget), or the warm
    start's latency if shorter."""
    if pattern == "memory":
        return bound
    serial = sum(x.load_us + x.compute_us for x in inst.layers)
    return serial if best is None else min(serial, best.latency_us)
