"""F1 — DAG scheduling on heterogeneous devices (Chrion, arXiv 2307.11339)."""
