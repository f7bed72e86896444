"""Progress on stderr for every command that can run longer than a few seconds.

On a terminal: a tqdm bar. Otherwise (logs, nohup, CI): plain lines, one when a task finishes
if at least `every` seconds passed since the last line, and always one for the last task, so
a log shows a run is alive without drowning in lines. `note(...)` prints one line either way
(e.g. a Pareto point as it is proven). Nothing goes to stdout, which stays for results/JSON.
"""

from __future__ import annotations

import sys
import time
from typing import Any

_enabled = True


def enable(on: bool) -> None:
    """Turn every progress report of this process on or off (the API's default is on)."""
    global _enabled
    _enabled = on


def note(message: str) -> None:
    """One line on stderr, e.g. ``pareto: point 3 proven (peak 412.5 MB, latency 38.2 ms)``."""
    if _enabled:
        print(f"optgap: {message}", file=sys.stderr, flush=True)


class _Lines:
    """tqdm's small interface (update, set_postfix_str, close) as periodic plain lines."""

    def __init__(self, total: int | None, desc: str, unit: str, every: float) -> None:
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.n = 0
        self.postfix = ""
        self.t0 = self.last = time.monotonic()

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        self.postfix = s

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every or (self.total is not None and self.n >= self.total):
            self.last = now
            of = f"/{self.total}" if self.total is not None else ""
            tail = f" ({self.postfix})" if self.postfix else ""
            print(
                f"optgap: {self.desc} {self.n}{of} {self.unit}s done, {now - self.t0:.0f} s{tail}",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        pass

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Off(_Lines):
    def update(self, n: int = 1) -> None:
        self.n += n


def bar(total: int | None, desc: str, unit: str = "run", every: float = 10.0, show: bool = True):
    """A progress reporter for `total` tasks: a bar on a terminal, plain lines otherwise."""
    if not (show and _enabled):
        return _Off(total, desc, unit, every)
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)
    return _Lines(total, desc, unit, every)
