"""F1 heuristics: list schedulers (HEFT, CPOP, ...) and single-device baselines."""
