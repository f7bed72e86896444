"""Discrete-event simulation of a provisioning plan over the instance's per-second trace.

Part of the F3 evaluator: it imports no model, no heuristic and nothing of the planning model;
the evaluator hands it, per unit, the workers per VM, the queueing allowance, the capacity and
the memory it judged. Deterministic for a given instance (``sim_seed``) and plan.

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
- Admission, ``fallback=on`` (SERFLOW's ingestion-based balancing, the default): a query goes to
  the VM pool if it would start within the stage's queueing allowance (the SLO share left after
  the VM service percentile), otherwise to a function; with no VM in the pool it goes to a
  function. A stage whose functions cannot meet the SLO sends everything to its VMs.
  ``fallback=off`` (``--param fallback=off``): no diversion -- a query goes to the VM pool with
  the plan's VM share of its window (1 - the planned function share; a seeded coin) and waits
  there however long; only the rest, and windows without VMs, go to functions. There a plan whose
  VMs cannot carry what it gives them violates the SLO.
- Whole mode (the whole-model baselines): one unit; a query holds its worker (or its function)
  through every stage until it exits: service = sum over the stages it passes of the stage's
  lognormal time (the per-query overhead paid once).
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
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Unit:
    """What the evaluator judged for one unit (a stage, or the whole model)."""

    workers: int
    allowance_s: float  # queueing allowance (the SLO share left after the VM service quantile)
    cap: float  # req/s one VM carries at the utilisation cap
    memory: int | None  # the plan's function memory (None: no function fits)
    vm_share: list[float]  # per window, the plan's VM share of the traffic (1 - function share)


def simulate(
    inst: Any,
    vms: list[list[int]],
    units: list[Unit],
    slo_ms: float,
    *,
    mode: str = "stages",
    vm_type: str | None = None,
    fallback: bool = True,
) -> dict[str, Any]:
    rng = np.random.default_rng(inst.sim_seed)
    coin = np.random.default_rng([inst.sim_seed, 1])  # fallback=off routing: its own stream
    counts = inst.per_second
    n = int(counts.sum())
    S = len(inst.stages)
    arrival = np.repeat(np.arange(len(counts), dtype=np.float64), counts) + rng.random(n)
    arrival.sort()
    reach, r = [], 1.0
    for st in inst.stages:
        reach.append(r)
        r *= 1.0 - st.exit_prob
    p_exit = np.array([reach[s] * inst.stages[s].exit_prob for s in range(S)])
    cum = np.cumsum(p_exit)
    cum[-1] = 1.0 + 1e-12
    exit_stage = np.searchsorted(cum, rng.random(n), side="right")
    s2 = math.log(1.0 + inst.service_cv**2)
    sig = math.sqrt(s2)

    def lognormal(mean_s: float, m: int) -> np.ndarray:
        return mean_s * np.exp(sig * rng.standard_normal(m) - s2 / 2)

    completion = np.empty(n)
    out_fn, out_vm, out_cold = [], [], []
    fn_cost = 0.0
    if mode == "whole":
        u = units[0]
        mem = u.memory if u.memory is not None else _fastest_common(inst)
        svc_vm = np.zeros(n)
        svc_fn = np.zeros(n)
        for s, st in enumerate(inst.stages):
            x = st.vm_ms if st.vm_type == (vm_type or "default") else st.vm_ms_on[vm_type]
            y = st.fn_ms[mem]
            if s > 0:
                x -= inst.overhead_vm_ms
                y -= inst.overhead_fn_ms
            here = exit_stage >= s
            svc_vm += np.where(here, lognormal(x / 1000.0, n), 0.0)
            svc_fn += np.where(here, lognormal(y / 1000.0, n), 0.0)
        depart, n_fn, n_cold, busy = _serve(
            inst, arrival, svc_vm.tolist(), svc_fn.tolist(), vms[0], u, fallback, coin
        )
        fn_cost += _fn_bill(inst, n_fn, busy, mem)
        out_fn.append(n_fn)
        out_vm.append(n - n_fn)
        out_cold.append(n_cold)
        completion[:] = np.asarray(depart)
    else:
        ids = np.arange(n)
        times = arrival
        for s in range(S):
            st = inst.stages[s]
            u = units[s]
            mem = u.memory
            if mem is None:  # only used if a query finds no VM at all (a spill past a plan's VMs)
                mem = min(st.fn_ms, key=lambda m: st.fn_ms[m])
            m = len(times)
            svc_vm = lognormal(st.vm_ms / 1000.0, m).tolist()
            svc_fn = lognormal(st.fn_ms[mem] / 1000.0, m).tolist()
            depart, n_fn, n_cold, busy = _serve(
                inst, times, svc_vm, svc_fn, vms[s], u, fallback, coin
            )
            fn_cost += _fn_bill(inst, n_fn, busy, mem)
            out_fn.append(n_fn)
            out_vm.append(m - n_fn)
            out_cold.append(n_cold)
            dep = np.asarray(depart)
            here = exit_stage[ids] == s
            completion[ids[here]] = dep[here]
            if s < S - 1:
                go = ~here
                bw = inst.bandwidth_mb_s
                tr = inst.network_latency_ms + (
                    0.0 if bw is None else st.activation_bytes / (bw * 1e6) * 1e3
                )
                nxt = dep[go] + tr / 1000.0
                order = np.argsort(nxt, kind="stable")
                times = nxt[order]
                ids = ids[go][order]
    latency_ms = (completion - arrival) * 1000.0
    vm_cost = _vm_cost(inst, vms, mode, vm_type)
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
        "slo_violation_rate": float(np.mean(latency_ms > slo_ms)) if n else 0.0,
        "slo_met": bool(pslo <= slo_ms),
        "stage_visits": [v + f for v, f in zip(out_vm, out_fn, strict=True)],
        "sim_fn_share": [
            f / (v + f) if v + f else 0.0 for v, f in zip(out_vm, out_fn, strict=True)
        ],
        "fn_cold_starts": out_cold,
    }


def _fastest_common(inst) -> int:
    mems = set(inst.stages[0].fn_ms)
    for st in inst.stages[1:]:
        mems &= set(st.fn_ms)
    return max(mems)


def _fn_bill(inst, n_fn: int, busy_s: float, mem: int) -> float:
    fn = inst.functions
    return n_fn * fn.price_per_request + fn.price_per_gb_s * (mem / 1024.0) * busy_s


def _serve(inst, times, svc_vm, svc_fn, plan_v, u: Unit, fallback: bool, coin):
    """One unit's FCFS VM pool (grown or shrunk at window boundaries) and its functions."""
    W, T = inst.window_s, inst.n_windows
    fn = inst.functions
    m = len(times)
    depart = [0.0] * m
    plan_v = [int(v) for v in plan_v]
    wb = u.allowance_s
    fn_ok = u.memory is not None
    keep = fn.keep_alive_s
    cold = fn.cold_start_ms / 1000.0
    draws = coin.random(m).tolist() if not fallback else None
    heap: list[float] = []
    fheap: list[float] = []
    next_boundary = -math.inf
    n_fn = n_cold = 0
    fn_busy = 0.0
    share = 1.0
    heappush, heappop, heapreplace = heapq.heappush, heapq.heappop, heapq.heapreplace
    for i, a in enumerate(times.tolist() if hasattr(times, "tolist") else times):
        if a >= next_boundary:
            t = min(int(a // W), T - 1)
            next_boundary = (t + 1) * W if t < T - 1 else math.inf
            target = plan_v[t] * u.workers
            share = u.vm_share[t]
            while len(heap) > target:
                heappop(heap)
            start_t = float(t * W)
            while len(heap) < target:
                heappush(heap, start_t)
        if heap:
            f0 = heap[0]
            begin = f0 if f0 > a else a
            # fallback on: divert a query that would wait past its allowance; off: the plan's split
            if (begin - a <= wb if fallback else draws[i] < share) or not fn_ok:
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
    return depart, n_fn, n_cold, fn_busy


def _vm_cost(inst: Any, vms: list[list[int]], mode: str, vm_type: str | None) -> float:
    """VM-seconds running (whole windows) plus booting (cold start per launch), at the VM price."""
    total = 0.0
    for s, row in enumerate(vms):
        name = (vm_type or "default") if mode == "whole" else inst.stages[s].vm_type
        vt = inst.vm if name == "default" else inst.vm_types[name]
        per_s = vt.price_per_hour / 3600.0
        prev = 0
        for v in row:
            total += per_s * (inst.window_s * v + vt.cold_start_s * max(0, v - prev))
            prev = v
    return total
