"""The problems: per family the instance and solution types, the independent evaluator, and the
exact models (MILP with pulp, CP with OR-Tools CP-SAT, SDP with cvxpy)."""
