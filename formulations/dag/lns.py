r"""F1 large-neighbourhood search around the CP-SAT model (``--param lns=on|off|auto`` of `cpsat`).

For graphs past a few hundred operators the full model's search barely moves from its warm start
in a minute. The LNS improves that incumbent; the answer's bound and status still come from the
full model (formulations/dag/cpsat.py), so an LNS schedule is never ``optimal`` by itself.

Loop (seeded ``random.Random(seed)``; the incumbent starts as the best accepted warm start,
left-shifted, its identical devices relabelled in order of first use as the model's symmetry
breaking wants):
  1. choose a window W of about N operators: alternately a run of consecutive operators in the
     incumbent's start order (a time window) and the operators on a random stretch of the
     critical chain plus their graph neighbours;
  2. in a copy of the full model fix, for every operator outside W, its device
     (x_{i,dev(i)} = 1) and, on each one-slot device, the order of those operators
     (S_b ≥ E_a for consecutive a, b of the incumbent); an operator outside W that ends before
     W's first start keeps its start and end too; add C ≤ C_inc − 1 (model units); hint the
     incumbent (every restriction keeps it feasible, so only C ≤ C_inc − 1 can cut it off);
  3. solve with one worker and a deterministic work limit (``max_deterministic_time``) cut to the
     time left; a schedule found is left-shifted and accepted if its makespan is smaller;
  4. N grows by 25 % when the window was solved to the end (improved-and-proven or proven
     without a better schedule) and shrinks by 20 % otherwise (between 8 and |I|).
It stops when the budget (seconds, cut to the solve layer's deadline) or the iteration limit
(``--param lns_iterations=N``) is spent, when a window was the whole graph and was solved to the
end, or when the incumbent meets the model's static bound (the full model then proves it). Given the seed and an iteration limit that ends the loop
before the time does, the answer is deterministic (each sub-solve is single-threaded and
stopped by work, not by time).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from typing import Any

from optgap.formulations.dag.instance import DagInstance
from optgap.formulations.dag.schedule import Incumbent, shifted
from optgap.solvers.backends import remaining, solve_cpsat
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

LNS_FROM_OPS = 200  # "auto": LNS from this many operators on
SUB_DTIME = 0.3  # deterministic work per window (CP-SAT deterministic seconds; 0.3 beat 1.0)
SUB_WALL_S = 5.0  # and at most this many wall seconds
N0, N_MIN = 40, 8


@dataclass
class LnsStats:
    iterations: int = 0
    improvements: int = 0
    start_ms: float = 0.0
    end_ms: float = 0.0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "iterations": self.iterations,
            "improvements": self.improvements,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "seconds": round(self.seconds, 3),
        }


def use_lns(options: SolveOptions, n_ops: int) -> bool:
    """``--param lns=on|off|auto`` (default auto: on from LNS_FROM_OPS operators)."""
    raw = options.param("lns", "auto")
    if raw not in ("on", "off", "auto"):
        raise InputError(f"--param lns={raw}: expected on, off or auto")
    return raw == "on" or (raw == "auto" and n_ops >= LNS_FROM_OPS)


def iteration_limit(options: SolveOptions) -> int | None:
    raw = options.param("lns_iterations")
    if raw is None:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise InputError(f"--param lns_iterations={raw}: expected a whole number") from None
    if n < 0:
        raise InputError(f"--param lns_iterations={raw}: must be >= 0")
    return n


def improve(
    inst: DagInstance, options: SolveOptions, incumbent: Incumbent, budget_s: float
) -> tuple[Incumbent, LnsStats]:
    """The LNS above, from ``incumbent`` (latency pattern); returns the best schedule found."""
    from optgap.formulations.dag import cpsat

    t0 = time.perf_counter()
    stats = LnsStats(start_ms=incumbent.makespan / 1000)
    limit = iteration_limit(options)
    sub_options = replace(options, params=(("lp_bound", "off"), ("hint", "off")), hint=False)
    best = shifted(inst, incumbent.method, cpsat.canonical_devices(inst, incumbent.device),
                   incumbent.start, incumbent.transfer)  # fmt: skip
    base = cpsat.build(inst, sub_options, best)
    t_index = {k: v.Index() for k, v in base.transfer.items()}  # lane transfers (shared links)
    g = base.g_time
    ops = [o.id for o in inst.operators]
    rng = random.Random(int(options.seed))
    succ: dict[str, list[str]] = {i: [] for i in ops}
    pred: dict[str, list[str]] = {i: [] for i in ops}
    for e in inst.edges:
        succ[e.src].append(e.dst)
        pred[e.dst].append(e.src)
    one_slot = {d.id for d in inst.devices if d.slots == 1}
    size = min(N0, len(ops))
    x_index = {k: v.Index() for k, v in base.x.items()}
    x_of: dict[str, list[tuple[str, int]]] = {i: [] for i in ops}
    for (i, d), idx in x_index.items():
        x_of[i].append((d, idx))
    s_index = {i: v.Index() for i, v in base.start.items()}
    e_index = {i: v.Index() for i, v in base.end.items()}
    c_index = base.makespan.Index()

    def left() -> float:
        return min(budget_s - (time.perf_counter() - t0), remaining(options))

    while (limit is None or stats.iterations < limit) and left() > 0.2:
        stats.iterations += 1
        window = _window(best, ops, succ, pred, size, rng, stats.iterations)
        m = base.model.clone()
        proto = m.Proto()
        for i in ops:
            if i in window:
                continue
            for d, idx in x_of[i]:
                v = 1 if d == best.device[i] else 0
                proto.variables[idx].domain.clear()
                proto.variables[idx].domain.extend([v, v])
        # operators that end before the window starts keep their times too (fewer variables)
        t_lo = min(best.start[i] for i in window)
        for i in ops:
            if i not in window and best.end[i] <= t_lo:
                for idx, v in ((s_index[i], best.start[i] // g), (e_index[i], best.end[i] // g)):
                    proto.variables[idx].domain.clear()
                    proto.variables[idx].domain.extend([v, v])
        for d in one_slot:
            chain = sorted(
                (i for i in ops if i not in window and best.device[i] == d),
                key=lambda i: (best.start[i], best.end[i]),
            )
            for a, b in zip(chain, chain[1:], strict=False):
                m.Add(m.get_int_var_from_proto_index(s_index[b])
                      >= m.get_int_var_from_proto_index(e_index[a]))  # fmt: skip
        cvar = m.get_int_var_from_proto_index(c_index)
        m.Add(cvar <= best.makespan // g - 1)
        m.ClearHints()
        for i in ops:
            m.AddHint(m.get_int_var_from_proto_index(s_index[i]), best.start[i] // g)
            m.AddHint(m.get_int_var_from_proto_index(e_index[i]), best.end[i] // g)
        for (i, d), idx in x_index.items():
            m.AddHint(m.get_bool_var_from_proto_index(idx), int(best.device[i] == d))
        m.AddHint(cvar, best.makespan // g)
        wall = min(SUB_WALL_S, left())
        outcome, solver = solve_cpsat(
            m,
            replace(options, time_limit_s=wall),
            parameters={"num_workers": 1, "max_deterministic_time": SUB_DTIME},
        )
        if outcome.status in (Status.OPTIMAL, Status.FEASIBLE):
            device = {i: next(d for d, idx in x_of[i] if solver.Value(proto_var(m, idx)))
                      for i in ops}  # fmt: skip
            raw = {i: solver.Value(m.get_int_var_from_proto_index(s_index[i])) * g for i in ops}
            raw_t = {k: solver.Value(m.get_int_var_from_proto_index(idx)) * g
                     for k, idx in t_index.items()}  # fmt: skip
            cand = shifted(inst, "cpsat-lns", cpsat.canonical_devices(inst, device), raw, raw_t)
            if cand.makespan < best.makespan:
                best = cand
                stats.improvements += 1
        closed = outcome.status in (Status.OPTIMAL, Status.INFEASIBLE)
        if (closed and len(window) == len(ops)) or best.makespan // g <= base.lower_bound:
            break  # nothing left to gain: the whole model was solved, or the bound is reached
        size = min(len(ops), int(size * 1.25) + 1) if closed else max(N_MIN, int(size * 0.8))
    stats.end_ms = best.makespan / 1000
    stats.seconds = time.perf_counter() - t0
    return best, stats


def proto_var(m: Any, idx: int) -> Any:
    return m.get_bool_var_from_proto_index(idx)


def _window(best: Incumbent, ops, succ, pred, size: int, rng: random.Random, k: int) -> set:
    """Alternately a run of consecutive operators by start, and a stretch of a critical chain
    with its neighbours (see the module docstring)."""
    if size >= len(ops):
        return set(ops)
    if k % 2:
        order = sorted(ops, key=lambda i: (best.start[i], i))
        first = rng.randrange(len(order) - size + 1)
        return set(order[first : first + size])
    # a critical chain: walk back from the last-finishing operator through the predecessor (or
    # device predecessor) that ends latest
    last = max(ops, key=lambda i: (best.end[i], i))
    chain, seen = [last], {last}
    by_device: dict[str, list[str]] = {}
    for i in sorted(ops, key=lambda i: best.start[i]):
        by_device.setdefault(best.device[i], []).append(i)
    while True:
        i = chain[-1]
        cands = [j for j in pred[i] if j not in seen]
        cands += [
            j for j in by_device[best.device[i]] if best.end[j] <= best.start[i] and j not in seen
        ]
        if not cands:
            break
        chain.append(max(cands, key=lambda j: (best.end[j], j)))
        seen.add(chain[-1])
        if best.start[chain[-1]] == 0:
            break
    first = rng.randrange(len(chain))
    out: set[str] = set()
    for i in chain[first:] + chain[:first]:
        for j in (i, *pred[i], *succ[i]):
            if len(out) < size:
                out.add(j)
        if len(out) >= size:
            break
    while len(out) < size:  # fill up with random operators
        out.add(rng.choice(ops))
    return out
