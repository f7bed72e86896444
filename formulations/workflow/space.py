"""The configuration space the exact models choose from, and the presolve that makes it small.

For each function f the candidate configurations K_f are the grid points (c, m) that do not run
out of memory (and, in coupled mode, are coupled). Two reductions keep every optimum:

- **dominance**: a configuration slower *and* not cheaper than another of the same function is
  never needed (swap it for the other: no path gets longer, the cost does not rise);
- **time windows**: with every function at its fastest configuration, ``head_f`` is the longest
  path ending just before f and ``tail_f`` the longest one starting just after f. A configuration
  with ``head_f + d + tail_f > SLO`` fits in no feasible solution. If even the fastest
  configurations break the SLO, the instance is infeasible and the fastest latency is the proof.

The models work on index lists (functions 0..n-1 in file order, edges as index pairs) so the fit
heuristic can hand them a fitted runtime table instead of the instance's.
"""

from __future__ import annotations

from dataclasses import dataclass

from optgap.formulations.workflow.instance import WorkflowInstance


class NoConfiguration(ValueError):
    """A function has no usable configuration: the problem is infeasible (proved by listing)."""


@dataclass(frozen=True)
class Choice:
    i: int  # CPU level index
    j: int  # memory level index
    d: int  # runtime, µs
    cost: float


@dataclass
class Space:
    choices: list[list[Choice]]  # per function, after the presolve
    preds: list[list[int]]
    succs: list[list[int]]
    topo: list[int]
    slo_us: int
    head: list[int]  # earliest start with fastest configurations
    tail: list[int]  # longest fastest path after the function
    fastest_us: int  # fastest possible workflow latency
    before: int  # candidate configurations before the presolve
    after: int

    @property
    def feasible(self) -> bool:
        return self.fastest_us <= self.slo_us


def candidates(
    inst: WorkflowInstance,
    mode: str,
    runtime: list[list[list[int | None]]] | None = None,
) -> list[list[Choice]]:
    """Every usable configuration per function (``runtime``: a table to use instead of the
    instance's, indexed [function][cpu][mem])."""
    out = []
    for k, f in enumerate(inst.functions):
        table = f.runtime_us if runtime is None else runtime[k]
        row = []
        for i in range(len(inst.cpu_grid)):
            for j in range(len(inst.mem_grid_mb)):
                d = table[i][j]
                if d is None or (mode == "coupled" and not inst.is_coupled(i, j)):
                    continue
                row.append(Choice(i, j, d, inst.cost(d, i, j)))
        out.append(row)
    return out


def pareto(row: list[Choice]) -> list[Choice]:
    """Configurations not dominated in (runtime, cost); ties keep the first in grid order."""
    keep: list[Choice] = []
    for c in sorted(row, key=lambda c: (c.d, c.cost, c.i, c.j)):
        if not keep or c.cost < keep[-1].cost:
            keep.append(c)
    return keep


def build(
    inst: WorkflowInstance, slo_us: int, choices: list[list[Choice]], *, presolve: bool = True
) -> Space:
    """The space for the models; ``presolve=False`` keeps every usable configuration (for the
    benchmark that measures what the presolve buys)."""
    n = len(inst.functions)
    idx = inst.index
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for a, b in inst.edges:
        preds[idx[b]].append(idx[a])
        succs[idx[a]].append(idx[b])
    topo = [idx[f] for f in inst.topological_order]
    before = sum(len(r) for r in choices)
    if any(not r for r in choices):
        k = next(k for k, r in enumerate(choices) if not r)
        raise NoConfiguration(
            f"function {inst.functions[k].id} has no usable configuration (every one it may "
            "use runs out of memory): no solution exists"
        )
    dmin = [min(c.d for c in r) for r in choices]
    head = [0] * n
    for v in topo:
        head[v] = max((head[u] + dmin[u] for u in preds[v]), default=0)
    tail = [0] * n
    for v in reversed(topo):
        tail[v] = max((dmin[w] + tail[w] for w in succs[v]), default=0)
    fastest = max(head[v] + dmin[v] + tail[v] for v in range(n))
    reduced = [
        [
            c
            for c in (pareto(r) if presolve else r)
            if not presolve or head[v] + c.d + tail[v] <= slo_us
        ]
        for v, r in enumerate(choices)
    ]
    return Space(
        reduced,
        preds,
        succs,
        topo,
        slo_us,
        head,
        tail,
        fastest,
        before,
        sum(len(r) for r in reduced),
    )


def solution_dict(inst: WorkflowInstance, mode: str, slo_us: int, picks: list[Choice]) -> dict:
    """The solution object every method returns (the evaluator's input)."""
    return {
        "mode": mode,
        "slo_ms": slo_us / 1000,
        "configs": {
            f.id: {"cpu": inst.cpu_grid[c.i], "mem_mb": inst.mem_grid_mb[c.j]}
            for f, c in zip(inst.functions, picks, strict=True)
        },
    }


def total_cost(picks: list[Choice]) -> float:
    return float(sum(c.cost for c in picks))


def presolve_stats(mode: str, space: Space) -> dict:
    """What both exact models report about the configuration space they solved over."""
    return {
        "mode": mode,
        "configs_before_presolve": space.before,
        "configs_after_presolve": space.after,
        "fastest_latency_ms": space.fastest_us / 1000,
    }


def infeasible_message(space: Space) -> str:
    return (
        f"SLO {space.slo_us / 1000:g} ms is below the fastest possible workflow latency "
        f"{space.fastest_us / 1000:g} ms (every function at its fastest configuration)"
    )
