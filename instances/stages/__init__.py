"""F3 instances: generator, model presets, shipped traces and examples, hypothesis strategies."""
