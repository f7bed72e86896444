r"""F1 exact model as a MILP (pulp; CBC or HiGHS): the same problem as the CP-SAT model.

Slots as machines. A device with k slots is modelled as k identical unit machines (d, 0..k-1).
With unit demands the two views have the same feasible schedules: a set of intervals that never
has more than k members at one instant can be split over k machines without overlap (interval
graphs are perfect: colour them greedily by start time), and conversely k non-overlapping
machines never run more than k operators at once. Zero-length operators occupy no slot, in the
evaluator as here: they get a machine (to name their device) but take part in no disjunction.

Sets      I operators; D devices; G ⊆ D GPUs; M = {(d, s) : d ∈ D, s < k_d} machines, d(m) the
          device of m; D_i ⊆ D the devices i may use and M_i = {m : d(m) ∈ D_i};
          E edges (u, v, bytes);
          P = {(i, j) : i < j, neither reaches the other in the DAG (transitive closure), and
          some machine m ∈ M_i ∩ M_j has p_{i,d(m)} > 0 and p_{j,d(m)} > 0}, with M_ij those m.
Data      p_{i,d} duration (integer µs); c_{uv}(d, e) transfer delay (integer µs, 0 if d = e);
          k_d slots; cap_d memory capacity; m_i memory (integer kB); f_i = min_d p_{i,d};
          head_i / tail_i longest f-paths before / after i (transfers free);
          H horizon: min(best warm-start makespan, serial bound) in the latency pattern — the
          warm start is an evaluator-accepted schedule, so some optimum ends by H — and min(SLO, serial
          bound) in the memory pattern, where every feasible schedule ends by the SLO;
          M_ij = H − tail_i − head_j ≥ E_i − S_j for every schedule within the horizon.
Variables x_{i,m} ∈ {0,1} (i runs on machine m); X_{i,d} := Σ_{s<k_d} x_{i,(d,s)} (on device d);
          S_i ∈ [head_i, H − f_i − tail_i] start; C ∈ [LB, H] makespan;
          y_{ij} ∈ {0,1} (1: i before j, 0: j before i) for (i, j) ∈ P.
Constraints
  (place)     Σ_{m ∈ M_i} x_{i,m} = 1                                              ∀ i
  (end)       E_i := S_i + Σ_{m ∈ M_i} p_{i,d(m)} x_{i,m}         (an expression, not a variable)
  (precede)   S_v ≥ E_u                                                          ∀ (u, v) ∈ E
  (transfer)  S_v ≥ E_u + c_{uv}(d, e) (X_{u,d} + X_{v,e} − 1)     ∀ (u, v) ∈ E, d ≠ e, c > 0
  (disjunct)  S_j ≥ E_i − M_ij (1 − y_ij) − M_ij (2 − x_{i,m} − x_{j,m})
              S_i ≥ E_j − M_ji y_ij       − M_ji (2 − x_{i,m} − x_{j,m})     ∀ (i,j) ∈ P, m ∈ M_ij
              (a direction with M ≤ 0 holds in every schedule within the horizon: no y needed)
  (lanes)     shared links only. L_uv = {(d, e) : d ≠ e, the link d–e is shared, c_uv(d, e) > 0}
              the placements under which edge (u, v) crosses a lane; for (u, v) with L_uv ≠ ∅:
              T_uv ∈ [0, H] its transfer start, T_uv ≥ E_u; w_{uv,de} ∈ {0,1} = X_{u,d} ∧ X_{v,e}
              (w ≥ X_{u,d} + X_{v,e} − 1, w ≤ X_{u,d}, w ≤ X_{v,e}) for (d, e) ∈ L_uv;
              S_v ≥ T_uv + c − (H + c)(1 − w_{uv,de});
              on lane ℓ: U_{uv,ℓ} = Σ_{(d,e) ∈ L_uv, {d,e} = ℓ} w_{uv,de} (≤ 1), C_{uv,ℓ} the
              same sum weighted by c_uv(d, e); for two edges a = (u, v), b = (u', v') that may
              share ℓ and are not ordered by the DAG (v = u' or v reaches u' forces T_a + c_a ≤
              T_b), with q_ab ∈ {0,1} and M = H + max c:
              T_b ≥ T_a + C_{a,ℓ} − M (1 − q_ab) − M (2 − U_{a,ℓ} − U_{b,ℓ})
              T_a ≥ T_b + C_{b,ℓ} − M q_ab       − M (2 − U_{a,ℓ} − U_{b,ℓ})
              (active only when both use ℓ). No shared link, no variable: the model is unchanged.
  (memory)    Σ_i m_i X_{i,d} ≤ cap_d                                        ∀ d with a capacity
  (makespan)  C ≥ E_i + tail_i                                                         ∀ i
Objectives
  latency:  min C
  memory:   min Σ_{i, d ∈ G} m_i X_{i,d}   s.t.  C ≤ SLO   (as the upper bound H of C)
Redundant (valid for every feasible schedule):
  S_i ≥ head_i, C ≥ E_i + tail_i (hence C ≥ head_i + f_i + tail_i), and
  LB = max(max_i head_i + f_i + tail_i, ⌈Σ_i f_i / Σ_d k_d⌉) (critical path; total work over
  total slots);
  (load)      Σ_i p_{i,d(m)} x_{i,m} ≤ C per machine (a machine runs one operator at a time).
Symmetry (valid: every schedule can be relabelled into a form satisfying them):
  (slots)     x_{i,(d,s)} ≤ Σ_{q < i} x_{q,(d,s−1)}: the slots of a device are identical, so
              number them in order of first use (file order of operators);
  (devices)   X_{i,g_j} ≤ Σ_{q < i} X_{q,g_{j−1}} over groups of identical devices (same kind,
              slots, capacity and links, no operator restriction telling them apart), as in
              the CP-SAT model. Devices are relabelled first, then slots within each device.
All data are integers, so the optimum is integral. The solution reports the solver's starts
rounded to the µs grid if that schedule is feasible and no worse than the solver's makespan;
otherwise the starts are recomputed as the earliest ones for the chosen machines and the order
the solver gave each machine (never later than the solver's starts, so the makespan does not
grow and the placement, hence the memory objective, is kept).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
from optgap.formulations.dag.cpsat import (
    _identical_groups,
    canonical_devices,
    heads_tails,
    obviously_infeasible,
    serial_bound,
)
from optgap.formulations.dag.instance import DagInstance, slo_us
from optgap.formulations.dag.schedule import (
    Incumbent,
    incumbents,
    lane_edges,
    shifted,
    solution,
)
from optgap.solvers.backends import solve_pulp, write_pulp
from optgap.solvers.result import Result, SolveOptions, Status

Machine = tuple[str, int]  # (device id, slot)


@dataclass
class Vars:
    x: dict[tuple[str, Machine], Any]  # pulp.LpVariable
    start: dict[str, Any]
    makespan: Any
    y: dict[tuple[str, str], Any] = field(default_factory=dict)
    horizon: int = 0
    transfer: dict[tuple[str, str], Any] = field(default_factory=dict)  # T_uv (lanes)
    lane_w: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)  # w_{uv,de}
    lane_q: dict[tuple[tuple[str, str], tuple[str, str]], Any] = field(default_factory=dict)


def build(
    inst: DagInstance, options: SolveOptions, incumbent: Incumbent | None = None
) -> tuple[Any, Vars]:
    """The model (a pulp.LpProblem) and its variables; ``incumbent`` bounds the horizon."""
    import pulp

    pattern = options.objective or "latency"
    ops = list(inst.operators)
    index = {o.id: k for k, o in enumerate(ops)}  # pulp names use indices: ids may be anything
    dev_index = {d.id: k for k, d in enumerate(inst.devices)}
    allowed = {o.id: inst.allowed(o) for o in ops}
    p = {(o.id, d.id): inst.duration_us(o, d) for o in ops for d in allowed[o.id]}
    fastest = {o.id: min(p[o.id, d.id] for d in allowed[o.id]) for o in ops}
    head, tail = heads_tails(inst, fastest)
    H = serial_bound(inst, allowed)
    if pattern == "memory":
        H = min(H, slo_us(inst, options.slo_ms))
    elif incumbent is not None:
        H = min(H, incumbent.makespan)
    lb_path = max(head[i] + fastest[i] + tail[i] for i in fastest)
    lb_work = -(-sum(fastest.values()) // sum(d.slots for d in inst.devices))

    prob = pulp.LpProblem(f"dag_{pattern}", pulp.LpMinimize)

    def name(prefix: str, *parts) -> str:
        return prefix + "".join(f"_{q}" for q in parts)

    # Variables
    machines = {o.id: [(d.id, s) for d in allowed[o.id] for s in range(d.slots)] for o in ops}
    x = {
        (o.id, m): pulp.LpVariable(name("x", index[o.id], dev_index[m[0]], m[1]), cat=pulp.LpBinary)
        for o in ops
        for m in machines[o.id]
    }
    X = {
        (o.id, d.id): pulp.lpSum(x[o.id, (d.id, s)] for s in range(d.slots))
        for o in ops
        for d in allowed[o.id]
    }
    start = {
        o.id: pulp.LpVariable(
            name("S", index[o.id]),
            lowBound=min(head[o.id], H),
            upBound=max(min(head[o.id], H), H - fastest[o.id] - tail[o.id]),
        )
        for o in ops
    }
    C = pulp.LpVariable("C", lowBound=min(max(lb_path, lb_work), H), upBound=H)
    end = {
        o.id: start[o.id] + pulp.lpSum(p[o.id, m[0]] * x[o.id, m] for m in machines[o.id])
        for o in ops
    }

    # (place), (makespan)
    for o in ops:
        prob += pulp.lpSum(x[o.id, m] for m in machines[o.id]) == 1, name("place", index[o.id])
        prob += C >= end[o.id] + tail[o.id], name("makespan", index[o.id])

    # (precede), (transfer)
    for k, e in enumerate(inst.edges):
        prob += start[e.dst] >= end[e.src], name("precede", k)
        for d in allowed[e.src]:
            for f in allowed[e.dst]:
                c = inst.transfer_us(d.id, f.id, e.bytes)
                if d.id != f.id and c > 0:
                    prob += (
                        start[e.dst] >= end[e.src] + c * (X[e.src, d.id] + X[e.dst, f.id] - 1),
                        name("transfer", k, dev_index[d.id], dev_index[f.id]),
                    )

    # (disjunct): pairs not ordered by the DAG that may share a machine, both taking time on it
    closure = nx.transitive_closure_dag(inst.graph())
    y = {}
    for a, b in itertools.combinations([o.id for o in ops], 2):
        if closure.has_edge(a, b) or closure.has_edge(b, a):
            continue
        shared = [m for m in machines[a] if (b, m) in x and p[a, m[0]] > 0 and p[b, m[0]] > 0]
        M_ab = H - tail[a] - head[b]  # a before b: S_b ≥ E_a, relaxed by at most M_ab
        M_ba = H - tail[b] - head[a]
        if not shared or M_ab <= 0 or M_ba <= 0:
            continue  # never on one machine, or one order holds in every schedule
        y[a, b] = pulp.LpVariable(name("y", index[a], index[b]), cat=pulp.LpBinary)
        for m in shared:
            apart = 2 - x[a, m] - x[b, m]
            tag = (index[a], index[b], dev_index[m[0]], m[1])
            prob += start[b] >= end[a] - M_ab * (1 - y[a, b]) - M_ab * apart, name("ab", *tag)
            prob += start[a] >= end[b] - M_ba * y[a, b] - M_ba * apart, name("ba", *tag)

    T, W, Q = _add_lanes(prob, inst, X, start, end, H, closure, name)

    for d in inst.devices:
        on_d = [o for o in ops if (o.id, d.id) in X]
        if not on_d:
            continue
        # (memory)
        if d.mem_capacity_kb is not None:
            prob += (
                pulp.lpSum(o.mem_kb * X[o.id, d.id] for o in on_d) <= d.mem_capacity_kb,
                name("memory", dev_index[d.id]),
            )
        for s in range(d.slots):
            # (load) redundant
            prob += (
                pulp.lpSum(p[o.id, d.id] * x[o.id, (d.id, s)] for o in on_d) <= C,
                name("load", dev_index[d.id], s),
            )
            # (slots) symmetry: slot s hosts i only if slot s-1 hosts an earlier operator
            if s == 0:
                continue
            for k, o in enumerate(on_d):
                prob += (
                    x[o.id, (d.id, s)] <= pulp.lpSum(x[q.id, (d.id, s - 1)] for q in on_d[:k]),
                    name("slots", dev_index[d.id], s, index[o.id]),
                )

    # (devices) symmetry: identical devices in order of first use
    for group in _identical_groups(inst):
        for prev, cur in itertools.pairwise(group):
            for k, o in enumerate(ops):
                if (o.id, cur.id) in X:
                    prob += (
                        X[o.id, cur.id]
                        <= pulp.lpSum(X[q.id, prev.id] for q in ops[:k] if (q.id, prev.id) in X),
                        name("devices", dev_index[cur.id], index[o.id]),
                    )

    # Objective
    if pattern == "memory":
        prob += pulp.lpSum(
            o.mem_kb * X[o.id, d.id] for o in ops for d in allowed[o.id] if d.kind == "gpu"
        )
    else:
        prob += C
    return prob, Vars(x, start, C, y, H, T, W, Q)


def _add_lanes(prob, inst, X, start, end, H: int, closure, name) -> tuple[dict, ...]:
    """(lanes): transfer starts, placement-pair indicators and lane disjunctions (see the module
    docstring); three empty dicts without shared links."""
    import pulp

    if not inst.has_shared_links:
        return {}, {}, {}
    index = {o.id: k for k, o in enumerate(inst.operators)}
    dev_index = {d.id: k for k, d in enumerate(inst.devices)}
    T: dict[tuple[str, str], Any] = {}
    W: dict[tuple[str, str, str, str], Any] = {}
    use: dict[tuple[str, str], dict[frozenset, list[tuple[Any, int]]]] = {}
    for e, d, f, lane, c in inst.lane_crossings():
        key = (e.src, e.dst)
        tag = (index[e.src], index[e.dst])
        if key not in T:
            T[key] = pulp.LpVariable(name("T", *tag), lowBound=0, upBound=H)
            prob += T[key] >= end[e.src], name("tstart", *tag)
        dtag = (*tag, dev_index[d.id], dev_index[f.id])
        w = pulp.LpVariable(name("w", *dtag), cat=pulp.LpBinary)
        W[e.src, e.dst, d.id, f.id] = w
        prob += w >= X[e.src, d.id] + X[e.dst, f.id] - 1, name("wand", *dtag)
        prob += w <= X[e.src, d.id], name("wsrc", *dtag)
        prob += w <= X[e.dst, f.id], name("wdst", *dtag)
        prob += start[e.dst] >= T[key] + c - (H + c) * (1 - w), name("tend", *dtag)
        use.setdefault(key, {}).setdefault(lane, []).append((w, c))
    Q: dict[tuple[tuple[str, str], tuple[str, str]], Any] = {}

    def before(a: tuple[str, str], b: tuple[str, str]) -> bool:  # the DAG orders a's transfer first
        return a[1] == b[0] or closure.has_edge(a[1], b[0])

    for a, b in itertools.combinations(list(use), 2):
        common = [lane for lane in use[a] if lane in use[b]]
        if not common or before(a, b) or before(b, a):
            continue
        tag = (index[a[0]], index[a[1]], index[b[0]], index[b[1]])
        q = Q[a, b] = pulp.LpVariable(name("q", *tag), cat=pulp.LpBinary)
        for lane in common:
            M = H + max(c for _, c in use[a][lane] + use[b][lane])
            Ua = pulp.lpSum(w for w, _ in use[a][lane])
            Ub = pulp.lpSum(w for w, _ in use[b][lane])
            Ca = pulp.lpSum(c * w for w, c in use[a][lane])
            Cb = pulp.lpSum(c * w for w, c in use[b][lane])
            ltag = (*tag, *sorted(dev_index[x] for x in lane))
            prob += T[b] >= T[a] + Ca - M * (1 - q) - M * (2 - Ua - Ub), name("lab", *ltag)
            prob += T[a] >= T[b] + Cb - M * q - M * (2 - Ua - Ub), name("lba", *ltag)
    return T, W, Q


def solve(inst: DagInstance, options: SolveOptions, warm: tuple = ()) -> Result:
    """Solve with ``options.backend`` (CBC by default, or HiGHS) within ``options.time_limit_s``
    (model building included).

    ``warm``: the solve layer's evaluator-accepted heuristic answers; the best bounds the horizon
    (latency), is CBC's initial solution (if ``options.hint``) and is the answer when the solver
    finds nothing in time (``feasible``, with the solver's bound).
    Statuses: optimal / feasible as the solver proves them (the bound rounded up to the µs or
    kB grid); infeasible when the SLO is below a lower bound (no solve) or the solver proves
    it, unless a warm start shows the model feasible: then the solver is wrong and the result
    is an error (seen with HiGHS 1.14's presolve on a few 9-operator instances).
    """
    import pulp

    t0 = time.perf_counter()
    pattern = options.objective or "latency"
    backend = options.backend or "cbc"
    slo = slo_us(inst, options.slo_ms) if pattern == "memory" else None
    if slo is not None:
        reason = obviously_infeasible(inst, slo)
        if reason:
            return Result("", "", backend, Status.INFEASIBLE, message=reason)
    found = incumbents(inst, warm, pattern)
    best = found[0] if found else None
    prob, v = build(inst, options, best)
    started = bool(options.hint and best is not None and _warm_start(inst, v, best))
    stats: dict[str, Any] = {
        "variables": len(prob.variables()),
        "binaries": sum(1 for var in prob.variables() if var.cat == pulp.LpInteger),
        "constraints": prob.numConstraints(),
        "ordering_pairs": len(v.y),
        "horizon_ms": v.horizon / 1000,
        "hint": best.method if started else None,
    }
    left = options.time_limit_s - (time.perf_counter() - t0)
    if left <= 0:  # building took the whole limit: no solve
        return _fallback(inst, best, backend, pattern, slo, None, stats)
    out = solve_pulp(prob, replace(options, time_limit_s=left), backend, warm_start=started)
    # the objective is integral (µs or kB): a fractional bound rounds up
    bound = None if out.bound is None else math.ceil(out.bound - 1e-6)
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        msg = out.message
        status = out.status
        if status == Status.INFEASIBLE:
            caps = any(d.mem_capacity_kb is not None for d in inst.devices)
            if best is not None:  # the model has a solution: the solver is wrong, say so
                status = Status.ERROR
                msg = (
                    f"{backend} reported the MILP infeasible, but the {best.method} schedule "
                    "(accepted by the evaluator) is feasible for it: a solver error"
                )
            elif slo is not None:
                msg = (
                    f"no schedule meets the SLO {slo / 1000:g} ms"
                    + (" within the memory capacities" if caps else "")
                    + f" (proven by the MILP, {backend})"
                )
            else:
                msg = (
                    f"no placement satisfies the memory capacities (proven by the MILP, {backend})"
                )
        elif status == Status.TIME_LIMIT:
            return _fallback(inst, best, backend, pattern, slo, bound, stats)
        return Result(
            "",
            "",
            backend,
            status,
            bound=None if bound is None else bound / 1000,
            message=msg,
            stats=stats,
        )

    machine = {
        o.id: max((m for (i, m) in v.x if i == o.id), key=lambda m: v.x[o.id, m].value() or 0.0)
        for o in inst.operators
    }
    solver_start = {o.id: v.start[o.id].value() or 0.0 for o in inst.operators}
    solver_makespan = round(v.makespan.value() or 0.0)
    start = {i: max(0, round(t)) for i, t in solver_start.items()}
    lanes = lane_edges(inst, {i: m[0] for i, m in machine.items()})
    solver_transfer = {k: v.transfer[k].value() or 0.0 for k in lanes}
    transfer = {k: max(0, round(t)) for k, t in solver_transfer.items()}
    makespan = _check(inst, machine, start, transfer)
    stats["repaired"] = makespan is None or makespan > solver_makespan
    if stats["repaired"]:
        start, transfer = _earliest_starts(inst, machine, solver_start, solver_transfer)
        makespan = None if start is None else _check(inst, machine, start, transfer)
    if makespan is None or (slo is not None and makespan > slo):
        return Result(
            "",
            "",
            backend,
            Status.ERROR,
            bound=None if bound is None else bound / 1000,
            message=f"{backend} returned a placement and machine orders that give no feasible "
            "schedule (numerical trouble)",
            stats=stats,
        )
    kinds = {d.id: d.kind for d in inst.devices}
    mem = {o.id: o.mem_kb for o in inst.operators}
    # the solver's own objective, before any repair (µs or kB); read from the variables, as
    # pulp reports no value for an objective without terms (all memory zero)
    stats["solver_objective"] = (
        v.makespan.value()
        if slo is None
        else sum(
            mem[i] * (var.value() or 0.0) for (i, m), var in v.x.items() if kinds[m[0]] == "gpu"
        )
    )
    sched = shifted(inst, backend, {i: m[0] for i, m in machine.items()}, start, transfer)
    if best is not None and best.objective_grid(inst, pattern) < sched.objective_grid(
        inst, pattern
    ):
        sched, stats["solution_from"] = best, f"warm start ({best.method})"
    objective = sched.objective_grid(inst, pattern)
    stats["makespan_ms"] = sched.makespan / 1000
    status = out.status
    message = ""
    if slo is None and objective > solver_makespan:
        # a repair or left shift never lengthens a schedule the model describes correctly; a
        # longer one means the model let through what the instance forbids: nothing is proven
        status, bound = Status.FEASIBLE, None
        message = (
            f"the schedule ({objective / 1000:g} ms) is longer than the MILP's own makespan "
            f"({solver_makespan / 1000:g} ms): the model is wrong here, nothing is proven"
        )
    if status == Status.OPTIMAL:
        bound = objective
    return Result(
        "",
        "",
        backend,
        status,
        objective=objective / 1000,
        # a repair or a left shift can only improve
        bound=None if bound is None else min(bound, objective) / 1000,
        solution=solution(inst, sched.device, sched.start, pattern, slo, sched.transfer),
        stats=stats,
        message=message,
    )


def _fallback(inst, best, backend, pattern, slo, bound_grid, stats) -> Result:
    """No solver solution in time: the best warm start, if any, is the answer."""
    if best is None:
        return Result(
            "",
            "",
            backend,
            Status.TIME_LIMIT,
            bound=None if bound_grid is None else bound_grid / 1000,
            message=f"{backend} found no solution in time (and there was no warm start)",
            stats=stats,
        )
    objective = best.objective_grid(inst, pattern)
    return Result(
        "",
        "",
        backend,
        Status.FEASIBLE,
        objective=objective / 1000,
        bound=None if bound_grid is None else min(bound_grid, objective) / 1000,
        solution=solution(inst, best.device, best.start, pattern, slo, best.transfer),
        stats={**stats, "makespan_ms": best.makespan / 1000, "solution_from": best.method},
        message=f"the limit ran out before {backend} improved on its warm start ({best.method})",
    )


def export(inst: DagInstance, options: SolveOptions, path: str) -> None:
    from optgap.solvers.backends import export_header

    pattern = options.objective or "latency"
    unit = "ms (makespan)" if pattern == "latency" else "MB (GPU memory)"
    legend = [
        "operators and devices are numbered in file order: op k = operators[k], dev j = devices[j]",
        "x_k_j_s: 1 if operator k runs on slot s of device j",
        "S_k: start of operator k in µs; C: makespan in µs; y_*: order of two operators",
        "shared links only: T_k_l transfer start of edge op k -> op l (µs), w_k_l_i_j it crosses "
        "the lane dev i - dev j, q_*: order of two transfers on a lane",
        "the objective is written as (model objective) / 1000: µs -> ms, kB -> MB",
    ]
    header = export_header("dag", "milp", pattern, unit, legend)
    write_pulp(build(inst, options)[0], path, factor=1e-3, header=header)


# ----------------------------------------------------------------------------- helpers


def _warm_start(inst: DagInstance, v: Vars, sched: Incumbent) -> bool:
    """Set every variable's initial value from a warm-start schedule (as CP-SAT's hint),
    relabelled to satisfy the symmetry constraints. False when it does not fit the model."""
    if sched.makespan > v.horizon:
        return False
    device = canonical_devices(inst, sched.device)
    dur = {o.id: inst.duration_us(o, inst.device(device[o.id])) for o in inst.operators}
    # slots by greedy interval partitioning, then renumbered in order of first use (file order)
    free: dict[str, list[int]] = {d.id: [0] * d.slots for d in inst.devices}
    slot = {}
    for op in sorted(dur, key=lambda o: (sched.start[o], o)):
        d = device[op]
        k = next((k for k, t in enumerate(free[d]) if t <= sched.start[op] or dur[op] == 0), 0)
        free[d][k] = max(free[d][k], sched.start[op] + dur[op])
        slot[op] = k
    order: dict[str, list[int]] = {d.id: [] for d in inst.devices}
    for o in inst.operators:
        if slot[o.id] not in order[device[o.id]]:
            order[device[o.id]].append(slot[o.id])
    machine = {o.id: (device[o.id], order[device[o.id]].index(slot[o.id])) for o in inst.operators}
    if any((op, m) not in v.x for op, m in machine.items()):
        return False
    for (op, m), var in v.x.items():
        var.setInitialValue(int(machine[op] == m))
    for op, var in v.start.items():
        var.setInitialValue(sched.start[op])
    v.makespan.setInitialValue(sched.makespan)
    for (a, b), var in v.y.items():
        var.setInitialValue(int((sched.start[a], a) < (sched.start[b], b)))
    if v.transfer:  # lanes: transfers as the warm start has them, else at the producer's end
        for (a, b), var in v.transfer.items():
            var.setInitialValue(sched.transfer.get((a, b), sched.end[a]))
        for (a, b, d, f), var in v.lane_w.items():
            var.setInitialValue(int(device[a] == d and device[b] == f))
        for (ea, eb), var in v.lane_q.items():
            var.setInitialValue(int(sched.transfer.get(ea, 0) < sched.transfer.get(eb, 0)))
    return True


def _durations(inst: DagInstance, machine: dict[str, Machine]) -> dict[str, int]:
    return {o.id: inst.duration_us(o, inst.device(machine[o.id][0])) for o in inst.operators}


def _check(
    inst: DagInstance,
    machine: dict[str, Machine],
    start: dict[str, int],
    transfer: dict[tuple[str, str], int] | None = None,
) -> int | None:
    """The makespan if the starts respect edges, transfers, lanes (``transfer``: the start of
    every lane transfer) and one operator per machine."""
    dur = _durations(inst, machine)
    if any(t < 0 for t in start.values()):
        return None
    lanes = lane_edges(inst, {i: m[0] for i, m in machine.items()})
    transfer = transfer or {}
    on_lane: dict[frozenset, list[tuple[int, int]]] = {}
    for e in inst.edges:
        delay = inst.transfer_us(machine[e.src][0], machine[e.dst][0], e.bytes)
        if (e.src, e.dst) in lanes:
            t = transfer.get((e.src, e.dst))
            if t is None or t < start[e.src] + dur[e.src] or start[e.dst] < t + delay:
                return None
            on_lane.setdefault(lanes[e.src, e.dst][0], []).append((t, t + delay))
            continue
        if start[e.dst] < start[e.src] + dur[e.src] + delay:
            return None
    for busy in on_lane.values():
        busy.sort()
        if any(f > s for (_, f), (s, _) in itertools.pairwise(busy)):
            return None
    by_machine: dict[Machine, list[str]] = {}
    for i, m in machine.items():
        if dur[i] > 0:
            by_machine.setdefault(m, []).append(i)
    for seq in by_machine.values():
        seq.sort(key=start.__getitem__)
        if any(start[a] + dur[a] > start[b] for a, b in itertools.pairwise(seq)):
            return None
    return max(start[i] + dur[i] for i in start)


def _earliest_starts(
    inst: DagInstance,
    machine: dict[str, Machine],
    solver_start: dict[str, float],
    solver_transfer: dict[tuple[str, str], float],
) -> tuple[dict[str, int] | None, dict[tuple[str, str], int]]:
    """Earliest integral starts (and lane transfer starts) for the chosen machines, keeping the
    solver's order on each machine and each lane (ties by topological position); None if that
    order contradicts the DAG. Lane transfers are nodes: producer -> transfer (its time),
    transfer -> consumer (the delay), and the lane order (the delay)."""
    dur = _durations(inst, machine)
    device = {i: m[0] for i, m in machine.items()}
    lanes = lane_edges(inst, device)
    topo = {i: k for k, i in enumerate(inst.topological_order)}
    g = nx.DiGraph()
    g.add_nodes_from(dur)

    def arc(a, b, w: int) -> None:
        g.add_edge(a, b, w=max(w, g.edges[a, b]["w"]) if g.has_edge(a, b) else w)

    for e in inst.edges:
        delay = inst.transfer_us(device[e.src], device[e.dst], e.bytes)
        if (e.src, e.dst) in lanes:
            node = ("T", e.src, e.dst)
            arc(e.src, node, dur[e.src])
            arc(node, e.dst, delay)
        else:
            arc(e.src, e.dst, dur[e.src] + delay)
    by_lane: dict[frozenset, list[tuple[str, str]]] = {}
    for edge, (lane, _) in lanes.items():
        by_lane.setdefault(lane, []).append(edge)
    for seq in by_lane.values():
        seq.sort(key=lambda k: (solver_transfer[k], topo[k[0]], topo[k[1]]))
        for a, b in itertools.pairwise(seq):
            arc(("T", *a), ("T", *b), lanes[a][1])
    by_machine: dict[Machine, list[str]] = {}
    for i, m in machine.items():
        if dur[i] > 0:
            by_machine.setdefault(m, []).append(i)
    for seq in by_machine.values():
        seq.sort(key=lambda i: (solver_start[i], topo[i]))
        for a, b in itertools.pairwise(seq):
            arc(a, b, dur[a])
    if not nx.is_directed_acyclic_graph(g):
        return None, {}
    t: dict[Any, int] = {}
    for node in nx.topological_sort(g):
        t[node] = max((t[u] + g.edges[u, node]["w"] for u in g.predecessors(node)), default=0)
    return {i: t[i] for i in dur}, {k: t[("T", *k)] for k in lanes}
