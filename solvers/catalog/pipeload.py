"""F4 `pipeload` (Hermes / PIPELOAD): the family and its methods."""

from __future__ import annotations

from optgap.formulations.pipeload import instance as pl_instance
from optgap.solvers.lazy import lazy, lazy_module
from optgap.solvers.registry import Family, Method, declare_params, register_family, register_method

# loaders, evaluators, generators, solvers, heuristics and plots are imported on first call
# (fast start: optgap.solvers.lazy); `optgap list` imports none of them
pl_evaluate = lazy_module("optgap.formulations.pipeload.evaluate")
pl_generate = lazy_module("optgap.instances.pipeload.generate")
pl_cpsat = lazy_module("optgap.formulations.pipeload.cpsat")
pl_milp = lazy_module("optgap.formulations.pipeload.milp")
heuristic_front = lazy("optgap.formulations.pipeload.pareto:heuristic_front")
pl_plot = lazy("optgap.solvers.pipeload_plot:plot")
pl_baselines = lazy_module("optgap.heuristics.pipeload.baselines")
pl_pipeload = lazy_module("optgap.heuristics.pipeload.pipeload")

register_family(
    Family(
        id="pipeload",
        title="memory-bounded pipeline loading of Transformer layers (Hermes/PIPELOAD, arXiv 2409.04249)",
        load=pl_instance.load,
        dump=pl_instance.dump,
        evaluate=pl_evaluate.evaluate,
        generate=pl_generate.generate,
        describe=pl_instance.describe,
        objectives=("latency", "memory", "pareto"),
        exact="cpsat",
        plot=pl_plot,
    )
)
BOTH = ("latency", "memory")
# the exact models' horizon, hint and fallback: the planner's schedule, run and checked by the
# evaluator in the solve layer (registry.solve) before the model sees it
WARM = ("planner",)
ALL = ("latency", "memory", "pareto")


def _front(run):
    """The method's latency-memory front over a sweep of budgets (objective pareto)."""

    def method(inst, options):
        if options.objective == "pareto":
            return heuristic_front(inst, options, run)
        return run(inst, options)

    return method


register_method(
    Method(
        "pipeload",
        "cpsat",
        "exact",
        "CP-SAT: load/run/hold intervals, agents and memory as cumulatives; pareto = budget sweep",
        pl_cpsat.solve,
        ("cpsat",),
        ALL,
        export=pl_cpsat.export,
        warm_start=WARM,
    )
)
register_method(
    Method(
        "pipeload",
        "milp",
        "exact",
        "time-indexed MILP (pulp) on the gcd time grid; small instances only",
        pl_milp.solve,
        ("cbc", "highs"),
        BOTH,
        export=pl_milp.export,
        warm_start=WARM,
    )
)
register_method(
    Method(
        "pipeload",
        "pipeload",
        "heuristic",
        "PIPELOAD: k agents load in layer order when an agent is free and memory fits; free after run",
        _front(pl_pipeload.pipeload),
        ("python",),
        ALL,
    )
)
register_method(
    Method(
        "pipeload",
        "planner",
        "heuristic",
        "Hermes planner: PIPELOAD for every k of the agents range, the best kept",
        _front(pl_pipeload.planner),
        ("python",),
        ALL,
    )
)
register_method(
    Method(
        "pipeload",
        "pipeswitch",
        "heuristic",
        "pipeline baseline (PipeSwitch-style): fewest agents, pipelined loading, nothing freed",
        pl_baselines.pipeswitch,
        ("python",),
        BOTH,
    )
)
register_method(
    Method(
        "pipeload",
        "load-all",
        "heuristic",
        "baseline: k agents load the whole model, then it runs",
        pl_baselines.load_all,
        ("python",),
        BOTH,
    )
)
register_method(
    Method(
        "pipeload",
        "one-at-a-time",
        "heuristic",
        "baseline: load, run, free one layer at a time (least memory)",
        pl_baselines.one_at_a_time,
        ("python",),
        BOTH,
    )
)

# the --param keys each method reads (`--method all` and suites give each method only its own)
declare_params(
    "pipeload",
    {
        m: pl_instance.PARAMS
        for m in ("cpsat", "milp", "pipeload", "planner", "pipeswitch", "load-all", "one-at-a-time")
    },
)
