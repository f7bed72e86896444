"""F1 instances: shipped JSON files, the random generator and the importers."""
