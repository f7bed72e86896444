"""F2 `workflow` (AARC): the family and its methods."""

from __future__ import annotations

from optgap.solvers.lazy import lazy_module
from optgap.solvers.registry import Family, Method, declare_params, register_family, register_method

# loaders, evaluators, generators, solvers, heuristics and plots are imported on first call
# (fast start: optgap.solvers.lazy); `optgap list` imports none of them
wf_evaluate = lazy_module("optgap.formulations.workflow.evaluate")
wf_instance = lazy_module("optgap.formulations.workflow.instance")
wf_generate = lazy_module("optgap.instances.workflow.generate")
wf_cpsat = lazy_module("optgap.formulations.workflow.cpsat")
wf_milp = lazy_module("optgap.formulations.workflow.milp")
wf_plot = lazy_module("optgap.formulations.workflow.plot")
wf_aarc = lazy_module("optgap.heuristics.workflow.aarc")
wf_bo = lazy_module("optgap.heuristics.workflow.bo")
wf_fitmilp = lazy_module("optgap.heuristics.workflow.fitmilp")
wf_memsweep = lazy_module("optgap.heuristics.workflow.memsweep")

register_family(
    Family(
        id="workflow",
        title="CPU/memory configuration of serverless workflows under an SLO (AARC, arXiv 2502.20846)",
        load=wf_instance.load,
        dump=wf_instance.dump,
        evaluate=wf_evaluate.evaluate,
        generate=wf_generate.generate,
        describe=wf_instance.describe,
        # cost: CPU and memory chosen separately; coupled: memory fixes CPU (1 vCPU per 1769 MB)
        objectives=("cost", "coupled"),
        exact="milp",
        plot=wf_plot.plot_solution_file,
    )
)
BOTH = ("cost", "coupled")
for name, kind, desc, run, backends in (
    (
        "milp",
        "exact",
        "MILP (pulp): one configuration per function, start times, every path within the SLO",
        wf_milp.solve,
        # HiGHS first: CBC is faster on tight SLOs but, at 2 threads, has stopped "optimal" up to
        # 1e-5 above HiGHS's and CP-SAT's optimum there (benchmarks/bench_workflow.py shows it)
        ("highs", "cbc"),
    ),
    (
        "cpsat",
        "exact",
        "CP-SAT: the same choice model in integer µs, costs scaled to integers",
        wf_cpsat.solve,
        ("cpsat",),
    ),
    (
        "aarc",
        "heuristic",
        "AARC: critical path then detours (Graph-Centric Scheduler), max-heap of lowering moves",
        wf_aarc.aarc,
        ("python",),
    ),
    (
        "fit-milp",
        "heuristic",
        "ours: profile ~10 points/function, fit the parametric model, MILP on the fit, verify",
        wf_fitmilp.fitmilp,
        ("python",),
    ),
    (
        "bo",
        "heuristic",
        "Bayesian optimisation (optuna TPE) over all configurations; --param trials=N",
        wf_bo.bo,
        ("python",),
    ),
    (
        "maff",
        "heuristic",
        "MAFF-style memory-only descent (coupled CPU), SLO split over paths",
        wf_memsweep.maff,
        ("python",),
    ),
    (
        "powertune",
        "heuristic",
        "power-tuning style sweep of every memory level (coupled CPU), SLO split over paths",
        wf_memsweep.powertune,
        ("python",),
    ),
):
    register_method(
        Method(
            "workflow",
            name,
            kind,
            desc,
            run,
            backends,
            BOTH,
            export=getattr({"milp": wf_milp, "cpsat": wf_cpsat}.get(name), "export", None),
        )
    )

# the --param keys each method reads (`--method all` and suites give each method only its own)
declare_params(
    "workflow",
    {
        "aarc": ("noise", "start", "steps", "tries"),
        "bo": ("trials", "noise"),
        "fit-milp": ("cpu_points", "rounds", "noise"),
        "maff": ("noise",),
        "powertune": ("noise",),
    },
)
