"""F4 — memory-bounded pipeline loading (Hermes / PIPELOAD, arXiv 2409.04249)."""
