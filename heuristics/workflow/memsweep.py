"""Memory-only baselines, coupled as on AWS Lambda (memory m gives m / 1769 vCPU).

Both split the SLO over the critical path, generalised to every path: with t_f the runtime a
function reached at its fastest known configuration and L_f the longest path through f by those
runtimes (the critical path's length for a function on it), f gets the deadline share
SLO * t_f / L_f. Any path P then meets the SLO: every f on P has L_f >= t(P), so
Σ_{f∈P} SLO t_f / L_f <= SLO Σ_{f∈P} t_f / t(P) = SLO (checked in exact integers).

- ``powertune`` (AWS Lambda Power Tuning style): profile every memory level of every function,
  then take each function's cheapest level within its share.
- ``maff`` (MAFF, Zubko et al. 2022, memory-only gradient descent): from the top memory level,
  step down while the cost falls and the runtime stays within the share; a refused step halves
  the step size (4, 2, 1 levels). The shares use the top-level runtimes.

The answers are coupled configurations, hence valid in both modes.
"""

from __future__ import annotations

from optgap.heuristics.workflow.oracle import Blind, check_params, finish, setup
from optgap.solvers.result import Result, SolveOptions


def shares_ok(blind: Blind, fast: list[int]) -> list[tuple[int, int]]:
    """(numerator, denominator) per function: runtime t fits iff t * den <= num."""
    n = blind.n
    head = [0] * n
    for v in blind.topo:
        head[v] = max((head[u] + fast[u] for u in blind.preds[v]), default=0)
    tail = [0] * n
    for v in reversed(blind.topo):
        tail[v] = max((fast[w] + tail[w] for w in blind.succs[v]), default=0)
    return [(blind.slo_us * fast[f], head[f] + fast[f] + tail[f]) for f in range(n)]


def powertune(inst, options: SolveOptions) -> Result:
    check_params(options)
    blind, oracle = setup(inst, options)
    J = len(blind.mem_grid_mb)
    sweep: list[dict[int, int]] = []
    for f in range(blind.n):
        row = {}
        for j in range(J):
            t = oracle.profile(f, blind.coupled_cpu(j), j)
            if t is not None:
                row[j] = t
        sweep.append(row)
    if not all(sweep):  # a function with no usable coupled configuration: nothing to offer
        top = len(blind.mem_grid_mb) - 1
        cfg = [(blind.coupled_cpu(top), top)] * blind.n
        return finish(blind, oracle, cfg, [blind.slo_us + 1] * blind.n)
    fast_j = [min(row, key=lambda j: (row[j], -j)) for row in sweep]
    fast = [sweep[f][fast_j[f]] for f in range(blind.n)]
    if blind.latency(fast) > blind.slo_us:
        return finish(blind, oracle, [(blind.coupled_cpu(j), j) for j in fast_j], fast)
    shares = shares_ok(blind, fast)
    cfg, rt = [], []
    for f, row in enumerate(sweep):
        num, den = shares[f]
        ok = [j for j, t in row.items() if t * den <= num]
        j = min(ok, key=lambda j: (blind.cost(row[j], blind.coupled_cpu(j), j), j))
        cfg.append((blind.coupled_cpu(j), j))
        rt.append(row[j])
    return finish(blind, oracle, cfg, rt)


def maff(inst, options: SolveOptions) -> Result:
    check_params(options)
    blind, oracle = setup(inst, options)
    top = len(blind.mem_grid_mb) - 1
    cpu = blind.coupled_cpu
    top_rt = [oracle.profile(f, cpu(top), top) for f in range(blind.n)]
    if any(t is None for t in top_rt) or blind.latency(top_rt) > blind.slo_us:
        bad = [blind.slo_us + 1] * blind.n
        return finish(blind, oracle, [(cpu(top), top)] * blind.n, bad)
    shares = shares_ok(blind, top_rt)
    cfg, rt = [], []
    for f in range(blind.n):
        num, den = shares[f]
        j, t = top, top_rt[f]
        step = 4
        while step >= 1:
            k = j - step
            tk = oracle.profile(f, cpu(k), k) if k >= 0 else None
            if (
                tk is not None
                and tk * den <= num
                and blind.cost(tk, cpu(k), k) < blind.cost(t, cpu(j), j)
            ):
                j, t = k, tk  # keep the step size while it pays
            else:
                step //= 2
        cfg.append((cpu(j), j))
        rt.append(t)
    return finish(blind, oracle, cfg, rt)
