"""AARC (arXiv 2502.20846): Graph-Centric Scheduler + Priority Configurator, through the oracle.

Every function starts at the top configuration (most CPU, most memory; AARC's prototype starts
all containers at one generous allocation) and is profiled once.

**Graph-Centric Scheduler** ``schedule(H, budget, entries, exits)``: take the critical path of
the sub-workflow H (longest path by the current runtimes from an entry to an exit), configure its
not yet configured functions with the Priority Configurator under the budget left by the
configured ones, then recurse into every *detour*: the functions of H off the critical path lying
on paths between two critical-path functions a and b, with the sub-SLO the critical path leaves
between them (the runtimes of the critical-path functions strictly between a and b). Virtual
source and sink ends make the functions before the first or after the last critical-path
function detours too (the prototype only recurses between two real ones, which leaves such
functions at the starting allocation).

**Priority Configurator** ``configure(U, budget)``: a max-heap of moves "lower f's CPU one level"
and "lower f's memory one level" (coupled mode: memory only, CPU follows), keyed by the cost the
move saves, measured by profiling the lowered configuration. Pop the top move; if the path's
runtime sum stays within the budget (and, as in the prototype, the function's cost rises by at
most 5 %) apply it and push that function's next move in the same dimension; otherwise roll it
back and drop the dimension (the prototype retries three times to ride out measurement noise;
the oracle is deterministic, so a retry would return the same runtime). A move computed for a
configuration that has since changed is re-profiled when popped.

Overlapping detours can leave a path over the SLO (the configured functions of one detour may be
too slow for the next). AARC has no step for that; here a final *repair* (ours, counted in
``stats.repairs``) reverts the function on the critical path that gains most back to its
starting configuration until the SLO holds.
"""

from __future__ import annotations

import heapq

from optgap.heuristics.workflow.oracle import Blind, Oracle, check_params, finish, setup
from optgap.solvers.result import Result, SolveOptions

TOLERANCE = 0.05  # the prototype accepts a move that raises the function's cost by <= 5 %


