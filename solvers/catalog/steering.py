"""F5 `steering`: steering-inequality and Bell bounds as SDPs, sequential sharing, network
witnesses (arXiv 2405.08588, 2402.04652, 2211.08153). Every quantity is maximised: `sdp` gives
the optimum with a checked dual certificate, the heuristics lower bounds."""

from __future__ import annotations

from optgap.solvers.backends import SDP_BACKENDS
from optgap.solvers.lazy import lazy, lazy_module
from optgap.solvers.registry import Family, Method, declare_params, register_family, register_method

# loaders, evaluators, generators, solvers, heuristics and plots are imported on first call
# (fast start: optgap.solvers.lazy); `optgap list` imports none of them
st_evaluate = lazy_module("optgap.formulations.steering.evaluate")
st_instance = lazy_module("optgap.formulations.steering.instance")
st_generate = lazy_module("optgap.instances.steering.generate")
st_sdp = lazy_module("optgap.formulations.steering.sdp")
plot_solution_file = lazy("optgap.formulations.steering.plot:plot_solution_file")
closed_form = lazy("optgap.heuristics.steering.closed_form:closed_form")
seesaw = lazy("optgap.heuristics.steering.seesaw:seesaw")

register_family(
    Family(
        id="steering",
        title="Steering/Bell bounds as SDPs, sequential sharing (arXiv 2405.08588, 2211.08153)",
        load=st_instance.load,
        dump=st_instance.dump,
        evaluate=st_evaluate.evaluate,
        generate=st_generate.generate,
        describe=st_instance.describe,
        objectives=("value",),
        exact="sdp",
        plot=plot_solution_file,
        sense="max",
        certified=True,  # every sdp answer carries a certificate the evaluator re-checks
    )
)
register_method(
    Method(
        "steering",
        "sdp",
        "exact",
        "the scenario's quantity as an SDP/LP (or enumeration), dual certificate checked",
        st_sdp.solve,
        SDP_BACKENDS,
        ("value",),
    )
)
register_method(
    Method(
        "steering",
        "seesaw",
        "heuristic",
        "see-saw over explicit strategies from seeded starts (a lower bound)",
        seesaw,
        ("python",),
        ("value",),
    )
)
register_method(
    Method(
        "steering",
        "closed-form",
        "heuristic",
        "textbook strategy / given measurements / aligned witness (a lower bound)",
        closed_form,
        ("python",),
        ("value",),
    )
)

# the --param keys each method reads (`--method all` and suites give each method only its own)
declare_params("steering", {"seesaw": ("restarts", "iterations")})
