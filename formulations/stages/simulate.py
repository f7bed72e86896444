"""Discrete-event simulation of a provisioning plan over the instance's per-second trace.

Part of the F3 evaluator: it imports no model and no heuristic. Deterministic for a given
instance (``sim_seed``) and plan.

What is simulated
-----------------
- Arrivals: each second's count of queries at uniform random instants inside the second.
- Exits: each query draws its exit stage from the stages' exit probabilities.
- Stage s is a pool of ``v[s][t] * workers`` VM workers behind one FCFS queue (the pool's load
  balancer holds the queue and hands a query to the next free worker), plus serverless functions
  of the plan's memory. VMs of window t are ready from the window's start (they were launched
  ``cold_start_s`` earlier and are paid from then, as in the plan's cost); at a window boundary
  the pool grows by fresh workers or shrinks by retiring the workers that free up first (a retired
  VM finishes the query it holds). Queries that spill past the trace's end keep the last window's
  pool.
- Admission (SERFLOW's ingestion-based balancing): a query goes to the VM pool if it would start
  within the stage's queueing allowance (``Plan.wait_budget_ms``: the SLO share left after the VM
  service percentile), otherwise to a function; with no VM in the pool it goes to a function.
  A stage whose functions cannot meet the SLO sends everything to its VMs.
- Functions: a container is reused if one has been idle for at most ``keep_alive_s`` (the one idle
  longest is taken), else a new one starts after ``cold_start_ms``. Billed per request and per
  GB-second of service time (the cold start is not billed).
- Service times are lognormal with the stage's mean (VM or function at the chosen memory) and the
  instance's ``service_cv``; activations reach the next stage after ``Instance.transfer_ms``.

Outputs: the simulated cost (VM cost exactly as planned; function cost as served), latency
percentiles end to end (arrival to exit), the SLO violation rate and per-stage function shares.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np


def simulate(
    inst: Any, vms: list[list[int]], memory: list[int | None], slo_ms: float | None = None
) -> dict[str, Any]:
    plan = inst.plan(slo_ms)
    slo = plan.slo_ms
    rng = np.random.default_rng(inst.sim_seed)
    counts = inst.per_second
    n = int(counts.sum())
    S = len(inst.stages)
    W = inst.window_s
    T = inst.n_windows
    arrival = np.repeat(np.arange(len(counts), dtype=np.float64), counts) + rng.random(n)
    arrival.sort()
    p_exit = np.array([inst.reach[s] * inst.stages[s].exit_prob for s in range(S)])
    cum = np.cumsum(p_exit)
    cum[-1] = 1.0 + 1e-12
    exit_stage = np.searchsorted(cum, rng.random(n), side="right")
    s2 = math.log(1.0 + inst.service_cv**2)
    sig = math.sqrt(s2)
    fn = inst.functions
    workers = inst.vm.workers

    completion = np.empty(n)
    ids = np.arange(n)
    times = arrival
    fn_counts, vm_counts, cold_counts = [], [], []
    fn_cost = 0.0
    for s in range(S):
        st = inst.stages[s]
        sp = plan.stages[s]
        mem = memory[s]
        fn_ok = mem is not None
        if mem is None:  # only used if a query finds no VM at all (a spill past a plan's VMs)
            mem = min(st.fn_ms, key=lambda m: st.fn_ms[m])
        m = len(times)
        svc_vm = (st.vm_ms / 1000.0 * np.exp(sig * rng.standard_normal(m) - s2 / 2)).tolist()
        svc_fn = (st.fn_ms[mem] / 1000.0 * np.exp(sig * rng.standard_normal(m) - s2 / 2)).tolist()
        depart = [0.0] * m
        plan_v = [int(v) for v in vms[s]]
        wb = sp.wait_budget_ms / 1000.0
        keep = fn.keep_alive_s
        cold = fn.cold_start_ms / 1000.0
        heap: list[float] = []
        fheap: list[float] = []
        next_boundary = -math.inf
        n_fn = n_cold = 0
        fn_busy = 0.0
        heappush, heappop, heapreplace = heapq.heappush, heapq.heappop, heapq.heapreplace
        for i, a in enumerate(times.tolist()):
            if a >= next_boundary:
                t = min(int(a // W), T - 1)
                next_boundary = (t + 1) * W if t < T - 1 else math.inf
                target = min(plan_v[t] * workers, m)  # no more workers than queries to serve
                while len(heap) > target:
                    heappop(heap)
                start_t = float(t * W)
                while len(heap) < target:
                    heappush(heap, start_t)
            if heap:
                f0 = heap[0]
                begin = f0 if f0 > a else a
                if begin - a <= wb or not fn_ok:
                    d = begin + svc_vm[i]
                    heapreplace(heap, d)
                    depart[i] = d
                    continue
            # a function
            while fheap and a - fheap[0] > keep:
                heappop(fheap)
            x = svc_fn[i]
            n_fn += 1
            fn_busy += x
            if fheap and fheap[0] <= a:
                d = a + x
                heapreplace(fheap, d)
            else:
                d = a + cold + x
                n_cold += 1
                heappush(fheap, d)
            depart[i] = d
        fn_cost += n_fn * fn.price_per_request + fn.price_per_gb_s * (mem / 1024.0) * fn_busy
        fn_counts.append(n_fn)
        vm_counts.append(m - n_fn)
        cold_counts.append(n_cold)
        dep = np.asarray(depart)
        here = exit_stage[ids] == s
        completion[ids[here]] = dep[here]
        if s < S - 1:
            go = ~here
            nxt = dep[go] + inst.transfer_ms(s) / 1000.0
            order = np.argsort(nxt, kind="stable")
            times = nxt[order]
            ids = ids[go][order]
    latency_ms = (completion - arrival) * 1000.0
    vm_cost = _vm_cost(inst, vms)
    p50, p95, p99, pslo = (
        np.percentile(latency_ms, [50, 95, 99, inst.percentile]) if n else (0.0,) * 4
    )
    return {
        "sim_cost": vm_cost + fn_cost,
        "sim_vm_cost": vm_cost,
        "sim_fn_cost": fn_cost,
        "requests": n,
        "latency_p50_ms": float(p50),
        "latency_p95_ms": float(p95),
        "latency_p99_ms": float(p99),
        "latency_slo_percentile_ms": float(pslo),
        "slo_violation_rate": float(np.mean(latency_ms > slo)) if n else 0.0,
        "slo_met": bool(pslo <= slo),
        "stage_visits": [v + f for v, f in zip(vm_counts, fn_counts, strict=True)],
        "sim_fn_share": [
            f / (v + f) if v + f else 0.0 for v, f in zip(vm_counts, fn_counts, strict=True)
        ],
        "fn_cold_starts": cold_counts,
    }


def _vm_cost(inst: Any, vms: list[list[int]]) -> float:
    """VM-seconds running (whole windows) plus booting (cold start per launch), at the VM price."""
    per_s = inst.vm.price_per_hour / 3600.0
    total = 0.0
    for row in vms:
        prev = 0
        for v in row:
            total += per_s * (inst.window_s * v + inst.vm.cold_start_s * max(0, v - prev))
            prev = v
    return total
