"""F4 instances: model presets from Transformer dimensions, a profile importer, shipped files."""
