"""The profiling oracle: the only way an F2 heuristic learns a runtime.

A heuristic sees the workflow's public data (graph, grids, prices, SLO) through ``Blind`` and asks
``Oracle.profile(f, i, j)`` for the runtime of function f at CPU level i and memory level j, as
if it ran the function once in that configuration. Every call is one *sample*, even a repeated
one (a real search re-runs the function; a heuristic that wants a cache keeps its own), and adds
the runtime to the *simulated search time* (profiling runs are serial). A run that goes out of
memory returns None and costs its sample but no time (it fails at start-up). The counts go into
``Result.stats`` as ``samples``, ``distinct_samples``, ``repeats`` (samples of a configuration
already profiled) and ``search_time_s``.

**Noise** (``--param noise=on``; default ``off``): a profile returns the table's runtime times a
ratio drawn at random from the function's measured run-to-run ``spread`` (e.g. AARC's repeated
measurements, ±16 %), seeded by ``--seed``; a repeated profile draws again, as re-running a real
function does. The evaluator still judges the table (the mean), so an answer that trusted a
lucky fast sample can miss the SLO. Without noise the oracle is the table itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import networkx as nx
from optgap.formulations.workflow import space as SP
from optgap.formulations.workflow.instance import Prices, WorkflowInstance, mode_of, slo_us
from optgap.formulations.workflow.milp import check_params
from optgap.solvers.errors import InputError
from optgap.solvers.result import Result, SolveOptions, Status


class Oracle:
    def __init__(self, inst: WorkflowInstance, noise: bool = False, seed: int = 0) -> None:
        self._tables = [f.runtime_us for f in inst.functions]
        self._spread = [f.spread for f in inst.functions] if noise else None
        self._rng = random.Random(seed)
        self.samples = 0
        self.search_time_us = 0
        self.seen: set[tuple[int, int, int]] = set()

    def profile(self, f: int, i: int, j: int) -> int | None:
        """Runtime in µs of function f (index) at CPU level i, memory level j; None = OOM."""
        t = self._tables[f][i][j]
        self.samples += 1
        self.seen.add((f, i, j))
        if t is not None and self._spread and self._spread[f]:
            t = max(1, round(t * self._rng.choice(self._spread[f])))
        if t is not None:
            self.search_time_us += t
        return t

    def stats(self) -> dict:
        return {
            "samples": self.samples,
            "distinct_samples": len(self.seen),
            "repeats": self.samples - len(self.seen),
            "search_time_s": self.search_time_us / 1e6,
            "noise": self._spread is not None,
        }


@dataclass
class Blind:
    """What a heuristic may know without profiling: structure, grids, prices, SLO, mode (no
    runtime table: those come from the oracle only)."""

    ids: list[str]
    preds: list[list[int]]
    succs: list[list[int]]
    topo: list[int]
    cpu_grid: tuple[float, ...]
    mem_grid_mb: tuple[float, ...]
    slo_us: int
    mode: str
    prices: Prices
    coupled_index: tuple[int, ...]  # CPU level a coupled platform gives each memory level

    @property
    def n(self) -> int:
        return len(self.ids)

    def cost(self, runtime_us: int, i: int, j: int) -> float:
        return self.prices.cost(runtime_us, self.cpu_grid[i], self.mem_grid_mb[j])

    def allowed(self, i: int, j: int) -> bool:
        return self.mode == "decoupled" or self.coupled_index[j] == i

    def coupled_cpu(self, j: int) -> int:
        return self.coupled_index[j]

    def latency(self, d: list[int]) -> int:
        finish = [0] * self.n
        for v in self.topo:
            finish[v] = max((finish[u] for u in self.preds[v]), default=0) + d[v]
        return max(finish)

    def critical_path(self, d: list[int], nodes: set[int] | None = None) -> list[int]:
        """Longest path (by d) within ``nodes`` (default all), ties to the lower index."""
        nodes = set(range(self.n)) if nodes is None else nodes
        best: dict[int, tuple[int, int | None]] = {}
        for v in self.topo:
            if v not in nodes:
                continue
            p = max(((best[u][0], -u) for u in self.preds[v] if u in nodes), default=None)
            best[v] = (d[v] + (p[0] if p else 0), -p[1] if p else None)
        end = max(nodes, key=lambda v: (best[v][0], -v))
        path = [end]
        while best[path[-1]][1] is not None:
            path.append(best[path[-1]][1])
        return path[::-1]


def setup(inst: WorkflowInstance, options: SolveOptions) -> tuple[Blind, Oracle]:
    idx = inst.index
    n = len(inst.functions)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for a, b in inst.edges:
        preds[idx[b]].append(idx[a])
        succs[idx[a]].append(idx[b])
    blind = Blind(
        [f.id for f in inst.functions],
        preds,
        succs,
        [idx[f] for f in nx.lexicographical_topological_sort(inst.graph, key=idx.__getitem__)],
        inst.cpu_grid,
        inst.mem_grid_mb,
        slo_us(inst, options.slo_ms),
        mode_of(options.objective),
        inst.prices,
        inst.coupled_cpu_index,
    )
    return blind, Oracle(inst, noise_param(inst, options), options.seed)


def noise_param(inst: WorkflowInstance, options: SolveOptions) -> bool:
    """``--param noise=on|off`` (default off); on needs a measured spread in the instance."""
    check_params(options)
    raw = options.param("noise", "off")
    if raw not in ("on", "off"):
        raise InputError(f"--param noise={raw}: expected on or off")
    if raw == "on" and not any(f.spread for f in inst.functions):
        raise InputError(
            "--param noise=on: the instance gives no function a measured 'spread' to draw from"
        )
    return raw == "on"


# a method ignores the --param keys of the family's other methods (so `optgap solve --method all
# --param trials=20` works) and refuses keys no method of the family knows


def int_param(options: SolveOptions, key: str, default: int, lo: int = 1) -> int:
    check_params(options)
    return options.int_param(key, default, lo)


def finish(
    blind: Blind,
    oracle: Oracle,
    config: list[tuple[int, int]],
    runtime: list[int],
    extra: dict | None = None,
) -> Result:
    """The heuristic's answer, checked against the SLO with the runtimes it profiled."""
    stats = oracle.stats() | (extra or {})
    latency = blind.latency(runtime)
    stats["latency_ms"] = latency / 1000
    if latency > blind.slo_us:
        return Result(
            "",
            "",
            "python",
            Status.ERROR,
            stats=stats,
            message=f"found no configuration within the SLO (best latency {latency / 1000:g} ms)",
        )
    picks = [
        SP.Choice(i, j, runtime[f], blind.cost(runtime[f], i, j)) for f, (i, j) in enumerate(config)
    ]
    measured = SP.total_cost(picks)
    stats["measured_cost"] = measured
    return Result(
        "",
        "",
        "python",
        Status.FEASIBLE,
        # under noise the search only knows the runtimes it drew: its cost is a measurement, not
        # the configuration's cost, so it states none and the evaluator's (table means) is used
        objective=None if oracle.stats().get("noise") else measured,
        solution={
            "mode": blind.mode,
            "slo_ms": blind.slo_us / 1000,
            "configs": {
                fid: {"cpu": blind.cpu_grid[c.i], "mem_mb": blind.mem_grid_mb[c.j]}
                for fid, c in zip(blind.ids, picks, strict=True)
            },
        },
        stats=stats,
    )
