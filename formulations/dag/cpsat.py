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
Objectives
  latency:  min C
  memory:   min Σ_{i, d ∈ G} m_i x_{i,d}   s.t.  C ≤ SLO
Redundant (valid for every feasible schedule; they help the search):
  S_i ≥ head_i and E_i + tail_i ≤ C, from longest paths with each operator's fastest time;
  C ≥ ⌈Σ_i min_d p_{i,d} / Σ_d k_d⌉ (total work over total slots);
  Σ_i p_{i,d} x_{i,d} ≤ k_d C per device (its load fits in its slots; with the placement
  constraints, the LP relaxation then balances work across devices);
  identical devices (same kind, slots, capacity and links, no operator telling them apart) are
  used in order: device j of a group hosts i only if device j-1 hosts an operator before i.
Hint: the best of HEFT, PEFT and CPOP (latency; its makespan also bounds the horizon) or the
greedy offload schedule (memory).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace

from optgap.formulations.dag.instance import DagInstance, Device, slo_us
from optgap.solvers.backends import solve_cpsat, write_cpsat
from optgap.solvers.result import Result, SolveOptions, Status
from ortools.sat.python import cp_model


@dataclass
class Model:
    model: cp_model.CpModel
    x: dict[tuple[str, str], cp_model.IntVar]
    start: dict[str, cp_model.IntVar]
    end: dict[str, cp_model.IntVar]
    makespan: cp_model.IntVar
    hint: object | None = None  # the heuristic schedule given as a hint, if it fits the pattern


