r"""F1 exact model in CP-SAT: place and order the operators of a DAG on CPU/GPU devices.

Sets      I operators, D devices, E edges (u, v, bytes), D_i ⊆ D devices operator i may use,
          G ⊆ D the GPUs.
Data      p_{i,d} duration of i on d (µs); c_{u,v}(d, e) transfer delay when u runs on d and
          v on e (0 if d = e); k_d slots and M_d memory capacity of d; m_i memory of i; SLO.
Variables x_{i,d} ∈ {0,1} (i runs on d), S_i start, E_i end, C makespan; an optional interval
          [S_i, S_i + p_{i,d}) per (i, d) present iff x_{i,d}.
Constraints
  (place)     Σ_{d ∈ D_i} x_{i,d} = 1                                   ∀ i
  (duration)  E_i = S_i + Σ_d p_{i,d} x_{i,d}                           ∀ i
  (slots)     NoOverlap (k_d = 1) or Cumulative with capacity k_d over the intervals of d
  (precede)   S_v ≥ E_u,  and  S_v ≥ E_u + c_{u,v}(d, e)  if x_{u,d} ∧ x_{v,e}    ∀ (u, v) ∈ E
  (memory)    Σ_i m_i x_{i,d} ≤ M_d                                     ∀ d with a capacity
  (makespan)  C ≥ E_i                                                   ∀ i
  (lanes)     shared links only: for every edge (u, v) and placement pair (d, e), d ≠ e, whose
              transfer occupies a lane L = {d, e} (shared link, c_{u,v}(d, e) > 0):
              z_{uv,de} ⟺ x_{u,d} ∧ x_{v,e}; an optional interval [T_uv, T_uv + c) present iff
              z_{uv,de}; T_uv ≥ E_u; S_v ≥ T_uv + c if z_{uv,de}; NoOverlap per lane over its
              intervals. No lane, no variable: the delay-only model is unchanged.
Objectives
  latency:  min C
  memory:   min Σ_{i, d ∈ G} m_i x_{i,d}   s.t.  C ≤ SLO
Redundant (valid for every feasible schedule; they help the search):
  S_i ≥ head_i and E_i + tail_i ≤ C, from longest paths with each operator's fastest time;
  C ≥ ⌈Σ_i min_d p_{i,d} / Σ_d k_d⌉ (total work over total slots);
  C ≥ ⌈LB / g⌉, LB the best bound of formulations/dag/bounds.py (critical path, work, energetic
  window, the LP relaxation with transfers and work rows solved by HiGHS; ``--param
  lp_bound=on|off|auto``, auto: in the model from 200 operators on, below only reported; and the
  placement MIP, ``--param mip_bound=on|off|auto``, auto: from 200 operators, latency pattern,
  run beside the LNS on a second thread and stopped when the LNS ends);
  Σ_i p_{i,d} x_{i,d} ≤ k_d C per device (its load fits in its slots; with the placement
  constraints, the LP relaxation then balances work across devices);
  identical devices (same kind, slots, capacity, speed and links, no operator restriction or
  per-device time telling them apart) are
  used in order: device j of a group hosts i only if device j-1 hosts an operator before i.
Scale: CP-SAT works on the data divided by their greatest common divisors: times and transfer
  delays by g_t (so the SLO becomes ⌊SLO / g_t⌋: a left-shifted schedule's times are sums of
  multiples of g_t, and some optimum is left-shifted), memory and capacities by g_m
  (⌊M_d / g_m⌋). Starts, objective and bound are multiplied back exactly.
Warm starts (``warm``: schedules of the solve layer's heuristics that the evaluator accepted, left-
  shifted): the best one's makespan bounds the horizon in the latency pattern, it is the hint
  only where that was measured to help (``use_hint``: from 200 operators on, by default) and it
  is the answer when the solver finds nothing better in time (``feasible``, the solver's bound).
Large instances (``--param lns=on|off|auto``, auto: from 200 operators; latency pattern): the
  best warm start is first improved by the large-neighbourhood search of formulations/dag/lns.py
  (90 % of the time left; the placement MIP of bounds.py runs beside it on a second thread),
  then the full model runs, hinted with that schedule; status and bound come from the full
  model only (the MIP's bound enters it as C ≥ ⌈LB / g⌉).
Every reported schedule is left-shifted (``schedule.left_shift``): its makespan can only drop.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

from optgap.formulations.dag import bounds
from optgap.formulations.dag.bounds import heads_tails
from optgap.formulations.dag.instance import DagInstance, Device, slo_us
from optgap.formulations.dag.schedule import (
    Incumbent,
    incumbents,
    lane_edges,
    shifted,
    solution,
)
from optgap.solvers.backends import solve_cpsat, write_cpsat
from optgap.solvers.errors import InputError
from optgap.solvers.result import Result, SolveOptions, Status

PARAMS = (
    "gap", "abs_gap", "hint", "edges", "lp_bound", "mip_bound", "lns", "lns_iterations", "search",
)  # fmt: skip


@dataclass
class Model:
    model: Any  # cp_model.CpModel
    x: dict[tuple[str, str], Any]
    start: dict[str, Any]
    end: dict[str, Any]
    makespan: Any
    g_time: int = 1  # µs per model time unit
    g_mem: int = 1  # kB per model memory unit
    lower_bound: int = 0  # on the objective, in model units
    hint: Incumbent | None = None  # the warm start given as a hint
    lower_bounds_ms: dict[str, Any] = field(default_factory=dict)  # formulations/dag/bounds.py
    transfer: dict[tuple[str, str], Any] = field(default_factory=dict)  # T_uv (lane edges)


def build(
    inst: DagInstance,
    options: SolveOptions,
    incumbent: Incumbent | None = None,
    *,
    mip_us: int | None = None,
) -> Model:
    """The model above; ``mip_us``: bound 5 of bounds.py when it ran (a makespan bound, µs)."""
    from ortools.sat.python import cp_model

    pattern = options.objective or "latency"
    ops = list(inst.operators)
    allowed = {o.id: inst.allowed(o) for o in ops}
    g = time_gcd(inst, allowed)
    gm = mem_gcd(inst) if pattern == "memory" else 1
    p = {(o.id, d.id): inst.duration_us(o, d) // g for o in ops for d in allowed[o.id]}
    fastest = {o.id: min(p[o.id, d.id] for d in allowed[o.id]) for o in ops}
    head, tail = heads_tails(inst, fastest)

    horizon = serial_bound(inst, allowed) // g
    if pattern == "memory":
        horizon = min(horizon, slo_us(inst, options.slo_ms) // g)
    elif incumbent is not None:
        horizon = min(horizon, incumbent.makespan // g)

    m = cp_model.CpModel()
    lb_work = -(-sum(fastest.values()) // sum(d.slots for d in inst.devices))
    lb_path = max(head[o.id] + fastest[o.id] + tail[o.id] for o in ops)
    static = _static_bounds(inst, options, g, mip_us)
    lb_static = static.get("model_units", 0)  # reported as a bound in any case
    if static.get("in_model"):
        lb_work = max(lb_work, lb_static)
    makespan = m.NewIntVar(min(max(lb_work, lb_path), horizon), horizon, "C")
    start, end, x = {}, {}, {}
    intervals: dict[str, list] = {d.id: [] for d in inst.devices}
    for o in ops:
        start[o.id] = m.NewIntVar(
            head[o.id], max(head[o.id], horizon - fastest[o.id] - tail[o.id]), f"S[{o.id}]"
        )
        end[o.id] = m.NewIntVar(
            head[o.id] + fastest[o.id],
            max(head[o.id] + fastest[o.id], horizon - tail[o.id]),
            f"E[{o.id}]",
        )
        for d in allowed[o.id]:
            x[o.id, d.id] = m.NewBoolVar(f"x[{o.id},{d.id}]")
            if p[o.id, d.id] > 0:  # a zero-length operator occupies no slot (as in the evaluator)
                intervals[d.id].append(
                    m.NewOptionalFixedSizeIntervalVar(
                        start[o.id], p[o.id, d.id], x[o.id, d.id], f"I[{o.id},{d.id}]"
                    )
                )
        # (place), (duration)
        m.AddExactlyOne(x[o.id, d.id] for d in allowed[o.id])
        m.Add(end[o.id] == start[o.id] + sum(p[o.id, d.id] * x[o.id, d.id] for d in allowed[o.id]))
        # (makespan) with the tail as a redundant cut
        m.Add(end[o.id] + tail[o.id] <= makespan)

    # (slots)
    for d in inst.devices:
        if d.slots == 1:
            m.AddNoOverlap(intervals[d.id])
        elif intervals[d.id]:
            m.AddCumulative(intervals[d.id], [1] * len(intervals[d.id]), d.slots)

    # (precede)
    same_edges = options.param("edges", "pair") == "same"
    for e in inst.edges:
        m.Add(start[e.dst] >= end[e.src])
        delays = {
            (d.id, f.id): inst.transfer_us(d.id, f.id, e.bytes) // g
            for d in allowed[e.src]
            for f in allowed[e.dst]
            if d.id != f.id
        }
        uniform = set(delays.values())
        if same_edges and len(uniform) == 1 and (c := uniform.pop()) > 0:
            # one delay c for every pair: S_v >= E_u + c (1 - same_uv), same_uv -> same device
            same = m.NewBoolVar(f"same[{e.src},{e.dst}]")
            m.Add(start[e.dst] >= end[e.src] + c - c * same)
            for d in allowed[e.src]:
                if (e.dst, d.id) in x:
                    m.AddImplication(same, x[e.dst, d.id]).OnlyEnforceIf(x[e.src, d.id])
                else:
                    m.AddImplication(x[e.src, d.id], same.Not())
            continue
        for (d, f), delay in delays.items():
            if delay > 0:
                m.Add(start[e.dst] >= end[e.src] + delay).OnlyEnforceIf([x[e.src, d], x[e.dst, f]])

    transfer = _add_lanes(m, inst, x, start, end, g, horizon)

    # redundant (load): a device cannot do more work than its slots times the makespan
    for d in inst.devices:
        terms = [p[o.id, d.id] * x[o.id, d.id] for o in ops if (o.id, d.id) in x]
        if terms:
            m.Add(sum(terms) <= d.slots * makespan)

    # (memory)
    for d in inst.devices:
        if d.mem_capacity_kb is not None:
            m.Add(
                sum((o.mem_kb // gm) * x[o.id, d.id] for o in ops if (o.id, d.id) in x)
                <= d.mem_capacity_kb // gm
            )

    _break_device_symmetry(m, inst, x)

    if pattern == "memory":
        lower = 0
        m.Minimize(
            sum(
                (o.mem_kb // gm) * x[o.id, d.id]
                for o in ops
                for d in allowed[o.id]
                if d.kind == "gpu"
            )
        )
    else:
        lower = min(max(lb_work, lb_path, lb_static), horizon)
        m.Minimize(makespan)

    hint = incumbent if options.hint and use_hint(options, len(ops)) else None
    if hint is not None and (
        hint.makespan // g > horizon
        or any(t % g for t in hint.start.values())
        or (pattern == "memory" and hint.makespan > slo_us(inst, options.slo_ms))
    ):
        hint = None
    if hint is not None:
        device = canonical_devices(inst, hint.device)
        for o in ops:
            m.AddHint(start[o.id], hint.start[o.id] // g)
            m.AddHint(end[o.id], hint.end[o.id] // g)
            for d in allowed[o.id]:
                m.AddHint(x[o.id, d.id], int(device[o.id] == d.id))
        m.AddHint(makespan, hint.makespan // g)
        for edge, var in transfer.items():
            if edge in hint.transfer and hint.transfer[edge] % g == 0:
                m.AddHint(var, hint.transfer[edge] // g)
    return Model(
        m, x, start, end, makespan, g, gm, lower, hint,
        lower_bounds_ms=static.get("ms", {}), transfer=transfer,
    )  # fmt: skip


def _add_lanes(m, inst, x, start, end, g: int, horizon: int) -> dict:
    """(lanes): transfers over shared links as optional intervals, NoOverlap per lane; returns
    the transfer start T_uv of every edge that may cross a lane (none without shared links)."""
    transfer: dict[tuple[str, str], Any] = {}
    intervals: dict[frozenset[str], list] = {}
    for e, d, f, lane, delay in inst.lane_crossings():
        c = delay // g
        key = (e.src, e.dst)
        if key not in transfer:
            t = m.NewIntVar(0, horizon, f"T[{e.src},{e.dst}]")
            m.Add(t >= end[e.src])
            transfer[key] = t
        t = transfer[key]
        z = m.NewBoolVar(f"z[{e.src},{e.dst},{d.id},{f.id}]")
        xu, xv = x[e.src, d.id], x[e.dst, f.id]
        m.AddBoolAnd([xu, xv]).OnlyEnforceIf(z)
        m.AddBoolOr([xu.Not(), xv.Not(), z])
        m.Add(start[e.dst] >= t + c).OnlyEnforceIf(z)
        intervals.setdefault(lane, []).append(
            m.NewOptionalFixedSizeIntervalVar(t, c, z, f"L[{e.src},{e.dst},{d.id},{f.id}]")
        )
    for ivs in intervals.values():
        if len(ivs) > 1:
            m.AddNoOverlap(ivs)
    return transfer


def solve(
    inst: DagInstance,
    options: SolveOptions,
    warm: tuple = (),
    *,
    sat_parameters: dict[str, Any] | None = None,
) -> Result:
    """Solve within ``options.time_limit_s`` (model building included).

    ``warm``: the solve layer's evaluator-accepted heuristic answers (horizon, hint, fallback).
    ``sat_parameters``: extra CP-SAT parameters (tests: a solution limit).
    """
    t0 = time.perf_counter()
    pattern = options.objective or "latency"
    rel_gap, abs_gap = gap_tolerance(options)
    slo = slo_us(inst, options.slo_ms) if pattern == "memory" else None
    if slo is not None:
        reason = obviously_infeasible(inst, slo)
        if reason:
            return Result("", "", "cpsat", Status.INFEASIBLE, message=reason)
    found = incumbents(inst, warm, pattern)
    best = found[0] if found else None
    lns_on = _lns_runs(inst, options, pattern, best)
    mip = _start_mip(inst, options, pattern, best, t0, concurrent=lns_on)
    try:
        lns_stats = _run_lns(inst, options, best, t0) if lns_on else None
    finally:  # stop the MIP's thread even when the LNS fails
        mip_us = None if mip is None else mip.result()
    if lns_stats is not None:
        best, lns_stats = lns_stats
    mdl = build(inst, options, best, mip_us=mip_us)
    stats: dict[str, Any] = {
        "variables": len(mdl.model.Proto().variables),
        "constraints": len(mdl.model.Proto().constraints),
        "time_unit_us": mdl.g_time,
        "hint": None if mdl.hint is None else mdl.hint.method,
    }
    if mdl.lower_bounds_ms:
        stats["lower_bounds_ms"] = mdl.lower_bounds_ms
    if lns_stats is not None:
        stats["lns"] = lns_stats.as_dict()
    if mip is not None:
        stats["mip_bound"] = mip.stats
    if pattern == "memory":
        stats["memory_unit_kb"] = mdl.g_mem
    if rel_gap or abs_gap:
        stats["gap_tolerance"] = {"rel": rel_gap, "abs": abs_gap}
    unit = mdl.g_mem if pattern == "memory" else mdl.g_time  # µs or kB per objective unit
    left = options.time_limit_s - (time.perf_counter() - t0)
    if left <= 0:  # building took the whole limit: no solve
        stats["build_s"] = time.perf_counter() - t0
        return _fallback(inst, best, pattern, slo, mdl.lower_bound * unit, stats)

    params = search_parameters(options) | dict(sat_parameters or {})
    if rel_gap:
        params["relative_gap_limit"] = rel_gap
    if abs_gap:
        params["absolute_gap_limit"] = abs_gap * 1000 / unit  # ms or MB -> model units
    outcome, solver = solve_cpsat(
        mdl.model, replace(options, time_limit_s=left), scale=1.0, parameters=params
    )
    stats |= {"branches": solver.NumBranches(), "conflicts": solver.NumConflicts()}
    bound_grid = None
    if mdl.model.HasObjective() and outcome.status in (
        Status.OPTIMAL,
        Status.FEASIBLE,
        Status.TIME_LIMIT,
    ):
        # never below the model's static bound (CP-SAT reports 0 when stopped in presolve)
        bound_grid = max(math.ceil(solver.BestObjectiveBound() - 1e-6), mdl.lower_bound) * unit
    if outcome.status not in (Status.OPTIMAL, Status.FEASIBLE):
        if outcome.status == Status.INFEASIBLE and best is not None:
            return Result(
                "",
                "",
                "cpsat",
                Status.ERROR,
                message=f"CP-SAT proved the model infeasible, but the {best.method} schedule "
                "(accepted by the evaluator) is feasible for it: a model error",
                stats=stats,
            )
        if outcome.status == Status.INFEASIBLE:
            msg = (
                f"no schedule meets the SLO {slo / 1000:g} ms (proven by CP-SAT)"
                if slo is not None
                else "no schedule satisfies the memory capacities (proven by CP-SAT)"
            )
            return Result("", "", "cpsat", Status.INFEASIBLE, message=msg, stats=stats)
        if outcome.status == Status.TIME_LIMIT:
            return _fallback(inst, best, pattern, slo, bound_grid, stats)
        return Result("", "", "cpsat", outcome.status, message=outcome.message, stats=stats)

    device = {
        o.id: next(d for (i, d), var in mdl.x.items() if i == o.id and solver.BooleanValue(var))
        for o in inst.operators
    }
    raw = {o.id: solver.Value(mdl.start[o.id]) * mdl.g_time for o in inst.operators}
    raw_t = {edge: solver.Value(var) * mdl.g_time for edge, var in mdl.transfer.items()}
    lanes = lane_edges(inst, device)
    sched = shifted(inst, "cpsat", device, raw, {k: raw_t[k] for k in lanes})
    stats["solver_makespan_ms"] = solver.Value(mdl.makespan) * mdl.g_time / 1000
    status = outcome.status
    if best is not None and best.objective_grid(inst, pattern) < sched.objective_grid(
        inst, pattern
    ):
        sched, stats["solution_from"] = best, f"warm start ({best.method})"
    objective = sched.objective_grid(inst, pattern)
    if status == Status.OPTIMAL and (bound_grid is None or bound_grid < objective):
        status = Status.FEASIBLE  # stopped by a gap tolerance: not proven
    bound = objective if status == Status.OPTIMAL else min(bound_grid, objective)
    stats["makespan_ms"] = sched.makespan / 1000
    return Result(
        "",
        "",
        "cpsat",
        status,
        objective=objective / 1000,
        bound=bound / 1000,
        solution=solution(inst, sched.device, sched.start, pattern, slo, sched.transfer),
        stats=stats,
        message=""
        if status == Status.OPTIMAL or "gap_tolerance" not in stats
        else "stopped within the gap tolerance",
    )


def _fallback(inst, best, pattern, slo, bound_grid, stats) -> Result:
    """No solver solution in time: the best warm start, if any, is the answer."""
    bound = None if bound_grid is None else bound_grid / 1000
    if best is None:
        return Result(
            "",
            "",
            "cpsat",
            Status.TIME_LIMIT,
            bound=bound,
            message="CP-SAT found no solution in time (and there was no warm start)",
            stats=stats,
        )
    objective = best.objective_grid(inst, pattern)
    return Result(
        "",
        "",
        "cpsat",
        Status.FEASIBLE,
        objective=objective / 1000,
        bound=None if bound is None else min(bound, objective / 1000),
        solution=solution(inst, best.device, best.start, pattern, slo, best.transfer),
        stats={**stats, "makespan_ms": best.makespan / 1000, "solution_from": best.method},
        message=f"the limit ran out before the solver improved on its warm start ({best.method})",
    )


def export(inst: DagInstance, options: SolveOptions, path: str) -> None:
    from optgap.solvers.backends import export_header

    pattern = options.objective or "latency"
    unit = "ms (makespan)" if pattern == "latency" else "MB (GPU memory)"
    legend = [
        "x_<op>_<device>: 1 if the operator runs on the device (ids as in the instance file)",
        "S_<op>, E_<op>: start and end of the operator in model time units; I_*: its interval",
        "shared links only: T_<src>_<dst> transfer start of the edge, z_<src>_<dst>_<d>_<e> it "
        "crosses the lane d-e, L_*: its interval on that lane",
    ]
    mdl = build(inst, options)
    # the model runs on the data's own grid (durations / their GCD): one time unit is g_time µs,
    # one memory unit g_mem kB; the proto's scaling_factor maps the objective back to ms / MB
    unit_per_result = 1000 / (mdl.g_time if pattern == "latency" else mdl.g_mem)
    legend += [
        f"one time unit = {mdl.g_time} µs, one memory unit = {mdl.g_mem} kB",
        f"C: makespan in time units; the objective times {1 / unit_per_result:g} is ms / MB",
    ]
    header = export_header("dag", "cpsat", pattern, unit, legend)
    write_cpsat(mdl.model, path, scale=unit_per_result, header=header)


# ----------------------------------------------------------------------------- helpers


def time_gcd(inst: DagInstance, allowed: dict[str, list[Device]]) -> int:
    """Greatest common divisor of every duration and every possible transfer delay (µs)."""
    g = 0
    for o in inst.operators:
        for d in allowed[o.id]:
            g = math.gcd(g, inst.duration_us(o, d))
    for e in inst.edges:
        for a in allowed[e.src]:
            for b in allowed[e.dst]:
                g = math.gcd(g, inst.transfer_us(a.id, b.id, e.bytes))
    return g or 1


def mem_gcd(inst: DagInstance) -> int:
    """Greatest common divisor of the operators' memory (kB); capacities are floored by it."""
    g = 0
    for o in inst.operators:
        g = math.gcd(g, o.mem_kb)
    return g or 1


