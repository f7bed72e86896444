"""Hypothesis strategies for F4 instances, small enough that every exact method solves them in
well under a second (use them to test your own heuristics against ``cpsat``).

    from hypothesis import given
    from optgap.instances.pipeload.strategies import instances

    @given(instances())
    def test_mine(data): ...
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


@st.composite
def instances(
    draw,
    max_layers: int = 5,
    max_time_ms: int = 4,
    max_mem_mb: int = 9,
    agents: tuple[int, int] = (1, 3),
    zero_compute: bool = True,
    agent_memory: bool = True,
    budget: bool = True,
    shared_disk: bool = False,
) -> dict[str, Any]:
    """An instance JSON object: 1..max_layers layers with integer load times 1..max_time_ms ms
    (compute 0.. or 1..max_time_ms ms), memory 1..max_mem_mb MB, a fixed number of agents or a
    range within ``agents``, and a budget between the least feasible and the whole model.
    ``shared_disk``: also a disk bandwidth of 1–9 GB/s shared by concurrent loads (the exact
    models reject such instances when it can bind; the heuristics and the evaluator simulate it)."""
    n = draw(st.integers(1, max_layers))
    layers = [
        {
            "name": f"L{i}",
            "load_ms": draw(st.integers(1, max_time_ms)),
            "compute_ms": draw(st.integers(0 if zero_compute else 1, max_time_ms)),
            "mem_mb": draw(st.integers(1, max_mem_mb)),
        }
        for i in range(n)
    ]
    lo = draw(st.integers(*agents))
    hi = draw(st.integers(lo, agents[1]))
    resident = draw(st.integers(0, 3))
    agent_mb = draw(st.integers(0, 1)) if agent_memory else 0
    data: dict[str, Any] = {
        "family": "pipeload",
        "version": 1,
        "layers": layers,
        "resident_mb": resident,
        "agents": lo if lo == hi and draw(st.booleans()) else {"min": lo, "max": hi},
    }
    if agent_mb:
        data["agent_mb"] = agent_mb
    if budget:
        least = resident + lo * agent_mb + max(x["mem_mb"] for x in layers)
        most = resident + hi * agent_mb + sum(x["mem_mb"] for x in layers)
        data["budget_mb"] = draw(st.integers(least, most))
    if shared_disk:
        data["disk_mb_s"] = draw(st.integers(1, 9)) * 1000
    return data
