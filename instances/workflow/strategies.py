"""Public hypothesis strategies for F2 (`workflow`): small instances as JSON objects.

`instances()` is what `optgap.solvers.testing.instances("workflow")` returns: at most 5 functions on at
most 3 CPU x 4 memory levels, so both exact models prove the optimum in milliseconds.
`workflow_json` takes knobs for the package's own tests (brute force needs tiny ones).

SLOs bind: by default the SLO is drawn in [fastest latency, cheapest latency), where the cheapest
latency is the latency with every function at its cheapest configuration (the fastest of the
cheapest on ties). Whenever the two differ, no cost-minimal configuration meets the SLO, so the
optimum costs more than the unconstrained cheapest: the SLO constraint decides the answer.
"""

from __future__ import annotations

from hypothesis import strategies as st

PRESETS = {"aarc": (512.0, 1024.0, 0.0), "cloudrun": (0.000024, 0.0000025, 0.0000004)}
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


def _latency_ms(data: dict, runtime_ms: dict[str, float]) -> float:
    finish: dict[str, float] = {}
    for f in data["functions"]:  # edges go forward in file order
        v = f["id"]
        finish[v] = max((finish[a] for a, b in data["edges"] if b == v), default=0.0)
        finish[v] += runtime_ms[v]
    return max(finish.values())


def cheapest_ms(data: dict) -> float:
    """Latency of a table-model instance with every function at its cheapest configuration
    (decoupled; ties to the fastest), written from the prices' formula, not the loader's."""
    p = data["prices"]
    pv, pg, pr = (
        PRESETS[p]
        if isinstance(p, str)
        else (p["per_vcpu_s"], p["per_gb_s"], p.get("per_request", 0))
    )
    pick = {}
    for f in data["functions"]:
        cells = [
            (t / 1000 * (pv * c + pg * m / 1024) + pr, t)
            for c, row in zip(data["cpu_grid"], f["model"]["runtime_ms"], strict=True)
            for m, t in zip(data["mem_grid_mb"], row, strict=True)
            if t is not None
        ]
        pick[f["id"]] = min(cells)[1]
    return _latency_ms(data, pick)


@st.composite
def workflow_json(
    draw,
    min_functions: int = 1,
    max_functions: int = 5,
    max_cpu: int = 3,
    max_mem: int = 4,
    min_cpu: int = 1,
    min_mem: int = 1,
    slack: tuple[float, float] | None = None,
    oom: bool = True,
    spread: bool = False,
) -> dict:
    """Table models with runtimes in whole ms (1-60), some out-of-memory cells, random prices.

    Runtimes fall (weakly, on average) with more CPU and memory, as profiles do, but not always.
    The SLO binds (module docstring) unless ``slack`` is given: then it multiplies the fastest
    latency into the SLO (below 1: infeasible). ``spread``: give every function run-to-run
    ratios in [0.8, 1.2] for the noisy oracle.
    """
    n = draw(st.integers(min_functions, max_functions))
    nc = draw(st.integers(min_cpu, max_cpu))
    nm = draw(st.integers(min_mem, max_mem))
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
        if spread:  # run-to-run ratios for the noisy oracle, as wide as AARC's (±16 %)
            ratios = st.floats(0.8, 1.2).map(lambda r: round(r, 3))
            functions[-1]["spread"] = draw(st.lists(ratios, min_size=1, max_size=4))
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
    if slack is not None:
        s = draw(st.floats(*slack))
        data["slo_ms"] = max(0.001, round(fastest_ms(data) * s, 3))
        return data
    fast, cheap = fastest_ms(data), cheapest_ms(data)
    u = draw(st.floats(0.0, 1.0, exclude_max=True))
    data["slo_ms"] = round(fast + int(u * (cheap - fast) * 1000) / 1000, 3)
    return data


def instances(**kwargs) -> st.SearchStrategy[dict]:
    """Small feasible-or-not F2 instances (JSON objects); knobs as in ``workflow_json``."""
    return workflow_json(**kwargs)