def gap_tolerance(options: SolveOptions) -> tuple[float, float]:
    """``--param gap=REL`` and ``--param abs_gap=ABS`` (objective units: ms or MB), default 0."""
    out = []
    for key in ("gap", "abs_gap"):
        raw = options.param(key)
        if raw is None:
            out.append(0.0)
            continue
        try:
            v = float(raw)
        except ValueError:
            raise InputError(f"--param {key}={raw}: expected a number") from None
        if not (0 <= v < math.inf):
            raise InputError(f"--param {key}={raw}: must be a finite number >= 0")
        out.append(v)
    return out[0], out[1]


HINT_FROM_OPS = 200  # "auto": hint only from this many operators on (see use_hint)


def use_hint(options: SolveOptions, n_ops: int) -> bool:
    """``--param hint=on|off|auto`` (default auto: on from HINT_FROM_OPS operators). Measured
    (benchmarks/bench_dag.py, README F1): on la11-la20, ft10 and generated graphs up to 100
    operators the hint proves no more and often slows the proof; from 222 operators on, where the
    limit ends the search, it gives equal or better incumbents (up to 1.3 % at 300). The warm
    start always bounds the horizon and is the fallback answer. ``--no-hint`` forces off."""
    raw = options.param("hint", "auto")
    if raw not in ("on", "off", "auto"):
        raise InputError(f"--param hint={raw}: expected on, off or auto")
    return raw == "on" or (raw == "auto" and n_ops >= HINT_FROM_OPS)


