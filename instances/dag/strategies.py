"""Public hypothesis strategies for F1 (`dag`): small instances as JSON objects.

`instances()` is what `optgap.solvers.testing.instances("dag")` returns: at most 7 operators, so CP-SAT
proves the optimum in milliseconds. `dag_json` takes knobs for the package's own tests.
"""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def dag_json(
    draw,
    min_ops: int = 1,
    max_ops: int = 7,
    cpu_slots: tuple[int, int] = (1, 1),
    gpus: tuple[int, int] = (1, 1),
    restrict: bool = True,
    capacity: bool = False,
    zero_times: bool = False,
) -> dict:
    """A random DAG over 1 CPU (with slots) and 1-2 GPUs, times in whole µs."""
    n = draw(st.integers(min_ops, max_ops))
    ng = draw(st.integers(*gpus))
    devices = [{"id": "cpu0", "kind": "cpu", "slots": draw(st.integers(*cpu_slots))}]
    devices += [{"id": f"gpu{g}", "kind": "gpu"} for g in range(ng)]
    lo = 0 if zero_times else 1
    ops = []
    for i in range(n):
        op = {
            "id": f"o{i}",
            "time_ms": {
                "cpu": draw(st.integers(lo, 40)) / 1000,
                "gpu": draw(st.integers(lo, 40)) / 1000,
            },
            "mem_mb": draw(st.integers(0, 50)) / 10,
        }
        if restrict:
            r = draw(st.sampled_from(["any", "any", "any", "cpu", "gpu", "pin"]))
            if r in ("cpu", "gpu"):
                op["time_ms"] = {r: op["time_ms"][r]}
            elif r == "pin":
                op["devices"] = [draw(st.sampled_from([d["id"] for d in devices]))]
        ops.append(op)
    edges = []
    for j in range(1, n):
        for i in range(j):
            if draw(st.integers(0, 3)) == 0:
                edges.append(
                    {"src": f"o{i}", "dst": f"o{j}", "bytes": draw(st.integers(0, 40)) * 1000}
                )
    data = {
        "family": "dag",
        "version": 1,
        "devices": devices,
        "operators": ops,
        "edges": edges,
        "links": {
            "latency_ms": draw(st.integers(0, 10)) / 1000,
            "bandwidth_gb_s": draw(st.sampled_from([1.0, 4.0, 12.0])),
        },
    }
    if capacity and draw(st.booleans()):
        total = sum(o["mem_mb"] for o in ops)
        for d in devices[1:]:
            d["mem_capacity_mb"] = round(total * draw(st.floats(0.3, 1.0)), 1)
    return data


def instances(max_ops: int = 7) -> st.SearchStrategy[dict]:
    """Random small dag instances (1 CPU with 1-2 slots, 1-2 GPUs), solvable exactly in < 0.1 s."""
    return dag_json(max_ops=max_ops, cpu_slots=(1, 2), gpus=(1, 2))
