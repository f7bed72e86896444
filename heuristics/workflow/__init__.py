"""F2 heuristics: each learns runtimes only through the profiling oracle."""
