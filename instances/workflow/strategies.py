"""Public hypothesis strategies for F2 (`workflow`): small instances as JSON objects.

`instances()` is what `optgap.solvers.testing.instances("workflow")` returns: at most 5 functions on at
most 3 CPU x 4 memory levels, so both exact models prove the optimum in milliseconds.
`workflow_json` takes knobs for the package's own tests (brute force needs tiny ones).
"""

from __future__ import annotations

from hypothesis import strategies as st

CPUS = [0.5, 1.0, 1.5, 2.0]
MEMS = [512, 1024, 2048, 3584]


def fastest_ms(data: dict) -> float:
    """Fastest possible latency of a table-model instance (every function at its fastest)."""
    fast = {}
    for f in data["functions"]:
        rows = f["model"]["runtime_ms"]
        fast[f["id"]] = min(t for row in rows for t in row if t is not None)
    order = [f["id"] for f in data["functions"]]  # edges go forward in file order
    finish: dict[str, float] = {}
    for v in order:
        finish[v] = max((finish[a] for a, b in data["edges"] if b == v), default=0.0) + fast[v]
    return max(finish.values())


@st.composite
def workflow_json(
    draw,
    min_functions: int = 1,
    max_functions: int = 5,
    max_cpu: int = 3,
    max_mem: int = 4,
    slack: tuple[float, float] = (1.0, 2.0),
    oom: bool = True,
) -> dict:
    """Table models with runtimes in whole ms (1-60), some out-of-memory cells, random prices.

    Runtimes fall (weakly, on average) with more CPU and memory, as profiles do, but not always.
    ``slack`` multiplies the fastest latency into the SLO (below 1: infeasible).
    """
    n = draw(st.integers(min_functions, max_functions))
    nc = draw(st.integers(1, max_cpu))
    nm = draw(st.integers(1, max_mem))
    cpus = CPUS[len(CPUS) - nc :]
    mems = MEMS[len(MEMS) - nm :]
    functions = []
    for k in range(n):
        base = draw(st.integers(0, nm - 1)) if oom else 0
        work = draw(st.integers(5, 60))
        rows = []
        for i in range(nc):
            row = []
            for j in range(nm):
                if j < base:
                    row.append(None)
                else:
                    noise = draw(st.integers(0, 8))
                    row.append(max(1, round(work / (1 + 0.5 * i) + 3 * (nm - 1 - j)) + noise - 4))
            rows.append(row)
        functions.append({"id": f"f{k}", "model": {"kind": "table", "runtime_ms": rows}})
    edges = [
        [f"f{i}", f"f{j}"] for j in range(1, n) for i in range(j) if draw(st.integers(0, 2)) == 0
    ]
    prices = draw(
        st.one_of(
            st.sampled_from(["aarc", "cloudrun"]),
            st.builds(
                lambda a, b, c: {"per_vcpu_s": a, "per_gb_s": b, "per_request": c},
                st.integers(1, 9),
                st.integers(1, 9),
                st.integers(0, 3),
            ),
        )
    )
    data = {
        "family": "workflow",
        "version": 1,
        "cpu_grid": cpus,
        "mem_grid_mb": mems,
        "prices": prices,
        "slo_ms": 1.0,
        "functions": functions,
        "edges": edges,
    }
    s = draw(st.floats(*slack))
    data["slo_ms"] = max(0.001, round(fastest_ms(data) * s, 3))
    return data


def instances(**kwargs) -> st.SearchStrategy[dict]:
    """Small feasible-or-not F2 instances (JSON objects); knobs as in ``workflow_json``."""
    return workflow_json(**kwargs)
