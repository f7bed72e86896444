"""LIBRA on the whole model: the early-exit model served as one unit (no stage split), VMs for
the EWMA-smoothed load, bursts to functions.

The unit is the one :mod:`optgap.formulations.stages.whole` defines (exit-weighted service, the
mixture's cv, overhead once). With several VM types the policy picks, from the static profile
alone, the type with the least price per request/s of capped capacity (no future arrivals).
"""

from __future__ import annotations

from dataclasses import replace

from optgap.formulations.stages.whole import as_whole, eligible_types, whole_instance
from optgap.heuristics.stages.common import run_policy
from optgap.heuristics.stages.libra import libra_vms
from optgap.solvers.result import Result, SolveOptions, Status


def cheapest_type(inst, slo_ms: float) -> str | None:
    best = None
    for name in eligible_types(inst):
        sub = whole_instance(inst, name)
        sp = sub.plan(slo_ms).stages[0]
        if not sp.vm_ok or sp.cap <= 0:
            continue
        unit = sub.vm.price_per_hour / sp.cap
        if best is None or unit < best[0]:
            best = (unit, name)
    return None if best is None else best[1]


def whole_libra(inst, options: SolveOptions) -> Result:
    slo = float(options.slo_ms) if options.slo_ms is not None else inst.slo_ms
    types = eligible_types(inst)
    if not types:
        return Result(
            "", "", "python", Status.ERROR, message="no VM type has a time for every stage"
        )
    name = cheapest_type(inst, slo) or types[0]
    sub = whole_instance(inst, name)
    r = run_policy(sub, replace(options, slo_ms=slo), "whole-libra", libra_vms)
    if r.solution is not None:
        r = replace(r, solution=as_whole(r.solution, name, "whole-libra"), stats={"vm_type": name})
    return r
