"""The solve layer: result type, method registry, backend adapters, CLI and compare harness."""
