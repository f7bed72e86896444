r"""F4 exact model in CP-SAT: when to load each layer, on which agent, and when to run it.

Sets      I = 1..n layers in execution order; k ∈ [k_min, k_max] loading agents.
Data      L_i load time, c_i compute time (µs); m_i memory of layer i, R resident memory, a
          memory per agent (kB); B budget (latency objective) or T latency bound (memory).
Variables ls_i load start, rs_i run start, C latency, k agents, P peak memory (memory
          objective); intervals load_i = [ls_i, ls_i + L_i), run_i = [rs_i, rs_i + c_i) and
          hold_i = [ls_i, rs_i + c_i) (layer i in memory: from its load start to its run end);
          the runs need no interval variables: (order) chains them on the inference agent.
Constraints
  (arrive)    rs_i ≥ ls_i + L_i                                   ∀ i
  (order)     rs_{i+1} ≥ rs_i + c_i                               ∀ i < n   (one inference agent)
  (agents)    Cumulative(load_i, demand 1) ≤ k                    (k identical agents)
  (memory)    Cumulative(hold_i, demand m_i) ≤ B − R − a k        (latency), ≤ P − R − a k (memory)
  (latency)   C = rs_n + c_n;  C ≤ T                              (memory objective)
Objectives
  latency:  min C       memory:  min P (the model exported; ``solve`` finds the least P by
  bisection on B with the latency model and C ≤ T, see least_memory, because the cuts below
  need a fixed budget)
Loads may start in any order (PIPELOAD issues them in layer order; the model may do better);
``--param order=layer`` adds ls_i ≤ ls_{i+1} to measure what that freedom is worth.
Agents are read off afterwards: with at most k loads at once, giving each load the agent that
has been free longest (loads by start time) is an exact colouring of the interval graph.
Redundant (valid for every feasible schedule):
  rs_i ≥ max(max_{j ≤ i} L_j, ⌈Σ_{j ≤ i} L_j / k_max⌉): loads 1..i end before run i starts;
  C ≥ rs_i + Σ_{j ≥ i} c_j (the order chain, tightened into the domains);
  P ≥ R + a k + m_i (layer i is held while it runs);
  (exclusive) layers i < j with m_i + m_j > B − R − a k_min: re_i ≤ ls_j;
  (count) for q ≥ 2, at most q of the layers with m_i > (B − R − a k_min)/(q + 1) are held at
  once: Cumulative(hold_i over them, demand 1) ≤ q (latency objective);
  (group chain) in a group of identical layers g_0 < g_1 < ... (loads in layer order, above),
  q = ⌊(B − R − a k_min) / m⌋ of them fit at once, so g_{t+q} cannot start loading before
  g_t has run: re_{g_t} ≤ ls_{g_{t+q}} (latency objective).
Dominance (symmetry breaking): layers i < j with L_i = L_j and m_i = m_j load in layer order,
  ls_i ≤ ls_j. Swapping the two loads of any schedule where j loads first keeps every agent and
  memory profile (the two hold intervals exchange their starts; since run i ends no later than
  run j the multiset of held sizes is the same at every time) and only lets run i start earlier.
Hint, horizon and fallback: the warm starts the solve layer hands in (the planner's schedule,
accepted by the evaluator under the limits in force; Method.warm_start in the catalog). The
fastest that fits bounds C (latency objective) and is the hint; the least-memory one that meets
the bound is the bisection's first upper end (memory objective); if CP-SAT finds nothing in
time it is the answer, ``feasible`` with CP-SAT's bound. This module imports no heuristic.
A latency bound below latency_lower_bound_us is infeasible up front (its message names the
bound), so every model built here has non-empty domains; a model CP-SAT still calls invalid
is ``error``, never ``time_limit``.
Two phases (latency objective): first the just-in-time relaxation (jit_first: no agents, each
load ends when its run starts, so hold intervals have fixed sizes L_i + c_i) with half the
limit. Right-shifting the loads of any schedule that way keeps memory feasible, so its optimum
bounds the latency from below; when its schedule needs at most k_max loads at once it is also
feasible, and then optimal. Otherwise the full model runs with C ≥ that bound and the better
of the two schedules as its hint. GPT-2-medium in 50 layers at 300 and 400 MB: proven in
5–17 s this way, open (gap ~19 %) after 30 s with the full model alone. The dominance and the
cuts above stay valid in the relaxation: right-shifting keeps identical loads in order.
Not representable: a shared disk that slows concurrent loads (disk_mb_s, when the k fastest
loads together exceed it) makes load durations depend on the schedule; the model rejects such
instances with that reason instead of answering a different problem.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from optgap.formulations.pipeload.instance import (
    PipeloadInstance,
    below_latency_bound,
    below_minimum,
    latency_bound_us,
    latency_lower_bound_us,
    params,
    schedule_solution,
)
from optgap.solvers.backends import solve_cpsat, write_cpsat
from optgap.solvers.result import Result, SolveOptions, Status


@dataclass
class Model:
    model: Any  # cp_model.CpModel (ortools is imported where a model is built)
    ls: list
    rs: list
    k: Any
    latency: Any
    peak: Any | None
    hint: Sched | None  # the schedule that bounds the horizon (and is the hint)


@dataclass
class Sched:
    """A schedule in the model's units (µs, kB): a warm start or the relaxation's answer."""

    k: int
    load_start: list[int]
    run_start: list[int]
    agent: list[int]
    latency_us: int
    peak_kb: int


def unsupported(inst: PipeloadInstance) -> str:
    """Why the exact models cannot take this instance ('' if they can)."""
    if inst.disk_binding(inst.k_max):
        return (
            f"shared disk ({float(inst.disk_kb_per_us * 1000):g} MB/s) slows concurrent loads: "
            "load durations then depend on the schedule, which the exact models cannot "
            "represent (drop disk_mb_s, or use the heuristics and the evaluator)"
        )
    return ""


def build(
    inst: PipeloadInstance,
    pattern: str,
    budget_kb: int | None,
    bound_us: int | None,
    hint_schedule=None,
    in_order: bool = False,
    relax_agents: bool = False,
    lower_bound_us: int = 0,
    add_hint: bool = True,
) -> Model:
    """The model above; ``relax_agents`` gives the just-in-time relaxation (see jit_first).
    ``hint_schedule`` (a Sched) bounds the horizon (latency objective) and, with ``add_hint``,
    is given to CP-SAT as a hint."""
    from ortools.sat.python import cp_model

    layers = inst.layers
    n = inst.n
    L = [x.load_us for x in layers]
    c = [x.compute_us for x in layers]
    mem = [x.mem_kb for x in layers]
    serial = sum(L) + sum(c)  # one layer at a time always fits the least budget
    horizon = serial
    if pattern in ("memory", "check"):
        horizon = min(horizon, bound_us)
    elif hint_schedule is not None:
        horizon = min(horizon, hint_schedule.latency_us)

    m = cp_model.CpModel()
    k = m.NewIntVar(inst.k_min, inst.k_max, "k")
    tail = [sum(c[i:]) for i in range(n)]
    ls, rs, load_iv, hold_iv = [], [], [], []
    prefix = 0
    earliest = []
    for i in range(n):
        prefix += L[i]
        earliest_run = max(max(L[: i + 1]), -(-prefix // inst.k_max))
        earliest.append(earliest_run)
        latest_run = max(earliest_run, horizon - tail[i])
        ls.append(m.NewIntVar(0, max(0, latest_run - L[i]), f"ls[{i}]"))
        rs.append(m.NewIntVar(earliest_run, latest_run, f"rs[{i}]"))
        load_iv.append(m.NewFixedSizeIntervalVar(ls[i], L[i], f"load[{i}]"))
        re = rs[i] + c[i]
        size = m.NewIntVar(L[i] + c[i], horizon, f"held[{i}]")
        hold_iv.append(m.NewIntervalVar(ls[i], size, re, f"hold[{i}]"))
        m.Add(rs[i] >= ls[i] + L[i])  # (arrive)
        if i > 0:
            m.Add(rs[i] >= rs[i - 1] + c[i - 1])  # (order)
    lb = max(earliest[i] + tail[i] for i in range(n))
    latency = m.NewIntVar(min(lb, horizon), horizon, "C")
    m.Add(latency == rs[-1] + c[-1])
    if relax_agents:  # loads end exactly when their run starts; agents dropped
        m.Add(k == inst.k_min)
        for i in range(n):
            if in_order and i + 1 < n:  # as late as possible without overtaking load i+1
                m.AddMinEquality(ls[i], [rs[i] - L[i], ls[i + 1]])
            else:
                m.Add(ls[i] == rs[i] - L[i])
    else:
        m.AddCumulative(load_iv, [1] * n, k)  # (agents)
    if lower_bound_us:
        m.Add(latency >= lower_bound_us)
    peak = None
    fixed = inst.resident_kb + inst.agent_kb * k
    if pattern == "memory":
        lo = inst.fixed_kb(inst.k_min) + max(mem)
        hi = inst.fixed_kb(inst.k_max) + sum(mem)
        peak = m.NewIntVar(lo, hi, "P")
        m.Add(peak >= fixed + max(mem))
        room = m.NewIntVar(0, hi, "room")  # a cumulative's capacity must be one variable
        m.Add(room == peak - fixed)
        m.AddCumulative(hold_iv, mem, room)
        m.Minimize(peak)
    else:
        if budget_kb is not None:
            if inst.agent_kb and inst.k_min < inst.k_max:
                room = m.NewIntVar(0, budget_kb, "room")
                m.Add(room == budget_kb - fixed)
                m.AddCumulative(hold_iv, mem, room)
            else:
                m.AddCumulative(hold_iv, mem, budget_kb - inst.fixed_kb(inst.k_min))
            m.Add(fixed + max(mem) <= budget_kb)
            # (exclusive) two layers that never fit together are held one after the other,
            # the earlier-running first: re_i ≤ ls_j for i < j
            room = budget_kb - inst.fixed_kb(inst.k_min)
            # (count) at most q layers larger than room/(q+1) fit at once: a cumulative with
            # unit demands (a dual-feasible-function bound CP-SAT does not derive itself)
            seen: set[tuple[int, ...]] = set()
            for q in range(2, n):
                big = tuple(i for i in range(n) if (q + 1) * mem[i] > room)
                if len(big) > q and big not in seen:
                    seen.add(big)
                    m.AddCumulative([hold_iv[i] for i in big], [1] * len(big), q)
            for i in range(n):
                for j in range(i + 1, n):
                    if mem[i] + mem[j] > room and L[i] + c[i] > 0 and L[j] + c[j] > 0:
                        m.Add(rs[i] + c[i] <= ls[j])
        if pattern == "latency":
            m.Minimize(latency)
    if in_order:  # PIPELOAD's rule, to measure what loading out of order is worth
        for i in range(n - 1):
            m.Add(ls[i] <= ls[i + 1])
    # dominance: identical loads (same time, same memory) start in layer order
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        groups.setdefault((L[i], mem[i]), []).append(i)
    for members in groups.values():
        for i, j in zip(members, members[1:], strict=False):
            m.Add(ls[i] <= ls[j])
        # (group chain) at most q = ⌊room / m⌋ members of a group fit at once; with their
        # loads in layer order, member t+q can start loading only when member t has run
        if pattern != "memory" and budget_kb is not None and mem[members[0]] > 0:
            q = (budget_kb - inst.fixed_kb(inst.k_min)) // mem[members[0]]
            for t in range(max(0, len(members) - q)):
                i, j = members[t], members[t + q]
                if L[i] + c[i] > 0:  # an empty hold interval holds nothing
                    m.Add(rs[i] + c[i] <= ls[j])

    hint = hint_schedule
    if hint is not None:
        fits_horizon = hint.latency_us <= horizon
        if fits_horizon:
            # relabel the hint to satisfy the dominance: identical loads take their start
            # times in layer order (the swap argument above keeps it feasible)
            hls = list(hint.load_start)
            if relax_agents:
                hls = [hint.run_start[i] - L[i] for i in range(n)]
                for i in range(n - 2, -1, -1) if in_order else ():
                    hls[i] = min(hls[i], hls[i + 1])
            for members in groups.values():
                for i, t in zip(members, sorted(hls[j] for j in members), strict=True):
                    hls[i] = t
            for i in range(n) if add_hint else ():
                m.AddHint(ls[i], hls[i])
                m.AddHint(rs[i], hint.run_start[i])
            if add_hint:
                m.AddHint(k, inst.k_min if relax_agents else hint.k)
                m.AddHint(latency, hint.latency_us)
                if peak is not None:
                    m.AddHint(peak, hint.peak_kb)
        else:
            hint = None
    return Model(m, ls, rs, k, latency, peak, hint)


def solve(inst: PipeloadInstance, options: SolveOptions, warm: tuple = ()) -> Result:
    """The method: ``warm`` holds the solve layer's evaluator-accepted heuristic answers
    (``WarmStart``), used as horizon, hint (unless ``--no-hint``) and fallback answer."""
    t_end = time.perf_counter() + options.time_limit_s
    pattern = options.objective or "latency"
    if pattern == "pareto":
        from optgap.formulations.pipeload.pareto import exact_front

        return exact_front(inst, options)
    p = params(inst, options)
    if reason := unsupported(inst):
        return Result("", "", "cpsat", Status.ERROR, message=reason)
    budget = p.budget_kb if pattern == "latency" else None
    bound = latency_bound_us(inst, p) if pattern == "memory" else None
    if budget is not None and budget < inst.min_budget_kb():
        return Result("", "", "cpsat", Status.INFEASIBLE, message=below_minimum(inst, budget))
    if bound is not None and bound < latency_lower_bound_us(inst):
        return Result("", "", "cpsat", Status.INFEASIBLE, message=below_latency_bound(inst, bound))
    starts = warm_schedules(inst, warm, p.in_order)
    if pattern == "memory":
        return least_memory(inst, options, bound, starts, t_end)
    return solve_with(inst, options, pattern, budget, bound, starts, t_end)


def warm_schedules(inst: PipeloadInstance, warm: tuple, in_order: bool = False) -> list[Sched]:
    """The warm starts' schedules in µs. The solve layer has had each accepted by the evaluator
    under the limits in force; this only reads them (a solution it cannot read, or one that
    breaks ``--param order=layer``, is dropped). The peak is recomputed with every layer freed
    after its run, as the models do: never above the evaluator's (free_after_run may be off)."""
    out = []
    for w in warm:
        sol = getattr(w, "solution", None)
        if not isinstance(sol, dict) or sol.get("objective") not in ("latency", "memory"):
            continue
        try:
            k = int(sol["agents"])
            entries = [sol["schedule"][x.name] for x in inst.layers]
            ls = [round(e["load_start_ms"] * 1000) for e in entries]
            rs = [round(e["run_start_ms"] * 1000) for e in entries]
            agent = [int(e["agent"]) for e in entries]
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
        if in_order and any(ls[i] > ls[i + 1] for i in range(inst.n - 1)):
            continue
        latency = rs[-1] + inst.layers[-1].compute_us
        out.append(Sched(k, ls, rs, agent, latency, peak_kb(inst, ls, rs, k)))
    return out