def build(inst: DagInstance, options: SolveOptions) -> Model:
    pattern = options.objective or "latency"
    ops = list(inst.operators)
    allowed = {o.id: inst.allowed(o) for o in ops}
    fastest = {o.id: min(inst.duration_us(o, d) for d in allowed[o.id]) for o in ops}
    head, tail = _heads_tails(inst, fastest)
    hint = (
        _best_heuristic(inst, pattern, _slo_us(inst, options) if pattern == "memory" else None)
        if options.hint
        else None
    )

    horizon = _serial_bound(inst, allowed)
    if pattern == "memory":
        horizon = min(horizon, _slo_us(inst, options))
    elif hint is not None:
        horizon = min(horizon, hint.makespan)

    m = cp_model.CpModel()
    lb_work = -(-sum(fastest.values()) // sum(d.slots for d in inst.devices))
    lb_path = max(head[o.id] + fastest[o.id] + tail[o.id] for o in ops)
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
            p = inst.duration_us(o, d)
            if p > 0:  # a zero-length operator occupies no slot (as in the evaluator)
                intervals[d.id].append(
                    m.NewOptionalFixedSizeIntervalVar(
                        start[o.id], p, x[o.id, d.id], f"I[{o.id},{d.id}]"
                    )
                )
        # (place), (duration)
        m.AddExactlyOne(x[o.id, d.id] for d in allowed[o.id])
        m.Add(
            end[o.id]
            == start[o.id] + sum(inst.duration_us(o, d) * x[o.id, d.id] for d in allowed[o.id])
        )
        # (makespan) with the tail as a redundant cut
        m.Add(end[o.id] + tail[o.id] <= makespan)

    # (slots)
    for d in inst.devices:
        if d.slots == 1:
            m.AddNoOverlap(intervals[d.id])
        elif intervals[d.id]:
            m.AddCumulative(intervals[d.id], [1] * len(intervals[d.id]), d.slots)

    # (precede)
    for e in inst.edges:
        m.Add(start[e.dst] >= end[e.src])
        for d in allowed[e.src]:
            for f in allowed[e.dst]:
                delay = inst.transfer_us(d.id, f.id, e.bytes)
                if d.id != f.id and delay > 0:
                    m.Add(start[e.dst] >= end[e.src] + delay).OnlyEnforceIf(
                        [x[e.src, d.id], x[e.dst, f.id]]
                    )

    # redundant (load): a device cannot do more work than its slots times the makespan
    for d in inst.devices:
        terms = [inst.duration_us(o, d) * x[o.id, d.id] for o in ops if (o.id, d.id) in x]
        if terms:
            m.Add(sum(terms) <= d.slots * makespan)

    # (memory)
    for d in inst.devices:
        if d.mem_capacity_kb is not None:
            m.Add(
                sum(o.mem_kb * x[o.id, d.id] for o in ops if (o.id, d.id) in x) <= d.mem_capacity_kb
            )

    _break_device_symmetry(m, inst, x)

    if pattern == "memory":
        m.Add(makespan <= _slo_us(inst, options))
        m.Minimize(
            sum(o.mem_kb * x[o.id, d.id] for o in ops for d in allowed[o.id] if d.kind == "gpu")
        )
    else:
        m.Minimize(makespan)

    if hint is not None and not (pattern == "latency" or hint.makespan <= horizon):
        hint = None
    if hint is not None:
        hint.device = canonical_devices(inst, hint.device)
        for o in ops:
            m.AddHint(start[o.id], hint.start[o.id])
            m.AddHint(end[o.id], hint.end[o.id])
            for d in allowed[o.id]:
                m.AddHint(x[o.id, d.id], int(hint.device[o.id] == d.id))
        m.AddHint(makespan, hint.makespan)
    return Model(m, x, start, end, makespan, hint)


def solve(inst: DagInstance, options: SolveOptions) -> Result:
    pattern = options.objective or "latency"
    if pattern == "memory":
        slo = _slo_us(inst, options)
        reason = _obviously_infeasible(inst, slo)
        if reason:
            return Result("", "", "cpsat", Status.INFEASIBLE, message=reason)
    t0 = time.perf_counter()
    mdl = build(inst, options)
    # the limit covers the whole method: building the model and its heuristic hint count too
    left = max(0.1, options.time_limit_s - (time.perf_counter() - t0))
    outcome, solver = solve_cpsat(mdl.model, replace(options, time_limit_s=left), scale=1000)
    stats = {
        "branches": solver.NumBranches(),
        "conflicts": solver.NumConflicts(),
        "variables": len(mdl.model.Proto().variables),
        "constraints": len(mdl.model.Proto().constraints),
    }
    if outcome.status not in (Status.OPTIMAL, Status.FEASIBLE):
        msg = outcome.message
        if outcome.status == Status.INFEASIBLE and pattern == "memory":
            msg = (
                f"no schedule meets the SLO {_slo_us(inst, options) / 1000:g} ms (proven by CP-SAT)"
            )
        elif outcome.status == Status.INFEASIBLE:
            msg = "no schedule satisfies the memory capacities (proven by CP-SAT)"
        elif outcome.status == Status.TIME_LIMIT and mdl.hint is not None:
            # the solver had no time left after the warm start: that schedule is our answer
            return _hint_result(inst, mdl.hint, pattern, options, outcome.bound, stats)
        return Result(
            "", "", "cpsat", outcome.status, bound=outcome.bound, message=msg, stats=stats
        )
    device = {
        o.id: next(d for (i, d), var in mdl.x.items() if i == o.id and solver.BooleanValue(var))
        for o in inst.operators
    }
    solution = {
        "pattern": pattern,
        "slo_ms": _slo_us(inst, options) / 1000 if pattern == "memory" else None,
        "schedule": {
            o.id: {"device": device[o.id], "start_ms": solver.Value(mdl.start[o.id]) / 1000}
            for o in inst.operators
        },
    }
    stats["makespan_ms"] = solver.Value(mdl.makespan) / 1000
    return Result(
        "",
        "",
        "cpsat",
        outcome.status,
        objective=outcome.objective,
        bound=outcome.bound,
        solution=solution,
        stats=stats,
    )


def _hint_result(
    inst: DagInstance, hint, pattern: str, options: SolveOptions, bound, stats
) -> Result:
    kinds = {d.id: d.kind for d in inst.devices}
    gpu_mem = sum(o.mem_kb for o in inst.operators if kinds[hint.device[o.id]] == "gpu")
    objective = (gpu_mem if pattern == "memory" else hint.makespan) / 1000
    solution = {
        "pattern": pattern,
        "slo_ms": _slo_us(inst, options) / 1000 if pattern == "memory" else None,
        "schedule": {
            o.id: {"device": hint.device[o.id], "start_ms": hint.start[o.id] / 1000}
            for o in inst.operators
        },
    }
    stats = {**stats, "makespan_ms": hint.makespan / 1000, "solution_from": "warm-start heuristic"}
    return Result(
        "",
        "",
        "cpsat",
        Status.FEASIBLE,
        objective=objective,
        bound=bound,
        solution=solution,
        stats=stats,
        message="the limit ran out before the solver improved on its warm start",
    )


def export(inst: DagInstance, options: SolveOptions, path: str) -> None:
    from optgap.solvers.backends import export_header

    pattern = options.objective or "latency"
    unit = "ms (makespan)" if pattern == "latency" else "MB (GPU memory)"
    legend = [
        "x_<op>_<device>: 1 if the operator runs on the device (ids as in the instance file)",
        "S_<op>, E_<op>: start and end of the operator, integer µs; I_*: its interval",
        "C: makespan in µs; the objective is scaled to ms / MB by the proto's scaling_factor",
    ]
    header = export_header("dag", "cpsat", pattern, unit, legend)
    write_cpsat(build(inst, options).model, path, scale=1000, header=header)


# ----------------------------------------------------------------------------- helpers


def _slo_us(inst: DagInstance, options: SolveOptions) -> int:
    return slo_us(inst, options.slo_ms)


def _best_heuristic(inst: DagInstance, pattern: str, slo: int | None):
    """The hint: the shortest of HEFT, PEFT and CPOP; in the memory pattern the greedy offload
    schedule (within the SLO by construction), else the shortest if it meets the SLO."""
    from optgap.heuristics.dag.common import HeuristicFailure
    from optgap.heuristics.dag.cpop import cpop_schedule
    from optgap.heuristics.dag.heft import heft_schedule
    from optgap.heuristics.dag.offload import offload_schedule
    from optgap.heuristics.dag.peft import peft_schedule

    if pattern == "memory":
        try:
            return offload_schedule(inst, slo)[0]
        except HeuristicFailure:
            pass
    schedules = []
    for build in (heft_schedule, peft_schedule, cpop_schedule):
        try:
            schedules.append(build(inst))
        except HeuristicFailure:
            continue
    return min(schedules, key=lambda s: s.makespan, default=None)


def _heft(inst: DagInstance):
    from optgap.heuristics.dag.common import HeuristicFailure
    from optgap.heuristics.dag.heft import heft_schedule

    try:
        return heft_schedule(inst)
    except HeuristicFailure:
        return None


def _serial_bound(inst: DagInstance, allowed: dict[str, list[Device]]) -> int:
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


def _heads_tails(
    inst: DagInstance, fastest: dict[str, int]
) -> tuple[dict[str, int], dict[str, int]]:
    """Longest paths of fastest durations before (head) and after (tail) each operator."""
    from optgap.heuristics.dag.common import topological_ids

    order = topological_ids(inst)
    head = {i: 0 for i in order}
    tail = {i: 0 for i in order}
    succ: dict[str, list[str]] = {i: [] for i in order}
    for e in inst.edges:
        succ[e.src].append(e.dst)
    for i in order:
        for j in succ[i]:
            head[j] = max(head[j], head[i] + fastest[i])
    for i in reversed(order):
        for j in succ[i]:
            tail[i] = max(tail[i], fastest[j] + tail[j])
    return head, tail


def _obviously_infeasible(inst: DagInstance, slo_us: int) -> str:
    fastest = {o.id: min(inst.duration_us(o, d) for d in inst.allowed(o)) for o in inst.operators}
    head, tail = _heads_tails(inst, fastest)
    cp = max(head[i] + fastest[i] + tail[i] for i in fastest)
    if cp > slo_us:
        return (
            f"SLO {slo_us / 1000:g} ms is below the critical path {cp / 1000:g} ms "
            "(longest path with every operator on its fastest device, transfers free)"
        )
    return ""


def _identical_groups(inst: DagInstance) -> list[list[Device]]:
    """Devices interchangeable in every respect; only such groups may be ordered."""
    groups: dict[tuple, list[Device]] = {}
    for d in inst.devices:
        groups.setdefault((d.kind, d.slots, d.mem_capacity_kb), []).append(d)
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
        out.append(group)
    return out


def _break_device_symmetry(m: cp_model.CpModel, inst: DagInstance, x: dict) -> None:
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
