"""Every family and method, registered in one module per family so `optgap list` reads like a table.

Importing this package registers them all; `optgap.solvers.registry` does so on first use.
"""

from optgap.solvers.catalog import dag, pipeload, stages, steering, workflow  # noqa: F401