def least_memory(
    inst: PipeloadInstance,
    options: SolveOptions,
    bound: int,
    starts: list[Sched] = (),
    t_end: float | None = None,
) -> Result:
    """Memory objective by bisection on the budget (kB) with the latency model, whose cuts
    (exclusive pairs, counts, group chains) need a fixed budget: the least budget B under which
    some schedule ends within the bound is the least peak. Each step asks "latency ≤ bound
    under budget B?": yes from a CP-SAT solution (whose own peak may be below B), no only from a
    CP-SAT infeasibility proof. The warm starts that meet the bound give the first upper end.
    The bound reported is one more than the largest budget proven infeasible (or the least
    feasible budget of any schedule)."""
    if t_end is None:
        t_end = time.perf_counter() + options.time_limit_s
    in_order = params(inst, options).in_order
    lo = inst.min_budget_kb()
    ok = [s for s in starts if s.latency_us <= bound]
    best = min(ok, key=lambda s: s.peak_kb) if ok else None
    from_warm = best is not None
    hi = best.peak_kb if best else inst.fixed_kb(inst.k_max) + inst.model_kb
    solves = proofs = 0
    stopped = False
    if best is None:  # a sentinel above the whole model, never checked itself
        hi += 1
    while lo < hi:
        mid = (lo + hi) // 2
        left = t_end - time.perf_counter()
        if left <= 0:
            stopped = True
            break
        # the just-in-time relaxation first: a quick no, or a yes
        relaxed = build(inst, "check", mid, bound, None, in_order, relax_agents=True)
        left = t_end - time.perf_counter()
        outcome, solver = solve_cpsat(
            relaxed.model, replace(options, time_limit_s=max(0, left) / 2)
        )
        solves += 1
        if outcome.status == Status.ERROR:
            return _error(outcome.message, solves)
        if outcome.status == Status.INFEASIBLE:
            proofs += 1
            lo = mid + 1
            continue
        if outcome.status == Status.OPTIMAL:
            rs = [solver.Value(v) for v in relaxed.rs]
            ls = [solver.Value(v) for v in relaxed.ls]
            k = max(inst.k_min, _max_concurrent_loads(inst, ls, rs))
            if k <= inst.k_max and peak_kb(inst, ls, rs, k) <= mid:
                best = _sched(inst, ls, rs, k)
                from_warm = False
                hi = best.peak_kb
                continue
        if t_end - time.perf_counter() <= 0:
            stopped = True
            break
        mdl = build(inst, "check", mid, bound, None, in_order)
        left = t_end - time.perf_counter()
        if left <= 0:
            stopped = True
            break
        outcome, solver = solve_cpsat(mdl.model, replace(options, time_limit_s=left))
        solves += 1
        if outcome.status == Status.ERROR:
            return _error(outcome.message, solves)
        if outcome.status == Status.INFEASIBLE:
            proofs += 1
            lo = mid + 1
            continue
        if outcome.status != Status.OPTIMAL:  # time ran out: no verdict for this budget
            stopped = True
            break
        ls = [solver.Value(v) for v in mdl.ls]
        rs = [solver.Value(v) for v in mdl.rs]
        best = _sched(inst, ls, rs, solver.Value(mdl.k))
        from_warm = False
        hi = best.peak_kb
    stats = {"budget_checks_by_cpsat": solves, "infeasibility_proofs": proofs}
    if best is None:
        if stopped:
            return Result(
                "", "", "cpsat", Status.TIME_LIMIT, message="no schedule in time", stats=stats
            )
        return Result(
            "",
            "",
            "cpsat",
            Status.INFEASIBLE,
            message=f"no schedule meets the latency bound {bound / 1000:g} ms (proven by CP-SAT); "
            f"the fastest needs at least {latency_lower_bound_us(inst) / 1000:g} ms",
            stats=stats,
        )
    if from_warm:
        stats["solution_from"] = "warm start"
    stats |= {
        "latency_ms": best.latency_us / 1000,
        "peak_mb": best.peak_kb / 1000,
        "agents": best.k,
    }
    return Result(
        "",
        "",
        "cpsat",
        Status.FEASIBLE if stopped else Status.OPTIMAL,
        objective=best.peak_kb / 1000,
        bound=min(lo, best.peak_kb) / 1000,
        solution=schedule_solution(inst, "memory", best, {"latency_bound_ms": bound / 1000}),
        stats=stats,
        message="the limit ran out during the bisection" if stopped else "",
    )