class _Aarc:
    def __init__(self, blind: Blind, oracle: Oracle) -> None:
        self.b, self.o = blind, oracle
        self.top_i = len(blind.cpu_grid) - 1
        self.top_j = len(blind.mem_grid_mb) - 1
        if blind.mode == "coupled":
            self.top_i = blind.coupled_cpu(self.top_j)
        n = blind.n
        self.cfg = [(self.top_i, self.top_j)] * n
        self.rt = [0] * n
        self.start_rt = [0] * n
        self.scheduled = [False] * n
        self.heap_pushes = 0

    def cost(self, f: int) -> float:
        i, j = self.cfg[f]
        return self.b.cost(self.rt[f], i, j)

    def lower(self, f: int, dim: str) -> tuple[int, int] | None:
        i, j = self.cfg[f]
        if self.b.mode == "coupled":
            return (self.b.coupled_cpu(j - 1), j - 1) if dim == "mem" and j > 0 else None
        if dim == "cpu":
            return (i - 1, j) if i > 0 else None
        return (i, j - 1) if j > 0 else None

    # ---------------------------------------------------------------- Priority Configurator
    def configure(self, U: list[int], budget: int) -> None:
        total = sum(self.rt[f] for f in U)
        if total > budget:
            return  # already over: nothing a lowering move can fix
        heap: list = []
        dims = ("mem",) if self.b.mode == "coupled" else ("cpu", "mem")

        def push(f: int, dim: str) -> None:
            new = self.lower(f, dim)
            if new is None:
                return
            t = self.o.profile(f, *new)
            if t is None:
                return  # out of memory: this dimension is exhausted
            saving = self.cost(f) - self.b.cost(t, *new)
            self.heap_pushes += 1
            heapq.heappush(heap, (-saving, self.heap_pushes, f, dim, self.cfg[f], new, t))

        for f in U:
            for dim in dims:
                push(f, dim)
        while heap:
            _, _, f, dim, base, new, t = heapq.heappop(heap)
            if self.cfg[f] != base:  # stale: f moved in the other dimension meanwhile
                push(f, dim)
                continue
            new_cost = self.b.cost(t, *new)
            if total - self.rt[f] + t > budget or new_cost > self.cost(f) * (1 + TOLERANCE):
                continue  # roll back: drop this dimension of f
            total += t - self.rt[f]
            self.cfg[f], self.rt[f] = new, t
            push(f, dim)

    # ---------------------------------------------------------------- Graph-Centric Scheduler
    def schedule(self, H: set[int], budget: int, entries: set[int], exits: set[int]) -> None:
        if not H:
            return
        cp = self._critical_path(H, entries, exits)
        U = [f for f in cp if not self.scheduled[f]]
        fixed = sum(self.rt[f] for f in cp if self.scheduled[f])
        self.configure(U, budget - fixed)
        for f in U:
            self.scheduled[f] = True
        pos = {f: k for k, f in enumerate(cp)}
        rest = H - set(cp)
        ends = [None, *cp, None]  # virtual source and sink around the critical path
        for p in range(len(ends)):
            for q in range(p + 1, len(ends)):
                a, b = ends[p], ends[q]
                D = self._detour(rest, a, b, entries, exits)
                if not D:
                    continue
                if a is None and b is None:
                    sub = budget
                elif a is None:
                    sub = sum(self.rt[f] for f in cp[: pos[b]])
                elif b is None:
                    sub = budget - sum(self.rt[f] for f in cp[: pos[a] + 1])
                else:
                    sub = sum(self.rt[f] for f in cp[pos[a] + 1 : pos[b]])
                sub_entries = D & (entries if a is None else set(self.b.succs[a]))
                sub_exits = D & (exits if b is None else set(self.b.preds[b]))
                self.schedule(D, sub, sub_entries, sub_exits)

    def _critical_path(self, H: set[int], entries: set[int], exits: set[int]) -> list[int]:
        best: dict[int, tuple[int, int | None]] = {}
        for v in self.b.topo:
            if v not in H:
                continue
            p = max(((best[u][0], -u) for u in self.b.preds[v] if u in best), default=None)
            if p is None and v not in entries:
                continue  # not reachable from an entry inside H
            best[v] = (self.rt[v] + (p[0] if p else 0), -p[1] if p else None)
        end = max((v for v in best if v in exits), key=lambda v: (best[v][0], -v))
        path = [end]
        while best[path[-1]][1] is not None:
            path.append(best[path[-1]][1])
        return path[::-1]

    def _detour(self, rest: set[int], a, b, entries: set[int], exits: set[int]) -> set[int]:
        """Functions of ``rest`` on a path a -> ... -> b whose inner functions are all in rest."""
        start = (entries if a is None else set(self.b.succs[a])) & rest
        end = (exits if b is None else set(self.b.preds[b])) & rest
        fwd = _reach(start, rest, self.b.succs)
        bwd = _reach(end, rest, self.b.preds)
        return fwd & bwd

    def repair(self) -> int:
        count = 0
        while self.b.latency(self.rt) > self.b.slo_us:
            cp = self.b.critical_path(self.rt)
            f = max(cp, key=lambda v: (self.rt[v] - self.start_rt[v], -v))
            if self.rt[f] <= self.start_rt[f]:
                break
            self.cfg[f], self.rt[f] = (self.top_i, self.top_j), self.start_rt[f]
            count += 1
        return count


def _reach(start: set[int], inside: set[int], nxt: list[list[int]]) -> set[int]:
    seen, stack = set(start), list(start)
    while stack:
        v = stack.pop()
        for w in nxt[v]:
            if w in inside and w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def aarc(inst, options: SolveOptions) -> Result:
    check_params(options)
    blind, oracle = setup(inst, options)
    run = _Aarc(blind, oracle)
    for f in range(blind.n):
        t = oracle.profile(f, run.top_i, run.top_j)
        if t is None:
            return finish(blind, oracle, run.cfg, [blind.slo_us + 1] * blind.n)
        run.rt[f] = run.start_rt[f] = t
    if blind.latency(run.rt) <= blind.slo_us:
        sources = {v for v in range(blind.n) if not blind.preds[v]}
        sinks = {v for v in range(blind.n) if not blind.succs[v]}
        run.schedule(set(range(blind.n)), blind.slo_us, sources, sinks)
    repairs = run.repair()
    return finish(blind, oracle, run.cfg, run.rt, {"repairs": repairs})
