"""F5 heuristics for the network-fnn quantity (formulations/steering/network.py): lower bounds
on the witness over Alice's and Charlie's projective qubit settings.

- seesaw: block ascent (`network.search`: each setting in turn moved to the best projective
  point of the witnesses' linear model, for the FNN minimum after climbing weighted sums) from
  the standard settings (A = σx, σz; C = (σz ± σx)/√2) and `restarts` seeded random ones;
  `iterations` sweeps at most per start. Settings the instance gives stay fixed.
- closed-form: the instance's settings where given, the standard ones otherwise (5/√2 v_AB v_BC
  for Φ+ sources, the value of Pozas-Kerstjens-Gisin-Tavakoli 2022); a free Charlie2 takes
  Charlie's standard pair.

Parameters (--param, seesaw only): restarts (default 8), iterations (default 100).
"""

from __future__ import annotations

import time

import numpy as np
from optgap.formulations.steering import network as N
from optgap.formulations.steering.instance import SteeringInstance, check_params
from optgap.solvers.result import Result, SolveOptions, Status


def network_seesaw(inst: SteeringInstance, options: SolveOptions) -> Result:
    check_params(options.params)
    restarts = options.int_param("restarts", 8, lo=0)
    iters = options.int_param("iterations", 100)
    rng = np.random.default_rng(options.seed)
    t0 = time.perf_counter()
    given = N.given_settings(inst)
    starts = [N.standard_settings()] + [N.random_start(rng) for _ in range(restarts)]
    if all(v is not None for v in given.values()):
        starts = starts[:1]  # nothing to choose
    _, s = N.search(
        inst, starts, iters, deadline=lambda: time.perf_counter() - t0 > options.time_limit_s
    )
    sol, value, stats = N.network_solution(inst, s)
    stats = {**stats, "restarts": restarts, "iterations": iters}
    return Result("", "", "python", Status.FEASIBLE, value, solution=sol, stats=stats)


def network_closed_form(inst: SteeringInstance, options: SolveOptions) -> Result:
    check_params(options.params)
    given = N.given_settings(inst)
    std = N.standard_settings()
    s = {p: (g if g is not None else std[p]) for p, g in given.items()}
    sol, value, stats = N.network_solution(inst, s)
    free = any(g is None for g in given.values())
    stats["strategy"] = "standard settings" if free else "given"
    return Result("", "", "python", Status.FEASIBLE, value, solution=sol, stats=stats)