def serial_bound(inst: DagInstance, allowed: dict[str, list[Device]]) -> int:
    """Any schedule can be shifted to finish by this: all operators one after another on their
    slowest device, every edge paying its costliest transfer."""
    work = sum(max(inst.duration_us(o, d) for d in allowed[o.id]) for o in inst.operators)
    comm = sum(
        max(
            (inst.transfer_us(a.id, b.id, e.bytes) for a in allowed[e.src] for b in allowed[e.dst]),
            default=0,
        )
        for e in inst.edges
    )
    return max(1, work + comm)


def obviously_infeasible(inst: DagInstance, slo_us: int) -> str:
    """A reason the SLO is infeasible, from the lower bounds alone ("" if they do not show it)."""
    cp, work = bounds.critical_path(inst), bounds.work(inst)
    if max(cp, work) > slo_us:
        name, lb = ("critical path", cp) if cp >= work else ("work bound", work)
        return (
            f"SLO {slo_us / 1000:g} ms is below the {name} {lb / 1000:g} ms, a lower bound on "
            f"any makespan (critical path {cp / 1000:g} ms: longest path with every operator on "
            f"its fastest device, transfers free; work bound {work / 1000:g} ms: operators' "
            "fastest times over the slots they may use)"
        )
    return ""


LNS_SHARE = 0.9  # with --param lns: this share of the time left goes to the LNS, the rest to
# the full model (hinted with the LNS schedule), which gives the bound and any proof


