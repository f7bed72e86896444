"""Brute-force F1 optimum for tiny instances with one slot per device.

Independent of the models, heuristics and evaluator: enumerate every placement and every order
of the operators on each device; the earliest start times for fixed orders are longest paths in
the precedence + sequence graph. Regular objectives are optimised by such semi-active schedules.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import networkx as nx


def _delay(inst, a: str, b: str, nbytes: int) -> int:
    if a == b:
        return 0
    link = inst.pair_links.get(frozenset((a, b)), inst.link)
    t = Fraction(link.latency_us)
    if link.bandwidth_gb_s is not None:
        t += Fraction(nbytes) / (Fraction(link.bandwidth_gb_s) * 1000)
    return int(-((-t.numerator) // t.denominator))


def brute_force(inst, pattern: str = "latency", slo_us: int | None = None) -> int | None:
    """Optimal makespan (µs) or, in the memory pattern, optimal GPU memory (kB); None if none."""
    assert all(d.slots == 1 for d in inst.devices)
    ops = list(inst.operators)
    devs = {d.id: d for d in inst.devices}
    choices = [
        [
            d
            for d in devs.values()
            if d.kind in o.time_us and (o.devices is None or d.id in o.devices)
        ]
        for o in ops
    ]
    g = nx.DiGraph()
    g.add_nodes_from(o.id for o in ops)
    g.add_edges_from((e.src, e.dst) for e in inst.edges)
    closure = nx.transitive_closure_dag(g)
    best = None
    for placement in itertools.product(*choices):
        place = {o.id: d.id for o, d in zip(ops, placement, strict=True)}
        mem = {d: 0 for d in devs}
        for o in ops:
            mem[place[o.id]] += o.mem_kb
        if any(
            devs[d].mem_capacity_kb is not None and mem[d] > devs[d].mem_capacity_kb for d in devs
        ):
            continue
        gpu_mem = sum(o.mem_kb for o in ops if devs[place[o.id]].kind == "gpu")
        if pattern == "memory" and best is not None and gpu_mem >= best:
            continue
        dur = {o.id: o.time_us[devs[place[o.id]].kind] for o in ops}
        groups = [[o.id for o in ops if place[o.id] == d and dur[o.id] > 0] for d in devs]
        orders = [
            [
                p
                for p in itertools.permutations(grp)
                if not any(
                    closure.has_edge(p[j], p[i])
                    for i in range(len(p))
                    for j in range(i + 1, len(p))
                )
            ]
            for grp in groups
        ]
        for combo in itertools.product(*orders):
            start = _earliest(inst, ops, place, dur, combo)
            if start is None:
                continue
            makespan = max(start[o.id] + dur[o.id] for o in ops)
            if pattern == "latency":
                best = makespan if best is None else min(best, makespan)
            elif makespan <= slo_us:
                best = gpu_mem
                break
    return best


def _earliest(inst, ops, place, dur, sequences) -> dict[str, int] | None:
    g = nx.DiGraph()
    g.add_nodes_from(o.id for o in ops)
    for e in inst.edges:
        g.add_edge(e.src, e.dst, w=dur[e.src] + _delay(inst, place[e.src], place[e.dst], e.bytes))
    for seq in sequences:
        for a, b in itertools.pairwise(seq):
            w = dur[a]
            if g.has_edge(a, b):
                w = max(w, g[a][b]["w"])
            g.add_edge(a, b, w=w)
    if not nx.is_directed_acyclic_graph(g):
        return None
    start = {}
    for v in nx.topological_sort(g):
        start[v] = max((start[u] + g[u][v]["w"] for u in g.predecessors(v)), default=0)
    return start