def _error(message: str, solves: int) -> Result:
    """A model CP-SAT refused (invalid): an error, never a time-out."""
    return Result(
        "", "", "cpsat", Status.ERROR, message=message, stats={"budget_checks_by_cpsat": solves}
    )


def _sched(inst: PipeloadInstance, ls: list[int], rs: list[int], k: int) -> Sched:
    latency = rs[-1] + inst.layers[-1].compute_us
    return Sched(k, ls, rs, assign_agents(inst, ls, k), latency, peak_kb(inst, ls, rs, k))


def solve_with(
    inst: PipeloadInstance,
    options: SolveOptions,
    pattern: str,
    budget: int | None,
    bound: int | None,
    starts: list[Sched] = (),
    t_end: float | None = None,
) -> Result:
    """One exact solve for a given budget (latency) or latency bound (memory). ``starts``: the
    warm schedules; the best one that fits bounds the horizon, is the hint (``options.hint``)
    and is the answer if CP-SAT finds nothing in time."""
    if t_end is None:
        t_end = time.perf_counter() + options.time_limit_s
    in_order = params(inst, options).in_order
    if pattern == "latency":
        fit = [s for s in starts if budget is None or s.peak_kb <= budget]
        warm = min(fit, key=lambda s: s.latency_us) if fit else None
    else:
        fit = [s for s in starts if s.latency_us <= bound]
        warm = min(fit, key=lambda s: s.peak_kb) if fit else None
    extra = (
        {"budget_mb": None if budget is None else budget / 1000}
        if pattern == "latency"
        else {"latency_bound_ms": bound / 1000}
    )
    jit_bound = 0
    stats: dict = {}
    best = warm  # the best schedule known so far (a fallback answer)
    source = "warm start"
    if pattern == "latency":
        jit = jit_first(inst, options, budget, warm, in_order, t_end)
        stats = {
            "jit_status": str(jit.status),
            "jit_latency_ms": jit.latency_us / 1000 if jit.schedule else None,
        }
        if jit.status == Status.ERROR:
            return Result("", "", "cpsat", Status.ERROR, message=jit.message, stats=stats)
        if jit.status == Status.INFEASIBLE:
            return Result(
                "",
                "",
                "cpsat",
                Status.INFEASIBLE,
                message="no schedule fits the budget (proven by CP-SAT on a relaxation)",
                stats=stats,
            )
        if jit.schedule is not None:
            if jit.status == Status.OPTIMAL:  # the relaxation's optimum is feasible: done
                return _schedule_result(
                    inst,
                    jit.schedule,
                    pattern,
                    extra,
                    Status.OPTIMAL,
                    None,
                    {**stats, "solved_by": "just-in-time relaxation"},
                )
            if best is None or jit.schedule.latency_us < best.latency_us:
                best, source = jit.schedule, "just-in-time relaxation"
        jit_bound = jit.bound_us
    left = t_end - time.perf_counter()
    if left <= 0:
        return _fallback(inst, pattern, best, source, extra, jit_bound / 1000 or None, stats)
    mdl = build(
        inst,
        pattern,
        budget,
        bound,
        best,
        in_order,
        lower_bound_us=jit_bound,
        add_hint=options.hint or best is not warm,
    )
    left = t_end - time.perf_counter()
    if left <= 0:
        return _fallback(inst, pattern, best, source, extra, jit_bound / 1000 or None, stats)
    outcome, solver = solve_cpsat(mdl.model, replace(options, time_limit_s=left), scale=1000)
    if outcome.bound is not None and jit_bound:
        outcome.bound = max(outcome.bound, jit_bound / 1000)
    stats |= {
        "branches": solver.NumBranches(),
        "conflicts": solver.NumConflicts(),
        "intervals": 2 * inst.n,  # load_i and hold_i (runs are a chain of integers)
        "variables": len(mdl.model.Proto().variables),
        "constraints": len(mdl.model.Proto().constraints),
    }
    if outcome.status not in (Status.OPTIMAL, Status.FEASIBLE):
        if outcome.status == Status.TIME_LIMIT and best is not None:
            bound_ms = outcome.bound if outcome.bound is not None else (jit_bound / 1000 or None)
            return _fallback(inst, pattern, best, source, extra, bound_ms, stats)
        msg = outcome.message
        if outcome.status == Status.INFEASIBLE and pattern == "memory":
            msg = (
                f"no schedule meets the latency bound {bound / 1000:g} ms (proven by CP-SAT); "
                f"the fastest needs at least {latency_lower_bound_us(inst) / 1000:g} ms"
            )
        elif outcome.status == Status.INFEASIBLE:
            msg = "no schedule fits the budget (proven by CP-SAT)"
        return Result(
            "", "", "cpsat", outcome.status, bound=outcome.bound, message=msg, stats=stats
        )
    ls = [solver.Value(v) for v in mdl.ls]
    rs = [solver.Value(v) for v in mdl.rs]
    sched = _sched(inst, ls, rs, solver.Value(mdl.k))
    stats |= {
        "latency_ms": sched.latency_us / 1000,
        "peak_mb": sched.peak_kb / 1000,
        "agents": sched.k,
    }
    objective = (sched.latency_us if pattern == "latency" else sched.peak_kb) / 1000
    return Result(
        "",
        "",
        "cpsat",
        outcome.status,
        objective=objective,
        bound=outcome.bound,
        solution=schedule_solution(inst, pattern, sched, extra),
        stats=stats,
    )


