"""Plain-text tables for the terminal (no dependency; columns sized to their content)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)
    ]
    align = align or "l" + "r" * (len(header) - 1)

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if a == "l" else v.rjust(w)
            for v, w, a in zip(values, widths, align, strict=True)
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return f"{value:.6g}"
    return str(value)


def pct(x: float | None) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf"
    if abs(x) < 5e-5:  # round-off either side of 0 prints as 0.00%, never -0.00%
        return "0.00%"
    return f"{100 * x:.2f}%"
