r"""F3 whole-model baseline, exact: the early-exit model served as *one unit* (no stage split).

A query holds one VM worker (or one function invocation) from its arrival until it exits, so the
unit's mean service is exit-weighted, Σ_s r_s x_s with x_0 = the first stage's time and x_s =
stage s's time less the per-query overhead (``overhead_ms``, paid once), and its variability the
mixture's over exits: E[T²] = Σ_e P(exit e) (cv² Σ_{s≤e} x_s² + (Σ_{s≤e} x_s)²). Functions
serve at the memories every stage offers, Σ_s r_s y_s(m) likewise. No activations travel, so
the SLO has no transfers to pay. This 1-stage view is then the same problem as any stage of the
split model and is solved by the same MILP (:mod:`optgap.formulations.stages.milp`): integer
VMs per window, launches a cold start ahead, functions for what exceeds the capped VMs, the
cheapest fitting memory.

With several VM types (``vm_types``) the whole model may run on any type on which every stage
has a time (``vm_ms`` on its own type, ``vm_ms_on`` on others); ``whole-milp`` solves one MILP
per such type and keeps the cheapest, so it is exact over the type too. The status is
``optimal`` only if every type's MILP is; the bound is the least of the types' bounds.

Solution: ``{"mode": "whole", "vm_type": name, "vms": [[v_t]], "memory_mb": [m], ...}``; the
evaluator derives the whole-model unit itself and the simulator replays it as one unit.
"""

from __future__ import annotations

import math
from dataclasses import replace

from optgap.formulations.stages.instance import Stage, StagesInstance
from optgap.formulations.stages.plan import check_params, slo_of
from optgap.solvers.result import Result, SolveOptions, Status


def eligible_types(inst: StagesInstance) -> list[str]:
    """VM types on which every stage has a time."""
    names = ["default", *inst.vm_types]
    return [
        n for n in names if all(inst.stage_vm_ms(s, n) is not None for s in range(len(inst.stages)))
    ]


def whole_instance(inst: StagesInstance, type_name: str = "default") -> StagesInstance:
    """The 1-stage instance of the whole model on one VM type (see the module docstring)."""
    S = len(inst.stages)
    xs = [inst.stage_vm_ms(s, type_name) for s in range(S)]
    if any(x is None for x in xs):
        raise ValueError(f"some stage has no time on VM type {type_name!r}")
    xs = [x if s == 0 else x - inst.overhead_vm_ms for s, x in enumerate(xs)]
    reach = inst.reach
    mean = sum(r * x for r, x in zip(reach, xs, strict=True))
    cv = inst.service_cv
    e2, run, sq = 0.0, 0.0, 0.0
    for s, st in enumerate(inst.stages):
        run += xs[s]
        sq += xs[s] ** 2
        p_exit = reach[s] * st.exit_prob
        e2 += p_exit * (cv * cv * sq + run * run)
    mix_cv = math.sqrt(max(0.0, e2 - mean * mean)) / mean
    common = set(inst.stages[0].fn_ms).intersection(*(st.fn_ms for st in inst.stages[1:]))
    fn = {
        m: sum(
            r * (st.fn_ms[m] - (inst.overhead_fn_ms if s else 0.0))
            for s, (r, st) in enumerate(zip(reach, inst.stages, strict=True))
        )
        for m in sorted(common)
    }
    if not fn:
        raise ValueError("no function memory is offered by every stage")
    vt = inst.vm_type(type_name)
    unit = Stage("whole", mean, fn, 1.0, 0, "default", {})
    return replace(
        inst,
        stages=(unit,),
        vm=replace(vt, max_total=inst.vm.max_total),
        vm_types={},
        service_cv=mix_cv,
        overhead_vm_ms=0.0,
        overhead_fn_ms=0.0,
        network_latency_ms=0.0,
        name=f"{inst.name} (whole model on {type_name})",
    )


def as_whole(sol: dict, type_name: str, policy: str) -> dict:
    """A 1-stage solution of the whole-model instance as a whole-mode solution of the original."""
    return {**sol, "mode": "whole", "vm_type": type_name, "policy": policy}


def solve(inst: StagesInstance, options: SolveOptions) -> Result:
    from optgap.formulations.stages import milp

    check_params(options, ("max_nodes", "max_solutions"))
    backend = options.backend or "cbc"
    types = eligible_types(inst)
    if not types:
        return Result(
            "", "", backend, Status.ERROR, message="no VM type has a time for every stage"
        )
    best, bounds, statuses, per_type = None, [], [], {}
    for name in types:
        sub = whole_instance(inst, name)
        r = milp.solve(sub, replace(options, slo_ms=slo_of(inst, options)))
        statuses.append(r.status)
        per_type[name] = r.objective
        if r.status in (Status.OPTIMAL, Status.FEASIBLE):
            bounds.append(r.bound if r.bound is not None else -math.inf)
            if best is None or r.objective < best[1].objective:
                best = (name, r)
        elif r.status == Status.INFEASIBLE:
            continue
        else:
            bounds.append(r.bound if r.bound is not None else -math.inf)
    if best is None:
        if all(s == Status.INFEASIBLE for s in statuses):
            return Result(
                "",
                "",
                backend,
                Status.INFEASIBLE,
                message="whole model: " + "; ".join(f"on {n}: infeasible" for n in types),
            )
        worst = next(s for s in statuses if s != Status.INFEASIBLE)
        return Result("", "", backend, worst, message="whole model: no type solved")
    name, r = best
    proven = all(s in (Status.OPTIMAL, Status.INFEASIBLE) for s in statuses)
    bound = min(bounds) if bounds else None
    bound = None if bound is None or not math.isfinite(bound) else min(bound, r.objective)
    return Result(
        "",
        "",
        backend,
        Status.OPTIMAL if proven else Status.FEASIBLE,
        objective=r.objective,
        bound=r.objective if proven else bound,
        solution=as_whole(r.solution, name, "whole-milp"),
        stats={**r.stats, "vm_type": name, "per_type_cost": per_type},
    )
