"""Exhaustive truth for tiny F4 instances: a search over every schedule on the time grid.

Independent of both exact models. Time advances in steps of g µs (the gcd of the durations: the
MILP's docstring shows flooring a feasible schedule to that grid keeps it feasible and no
slower). At every step the search branches on every set of unstarted layers whose loads start
now (any order, any delay), within the free agents and the memory; runs start as soon as their
layer is loaded and the previous run has ended (starting a run earlier only frees memory and the
inference agent earlier, so this loses nothing). Needs load times >= 1 step.
"""

from __future__ import annotations

import itertools
import math
from functools import reduce

from optgap.formulations.pipeload.instance import PipeloadInstance


def min_latency_us(
    inst: PipeloadInstance, cap_kb: int | None, in_order: bool = False
) -> int | None:
    """The least latency over every k of the range (None: no schedule fits the cap)."""
    best = None
    for k in range(inst.k_min, inst.k_max + 1):
        v = _search(inst, k, cap_kb, in_order)
        if v is not None and (best is None or v < best):
            best = v
    return best


def min_peak_kb(inst: PipeloadInstance, bound_us: int) -> int | None:
    """The least peak memory of a schedule ending within the bound: the smallest candidate cap
    (fixed memory of some k plus a subset of layers) under which the least latency meets it."""
    mems = [x.mem_kb for x in inst.layers]
    sums = {sum(c) for r in range(len(mems) + 1) for c in itertools.combinations(mems, r)}
    for cap in sorted(
        {inst.fixed_kb(k) + s for k in range(inst.k_min, inst.k_max + 1) for s in sums}
    ):
        lat = min_latency_us(inst, cap)
        if lat is not None and lat <= bound_us:
            return cap
    return None


def _search(inst: PipeloadInstance, k: int, cap_kb: int | None, in_order: bool) -> int | None:
    layers = inst.layers
    n = len(layers)
    g = reduce(math.gcd, [t for x in layers for t in (x.load_us, x.compute_us) if t > 0], 0) or 1
    L = [x.load_us // g for x in layers]
    c = [x.compute_us // g for x in layers]
    mem = [x.mem_kb for x in layers]
    assert min(L) >= 1, "the brute force needs load times > 0"
    room = math.inf if cap_kb is None else cap_kb - inst.fixed_kb(k)
    if room < max(mem):
        return None
    horizon = sum(L) + sum(c) + 1
    # state: (remaining load steps per layer, -1 = not started), runs done, steps left of the
    # current run (0: none running)
    frontier = {(tuple([-1] * n), 0, 0)}
    for t in range(horizon + 1):
        nxt = set()
        for rem, done, run_left in frontier:
            # runs as soon as possible, zero-time runs cascading
            while run_left == 0 and done < n and rem[done] == 0:
                if c[done] == 0:
                    done += 1
                else:
                    run_left = c[done]
                    break
            if done == n:
                return t * g
            held = sum(mem[i] for i in range(done, n) if rem[i] >= 0)
            loading = sum(1 for r in rem if r > 0)
            todo = [i for i in range(n) if rem[i] == -1]
            if in_order:
                todo = todo[:k]
            for size in range(0, min(k - loading, len(todo)) + 1):
                for S in itertools.combinations(todo, size):
                    if in_order and list(S) != todo[: len(S)]:
                        continue
                    if held + sum(mem[i] for i in S) > room:
                        continue
                    new = list(rem)
                    for i in S:
                        new[i] = L[i]
                    # one step of time
                    new = [r - 1 if r > 0 else r for r in new]
                    d, left = done, run_left
                    if left > 0:
                        left -= 1
                        if left == 0:
                            d += 1
                    nxt.add((tuple(new), d, left))
        frontier = nxt
        if not frontier:
            return None
    return None
