"""Fast methods per family, each measured against the exact optimum."""
