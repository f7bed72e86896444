r"""F1 exact model as a MILP (pulp; CBC or HiGHS): the same problem as the CP-SAT model.

A device with k slots is k identical unit machines: with unit demands, a schedule that never runs
more than k operators at once on a device can always be split over k machines (interval graph
colouring), so both views have the same feasible schedules.

Sets      I operators; D devices; M machines (d, s), s < k_d; M_i machines operator i may use;
          E edges (u, v, bytes); P pairs {i, j} not ordered by a path of the DAG that share a
          machine and both take time; G GPUs.
Data      p_{i,d} duration (µs, integer); c_{uv}(d, e) transfer delay; m_i memory (kB);
          cap_d capacity; H horizon (HEFT's makespan in the latency pattern, the SLO in the
          memory pattern: some optimum finishes by then).
Variables x_{i,m} ∈ {0,1}; X_{i,d} = Σ_s x_{i,(d,s)}; S_i ≥ 0 start; C makespan;
          y_{ij} ∈ {0,1} (1: i before j) for {i, j} ∈ P.
Constraints
  (place)     Σ_{m ∈ M_i} x_{i,m} = 1
  (end)       E_i := S_i + Σ_m p_{i,d(m)} x_{i,m}
  (precede)   S_v ≥ E_u;  S_v ≥ E_u + c_{uv}(d, e)(X_{u,d} + X_{v,e} − 1)       d ≠ e
  (disjunct)  S_j ≥ E_i − H(1 − y_{ij}) − H(2 − x_{i,m} − x_{j,m})
              S_i ≥ E_j − H y_{ij} − H(2 − x_{i,m} − x_{j,m})                  m shared by i, j
  (memory)    Σ_i m_i X_{i,d} ≤ cap_d
  (makespan)  C ≥ E_i + tail_i;  C ≤ H;  S_i ≥ head_i
  (load)      Σ_i p_{i,d} X_{i,d} ≤ k_d C                                 (redundant)
  (symmetry)  x_{i,(d,s)} ≤ Σ_{k<i} x_{k,(d,s−1)}: slots are used in order; the same for
              X over groups of identical devices
Objectives  latency: min C;  memory: min Σ_{i, d ∈ G} m_i X_{i,d}  s.t.  C ≤ SLO.
The solution's start times are recomputed as earliest starts for the chosen machines and orders,
so they are integral microseconds whatever the solver's tolerances.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import networkx as nx
import pulp

from formulations.dag.cpsat import _heads_tails, _heft, _identical_groups, _obviously_infeasible
from formulations.dag.instance import DagInstance, slo_us
from solvers.backends import solve_pulp, write_pulp
from solvers.result import Result, SolveOptions, Status


@dataclass
class Model:
    prob: pulp.LpProblem
    x: dict[tuple[str, tuple[str, int]], pulp.LpVariable]
    start: dict[str, pulp.LpVariable]
    makespan: pulp.LpVariable


def build(inst: DagInstance, options: SolveOptions) -> Model:
    pattern = options.objective or "latency"
    ops = list(inst.operators)
    allowed = {o.id: inst.allowed(o) for o in ops}
    fastest = {o.id: min(inst.duration_us(o, d) for d in allowed[o.id]) for o in ops}
    head, tail = _heads_tails(inst, fastest)
    if pattern == "memory":
        horizon = slo_us(inst, options.slo_ms)
    else:
        hint = _heft(inst)
        horizon = hint.makespan if hint is not None else _serial(inst, allowed)
    H = max(horizon, 1)

    prob = pulp.LpProblem("dag_" + pattern, pulp.LpMinimize)
    machines = {o.id: [(d.id, s) for d in allowed[o.id] for s in range(d.slots)] for o in ops}
    x = {
        (o.id, m): pulp.LpVariable(f"x_{o.id}_{m[0]}_{m[1]}", cat="Binary")
        for o in ops
        for m in machines[o.id]
    }
    X = {
        (o.id, d.id): pulp.lpSum(x[o.id, (d.id, s)] for s in range(d.slots))
        for o in ops
        for d in allowed[o.id]
    }
    start = {o.id: pulp.LpVariable(f"S_{o.id}", lowBound=head[o.id], upBound=H) for o in ops}
    C = pulp.LpVariable("C", lowBound=0, upBound=H)
    dur = {(o.id, d.id): inst.duration_us(o, d) for o in ops for d in allowed[o.id]}
    end = {
        o.id: start[o.id] + pulp.lpSum(dur[o.id, m[0]] * x[o.id, m] for m in machines[o.id])
        for o in ops
    }

    for o in ops:  # (place), (makespan)
        prob += pulp.lpSum(x[o.id, m] for m in machines[o.id]) == 1, f"place_{o.id}"
        prob += C >= end[o.id] + tail[o.id], f"makespan_{o.id}"

    for k, e in enumerate(inst.edges):  # (precede)
        prob += start[e.dst] >= end[e.src], f"precede_{k}"
        for d in allowed[e.src]:
            for f in allowed[e.dst]:
                delay = inst.transfer_us(d.id, f.id, e.bytes)
                if d.id != f.id and delay > 0:
                    prob += (
                        start[e.dst] >= end[e.src] + delay * (X[e.src, d.id] + X[e.dst, f.id] - 1),
                        f"transfer_{k}_{d.id}_{f.id}",
                    )

    closure = nx.transitive_closure_dag(inst.graph())
    positive = {o.id for o in ops if any(dur[o.id, d.id] > 0 for d in allowed[o.id])}
    y = {}
    for a, b in itertools.combinations([o.id for o in ops], 2):  # (disjunct)
        if (
            a not in positive
            or b not in positive
            or closure.has_edge(a, b)
            or closure.has_edge(b, a)
        ):
            continue
        shared = [m for m in machines[a] if m in set(machines[b])]
        if not shared:
            continue
        y[a, b] = pulp.LpVariable(f"y_{a}_{b}", cat="Binary")
        for m in shared:
            both = 2 - x[a, m] - x[b, m]
            prob += (
                start[b] >= end[a] - H * (1 - y[a, b]) - H * both,
                f"order_{a}_{b}_{m[0]}_{m[1]}",
            )
            prob += start[a] >= end[b] - H * y[a, b] - H * both, f"order_{b}_{a}_{m[0]}_{m[1]}"

    for d in inst.devices:
        on_d = [o for o in ops if (o.id, d.id) in X]
        if d.mem_capacity_kb is not None and on_d:  # (memory)
            prob += (
                pulp.lpSum(o.mem_kb * X[o.id, d.id] for o in on_d) <= d.mem_capacity_kb,
                f"memory_{d.id}",
            )
        if on_d:  # (load)
            prob += (
                pulp.lpSum(dur[o.id, d.id] * X[o.id, d.id] for o in on_d) <= d.slots * C,
                f"load_{d.id}",
            )
        for s in range(1, d.slots):  # (symmetry) slots in order of first use
            for k, o in enumerate(on_d):
                prob += (
                    x[o.id, (d.id, s)] <= pulp.lpSum(x[q.id, (d.id, s - 1)] for q in on_d[:k]),
                    f"slots_{d.id}_{s}_{o.id}",
                )
    for group in _identical_groups(inst):  # (symmetry) identical devices in order of first use
        for prev, cur in itertools.pairwise(group):
            for k, o in enumerate(ops):
                if (o.id, cur.id) in X:
                    prob += (
                        X[o.id, cur.id]
                        <= pulp.lpSum(X[q.id, prev.id] for q in ops[:k] if (q.id, prev.id) in X),
                        f"devices_{prev.id}_{cur.id}_{o.id}",
                    )

    if pattern == "memory":
        prob += pulp.lpSum(
            o.mem_kb * X[o.id, d.id] for o in ops for d in allowed[o.id] if d.kind == "gpu"
        )
    else:
        prob += C
    return Model(prob, x, start, C)


def solve(inst: DagInstance, options: SolveOptions) -> Result:
    pattern = options.objective or "latency"
    backend = options.backend or "cbc"
    if pattern == "memory":
        reason = _obviously_infeasible(inst, slo_us(inst, options.slo_ms))
        if reason:
            return Result("", "", backend, Status.INFEASIBLE, message=reason)
    mdl = build(inst, options)
    out = solve_pulp(mdl.prob, options, backend)
    stats = {"variables": len(mdl.prob.variables()), "constraints": len(mdl.prob.constraints)}
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        msg = out.message
        if out.status == Status.INFEASIBLE:
            msg = (
                f"no schedule meets the SLO {slo_us(inst, options.slo_ms) / 1000:g} ms (proven by the MILP)"
                if pattern == "memory"
                else "no schedule satisfies the memory capacities (proven by the MILP)"
            )
        return Result("", "", backend, out.status, bound=out.bound, message=msg, stats=stats)
    machine = {
        o.id: next(m for (i, m), v in mdl.x.items() if i == o.id and v.value() > 0.5)
        for o in inst.operators
    }
    start = _earliest_starts(inst, machine, {o.id: mdl.start[o.id].value() for o in inst.operators})
    makespan = max(
        start[o.id] + inst.duration_us(o, inst.device(machine[o.id][0])) for o in inst.operators
    )
    kinds = {d.id: d.kind for d in inst.devices}
    gpu_mem = sum(o.mem_kb for o in inst.operators if kinds[machine[o.id][0]] == "gpu")
    objective = (gpu_mem if pattern == "memory" else makespan) / 1000
    bound = None if out.bound is None else min(out.bound / 1000, objective)
    solution = {
        "pattern": pattern,
        "slo_ms": slo_us(inst, options.slo_ms) / 1000 if pattern == "memory" else None,
        "schedule": {
            o.id: {"device": machine[o.id][0], "start_ms": start[o.id] / 1000}
            for o in inst.operators
        },
    }
    stats["makespan_ms"] = makespan / 1000
    return Result(
        "",
        "",
        backend,
        out.status,
        objective=objective,
        bound=bound,
        solution=solution,
        stats=stats,
    )


def _earliest_starts(
    inst: DagInstance, machine: dict[str, tuple[str, int]], solver_start: dict[str, float]
) -> dict[str, int]:
    """Earliest integral starts keeping the MILP's machines and its order on each machine."""
    dur = {o.id: inst.duration_us(o, inst.device(machine[o.id][0])) for o in inst.operators}
    topo = {op: k for k, op in enumerate(nx.topological_sort(inst.graph()))}
    g = nx.DiGraph()
    g.add_nodes_from(dur)
    for e in inst.edges:
        g.add_edge(
            e.src,
            e.dst,
            w=dur[e.src] + inst.transfer_us(machine[e.src][0], machine[e.dst][0], e.bytes),
        )
    by_machine: dict[tuple[str, int], list[str]] = {}
    for op, m in machine.items():
        if dur[op] > 0:
            by_machine.setdefault(m, []).append(op)
    for seq in by_machine.values():
        seq.sort(key=lambda op: (round(solver_start[op]), topo[op]))
        for a, b in itertools.pairwise(seq):
            g.add_edge(a, b, w=max(dur[a], g.edges[a, b]["w"] if g.has_edge(a, b) else 0))
    start: dict[str, int] = {}
    for v in nx.topological_sort(g):
        start[v] = max((start[u] + g.edges[u, v]["w"] for u in g.predecessors(v)), default=0)
    return start


def _serial(inst: DagInstance, allowed) -> int:
    return sum(max(inst.duration_us(o, d) for d in allowed[o.id]) for o in inst.operators) + sum(
        max(inst.transfer_us(a.id, b.id, e.bytes) for a in inst.devices for b in inst.devices)
        for e in inst.edges
    )


def export(inst: DagInstance, options: SolveOptions, path: str) -> None:
    write_pulp(build(inst, options).prob, path)