def _fallback(inst, pattern, best: Sched | None, source, extra, bound_ms, stats) -> Result:
    """The limit ran out: the best schedule known (warm start or relaxation) as ``feasible``
    with the solver's bound, or ``time_limit`` if there is none."""
    if best is None:
        return Result(
            "",
            "",
            "cpsat",
            Status.TIME_LIMIT,
            bound=bound_ms,
            message="no schedule in time",
            stats=stats,
        )
    value = (best.latency_us if pattern == "latency" else best.peak_kb) / 1000
    return _schedule_result(
        inst,
        best,
        pattern,
        extra,
        Status.FEASIBLE,
        None if bound_ms is None else min(bound_ms, value),
        {**stats, "solution_from": source},
        message=f"the limit ran out before CP-SAT improved on the {source}",
    )


def export(inst: PipeloadInstance, options: SolveOptions, path: str) -> None:
    pattern = options.objective or "latency"
    if pattern == "pareto":
        raise ValueError("a front is a sweep of models; export the latency or memory model")
    p = params(inst, options)
    if reason := unsupported(inst):
        raise ValueError(reason)
    budget = p.budget_kb if pattern == "latency" else None
    bound = latency_bound_us(inst, p) if pattern == "memory" else None
    from optgap.solvers.backends import export_header

    unit = "ms (latency)" if pattern == "latency" else "MB (peak memory)"
    legend = [
        "layers are numbered in file order: layer i = layers[i]",
        "ls_i / rs_i: load start and run start of layer i, integer µs; load_*, hold_*, held_*:"
        " its loading and residency intervals; k: number of loading agents",
        "C: latency in µs (the memory pattern: peak in kB); scaled to ms / MB by scaling_factor",
    ]
    header = export_header("pipeload", "cpsat", pattern, unit, legend)
    model = build(inst, pattern, budget, bound, in_order=p.in_order).model
    write_cpsat(model, path, scale=1000, header=header)


