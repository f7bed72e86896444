"""F1 `dag` (Chrion): the family and its methods."""

from __future__ import annotations

from optgap.solvers.lazy import lazy, lazy_module
from optgap.solvers.registry import Family, Method, register_family, register_method

# loaders, evaluators, generators, solvers, heuristics and plots are imported on first call
# (fast start: optgap.solvers.lazy); `optgap list` imports none of them
dag_evaluate = lazy_module("optgap.formulations.dag.evaluate")
dag_instance = lazy_module("optgap.formulations.dag.instance")
dag_generate = lazy_module("optgap.instances.dag.generate")
dag_cpsat = lazy_module("optgap.formulations.dag.cpsat")
dag_milp = lazy_module("optgap.formulations.dag.milp")
dag_cpls = lazy_module("optgap.heuristics.dag.cpls")
dag_cpop = lazy_module("optgap.heuristics.dag.cpop")
dag_heft = lazy_module("optgap.heuristics.dag.heft")
dag_offload = lazy_module("optgap.heuristics.dag.offload")
dag_peft = lazy_module("optgap.heuristics.dag.peft")
plot_solution_file = lazy("optgap.solvers.gantt:plot_solution_file")

# ------------------------------------------------------------------ F1: dag (Chrion)
register_family(
    Family(
        id="dag",
        title="DAG scheduling on heterogeneous devices (Chrion, arXiv 2307.11339)",
        load=dag_instance.load,
        dump=dag_instance.dump,
        evaluate=dag_evaluate.evaluate,
        generate=dag_generate.generate,
        describe=dag_instance.describe,
        objectives=("latency", "memory"),
        exact="cpsat",
        plot=plot_solution_file,
    )
)
BOTH = ("latency", "memory")
# the exact models' warm starts (run by the solve layer, checked by the evaluator): the best one
# bounds the horizon and is the hint and the fallback answer; offload applies to memory only
WARM = ("heft", "peft", "cpop", "offload")
register_method(
    Method(
        "dag",
        "cpsat",
        "exact",
        "CP-SAT: optional intervals per device, NoOverlap/Cumulative, transfer delays",
        dag_cpsat.solve,
        ("cpsat",),
        BOTH,
        export=dag_cpsat.export,
        # = formulations.dag.cpsat.PARAMS (kept literal: lazy import; tests/test_dag_lns.py checks)
        params=(
            "gap",
            "abs_gap",
            "hint",
            "edges",
            "lp_bound",
            "mip_bound",
            "lns",
            "lns_iterations",
            "search",
        ),  # fmt: skip
        warm_start=WARM,
    )
)
register_method(
    Method(
        "dag",
        "milp",
        "exact",
        "MILP (pulp): slots as unit machines, placement + ordering binaries, big-M = HEFT makespan",
        dag_milp.solve,
        ("cbc", "highs"),
        BOTH,
        export=dag_milp.export,
        warm_start=WARM,
    )
)
register_method(
    Method(
        "dag",
        "heft",
        "heuristic",
        "HEFT: upward rank, earliest finish with insertion (Topcuoglu 2002)",
        dag_heft.heft,
        ("python",),
        BOTH,
    )
)
register_method(
    Method(
        "dag",
        "gpu-only",
        "heuristic",
        "baseline: every operator on the GPU(s), as Chrion compares against",
        dag_heft.gpu_only,
        ("python",),
        BOTH,
    )
)
register_method(
    Method(
        "dag",
        "cpu-only",
        "heuristic",
        "baseline: every operator on the CPU slots",
        dag_heft.cpu_only,
        ("python",),
        BOTH,
    )
)
register_method(
    Method(
        "dag",
        "cpop",
        "heuristic",
        "CPOP: critical path on one device, the rest by earliest finish (Topcuoglu 2002)",
        dag_cpop.cpop,
        ("python",),
        BOTH,
    )
)
register_method(
    Method(
        "dag",
        "peft",
        "heuristic",
        "PEFT: optimistic cost table look-ahead (Arabnejad & Barbosa 2014)",
        dag_peft.peft,
        ("python",),
        BOTH,
    )
)
register_method(
    Method(
        "dag",
        "cpls",
        "heuristic",
        "critical-path list scheduling: bottom level, earliest start, no insertion",
        dag_cpls.cpls,
        ("python",),
        BOTH,
    )
)
register_method(
    Method(
        "dag",
        "offload",
        "heuristic",
        "memory pattern: greedy offload GPU->CPU by memory saved per slack lost",
        dag_offload.offload,
        ("python",),
        ("memory",),
    )
)
