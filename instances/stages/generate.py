"""Seeded F3 instances: random early-exit stages under a steady, sine or bursty arrival pattern.

``generate(size, seed)``: ``size`` windows of 300 s (size 288 = 24 h), 4 stages with VM service
times of 10-80 ms, function times from the same work at 1769 MB-per-vCPU speed, random exit
probabilities, prices and cold starts of the presets; the pattern cycles with the seed; the SLO
is 20 % above the least at which every stage has a fitting function memory, or ``slo_ms``
(``optgap generate stages --set slo_ms=400``: an SLO where the queueing cap binds).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from optgap.formulations.stages.instance import VERSION, load
from optgap.instances.stages import presets as P

PATTERNS = ("steady", "sine", "bursty")


def rates_pattern(
    pattern: str, n: int, base: float, rng: np.random.Generator, period: int | None = None
) -> list[float]:
    """Mean request rates of n windows: steady (+-5 % noise), sine (one period over the trace,
    +-60 %), bursty (a diurnal sine plus random bursts of 2-5x lasting 1-3 windows)."""
    t = np.arange(n)
    per = period or n
    if pattern == "steady":
        r = base * (1 + 0.05 * rng.standard_normal(n))
    elif pattern == "sine":
        r = base * (1 + 0.6 * np.sin(2 * math.pi * t / per))
    elif pattern == "bursty":
        r = base * (1 + 0.5 * np.sin(2 * math.pi * t / per))
        k = 0
        while k < n:
            if rng.random() < 0.08:
                length = int(rng.integers(1, 4))
                r[k : k + length] *= rng.uniform(2, 5)
                k += length
            k += 1
    else:
        raise ValueError(f"unknown pattern {pattern!r} (known: {', '.join(PATTERNS)})")
    return [round(float(max(0.0, x)), 3) for x in r]


def slo_with_functions(
    stages: list[dict], cold_ms: float, cv: float, network: dict, p: float = 95.0
) -> float:
    """An SLO 20 % above the least one at which every stage has a fitting function memory
    (rounded up to 100 ms), so that online policies always have functions to fall back on.

    Stage s's share is q_s + (SLO - transfers - sum q) / |S| (q: VM service p-quantiles), and a
    memory fits if cold + qf * fn_ms <= share, so the least SLO is
    sum q + |S| max(0, max_s (cold + qf min_m fn_ms_s - q_s)) + transfers."""
    s2 = math.log(1 + cv * cv)
    qf = math.exp(math.sqrt(s2) * NormalDist().inv_cdf(p / 100) - s2 / 2)
    q = [st["vm_ms"] * qf for st in stages]
    transfers = sum(
        network["latency_ms"] + st["activation_bytes"] / (network["bandwidth_mb_s"] * 1e6) * 1e3
        for st in stages[:-1]
    )
    worst = max(cold_ms + qf * min(st["fn_ms"].values()) - q[i] for i, st in enumerate(stages))
    need = sum(q) + len(stages) * max(0.0, worst) + transfers
    return math.ceil(1.2 * need / 100) * 100.0


def generate(size: int, seed: int, **kwargs) -> object:
    return load(generate_json(size, seed, **kwargs))


def generate_json(
    size: int,
    seed: int,
    *,
    stages: int = 4,
    window_s: int = 300,
    pattern: str | None = None,
    base_rate: float | None = None,
    max_total: int | None = None,
    slo_ms: float | None = None,
) -> dict:
    if size < 1 or stages < 1:
        raise ValueError("size and stages must be >= 1")
    rng = np.random.default_rng(seed)
    pattern = pattern or PATTERNS[seed % len(PATTERNS)]
    base = float(base_rate if base_rate is not None else rng.uniform(20, 200))
    fracs = rng.dirichlet(np.full(stages, 2.0))
    st, left = [], 1.0
    for s in range(stages):
        work = float(rng.uniform(10, 80))
        last = s == stages - 1
        st.append(
            {
                "id": f"s{s}",
                "vm_ms": round(work + P.VM_OVERHEAD_MS, 3),
                "fn_ms": {
                    str(m): round(work / P.fn_speed(m) + P.FN_OVERHEAD_MS, 3) for m in P.FN_MEMORIES
                },
                "exit_prob": 1.0 if last else round(min(1.0, float(fracs[s]) / left), 6),
                "activation_bytes": 0 if last else int(rng.integers(100_000, 4_000_000)),
            }
        )
        left = max(1e-9, left - float(fracs[s]))
    slo = slo_with_functions(st, P.FUNCTIONS["cold_start_ms"], 0.5, P.NETWORK)
    if slo_ms is not None:  # e.g. 300-600 ms, where the queueing cap binds
        slo = float(slo_ms)
    vm = dict(P.VM)
    if max_total is not None:
        vm["max_total"] = max_total
    return {
        "family": "stages",
        "version": VERSION,
        "name": f"random-{pattern}-T{size}-s{seed}",
        "stages": st,
        "arrivals": {
            "window_s": window_s,
            "rates": rates_pattern(pattern, size, base, rng, period=min(size, 288)),
            "seed": seed,
        },
        "vm": vm,
        "functions": dict(P.FUNCTIONS),
        "network": dict(P.NETWORK),
        "slo": {"latency_ms": slo, "percentile": 95.0},
        "service_cv": 0.5,
        "sim_seed": seed,
        "overhead_ms": {"vm": P.VM_OVERHEAD_MS, "fn": P.FN_OVERHEAD_MS},
        "meta": {"generator": "instances/stages/generate.py", "size": size, "seed": seed},
    }
