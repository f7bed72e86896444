"""Brute force for tiny F2 instances: try every configuration of every function.

Written from the problem statement only (no model code): the latency is the longest path of
runtimes, the cost the sum of the prices' formula, and a configuration is usable unless out of
memory (and, in coupled mode, unless its CPU is the one memory gives).
"""

from __future__ import annotations

import itertools


def brute_force(inst, mode: str = "decoupled", slo_us: int | None = None) -> float | None:
    """The least cost over all configurations within the SLO, or None if none meets it."""
    slo = inst.slo_us if slo_us is None else slo_us
    per_function = _options(inst, mode)
    ids = [f.id for f in inst.functions]
    preds = {v: [a for a, b in inst.edges if b == v] for v in ids}
    order = list(inst.topological_order)
    best = None
    for combo in itertools.product(*per_function):
        t = dict(zip(ids, (c[0] for c in combo), strict=True))
        finish: dict[str, int] = {}
        for v in order:
            finish[v] = max((finish[u] for u in preds[v]), default=0) + t[v]
        if max(finish.values()) > slo:
            continue
        cost = sum(c[1] for c in combo)
        if best is None or cost < best:
            best = cost
    return best


def _options(inst, mode: str) -> list[list[tuple[int, float]]]:
    """(runtime µs, cost) of every usable configuration, per function."""
    p = inst.prices
    per_function = []
    for f in inst.functions:
        opts = []
        for i, c in enumerate(inst.cpu_grid):
            for j, m in enumerate(inst.mem_grid_mb):
                t = f.runtime_us[i][j]
                if t is None:
                    continue
                if mode == "coupled":
                    below = [k for k, x in enumerate(inst.cpu_grid) if x <= m / inst.mb_per_vcpu]
                    if i != (below[-1] if below else 0):
                        continue
                cost = t / 1e6 * (p.per_vcpu_s * c + p.per_gb_s * m / 1024) + p.per_request
                opts.append((t, cost))
        per_function.append(opts)
    return per_function


def cheapest_unconstrained(inst, mode: str = "decoupled") -> float:
    """The least cost without the SLO: every function at its cheapest usable configuration."""
    return sum(min(c for _, c in opts) for opts in _options(inst, mode))


def binds(inst, optimum: float | None, mode: str = "decoupled") -> bool:
    """Whether the SLO decides the answer: the optimum costs more than the unconstrained least."""
    if optimum is None:
        return False
    return optimum > cheapest_unconstrained(inst, mode) * (1 + 1e-9)
