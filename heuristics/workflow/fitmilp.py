"""Ours: profile a few points per function, fit the parametric model, solve the MILP, verify.

Decoupled mode, per function f (top = the last grid level):
1. *Base memory*: binary search for the least memory level that does not run out of memory, at
   the top CPU level (about log2 of the memory levels in samples; the top level is sampled first).
2. *CPU curve* at the top memory level: about four CPU levels spread over the grid; fit
   t(c) = a + b / min(c, P) with a, b >= 0 and P chosen on the grid (or unbounded) by least
   relative squared error — the serial + parallel / min(c, parallelism) model.
3. *Memory curve* at the top CPU level: ratios r(m) = t(top, m) / t(top, top) at the base level
   and the next one fit the hinge r(m) = 1 + k * max(0, w - m) (the parametric slowdown below a
   working set w); one or two more samples check the first levels predicted flat. Between
   sampled levels r is interpolated linearly (1 at the top).
The fitted table is t(c) * r(m) (out of memory below the base), with every measured point
replacing its fitted value. The exact MILP (``optgap.formulations.workflow.milp``) solves the problem
on that table; then *verify and refine*: profile the chosen configurations not measured yet,
write the measurements into the table and solve again, until every chosen configuration is a
measured one; then measure the chosen configurations' grid neighbours (one CPU or memory level
up or down) and solve again, until the choice and its neighbourhood are all measured. Each round
measures something new, so the loop ends; its answer meets the SLO with true runtimes because
the MILP enforced the SLO with exactly those measured values.

Coupled mode has one configuration per memory level, so the method profiles every one of them
and the MILP gives the coupled optimum itself.

Parameters: ``--param cpu_points=K`` (CPU levels sampled, default 4), ``rounds=R`` (solve
rounds, default 30; the last fully measured choice is kept when they run out).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from optgap.formulations.workflow import milp
from optgap.formulations.workflow import space as SP
from optgap.heuristics.workflow.oracle import finish, int_param, setup
from optgap.solvers.result import Result, SolveOptions, Status

NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def fit_cpu(cs: list[float], ts: list[int], grid: tuple[float, ...]) -> list[float]:
    """Fit t = a + b / min(c, P) (a, b >= 0) by least relative squares; predict on the grid."""
    best: tuple[float, list[float]] | None = None
    for P in [*grid, math.inf]:
        x = np.array([1.0 / min(c, P) for c in cs])
        y = np.array(ts, dtype=float)
        w = 1.0 / y  # relative error
        A = np.stack([np.ones_like(x), x], axis=1) * w[:, None]
        sol = np.linalg.lstsq(A, y * w, rcond=None)[0]
        cands = [sol] if sol.min() >= 0 else []
        # boundary solutions when the free fit has a negative coefficient
        cands.append(np.array([0.0, float((x * y * w * w).sum() / (x * x * w * w).sum())]))
        cands.append(np.array([float((y * w * w).sum() / (w * w).sum()), 0.0]))
        for a, b in cands:
            err = float((((a + b * x) - y) * w) ** 2 @ np.ones_like(x))
            if best is None or err < best[0] - 1e-15:
                best = (err, [a + b / min(c, P) for c in grid])
    assert best is not None
    return best[1]


def _spread(lo: int, hi: int, k: int) -> list[int]:
    if hi < lo:
        return []
    return sorted({round(x) for x in np.linspace(lo, hi, k)})


def fitmilp(inst, options: SolveOptions) -> Result:
    cpu_points = int_param(options, "cpu_points", 4, lo=2)
    rounds = int_param(options, "rounds", 30)
    blind, oracle = setup(inst, options)
    n_cpu, n_mem = len(blind.cpu_grid), len(blind.mem_grid_mb)
    measured: list[dict[tuple[int, int], int | None]] = [{} for _ in range(blind.n)]

    def probe(f: int, i: int, j: int) -> int | None:
        if (i, j) not in measured[f]:
            measured[f][(i, j)] = oracle.profile(f, i, j)
        return measured[f][(i, j)]

    table: list[list[list[int | None]]] = []
    for f in range(blind.n):
        if blind.mode == "coupled":
            row = [[None] * n_mem for _ in range(n_cpu)]
            for j in range(n_mem):
                row[blind.coupled_cpu(j)][j] = probe(f, blind.coupled_cpu(j), j)
            table.append(row)
            continue
        table.append(_fit_function(f, n_cpu, n_mem, blind, probe, cpu_points))

    # the MILP sees the instance's structure, grids and prices, and runtimes only from `table`
    # (fitted or measured); options: the caller's limits, HiGHS, no params
    mopts = replace(options, params=(), backend="highs")
    answer = None
    for r in range(rounds):  # noqa: B007 (r is reported after the loop)
        for f in range(blind.n):  # measured values override the fit
            for (i, j), t in measured[f].items():
                table[f][i][j] = t
        try:
            space = SP.build(inst, blind.slo_us, SP.candidates(inst, blind.mode, table))
        except ValueError:  # a function with no usable configuration in the table
            break
        if not space.feasible:
            break
        res = milp.solve_space(inst, blind.mode, space, mopts, "highs")
        if res.status not in (Status.OPTIMAL, Status.FEASIBLE):
            break
        picks = _picks(inst, res.solution)
        new = [(f, i, j) for f, (i, j) in enumerate(picks) if (i, j) not in measured[f]]
        if not new:
            answer = picks  # every pick measured: feasible with true runtimes
            # trust region: measure the picks' grid neighbours; stop when all are known
            new = [
                (f, i + di, j + dj)
                for f, (i, j) in enumerate(picks)
                for di, dj in NEIGHBOURS
                if 0 <= i + di < n_cpu
                and 0 <= j + dj < n_mem
                and blind.allowed(i + di, j + dj)
                and (i + di, j + dj) not in measured[f]
            ]
            if not new:
                break
        for f, i, j in new:
            probe(f, i, j)
    extra = {"rounds": r + 1}
    if answer is None:  # fall back to the measured top configurations
        answer = [
            (n_cpu - 1 if blind.mode == "decoupled" else blind.coupled_cpu(n_mem - 1), n_mem - 1)
        ] * blind.n
        for f, (i, j) in enumerate(answer):
            probe(f, i, j)
        extra["fallback"] = True
    rt = [measured[f][c] for f, c in enumerate(answer)]
    if any(t is None for t in rt):
        rt = [blind.slo_us + 1] * blind.n
    return finish(blind, oracle, answer, rt, extra)


def _fit_function(f, n_cpu, n_mem, blind, probe, cpu_points) -> list[list[int | None]]:
    top_i, top_j = n_cpu - 1, n_mem - 1
    if probe(f, top_i, top_j) is None:
        return [[None] * n_mem for _ in range(n_cpu)]
    lo, hi = -1, top_j  # lo: known OOM (or below the grid), hi: known to run
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(f, top_i, mid) is None:
            lo = mid
        else:
            hi = mid
    base = hi
    cpu_idx = _spread(0, top_i, cpu_points)
    ct = {i: probe(f, i, top_j) for i in cpu_idx}
    ok = [i for i in cpu_idx if ct[i] is not None]
    tcpu = fit_cpu([blind.cpu_grid[i] for i in ok], [ct[i] for i in ok], blind.cpu_grid)
    ratio = _fit_memory(f, top_i, base, top_j, blind, probe)
    table = []
    for i in range(n_cpu):
        row = []
        for j in range(n_mem):
            if j < base:
                row.append(None)
                continue
            row.append(max(1, round(tcpu[i] * ratio[j])))
        table.append(row)
    return table


def _fit_memory(f, top_i, base, top_j, blind, probe) -> dict[int, float]:
    """Slowdown ratio per memory level at the top CPU level, by the hinge model
    r(m) = 1 + k * max(0, w - m): samples at the base level and the next one give k and w; one
    more sample checks the first level predicted at ratio 1 (else interpolate the samples)."""
    mem = blind.mem_grid_mb
    ref = probe(f, top_i, top_j)
    known = {top_j: 1.0, base: probe(f, top_i, base) / ref}
    if base + 1 < top_j:
        known[base + 1] = probe(f, top_i, base + 1) / ref
    r0 = known[base]
    if r0 <= 1.0 + 1e-9 or base + 1 >= top_j:
        return {j: (1.0 if j != base else r0) for j in range(base, top_j + 1)}
    r1 = known[base + 1]
    if r1 > 1.0 + 1e-9 and r0 > r1:
        k = (r0 - r1) / (mem[base + 1] - mem[base])
        w = mem[base + 1] + (r1 - 1.0) / k
        first_flat = next((j for j in range(base + 1, top_j + 1) if mem[j] >= w), top_j)
        known[first_flat] = probe(f, top_i, first_flat) / ref
        if first_flat - 1 > base + 1:
            known[first_flat - 1] = probe(f, top_i, first_flat - 1) / ref
    pts = sorted(known)
    ms, rs = [mem[j] for j in pts], [known[j] for j in pts]
    return {j: float(np.interp(mem[j], ms, rs)) for j in range(base, top_j + 1)}


def _picks(inst, solution: dict) -> list[tuple[int, int]]:
    return [
        (inst.cpu_grid.index(c["cpu"]), inst.mem_grid_mb.index(c["mem_mb"]))
        for c in (solution["configs"][f.id] for f in inst.functions)
    ]
