"""Public hypothesis strategies for F3: small instance JSON objects that every exact method solves
in well under a second and the simulator replays in milliseconds.

    from optgap.instances.stages.strategies import instances
    @given(instances())
    def test_my_policy(data): ...

``functions_everywhere`` (default True) sets the SLO 20 % above the least one at which every stage
has a fitting function memory, so an online policy always has functions to fall back on; with
False the SLO is drawn freely and may make a stage VM-only, or the whole instance infeasible.

``busy`` draws window rates as multiples (0-3x, changing between windows) of what one VM of the
first stage serves, with cheap VMs, so that VMs are used and their number changes over windows;
``vm_types`` gives some stages a second VM type (its own price, workers and cold start) and every
stage a time on both types (the whole-model baselines can then run on either).
"""

from __future__ import annotations

from hypothesis import strategies as st
from optgap.instances.stages.generate import slo_with_functions


@st.composite
def instances(
    draw,
    max_stages: int = 3,
    max_windows: int = 4,
    max_rate: float = 40.0,
    functions_everywhere: bool = True,
    quota: bool = False,
    per_second: bool = False,
    busy: bool = False,
    vm_types: bool = False,
) -> dict:
    S = draw(st.integers(1, max_stages))
    T = draw(st.integers(1, max_windows))
    W = draw(st.integers(5, 30))
    memories = sorted(draw(st.sets(st.sampled_from([512, 1024, 1769, 2048]), min_size=1)))
    stages = []
    for s in range(S):
        vm_ms = draw(st.integers(5, 120))
        stages.append(
            {
                "id": f"s{s}",
                "vm_ms": float(vm_ms),
                "fn_ms": {
                    str(m): float(draw(st.integers(max(1, vm_ms // 3), 3 * vm_ms + 5)))
                    for m in memories
                },
                "exit_prob": 1.0 if s == S - 1 else draw(st.sampled_from([0.0, 0.2, 0.5, 0.8])),
                "activation_bytes": draw(st.integers(0, 2_000_000)),
            }
        )
    extra = {}
    if vm_types:
        extra["vm_types"] = {
            "big": {
                "price_per_hour": draw(st.sampled_from([0.02, 0.1, 0.5])),
                "workers": draw(st.integers(1, 8)),
                "cold_start_s": float(draw(st.integers(0, 2 * W))),
                "max_utilisation": draw(st.sampled_from([0.7, 0.9])),
            }
        }
        for x in stages:
            faster = float(max(1, int(x["vm_ms"] * draw(st.sampled_from([0.25, 0.5, 1.0])))))
            if draw(st.booleans()):
                x["vm_type"] = "big"
                x["vm_ms_on"] = {"default": x["vm_ms"]}
                x["vm_ms"] = faster
            else:
                x["vm_ms_on"] = {"big": faster}
    cv = draw(st.sampled_from([0.0, 0.5, 1.0]))
    cold_ms = float(draw(st.integers(0, 300)))
    network = {"latency_ms": float(draw(st.integers(0, 5))), "bandwidth_mb_s": 1000.0}
    pct = draw(st.sampled_from([50.0, 95.0, 99.0]))
    if functions_everywhere:
        slo = slo_with_functions(stages, cold_ms, cv, network, pct)
    else:
        slo = float(draw(st.integers(50, 3000)))
    workers = draw(st.integers(1, 4))
    if busy:
        one_vm = workers * 1000.0 / stages[0]["vm_ms"]
        mult = st.sampled_from([0.0, 0.3, 0.8, 1.5, 2.5, 3.0])
        max_rate = max(1.0, 3.0 * one_vm)
    if per_second:
        arrivals = {
            "window_s": W,
            "per_second": draw(
                st.lists(st.integers(0, int(max_rate)), min_size=W * T, max_size=W * T)
            ),
        }
    elif busy:
        arrivals = {
            "window_s": W,
            "rates": [round(draw(mult) * one_vm, 3) for _ in range(T)],
            "seed": draw(st.integers(0, 1000)),
        }
    else:
        arrivals = {
            "window_s": W,
            "rates": [float(draw(st.integers(0, int(max_rate)))) for _ in range(T)],
            "seed": draw(st.integers(0, 1000)),
        }
    vm = {
        "price_per_hour": draw(st.sampled_from([0.01, 0.05] if busy else [0.05, 0.17, 0.5, 2.0])),
        "workers": workers,
        "cold_start_s": float(draw(st.integers(0, 2 * W))),
        "max_utilisation": draw(st.sampled_from([0.5, 0.8, 0.9])),
    }
    if quota:
        vm["max_total"] = draw(st.integers(0, 4))
    return {
        **extra,
        "family": "stages",
        "version": 1,
        "stages": stages,
        "arrivals": arrivals,
        "vm": vm,
        "functions": {
            "price_per_gb_s": draw(st.sampled_from([0.0000166667, 0.0001, 0.001])),
            "price_per_request": draw(st.sampled_from([0.0, 2e-7, 1e-5])),
            "cold_start_ms": cold_ms,
            "keep_alive_s": float(draw(st.integers(0, 60))),
        },
        "network": network,
        "slo": {"latency_ms": slo, "percentile": pct},
        "service_cv": cv,
        "sim_seed": draw(st.integers(0, 1000)),
    }
