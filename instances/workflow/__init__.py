"""F2 `workflow` instances: generators, the AARC profiles, shipped examples, strategies."""