def _lns_runs(inst, options, pattern, best) -> bool:
    from optgap.formulations.dag import lns

    lns.iteration_limit(options)  # reject a malformed value even when the LNS does not run
    return lns.use_lns(options, len(inst.operators)) and pattern == "latency" and best is not None


def _run_lns(inst, options, best, t0):
    """(schedule, stats) of the large-neighbourhood search (formulations/dag/lns.py) from the
    best warm start."""
    from optgap.formulations.dag import lns

    budget = LNS_SHARE * (options.time_limit_s - (time.perf_counter() - t0))
    return lns.improve(inst, options, best, budget)


MIP_FROM_OPS = 200  # "auto": bound 5 (the placement MIP of bounds.py) from this many operators
MIP_SYNC_SHARE = 0.25  # without the LNS beside it (or on one thread): this share of the limit


def use_mip(options: SolveOptions, n_ops: int, pattern: str) -> bool:
    """``--param mip_bound=on|off|auto`` (default auto: from MIP_FROM_OPS operators; latency
    pattern only, it bounds the makespan)."""
    raw = options.param("mip_bound", "auto")
    if raw not in ("on", "off", "auto"):
        raise InputError(f"--param mip_bound={raw}: expected on, off or auto")
    return pattern == "latency" and (raw == "on" or (raw == "auto" and n_ops >= MIP_FROM_OPS))


