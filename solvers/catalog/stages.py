"""F3 `stages` (SERFLOW): the family and its methods."""

from __future__ import annotations

from optgap.solvers.lazy import lazy_module
from optgap.solvers.registry import Family, Method, declare_params, register_family, register_method

# loaders, evaluators, generators, solvers, heuristics and plots are imported on first call
# (fast start: optgap.solvers.lazy); `optgap list` imports none of them
stages_evaluate = lazy_module("optgap.formulations.stages.evaluate")
stages_instance = lazy_module("optgap.formulations.stages.instance")
stages_generate = lazy_module("optgap.instances.stages.generate")
stages_dp = lazy_module("optgap.formulations.stages.dp")
stages_milp = lazy_module("optgap.formulations.stages.milp")
stages_plot = lazy_module("optgap.formulations.stages.plot")
stages_baselines = lazy_module("optgap.heuristics.stages.baselines")
stages_libra = lazy_module("optgap.heuristics.stages.libra")
stages_serflow = lazy_module("optgap.heuristics.stages.serflow")
stages_whole = lazy_module("optgap.formulations.stages.whole")
stages_whole_libra = lazy_module("optgap.heuristics.stages.whole")

register_family(
    Family(
        id="stages",
        title="Stage-wise FaaS/IaaS provisioning of early-exit models (SERFLOW, arXiv 2510.27182)",
        load=stages_instance.load,
        dump=stages_instance.dump,
        evaluate=stages_evaluate.evaluate,
        generate=stages_generate.generate,
        describe=stages_instance.describe,
        objectives=("cost",),
        exact="milp",
        plot=stages_plot.plot_solution_file,
        check=stages_evaluate.evaluate_plan,
    )
)
COST = ("cost",)
for name, kind, desc, run, backends, export in (
    (
        "milp",
        "exact",
        "MILP over the trace: integer VMs per stage and window (launched a cold start ahead), "
        "function share, cheapest fitting memory per stage",
        stages_milp.solve,
        ("cbc", "highs"),
        stages_milp.export,
    ),
    (
        "whole-milp",
        "exact",
        "baseline: the same MILP for the whole model served as one unit (a query holds its "
        "worker until it exits; exit-weighted service, the mixture's cv), cheapest VM type",
        stages_whole.solve,
        ("cbc", "highs"),
        None,
    ),
    (
        "milp-onehot",
        "exact",
        "the same MILP with one binary per stage and function memory (cross-check)",
        stages_milp.solve_onehot,
        ("cbc", "highs"),
        None,
    ),
    (
        "dp",
        "exact",
        "dynamic programme per stage over windows x VM counts (no vm.max_total)",
        stages_dp.solve,
        ("numpy",),
        None,
    ),
    (
        "serflow",
        "heuristic",
        "online, stage-wise cost indifference: a VM where its load beats price / function cost",
        stages_serflow.serflow,
        ("python",),
        None,
    ),
    (
        "stage-agnostic",
        "heuristic",
        "online, the same indifference rule with every stage provisioned for all traffic",
        stages_serflow.stage_agnostic,
        ("python",),
        None,
    ),
    (
        "libra",
        "heuristic",
        "online, LIBRA-style: VMs for the smoothed (EWMA) load, bursts to functions",
        stages_libra.libra,
        ("python",),
        None,
    ),
    (
        "whole-libra",
        "heuristic",
        "online baseline: LIBRA's smoothing on the whole model served as one unit",
        stages_whole_libra.whole_libra,
        ("python",),
        None,
    ),
    (
        "functions-only",
        "heuristic",
        "online baseline: serverless functions only",
        stages_baselines.functions_only,
        ("python",),
        None,
    ),
    (
        "vm-peak",
        "heuristic",
        "online baseline: VMs for the peak rate seen so far at every stage",
        stages_baselines.vm_peak,
        ("python",),
        None,
    ),
):
    # the MILPs take SERFLOW's plan, run and accepted by the evaluator in the solve layer, as
    # hint, fallback answer and a check of a claimed optimum
    warm = ("serflow",) if name in ("milp", "milp-onehot") else ()
    register_method(
        Method("stages", name, kind, desc, run, backends, COST, export=export, warm_start=warm)
    )

# the --param keys each method reads (`--method all` and suites give each method only its own)
declare_params(
    "stages",
    {
        "serflow": ("forecast",),
        "stage-agnostic": ("forecast",),
        "milp": ("max_nodes", "max_solutions"),
        "milp-onehot": ("max_nodes", "max_solutions"),
        "whole-milp": ("max_nodes", "max_solutions"),
    },
)
