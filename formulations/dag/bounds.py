r"""F1 lower bounds on the makespan, independent of CP-SAT (valid for every feasible schedule).

Notation as in ``formulations/dag/cpsat.py``: operators I, devices D with k_d slots, D_i the
devices operator i may use, p_{i,d} its duration on d (µs, related machines included: speeds and
per-device times are already in p), c_{u,v}(d, e) the transfer delay of edge (u, v) from d to e
(0 if d = e), f_i = min_{d ∈ D_i} p_{i,d}. Memory capacities only remove schedules, so a bound
that ignores them stays valid.

head_i / tail_i  longest path of fastest durations before / after i, transfers free: every
  schedule starts i no earlier than head_i and needs tail_i after i ends.

1. Critical path     C ≥ max_i head_i + f_i + tail_i.
2. Work              for a device set G (all, each kind, each device): the operators with
                     D_i ⊆ G fill at least Σ f_i of G's Σ_{d∈G} k_d slots: C ≥ ⌈Σ f_i / Σ k_d⌉.
3. Energetic window  (heads, tails and work together) for thresholds a, b: every operator with
                     head_i ≥ a and tail_i ≥ b runs inside [a, C − b], on some slot, for at
                     least f_i: C ≥ a + b + ⌈Σ_{head_i ≥ a, tail_i ≥ b} f_i / Σ_d k_d⌉ (a, b range
                     over the heads and tails that occur; a = b = 0 is bound 2 on all devices).
4. LP relaxation     (HiGHS) min C over x_{i,d} ∈ [0, 1], S_i ≥ head_i, z_{u,v,d} ∈ [0, 1]:
                       Σ_{d ∈ D_i} x_{i,d} = 1                                      ∀ i
                       S_v ≥ S_u + Σ_d p_{u,d} x_{u,d} + c⁻_{uv} (1 − Σ_d z_{u,v,d})   ∀ (u, v)
                       z_{u,v,d} ≤ x_{u,d},  z_{u,v,d} ≤ x_{v,d}          ∀ (u, v), d ∈ D_u ∩ D_v
                       C ≥ S_i + Σ_d p_{i,d} x_{i,d} + tail_i                         ∀ i
                       Σ_i p_{i,d} x_{i,d} ≤ k_d C                                    ∀ d
                       k_d S_i ≥ Σ_{a ∈ A(i)} p_{a,d} x_{a,d}                         ∀ i, d
                       k_d (C − S_i − Σ_e p_{i,e} x_{i,e}) ≥ Σ_{b ∈ B(i)} p_{b,d} x_{b,d}  ∀ i, d
                       C ≥ Σ_{(u,v), (d,e) on L} c_{u,v}(d, e) w_{uv,de},
                           w_{uv,de} ≥ x_{u,d} + x_{v,e} − 1, w ∈ [0, 1]        ∀ shared lane L
                     with c⁻_{uv} = min_{d ≠ e} c_{u,v}(d, e) over allowed pairs, A(i) / B(i)
                     the ancestors / descendants of i. Any schedule
                     gives a feasible point (x its placement, S its starts, z_{u,v,d} = 1 iff both
                     ends run on d: then the transfer is free and Σ z = 1; otherwise Σ z = 0 and
                     the delay is ≥ c⁻; every ancestor of i ends before S_i, so those on d fill
                     at most k_d·S_i of d's slot time, and the descendants run inside [E_i, C]),
                     so the LP optimum is ≤ every makespan. The last two rows ("work rows") are
                     what the single GPU adds to a path bound: a CPU operator's GPU ancestors run
                     one after another, not in parallel. The lane row: a shared link's transfers
                     run one at a time (w = 1 when the edge crosses the lane that way round).
                     A work row is left out when it is implied:
                     a predecessor u of i with A(i) = A(u) ∪ {u} (S_i ≥ S_u + p_u ≥ u's row), or a
                     successor with B(i) = B(v) ∪ {v}. The value is rounded up after subtracting a
                     floating-point tolerance (``LP_SLACK``).
5. Placement MIP     the same rows with x_{i,d} ∈ {0, 1} (``PlacementMip``: HiGHS branch and
                     bound, in a thread; work rows for one-slot devices only). The order on a
                     device is still free, so this is a relaxation too; HiGHS's dual bound at any
                     stop (time limit, interrupt, node limit) is a lower bound on its optimum and
                     so on every makespan. Measured (README F1): 0.2–1.3 % below the proven optimum
                     on 60/100-operator graphs, 2.8–4.8 % on 150-operator ones.

``lower_bound(inst)`` is the best of bounds 1–4 in µs (bound 5 runs beside the LNS in cpsat,
``--param mip_bound``); the CP-SAT model takes ⌈LB / g⌉ (its time unit
g µs: every model solution's makespan, times g, is a schedule's makespan) as C's lower bound.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from optgap.formulations.dag.instance import DagInstance

LP_SLACK = 1e-6  # relative tolerance subtracted from the LP value before rounding up
LP_OPS_MAX = 20_000  # above this many operators the LP is skipped (static bounds only)
WORK_ROWS_OPS_MAX = 3_000  # the ancestor/descendant work rows have O(n²) entries: up to here,
WORK_ROWS_ENTRIES_MAX = 2_500_000  # and while (ancestor + descendant pairs) x devices is below
# this (1000 generated operators: 1.8M entries, LP 2.3 s; 2000: 3.8M, 11.6 s)
# HiGHS MIP settings for bound 5, chosen on the 300-operator benchmark graphs (README F1): no
# primal heuristics (the LNS finds schedules; HiGHS is here for its dual bound) and pseudocost
# branching once a variable has two strong-branching samples (default 8: 73.09 vs 73.55 ms on
# seed 1 in 30 s; 0 gave 71.11, 1 73.40, 4 73.14)
MIP_OPTIONS = {"mip_heuristic_effort": 0.0, "mip_pscost_minreliable": 2}


@dataclass(frozen=True)
class Bounds:
    """Lower bounds on the makespan in µs; ``lp`` is None when it was not computed."""

    critical_path: int
    work: int
    energetic: int
    lp: int | None = None
    mip: int | None = None  # bound 5, when it ran (cpsat: PlacementMip beside the LNS)

    @property
    def best(self) -> int:
        return max(self.critical_path, self.work, self.energetic, self.lp or 0, self.mip or 0)

    def as_ms(self) -> dict[str, float | None]:
        return {
            "critical_path": self.critical_path / 1000,
            "work": self.work / 1000,
            "energetic": self.energetic / 1000,
            "lp": None if self.lp is None else self.lp / 1000,
            "mip": None if self.mip is None else self.mip / 1000,
        }


def fastest_times(inst: DagInstance) -> dict[str, int]:
    return {o.id: min(inst.duration_us(o, d) for d in inst.allowed(o)) for o in inst.operators}


def heads_tails(inst: DagInstance, f: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Longest paths of the durations ``f`` before (head) and after (tail) each operator."""
    order = inst.topological_order
    head = {i: 0 for i in order}
    tail = {i: 0 for i in order}
    succ: dict[str, list[str]] = {i: [] for i in order}
    for e in inst.edges:
        succ[e.src].append(e.dst)
    for i in order:
        for j in succ[i]:
            head[j] = max(head[j], head[i] + f[i])
    for i in reversed(order):
        for j in succ[i]:
            tail[i] = max(tail[i], f[j] + tail[j])
    return head, tail