def _start_mip(inst, options, pattern, best, t0, *, concurrent: bool):
    """Bound 5 (bounds.PlacementMip), or None. Beside the LNS (one CP-SAT worker) it runs for the
    LNS's budget on the second thread, and is stopped when the LNS ends; otherwise (no LNS, or
    ``--threads 1``) it runs first, for MIP_SYNC_SHARE of the limit."""
    if not use_mip(options, len(inst.operators), pattern):
        return None
    left = options.time_limit_s - (time.perf_counter() - t0)
    upper = None if best is None else best.makespan
    if concurrent and options.threads >= 2:
        return bounds.PlacementMip(inst, LNS_SHARE * left, upper)
    mip = bounds.PlacementMip(inst, MIP_SYNC_SHARE * left, upper)
    mip.wait(MIP_SYNC_SHARE * left)
    mip.result()  # stopped now: it must not run on beside a one-thread LNS
    return mip


# --param search: which CP-SAT workers run (the names are SatParameters' subsolvers)
SEARCH = {
    "default": {},
    "shaving": {"num_full_subsolvers": 2, "subsolvers": ["default_lp", "objective_shaving"]},
    "lb_tree": {"num_full_subsolvers": 2, "subsolvers": ["default_lp", "lb_tree_search"]},
    "lin2": {"linearization_level": 2},
}


