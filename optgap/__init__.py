"""optgap: scheduling and provisioning problems as exact mathematical programs.

A small library API (the command line `optgap` uses the same functions)::

    import optgap

    inst = optgap.load("dag/fork-3")            # a file path, a shipped name, or a dict
    result = optgap.solve(inst, "cpsat", time_limit=10, threads=1, seed=0)
    verdict = optgap.evaluate(inst, result)     # the independent evaluator
    rows = optgap.compare([inst], ["cpsat", "heft"], time_limit=10)

`families()`, `objectives(family)`, `methods(family)` and `shipped_instances()` list what there
is; `plot(inst, result, "out.png")` draws a solution. Bad input raises `InputError` (one line
naming the field). No solver library is imported until a method needs it.
"""

from optgap.api import (
    Instance,
    Row,
    compare,
    evaluate,
    families,
    load,
    methods,
    objectives,
    options,
    plot,
    shipped_instances,
    solve,
)
from optgap.solvers.errors import InputError
from optgap.solvers.result import Evaluation, Result, SolveOptions, Status

__version__ = "0.1.0"  # the one place the version is written (pyproject reads it from here)

__all__ = [
    "Evaluation",
    "InputError",
    "Instance",
    "Result",
    "Row",
    "SolveOptions",
    "Status",
    "__version__",
    "compare",
    "evaluate",
    "families",
    "load",
    "methods",
    "objectives",
    "options",
    "plot",
    "shipped_instances",
    "solve",
]