def critical_path(inst: DagInstance) -> int:
    """Bound 1 (µs)."""
    f = fastest_times(inst)
    head, tail = heads_tails(inst, f)
    return max(head[i] + f[i] + tail[i] for i in f)


def work(inst: DagInstance) -> int:
    """Bound 2 (µs): the operators confined to a device set over its slots."""
    allowed = {o.id: {d.id for d in inst.allowed(o)} for o in inst.operators}
    f = fastest_times(inst)
    sets = [tuple(inst.devices)]
    sets += [tuple(d for d in inst.devices if d.kind == k) for k in ("cpu", "gpu")]
    sets += [(d,) for d in inst.devices]
    best = 0
    for group in sets:
        ids = {d.id for d in group}
        if not ids:
            continue
        need = sum(f[i] for i in f if allowed[i] <= ids)
        best = max(best, -(-need // sum(d.slots for d in group)))
    return best


def energetic(inst: DagInstance) -> int:
    """Bound 3 (µs): windows [a, C − b] from the heads and tails, total fastest work inside."""
    f = fastest_times(inst)
    head, tail = heads_tails(inst, f)
    k = sum(d.slots for d in inst.devices)
    ops = sorted(f, key=lambda i: -head[i])  # decreasing head: prefixes are {head >= a}
    tails = sorted({tail[i] for i in f})
    if len(tails) > 64:  # keep it O(n * 64): a sample of thresholds is still valid
        step = len(tails) / 64
        tails = sorted({tails[int(j * step)] for j in range(64)} | {0})
    best = 0
    for b in tails:
        acc, inside = 0, False
        for i in ops:  # a = head_i: the operators with head >= a are the prefix
            if tail[i] >= b:
                acc += f[i]
                inside = True
            if inside:  # the window's set is not empty (else the bound says nothing)
                best = max(best, head[i] + b + -(-acc // k))
    return best


def reach(inst: DagInstance) -> tuple[list[str], Any]:
    """Operators in file order and the n × n matrix R, R[u, v] = v is a descendant of u."""
    import numpy as np

    ops = [o.id for o in inst.operators]
    index = {i: k for k, i in enumerate(ops)}
    succ: dict[str, list[str]] = {i: [] for i in ops}
    for e in inst.edges:
        succ[e.src].append(e.dst)
    r = np.zeros((len(ops), len(ops)), dtype=bool)
    for i in reversed(inst.topological_order):
        row = r[index[i]]
        for j in succ[i]:
            row[index[j]] = True
            row |= r[index[j]]
    return ops, r


@dataclass
class _Relaxation:
    """The rows of bound 4 (a HiGHS model, columns scaled by ``scale`` µs) and its columns."""

    lp: Any
    col: dict[tuple, int]
    scale: int
    work_rows: bool  # whether the work rows are in it (not past the size limits)


def _relaxation(
    inst: DagInstance,
    upper_us: int | None = None,
    *,
    all_devices: bool = True,
    work_rows: bool = True,
) -> _Relaxation:
    """Bound 4's rows; ``all_devices=False``: work rows only for one-slot devices (the MIP: on
    k_d > 1 slots a row counts 1/k_d of the work and rarely binds, and fewer rows are more nodes:
    measured on the 300-operator graphs, 73.38 vs 73.03 and 70.40 vs 70.07 ms in 30 s)."""
    import highspy
    import numpy as np

    ops = [o.id for o in inst.operators]
    allowed = {o.id: inst.allowed(o) for o in inst.operators}
    p = {(o.id, d.id): inst.duration_us(o, d) for o in inst.operators for d in allowed[o.id]}
    f = {i: min(p[i, d.id] for d in allowed[i]) for i in ops}
    head, tail = heads_tails(inst, f)
    scale = max(1, max(p.values()))  # columns in units of the longest duration: well scaled

    lo: list[float] = []
    hi: list[float] = []
    col: dict[tuple, int] = {}

    def var(key: tuple, lb: float, ub: float) -> int:
        col[key] = len(lo)
        lo.append(lb)
        hi.append(ub)
        return col[key]

    inf = highspy.kHighsInf
    c = var(("C",), 0.0, inf if upper_us is None else upper_us / scale)
    for i in ops:
        var(("S", i), head[i] / scale, inf)
        for d in allowed[i]:
            var(("x", i, d.id), 0.0, 1.0)
    rows_lo: list[float] = []
    rows_hi: list[float] = []
    starts: list[int] = []
    idx: list[int] = []
    val: list[float] = []

    def row(terms: list[tuple[int, float]], rlo: float, rhi: float) -> None:
        starts.append(len(idx))
        for j, v in terms:
            idx.append(j)
            val.append(v)
        rows_lo.append(rlo)
        rows_hi.append(rhi)

    def duration(i: str) -> list[tuple[int, float]]:  # -Σ_d p_{i,d} x_{i,d}
        return [(col["x", i, d.id], -p[i, d.id] / scale) for d in allowed[i]]

    for i in ops:
        row([(col["x", i, d.id], 1.0) for d in allowed[i]], 1.0, 1.0)
        # C - S_i - Σ p x >= tail_i
        row([(c, 1.0), (col["S", i], -1.0), *duration(i)], tail[i] / scale, inf)
    for e in inst.edges:
        u, v = e.src, e.dst
        pairs = [
            inst.transfer_us(a.id, b.id, e.bytes)
            for a in allowed[u]
            for b in allowed[v]
            if a.id != b.id
        ]
        cmin = min(pairs) if pairs else 0
        terms = [(col["S", v], 1.0), (col["S", u], -1.0), *duration(u)]
        common = [d.id for d in allowed[u] if (v, d.id) in p]
        if cmin > 0 and common:
            for d in common:
                z = var(("z", u, v, d), 0.0, 1.0)
                row([(z, 1.0), (col["x", u, d], -1.0)], -inf, 0.0)
                row([(z, 1.0), (col["x", v, d], -1.0)], -inf, 0.0)
                terms.append((z, cmin / scale))
        # S_v - S_u - Σ p x + c⁻ Σ z >= c⁻
        row(terms, cmin / scale, inf)
    for d in inst.devices:
        terms = [(col["x", i, d.id], p[i, d.id] / scale) for i in ops if (i, d.id) in p]
        if terms:
            row([*terms, (c, -float(d.slots))], -inf, 0.0)
    # lane load: the transfers over a shared link run one at a time inside [0, C];
    # w_{uv,de} ≥ x_{u,d} + x_{v,e} − 1 is 1 when the edge crosses the lane from d to e
    load: dict[frozenset[str], list[tuple[int, float]]] = {}
    for e, a, b, lane, delay in inst.lane_crossings():
        w = var(("w", e.src, e.dst, a.id, b.id), 0.0, 1.0)
        row([(w, 1.0), (col["x", e.src, a.id], -1.0), (col["x", e.dst, b.id], -1.0)], -1.0, inf)
        load.setdefault(lane, []).append((w, delay / scale))
    for terms in load.values():
        row([*terms, (c, -1.0)], -inf, 0.0)
    order, r = reach(inst) if work_rows and len(ops) <= WORK_ROWS_OPS_MAX else ([], None)
    with_rows = r is not None and 2 * int(r.sum()) * len(inst.devices) <= WORK_ROWS_ENTRIES_MAX
    if with_rows:
        # ancestors' work on d fits in [0, S_i], descendants' in [E_i, C], on d's k_d slots
        index = {i: k for k, i in enumerate(order)}
        n_anc, n_desc = r.sum(axis=0), r.sum(axis=1)
        preds: dict[str, list[int]] = {i: [] for i in order}
        succs: dict[str, list[int]] = {i: [] for i in order}
        for e in inst.edges:
            preds[e.dst].append(index[e.src])
            succs[e.src].append(index[e.dst])
        for k, i in enumerate(order):
            # a row is implied (and left out) when one predecessor u has every other ancestor
            # of i among its own (anc(i) = anc(u) ∪ {u}): S_i ≥ S_u + p_u ≥ u's row + p_u x_u;
            # likewise a successor v with desc(i) = desc(v) ∪ {v}
            anc_implied = any(n_anc[u] + 1 == n_anc[k] for u in preds[i])
            desc_implied = any(n_desc[v] + 1 == n_desc[k] for v in succs[i])
            for d in inst.devices:
                if d.slots > 1 and not all_devices:
                    continue
                for before, side in ((True, r[:, k]), (False, r[k])):
                    if anc_implied if before else desc_implied:
                        continue
                    terms = [
                        (col["x", order[j], d.id], -p[order[j], d.id] / (scale * d.slots))
                        for j in np.flatnonzero(side)
                        if (order[j], d.id) in p and p[order[j], d.id] > 0
                    ]
                    if not terms:
                        continue
                    if before:  # S_i - Σ_anc p x / k_d >= 0
                        row([(col["S", i], 1.0), *terms], 0.0, inf)
                    else:  # C - S_i - Σ p_i x_i - Σ_desc p x / k_d >= 0
                        row([(c, 1.0), (col["S", i], -1.0), *duration(i), *terms], 0.0, inf)

    lp = highspy.HighsLp()
    n = len(lo)
    lp.num_col_ = n
    lp.num_row_ = len(rows_lo)
    cost = np.zeros(n)
    cost[c] = 1.0
    lp.col_cost_ = cost
    lp.col_lower_ = np.array(lo)
    lp.col_upper_ = np.array(hi)
    lp.row_lower_ = np.array(rows_lo)
    lp.row_upper_ = np.array(rows_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array([*starts, len(idx)], dtype=np.int32)
    lp.a_matrix_.index_ = np.array(idx, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(val)
    return _Relaxation(lp, col, scale, with_rows)


def _highs(time_limit_s: float) -> Any:
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.01)))
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    return h


def _round_up(value_scaled: float, scale: int) -> int:
    return max(0, math.ceil(value_scaled * scale * (1 - LP_SLACK) - 1e-3))


def lp_bound(inst: DagInstance, time_limit_s: float = 10.0) -> int | None:
    """Bound 4 (µs), or None if HiGHS did not prove the LP optimum in time. The work rows have
    O(n²) entries (26 s of LP at 3000 operators): if the LP with them is not solved within the
    limit, the LP without them gets what is left of it (at least a second)."""
    t0 = time.perf_counter()
    rel = _relaxation(inst)
    value = _solve_lp(rel, time_limit_s - (time.perf_counter() - t0))
    if value is None and rel.work_rows:
        left = max(1.0, time_limit_s - (time.perf_counter() - t0))
        value = _solve_lp(_relaxation(inst, work_rows=False), left)
    return value


def _solve_lp(rel: _Relaxation, time_limit_s: float) -> int | None:
    import highspy

    h = _highs(time_limit_s)
    h.passModel(rel.lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return _round_up(h.getInfo().objective_function_value, rel.scale)


_RUNNING: weakref.WeakSet = weakref.WeakSet()  # MIPs whose thread may still be running


@atexit.register
def _stop_running() -> None:
    """A HiGHS thread still running when the interpreter exits aborts the process ("terminate
    called without an active exception"): interrupt and join every one first (Ctrl-C paths)."""
    for mip in list(_RUNNING):
        mip.result()


class PlacementMip:
    """Bound 5: the rows of bound 4 with x integral, solved by HiGHS branch and bound in a
    background thread (HiGHS releases the GIL, so the LNS's single CP-SAT worker and HiGHS use
    one core each). ``result()`` stops it and returns the proven part: HiGHS's dual bound.

    ``upper_us``: a makespan some schedule reaches (C ≤ it cuts no schedule of the relaxation's
    optimum away: the schedule itself is a feasible point), so propagation and pruning start from it.
    """

    def __init__(
        self,
        inst: DagInstance,
        time_limit_s: float,
        upper_us: int | None = None,
        *,
        node_limit: int | None = None,  # (tests: a deterministic early stop)
    ):
        import highspy

        rel = _relaxation(inst, upper_us, all_devices=False)
        self.scale = rel.scale
        self.stats: dict[str, Any] = {}
        h = _highs(time_limit_s)
        h.setOptionValue("mip_rel_gap", 0.0)
        for key, value in MIP_OPTIONS.items():
            h.setOptionValue(key, value)
        if node_limit is not None:
            h.setOptionValue("mip_max_nodes", int(node_limit))
        integrality = [highspy.HighsVarType.kContinuous] * rel.lp.num_col_
        for k, j in rel.col.items():
            if k[0] == "x":
                integrality[j] = highspy.HighsVarType.kInteger
        rel.lp.integrality_ = integrality  # (pybind11 hands out copies: assign the whole list)
        h.passModel(rel.lp)
        h.HandleUserInterrupt = True  # cancelSolve() then stops it at HiGHS's next callback
        self._t0 = time.perf_counter()
        self._h = h
        # our own thread: highspy's startSolve/joinSolve share class-level locks between all
        # Highs objects and exit the process on repeated Ctrl-C
        self._seconds = 0.0
        self._done: tuple[int | None] | None = None  # result(), once taken
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        _RUNNING.add(self)

    def _run(self) -> None:
        self._h.run()
        self._seconds = time.perf_counter() - self._t0

    def wait(self, timeout_s: float | None = None) -> None:
        """Let the search run to its end (optimum, time limit), or for at most ``timeout_s``
        (HiGHS may overrun its own time limit inside the root node: 9 s for 2.5 s at 300
        operators, so a caller with a deadline waits with a timeout and then calls ``result``,
        which interrupts it)."""
        self._thread.join(timeout_s)

    def result(self) -> int | None:
        """Stop the search (if still running) and return ⌈dual bound⌉ in µs, or None (the same
        value on every later call)."""
        import highspy

        if self._done is not None:
            return self._done[0]
        self._h.cancelSolve()
        self._thread.join()
        _RUNNING.discard(self)
        status = self._h.getModelStatus()
        info = self._h.getInfo()
        self.stats = {
            "status": self._h.modelStatusToString(status),
            "nodes": int(info.mip_node_count),
            "seconds": round(self._seconds, 3),
        }
        dual = info.mip_dual_bound
        ok = status in (
            highspy.HighsModelStatus.kOptimal,
            highspy.HighsModelStatus.kTimeLimit,
            highspy.HighsModelStatus.kInterrupt,
            highspy.HighsModelStatus.kSolutionLimit,  # (the node limit)
        )
        value = _round_up(dual, self.scale) if ok and math.isfinite(dual) else None
        self._done = (value,)
        return value


def bounds(inst: DagInstance, *, lp: bool = True, lp_time_limit_s: float = 10.0) -> Bounds:
    """Every bound above (the LP only if asked and the instance is not huge)."""
    lp_value = None
    if lp and len(inst.operators) <= LP_OPS_MAX:
        lp_value = lp_bound(inst, lp_time_limit_s)
    return Bounds(critical_path(inst), work(inst), energetic(inst), lp_value)


def lower_bound(inst: DagInstance, *, lp: bool = True, lp_time_limit_s: float = 10.0) -> int:
    """The best valid lower bound on the makespan (µs)."""
    return bounds(inst, lp=lp, lp_time_limit_s=lp_time_limit_s).best
