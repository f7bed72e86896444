"""Instance files per family, and the generators and importers that write them."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
