"""Import a Kasahara Standard Task Graph (STG) file as an F1 instance.

STG (Tobita & Kasahara, "A standard task graph set for fair evaluation of multiprocessor
scheduling algorithms", J. Scheduling 5(5):379-394, 2002) describes task graphs for
*homogeneous* processors without communication cost: F1's special case with identical CPU
devices and free transfers.

Format (whitespace-separated integers)::

    n                                  number of real tasks
    0   0  0                           dummy entry task: id, time 0, no predecessors
    id  time  npred  pred_1 ... pred_npred     one line per task 1 .. n, in order
    n+1 0  npred  pred_1 ...           dummy exit task, time 0
    # ...                              optional trailing comment lines

A predecessor must have a lower task number. The dummies are dropped (and their edges); a time
unit is taken as one millisecond. Blank lines and lines starting with ``#`` are skipped
anywhere; everything after the n + 2 task lines is ignored (the STG set's trailers).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from optgap.solvers.errors import InputError
from optgap.solvers.fields import read_text


def import_stg(path: str | os.PathLike, processors: int = 4, *, slots: int = 1) -> dict[str, Any]:
    """The F1 instance JSON object of an STG file on ``processors`` identical CPUs."""
    p = Path(path)
    return parse_stg(read_text(p, "an STG file"), p.name, processors, slots=slots)


def parse_stg(
    text: str, source: str = "stg", processors: int = 4, *, slots: int = 1
) -> dict[str, Any]:
    """Parse STG text; every error is one line ``source:LINE: what is wrong``."""
    for what, value in (("processors", processors), ("slots", slots)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{what}: expected an integer >= 1, got {value!r}")
    lines = [(k, line.split()) for k, line in enumerate(text.splitlines(), 1)]
    lines = [(k, f) for k, f in lines if f and not f[0].startswith("#")]
    if not lines:
        raise InputError(f"{source}: empty STG file (no task count)")
    k0, first = lines[0]
    n = _int(first[0], source, k0, "the task count")
    if n < 1 or len(first) != 1:
        raise InputError(
            f"{source}:{k0}: the first line must be the number of tasks (one integer >= 1), "
            f"got {' '.join(first)!r}"
        )
    task_lines = lines[1 : n + 3]
    if len(task_lines) < n + 2:
        last = lines[-1][0]
        raise InputError(
            f"{source}:{last}: file ends after {len(task_lines)} task lines, expected n + 2 = "
            f"{n + 2} (tasks 0 .. {n + 1})"
        )
    ops: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for expect, (k, fields) in enumerate(task_lines):
        if len(fields) < 3:
            raise InputError(
                f"{source}:{k}: expected 'task time npred pred...', got {' '.join(fields)!r}"
            )
        task = _int(fields[0], source, k, "task")
        time = _int(fields[1], source, k, "time")
        npred = _int(fields[2], source, k, "npred")
        if task != expect:
            raise InputError(f"{source}:{k}: expected task {expect}, got {task}")
        if time < 0:
            raise InputError(f"{source}:{k}: negative processing time {time}")
        if npred < 0:
            raise InputError(f"{source}:{k}: negative predecessor count {npred}")
        dummy = task in (0, n + 1)
        if dummy and time != 0:
            raise InputError(
                f"{source}:{k}: dummy {'entry' if task == 0 else 'exit'} task {task} must have "
                f"time 0, got {time}"
            )
        preds = [_int(f, source, k, "predecessor") for f in fields[3:]]
        if len(preds) != npred:
            raise InputError(
                f"{source}:{k}: task {task} announces {npred} predecessors, lists {len(preds)}"
            )
        seen: set[int] = set()
        for q in preds:
            if not 0 <= q < task:
                raise InputError(
                    f"{source}:{k}: predecessor {q} of task {task} must be a lower task number"
                )
            if q in seen:
                raise InputError(f"{source}:{k}: predecessor {q} of task {task} listed twice")
            seen.add(q)
        if not dummy:
            ops.append({"id": f"t{task}", "time_ms": {"cpu": time}})
            edges += [{"src": f"t{q}", "dst": f"t{task}", "bytes": 0} for q in preds if q >= 1]
    return {
        "family": "dag",
        "version": 1,
        "name": Path(source).stem,
        "devices": [{"id": f"cpu{i}", "kind": "cpu", "slots": slots} for i in range(processors)],
        "operators": ops,
        "edges": edges,
        "links": {"latency_ms": 0},
        "meta": {
            "source": source,
            "format": "Kasahara Standard Task Graph (Tobita & Kasahara 2002)",
            "processors": processors,
            "slots": slots,
            "time_unit": "1 STG time unit = 1 ms",
            "communication": "none (STG graphs have no communication costs)",
        },
    }


def _int(field: str, source: str, line: int, what: str) -> int:
    try:
        return int(field)
    except ValueError:
        raise InputError(f"{source}:{line}: {what} must be an integer, got {field!r}") from None