def search_parameters(options: SolveOptions) -> dict[str, Any]:
    """``--param search=default|shaving|lb_tree|lin2``: CP-SAT workers / LP strength, for the
    bound (benchmarks/bench_dag.py, README F1: measured against the default)."""
    raw = options.param("search", "default")
    if raw not in SEARCH:
        raise InputError(f"--param search={raw}: expected one of {', '.join(SEARCH)}")
    return dict(SEARCH[raw])


LP_BOUND_FROM_OPS = 200  # "auto": C >= LB in the model from this many operators on
LP_BOUND_SHARE = 0.1  # at most this share of the time limit goes to the LP bound (10 s cap)


def _static_bounds(
    inst: DagInstance, options: SolveOptions, g: int, mip_us: int | None = None
) -> dict[str, Any]:
    """``--param lp_bound=on|off|auto`` (default auto): the bounds of formulations/dag/bounds.py
    (critical path, work, energetic window, LP relaxation by HiGHS; ``mip_us``: the placement MIP's
    bound when it ran), the best one in model units
    (⌈LB / g⌉: a model solution's makespan times g is a schedule's makespan, which is ≥ LB).
    ``on``: C ≥ ⌈LB / g⌉ is in the model; ``auto``: only from LP_BOUND_FROM_OPS operators (below,
    CP-SAT's root LP already holds the same relaxation: 5.404 vs 5.406 ms on a 60-task related
    graph), the bound is still reported; ``off``: the LP is not computed (a MIP bound still is
    reported)."""

    raw = options.param("lp_bound", "auto")
    if raw not in ("on", "off", "auto"):
        raise InputError(f"--param lp_bound={raw}: expected on, off or auto")
    if raw == "off" and mip_us is None:
        return {}
    limit = min(10.0, LP_BOUND_SHARE * options.time_limit_s)
    b = replace(bounds.bounds(inst, lp=raw != "off", lp_time_limit_s=limit), mip=mip_us)
    in_model = raw == "on" or len(inst.operators) >= LP_BOUND_FROM_OPS
    return {"model_units": -(-b.best // g), "ms": b.as_ms(), "in_model": in_model}


def _identical_groups(inst: DagInstance) -> list[list[Device]]:
    """Devices interchangeable in every respect; only such groups may be ordered."""
    groups: dict[tuple, list[Device]] = {}
    for d in inst.devices:
        groups.setdefault((d.kind, d.slots, d.mem_capacity_kb, d.speed), []).append(d)
    out = []
    for group in groups.values():
        ids = {d.id for d in group}
        if len(group) < 2 or inst.pair_links:
            continue  # pair-specific links could tell devices apart
        if any(
            o.devices is not None and ids & set(o.devices) and not ids <= set(o.devices)
            for o in inst.operators
        ):
            continue
        if any(ids & set(o.time_dev_us) for o in inst.operators):
            continue  # a per-device time tells them apart
        out.append(group)
    return out


def _break_device_symmetry(m: Any, inst: DagInstance, x: dict) -> None:
    """Device g_j hosts operator i only if g_{j-1} hosts an operator earlier in file order.

    ``used_k`` = "g_{j-1} hosts one of the first k operators", a prefix OR kept linear in size.
    """
    order = [o.id for o in inst.operators]
    for group in _identical_groups(inst):
        for prev, cur in itertools.pairwise(group):
            used = m.NewConstant(0)
            for k, op_id in enumerate(order):
                if (op_id, cur.id) in x:
                    m.AddImplication(x[op_id, cur.id], used)
                if (op_id, prev.id) in x:
                    nxt = m.NewBoolVar(f"used[{prev.id},{k}]")
                    m.AddBoolOr([used, x[op_id, prev.id]]).OnlyEnforceIf(nxt)
                    m.AddImplication(used, nxt)
                    m.AddImplication(x[op_id, prev.id], nxt)
                    used = nxt


def canonical_devices(inst: DagInstance, device: dict[str, str]) -> dict[str, str]:
    """Relabel identical devices in order of first use (file order of operators), so that a
    schedule satisfies the symmetry breaking above; the schedule itself is unchanged."""
    rename: dict[str, str] = {}
    for group in _identical_groups(inst):
        ids = [d.id for d in group]
        first_use = []
        for o in inst.operators:
            if device[o.id] in ids and device[o.id] not in first_use:
                first_use.append(device[o.id])
        first_use += [d for d in ids if d not in first_use]
        rename.update(zip(first_use, ids, strict=True))
    return {op: rename.get(d, d) for op, d in device.items()}
