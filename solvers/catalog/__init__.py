"""Every family and method, registered in one module per family so `optgap list` reads like a table.

Importing this package registers them all; `solvers.registry` does so on first use.
"""

from solvers.catalog import dag, pipeload, stages, steering, workflow  # noqa: F401
