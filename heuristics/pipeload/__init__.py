"""F4 heuristics: PIPELOAD and its planner, and the baselines Hermes compares against."""
