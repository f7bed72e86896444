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
    gpu_slots: tuple[int, int] = (1, 1),
    pair_links: bool = False,
    cpu_capacity: bool = False,
    related: bool = False,
    cpus: tuple[int, int] = (1, 1),
) -> dict:
    """A random DAG over 1 CPU (with slots) and 1-2 GPUs (with slots), times in whole µs.

    ``capacity``: GPU memory capacities (30-100 % of the total), ``cpu_capacity`` the CPUs' (20-100 %);
    ``pair_links``: some device pairs get their own latency and bandwidth; ``related``: devices
    get speeds and some operators a time for one device id (related machines)."""
    n = draw(st.integers(min_ops, max_ops))
    ng = draw(st.integers(*gpus))
    nc = draw(st.integers(*cpus))
    devices = [
        {"id": f"cpu{c}", "kind": "cpu", "slots": draw(st.integers(*cpu_slots))} for c in range(nc)
    ]
    devices += [
        {"id": f"gpu{g}", "kind": "gpu", "slots": draw(st.integers(*gpu_slots))} for g in range(ng)
    ]
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
        if related and draw(st.integers(0, 3)) == 0:
            dev = draw(st.sampled_from(devices))
            op["time_ms"][dev["id"]] = draw(st.integers(lo, 40)) / 1000
        ops.append(op)
    if related:
        for d in devices:
            d["speed"] = draw(st.sampled_from([0.5, 1.0, 1.0, 1.5, 4.0]))
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
    if pair_links:
        pairs = []
        for a in range(len(devices)):
            for b in range(a + 1, len(devices)):
                if draw(st.booleans()):
                    pairs.append(
                        {
                            "devices": [devices[a]["id"], devices[b]["id"]],
                            "latency_ms": draw(st.integers(0, 20)) / 1000,
                            "bandwidth_gb_s": draw(st.sampled_from([0.5, 2.0, 16.0])),
                        }
                    )
        data["links"]["pairs"] = pairs
    total = sum(o["mem_mb"] for o in ops)
    if capacity and draw(st.integers(0, 2)) > 0:
        for d in (d for d in devices if d["kind"] == "gpu"):
            d["mem_capacity_mb"] = round(total * draw(st.floats(0.3, 1.0)), 1)
    if cpu_capacity and draw(st.integers(0, 2)) > 0:
        for d in (d for d in devices if d["kind"] == "cpu"):
            d["mem_capacity_mb"] = round(total * draw(st.floats(0.2, 1.0)), 1)
    return data


def instances(max_ops: int = 7) -> st.SearchStrategy[dict]:
    """Random small dag instances (1 CPU with 1-2 slots, 1-2 GPUs), solvable exactly in < 0.1 s."""
    return dag_json(max_ops=max_ops, cpu_slots=(1, 2), gpus=(1, 2))
