"""F2 `workflow` (AARC): decoupled CPU/memory configuration of serverless workflows."""
