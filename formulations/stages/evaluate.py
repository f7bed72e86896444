"""Independent evaluator for F3: the definition of a feasible plan, of its cost, and its simulation.

It imports no model and no heuristic: the planning quantities come from the instance's own
definition (:meth:`StagesInstance.plan`), the rest is recomputed here from the solution.

Solution (the ``solution`` object of a result)::

    {"slo_ms": float, "vms": [[int per window] per stage], "memory_mb": [int | null per stage],
     "fn_share": [[float per window] per stage] (optional, checked), "policy": str (optional)}

Feasible iff the SLO can be met at all (else the reason names the stage); ``vms`` has one
non-negative integer per stage and window; no VM runs at a stage whose VM service percentile
exceeds its share of the SLO; at most ``vm.max_total`` VMs run in a window; every stage that
sends traffic to functions names a memory whose cold start + service percentile fits its share;
a stage whose functions cannot fit carries all its traffic on VMs at the utilisation cap; a given
``fn_share`` equals the implied one within 1e-6.

Objective -- the **plan cost** (deterministic, what the MILP minimises), in $::

    sum_s,t  price/3600 * (window_s * v[s,t] + cold_start_s * max(0, v[s,t] - v[s,t-1]))
           + fn_cost_s(memory_s) * window_s * max(0, lambda_t * reach_s - cap_s * v[s,t])

with v[s,-1] = 0, lambda_t the window's mean arrival rate, reach_s the expected fraction of
queries reaching stage s, cap_s the utilisation-capped capacity of one VM.

Metrics -- the **simulation** of the plan (:mod:`optgap.formulations.stages.simulate`): ``sim_cost``
(VM cost as planned + functions as served, which differs from the plan cost legitimately:
random exits and service times, and the balancer sends to functions only what actually finds
the VMs' queue beyond its allowance), latency p50/p95/p99, SLO violation rate. Pass
``simulate=False`` to skip it (tests of the cost alone).
"""

from __future__ import annotations

from typing import Any

from optgap.formulations.stages.simulate import simulate as run_simulation
from optgap.solvers.result import Evaluation, SolveOptions


def evaluate(
    instance: Any, solution: Any, options: SolveOptions | None = None, simulate: bool = True
) -> Evaluation:
    v: list[str] = []
    if not isinstance(solution, dict) or not isinstance(solution.get("vms"), list):
        return Evaluation(False, None, ["solution: expected an object with a 'vms' array"])
    S, T = len(instance.stages), instance.n_windows
    slo = solution.get("slo_ms", instance.slo_ms)
    if slo is None:
        slo = instance.slo_ms
    if isinstance(slo, bool) or not isinstance(slo, int | float) or slo <= 0:
        return Evaluation(
            False, None, [f"solution.slo_ms: expected a positive number, got {slo!r}"]
        )
    plan = instance.plan(float(slo))
    if plan.infeasible:
        return Evaluation(False, None, [plan.infeasible])
    vms = solution["vms"]
    if len(vms) != S:
        return Evaluation(False, None, [f"vms: {len(vms)} rows, expected one per stage ({S})"])
    for s, row in enumerate(vms):
        if not isinstance(row, list) or len(row) != T:
            return Evaluation(False, None, [f"vms[{s}]: expected {T} counts, one per window"])
        for t, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, int | float) or x < 0 or x != int(x):
                return Evaluation(
                    False, None, [f"vms[{s}][{t}]: expected a non-negative integer, got {x!r}"]
                )
    vms = [[int(x) for x in row] for row in vms]
    memory = solution.get("memory_mb")
    if not isinstance(memory, list) or len(memory) != S:
        return Evaluation(False, None, ["memory_mb: expected one entry (MB or null) per stage"])

    per_s = instance.vm.price_per_hour / 3600.0
    W = instance.window_s
    rates = instance.rates
    vm_cost = fn_cost = 0.0
    shares: list[list[float]] = []
    for s, st in enumerate(instance.stages):
        sp = plan.stages[s]
        mem = memory[s]
        if mem is not None and (isinstance(mem, bool) or mem not in st.fn_ms):
            v.append(f"memory_mb[{s}]: {mem!r} is not a memory size of stage {st.id}")
            continue
        if mem is not None and mem not in sp.fn_ok_memories:
            v.append(
                f"memory_mb[{s}]: {mem} MB misses stage {st.id}'s SLO share {sp.budget_ms:.4g} ms "
                f"(cold start + p{instance.percentile:g} service)"
            )
            continue
        if not sp.vm_ok and any(vms[s]):
            v.append(
                f"vms[{s}]: stage {st.id} runs VMs, but their service p{instance.percentile:g} "
                f"{sp.vm_quantile_ms:.4g} ms exceeds its SLO share {sp.budget_ms:.4g} ms"
            )
            continue
        prev = 0
        row_share = []
        reach = instance.reach[s]
        unit = instance.fn_cost_per_query(s, mem) if mem is not None else 0.0
        for t in range(T):
            n = vms[s][t]
            vm_cost += per_s * (W * n + instance.vm.cold_start_s * max(0, n - prev))
            prev = n
            lam = rates[t] * reach
            x = max(0.0, lam - sp.cap * n)
            row_share.append(x / lam if lam > 0 else 0.0)
            if x > 1e-9 * max(1.0, lam):
                if mem is None:
                    why = "has no memory_mb" if sp.fn_ok_memories else "cannot meet its SLO share"
                    v.append(
                        f"stage {st.id} window {t}: {lam:.4g} req/s exceed what {n} VM(s) carry at "
                        f"the utilisation cap ({sp.cap * n:.4g} req/s), and its function {why}"
                    )
                    break
                fn_cost += unit * W * x
        shares.append(row_share)
    mt = instance.vm.max_total
    if mt is not None:
        for t in range(T):
            tot = sum(vms[s][t] for s in range(S))
            if tot > mt:
                v.append(f"window {t}: {tot} VMs run, more than vm.max_total = {mt}")
                break
    given = solution.get("fn_share")
    if given is not None and not v:
        ok = isinstance(given, list) and len(given) == S
        for s in range(S):
            if not ok:
                break
            row = given[s]
            ok = isinstance(row, list) and len(row) == T
            if ok:
                for t in range(T):
                    g = row[t]
                    if isinstance(g, bool) or not isinstance(g, int | float):
                        ok = False
                        break
                    if abs(g - shares[s][t]) > 1e-6:
                        v.append(
                            f"fn_share[{s}][{t}]: {g:g}, but {vms[s][t]} VM(s) leave "
                            f"{shares[s][t]:.6g} of the traffic to functions"
                        )
                        break
        if not ok:
            v.append("fn_share: expected one share per stage and window")
    if v:
        return Evaluation(False, None, v)
    cost = float(vm_cost + fn_cost)
    metrics: dict[str, Any] = {
        "plan_cost": cost,
        "plan_vm_cost": vm_cost,
        "plan_fn_cost": fn_cost,
        "vm_hours": sum(map(sum, vms)) * W / 3600.0,
        "fn_share_planned": [
            float(
                sum(rates[t] * instance.reach[s] * shares[s][t] for t in range(T))
                / max(1e-300, float(sum(rates)) * instance.reach[s])
            )
            for s in range(S)
        ],
    }
    if simulate:
        metrics |= run_simulation(instance, vms, memory, float(slo))
    return Evaluation(True, cost, [], metrics)
