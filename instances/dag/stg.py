"""Import a Kasahara Standard Task Graph (STG) file as an F1 instance.

STG (Tobita & Kasahara, J. Scheduling 5(5), 2002) describes task graphs for *homogeneous*
processors without communication cost: F1's special case with identical CPU devices and free
transfers. Format: the first number is n, the number of real tasks; then n + 2 lines
``task time npred pred_1 ... pred_npred`` for tasks 0 .. n+1, where 0 and n+1 are dummy entry and
exit tasks of time 0; anything after that (comment lines, usually starting with '#') is ignored.
The dummies are dropped; a time is taken as milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from solvers.errors import InputError


def import_stg(path: str | Path, processors: int = 4) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(
            f"{p}: cannot read ({getattr(e, 'strerror', None) or type(e).__name__})"
        ) from None
    if processors < 1:
        raise InputError("processors must be >= 1")
    return parse_stg(text, p.name, processors)


def parse_stg(text: str, source: str = "stg", processors: int = 4) -> dict[str, Any]:
    lines = [(k, line.split()) for k, line in enumerate(text.splitlines(), 1)]
    lines = [(k, f) for k, f in lines if f and not f[0].startswith("#")]
    if not lines:
        raise InputError(f"{source}: empty STG file")
    k0, first = lines[0]
    n = _int(first[0], source, k0, "the task count")
    if n < 1 or len(first) != 1:
        raise InputError(f"{source}:{k0}: the first line must be the number of tasks (>= 1)")
    if len(lines) < n + 3:
        raise InputError(
            f"{source}: expected {n + 2} task lines after the count, found {len(lines) - 1}"
        )
    ops, edges = [], []
    for expect, (k, fields) in enumerate(lines[1 : n + 3]):
        if len(fields) < 3:
            raise InputError(
                f"{source}:{k}: expected 'task time npred preds...', got {' '.join(fields)!r}"
            )
        task, time, npred = (
            _int(f, source, k, what)
            for f, what in zip(fields[:3], ("task", "time", "npred"), strict=True)
        )
        if task != expect:
            raise InputError(f"{source}:{k}: expected task {expect}, got {task}")
        if time < 0:
            raise InputError(f"{source}:{k}: negative processing time {time}")
        preds = [_int(f, source, k, "predecessor") for f in fields[3:]]
        if len(preds) != npred:
            raise InputError(
                f"{source}:{k}: task {task} announces {npred} predecessors, lists {len(preds)}"
            )
        for q in preds:
            if not 0 <= q < task:
                raise InputError(
                    f"{source}:{k}: predecessor {q} of task {task} must be a lower task number"
                )
        if 1 <= task <= n:
            ops.append({"id": f"t{task}", "time_ms": {"cpu": time}})
            edges += [{"src": f"t{q}", "dst": f"t{task}"} for q in preds if q >= 1]
    return {
        "family": "dag",
        "version": 1,
        "name": Path(source).stem,
        "devices": [{"id": f"p{i}", "kind": "cpu"} for i in range(processors)],
        "operators": ops,
        "edges": edges,
        "links": {"latency_ms": 0},
        "meta": {"source": source, "format": "Kasahara STG", "processors": processors},
    }


def _int(field: str, source: str, line: int, what: str) -> int:
    try:
        return int(field)
    except ValueError:
        raise InputError(f"{source}:{line}: {what} must be an integer, got {field!r}") from None