# ----------------------------------------------------------------------------- helpers


def assign_agents(inst: PipeloadInstance, ls: list[int], k: int) -> list[int]:
    """Exact interval colouring: loads by start, each to the agent free the longest."""
    free_at = [0] * k
    agent = [0] * inst.n
    for i in sorted(range(inst.n), key=lambda i: (ls[i], i)):
        a = min(range(k), key=lambda j: (free_at[j], j))
        if inst.layers[i].load_us == 0:
            agent[i] = a
            continue
        if free_at[a] > ls[i]:
            raise AssertionError("more than k loads at once")  # excluded by the cumulative
        agent[i] = a
        free_at[a] = ls[i] + inst.layers[i].load_us
    return agent


def peak_kb(inst: PipeloadInstance, ls: list[int], rs: list[int], k: int) -> int:
    events = []
    for i, x in enumerate(inst.layers):
        events += [(ls[i], 1, x.mem_kb), (rs[i] + x.compute_us, 0, -x.mem_kb)]
    held = top = 0
    for _, _, d in sorted(events):
        held += d
        top = max(top, held)
    return inst.fixed_kb(k) + top


@dataclass
class Jit:
    status: Status
    schedule: Sched | None  # a schedule feasible for the full problem, if the relaxation's is
    bound_us: int  # a valid lower bound on the latency (0 if none)
    message: str = ""

    @property
    def latency_us(self) -> int:
        return self.schedule.latency_us


