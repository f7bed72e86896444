"""F5 `steering`: steering-inequality and Bell bounds as SDPs, sequential sharing, network
witnesses (arXiv 2405.08588, 2402.04652, 2211.08153).

Modules: ``instance`` (scenario files, strict reading), ``evaluate`` (the independent numpy
definition of every quantity and certificate check), ``quantum`` (shared numpy physics for the
models and heuristics), ``sdp`` (the exact method), ``network`` (full-network-nonlocality
witnesses of the bilocal scenario), ``plot`` (double-violation pictures).

Every quantity is a maximisation (Family sense "max"): quantities that are naturally minima
(steering robustness, the trace distance to the LHS set) are posed as their dual witness
problems, whose optimal value is the same number.
"""
