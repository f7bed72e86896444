"""F3 `stages` (SERFLOW, arXiv 2510.27182): stage-wise FaaS/IaaS provisioning of early-exit models.

Modules: ``instance`` (format, the planning model: SLO shares, utilisation caps, memories),
``evaluate`` + ``simulate`` (the evaluator: plan cost and a discrete-event simulation),
``milp`` (the exact MILP over the trace), ``dp`` (per-stage dynamic programme, a second exact
method), ``plan`` (cost and solution helpers shared by the methods), ``plot`` (`optgap plot`).
"""