def jit_first(
    inst: PipeloadInstance,
    options: SolveOptions,
    budget: int | None,
    hint: Sched | None,
    in_order: bool = False,
    t_end: float | None = None,
) -> Jit:
    """The just-in-time relaxation, solved first with half of the time left.

    Drop the agents and fix every load to end exactly when its run starts (ls_i = rs_i − L_i):
    right-shifting the loads of any feasible schedule this way only shortens every hold
    interval, so memory stays feasible; hence the relaxation's optimum (with the fewest agents'
    fixed memory) is a lower bound on the latency. Its hold intervals have fixed sizes, which
    CP-SAT's cumulative reasoning handles far better. If its schedule needs at most k_max loads
    at once and still fits the budget with that many agents' buffers, it is feasible for the
    full problem — and optimal when the relaxation is solved to optimality.
    With loads in layer order, each load is instead shifted as late as it can go without
    overtaking the next one, ls_i = min(rs_i − L_i, ls_{i+1}): still no later than its run,
    still in order, still holding no more memory — the same argument holds.
    ``hint`` bounds the horizon; it is passed to CP-SAT unless ``options.hint`` is off."""
    if t_end is None:
        t_end = time.perf_counter() + options.time_limit_s
    mdl = build(
        inst, "latency", budget, None, hint, in_order, relax_agents=True, add_hint=options.hint
    )
    left = t_end - time.perf_counter()
    if left <= 0:
        return Jit(Status.TIME_LIMIT, None, 0)
    outcome, solver = solve_cpsat(mdl.model, replace(options, time_limit_s=0.5 * left))
    bound = 0
    if outcome.bound is not None:
        bound = math.ceil(outcome.bound - 1e-9)
    if outcome.status in (Status.INFEASIBLE, Status.ERROR):
        return Jit(outcome.status, None, 0, outcome.message)
    if outcome.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return Jit(outcome.status, None, bound)
    rs = [solver.Value(v) for v in mdl.rs]
    ls = [solver.Value(v) for v in mdl.ls]
    k = max(inst.k_min, _max_concurrent_loads(inst, ls, rs))
    if k > inst.k_max:
        return Jit(outcome.status, None, bound)
    sched = _sched(inst, ls, rs, k)
    if budget is not None and sched.peak_kb > budget:
        return Jit(outcome.status, None, bound)
    return Jit(outcome.status, sched, bound)


def _schedule_result(inst, sched, pattern, extra, status, lower, stats, message="") -> Result:
    value = (sched.latency_us if pattern == "latency" else sched.peak_kb) / 1000
    return Result(
        "",
        "",
        "cpsat",
        status,
        objective=value,
        bound=value if status == Status.OPTIMAL else lower,
        solution=schedule_solution(inst, pattern, sched, extra),
        stats={
            **stats,
            "latency_ms": sched.latency_us / 1000,
            "peak_mb": sched.peak_kb / 1000,
            "agents": sched.k,
        },
        message=message,
    )


def _max_concurrent_loads(inst: PipeloadInstance, ls: list[int], rs: list[int]) -> int:
    """Most loads [ls_i, ls_i + L_i) in progress at once (ends before starts)."""
    events = sorted(
        [(ls[i], 1) for i, x in enumerate(inst.layers) if x.load_us > 0]
        + [(ls[i] + x.load_us, -1) for i, x in enumerate(inst.layers) if x.load_us > 0]
    )
    busy = top = 0
    for _, d in events:
        busy += d
        top = max(top, busy)
    return top
