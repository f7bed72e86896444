"""optgap: scheduling and provisioning problems as exact mathematical programs."""

__version__ = "0.1.0"
