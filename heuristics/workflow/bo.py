"""Bayesian-optimisation baseline: optuna's TPE over every function's (CPU, memory) levels.

One trial = one run of the whole workflow in a configuration chosen by the sampler: every function
is profiled once (n samples per trial). The trial's value is the workflow cost; the SLO is a
constraint given to the sampler (``trial.set_constraint``: latency - SLO <= 0; out of memory counts
as violating). The first trial is the top configuration (most CPU and memory) so the search has a
feasible start. The answer is the cheapest feasible trial.

Parameters: ``--param trials=N`` (default 100). Seeded by ``--seed`` (TPESampler(seed)).
Coupled mode searches the memory level only.
"""

from __future__ import annotations

import optuna
from optgap.heuristics.workflow.oracle import finish, int_param, setup
from optgap.solvers.result import Result, SolveOptions

DEFAULT_TRIALS = 100


def bo(inst, options: SolveOptions) -> Result:
    trials = int_param(options, "trials", DEFAULT_TRIALS)
    blind, oracle = setup(inst, options)
    n_cpu, n_mem = len(blind.cpu_grid), len(blind.mem_grid_mb)
    coupled = blind.mode == "coupled"
    best: dict = {}

    def decode(params: dict) -> list[tuple[int, int]]:
        out = []
        for f in range(blind.n):
            j = params[f"m{f}"]
            out.append((blind.coupled_cpu(j), j) if coupled else (params[f"c{f}"], j))
        return out

    def objective(trial: optuna.Trial) -> float:
        params = {}
        for f in range(blind.n):
            if not coupled:
                params[f"c{f}"] = trial.suggest_int(f"c{f}", 0, n_cpu - 1)
            params[f"m{f}"] = trial.suggest_int(f"m{f}", 0, n_mem - 1)
        cfg = decode(params)
        rt = [oracle.profile(f, i, j) for f, (i, j) in enumerate(cfg)]
        if any(t is None for t in rt):
            trial.set_constraint("slo", float(blind.slo_us))
            return float("inf")
        latency = blind.latency(rt)
        cost = sum(blind.cost(t, i, j) for t, (i, j) in zip(rt, cfg, strict=True))
        trial.set_constraint("slo", float(latency - blind.slo_us))
        if latency <= blind.slo_us and ("cost" not in best or cost < best["cost"]):
            best.update(cost=cost, cfg=cfg, rt=rt, trial=trial.number)
        return cost

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=options.seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    top_j = n_mem - 1
    start = {f"m{f}": top_j for f in range(blind.n)}
    if not coupled:
        start |= {f"c{f}": n_cpu - 1 for f in range(blind.n)}
    study.enqueue_trial(start)
    study.optimize(objective, n_trials=trials)
    if "cfg" not in best:
        cfg = decode(start)
        return finish(blind, oracle, cfg, [blind.slo_us + 1] * blind.n, {"trials": trials})
    return finish(
        blind, oracle, best["cfg"], best["rt"], {"trials": trials, "best_trial": best["trial"]}
    )
