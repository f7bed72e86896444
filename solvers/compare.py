"""The compare harness: tasks (method × instance × settings) run serially, in local worker
processes, or on a Dask cluster, each result appended to a JSON-lines file the moment it exists.

Durability: a record is one line written with a single ``write`` and flushed, so killing the run
at any moment (even ``kill -9``) loses only the task in flight; a half-written last line is dropped
on ``resume``. Resume skips every task whose key is in the file and refuses a file that holds
tasks of another suite or other settings rather than mixing them.

Isolation: with ``workers >= 1`` each task runs in a worker process watched by the parent; a
worker that dies (segfault, out of memory) or overruns the hard per-task limit is replaced and
its task recorded as ``error`` / ``time_limit`` (with ``failure`` = "died" / "killed"), and the
run goes on; ``--resume --retry-failed`` runs those tasks again. The hard limit counts from the
moment a worker that has finished its imports receives the task. A method that raises is
already turned into an ``error`` result by the registry.

Verdicts: every record's status, bound and gap are those solvers/verdict.py supports (certified
bound, demoted ``optimal``); the instance cache is keyed on family and source.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.fields import check_output
from optgap.solvers.report import pct, table
from optgap.solvers.result import Result, SolveOptions, Status, gap_to
from optgap.solvers.suite import Task, build_instance, load_plugins
from optgap.solvers.verdict import check

# ------------------------------------------------------------------------- one task


_cache: dict[str, Any] = {}  # the last instance built in this process (tasks come grouped)


def _cache_key(task: Task) -> str:
    # the family is part of the key: two families share sizes and seeds, never instances
    return json.dumps([task.family, task.source], sort_keys=True)


def execute(task: Task) -> dict[str, Any]:
    """Run one task and return its record. Pure apart from the one-instance cache."""
    t0 = time.perf_counter()
    load_plugins(task.plugins)
    fam = registry.family(task.family)
    ident = _cache_key(task)
    try:
        if ident not in _cache:
            _cache.clear()
            _cache[ident] = build_instance(task.family, task.source)
        inst = _cache[ident]
        result = registry.solve(task.family, task.method, inst, task.options)
        try:
            result, evaluation = _evaluate(fam, inst, result, task.options)
        except InputError:
            raise
        except Exception as e:  # an evaluator bug must not take the run down: reject, say why
            evaluation = {"verdict": "rejected", "violations": [f"evaluator raised {e!r}"]}
    except InputError as e:  # a bad instance file or generator argument: recorded, run goes on
        result = Result(task.family, task.method, "", Status.ERROR, message=str(e))
        evaluation = {"verdict": "none"}
    record = _record(task, result, evaluation)
    record["harness_s"] = max(0.0, time.perf_counter() - t0 - result.time_s)
    return record


def _record(task: Task, result: Result, evaluation: dict[str, Any]) -> dict[str, Any]:
    r = result.to_json()
    opts = dict(task.options.__dict__)
    opts["params"] = dict(task.options.params)
    return {
        "key": task.key,
        "family": task.family,
        "instance": task.instance,
        "size": task.size,
        "seed": task.seed,
        "source": task.source,
        "plugins": list(task.plugins),
        "method": task.method,
        **{k: r[k] for k in ("backend", "status", "objective", "bound", "gap", "time_s")},
        "stats": r["stats"] or {"kind": registry.method(task.family, task.method).kind},
        "message": r["message"],
        "options": opts,
        "evaluation": evaluation,
        "solution": r["solution"],
    }


def _failed(
    task: Task, status: Status, message: str, elapsed: float, failure: str
) -> dict[str, Any]:
    """The record of a task the harness lost: ``failure`` says how ("died", "killed", "dask");
    `run(..., retry_failed=True)` runs these again."""
    result = Result(task.family, task.method, "", status, time_s=elapsed, message=message)
    return _record(task, result, {"verdict": "none"}) | {"harness_s": 0.0, "failure": failure}


def _evaluate(fam, inst, result: Result, options: SolveOptions) -> tuple[Result, dict[str, Any]]:
    """The result as the evaluator and its certificate support it (solvers/verdict.py: certified
    bound, demoted status), and the record's evaluation field."""
    c = check(fam, inst, result, options)
    if c.evaluation is None:
        return c.result, {"verdict": "none"}
    ev = c.evaluation
    if not c.accepted:
        return c.result, {"verdict": "rejected", "violations": ev.violations[:5] or [c.verdict]}
    out: dict[str, Any] = {"verdict": "feasible", "objective": ev.objective}
    if ev.certified_bound is not None:
        out["certified_bound"] = ev.certified_bound
    if c.claims:
        out["unsupported"] = c.claims
    return c.result, out


# ------------------------------------------------------------------------- running many


def run(
    tasks: list[Task],
    out: str | Path,
    *,
    resume: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    task_timeout_s: float | None = None,
    progress: bool = True,
    retry_failed: bool = False,
) -> list[dict[str, Any]]:
    """Run every task not yet in `out`; return all records (old and new) in task order.

    ``retry_failed`` (with ``resume``): the tasks the harness lost (worker died, killed at the
    hard limit, a Dask worker failure; records with a ``failure`` field) run again. Their old
    records are first removed from the file (rewritten through a temporary file and an atomic
    rename, so a kill at any moment leaves either the old or the new file), so each task keeps
    exactly one record.
    """
    out = Path(out)
    if out.exists() and not resume:
        raise InputError(
            f"{out}: already exists; pass --resume to continue it or choose another --out"
        )
    check_output(out, force=True)  # a directory or an unwritable folder fails now, not later
    if retry_failed and not resume:
        raise InputError("--retry-failed needs --resume (it re-runs failed runs of --out)")
    by_key = {t.key: t for t in tasks}
    done = read_records(out, expect=set(by_key)) if resume else {}
    if retry_failed:
        lost = {k for k, r in done.items() if _lost(r)}
        if lost:
            _drop_records(out, lost)
            done = {k: r for k, r in done.items() if k not in lost}
    pending = [t for t in tasks if t.key not in done]

    from optgap.solvers.progress import bar as progress_bar

    f = None  # opened at the first record: a run that fails first leaves no empty file behind
    try:
        with progress_bar(len(pending), "compare", "run", show=progress) as bar:
            if scheduler is not None:
                stream = _run_dask(pending, scheduler)
            elif workers >= 1:
                stream = _run_pool(pending, workers, task_timeout_s)
            else:
                stream = (execute(t) for t in pending)
            for record in stream:
                if f is None:
                    f = _open_results(out)
                f.write(json.dumps(record) + "\n")  # one write per record: a kill cuts one
                f.flush()
                done[record["key"]] = record
                bar.set_postfix_str(f"{record['instance']} {record['method']}", refresh=False)
                bar.update(1)
    finally:
        if f is not None:
            f.close()
    return [done[t.key] for t in tasks if t.key in done]


def _open_results(out: Path):
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return out.open("a", encoding="utf-8")
    except OSError as e:
        raise InputError(f"{out}: cannot write ({e.strerror})") from None


def read_records(path: str | Path, expect: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """Records of a results file by key; a cut-off last line is dropped (and cut from the file)."""
    path = Path(path)
    if not path.exists():
        return {}
    records: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as f:
        lines = f.readlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            if lineno == len(lines) and not line.endswith("\n"):
                _truncate_last_line(path)  # the run was killed mid-write: keep the rest
                break
            raise InputError(f"{path}:{lineno}: not a JSON line; is this a results file?") from None
        if not isinstance(r, dict) or "key" not in r or "method" not in r:
            raise InputError(f"{path}:{lineno}: not a compare record (no key or method)")
        if expect is not None and r["key"] not in expect:
            raise InputError(
                f"{path}:{lineno}: {r.get('family')} {r.get('instance')} {r['method']} was run "
                f"with other settings or by another suite; resume with the same suite and "
                f"options, or use another --out"
            )
        records[r["key"]] = r
    return records


def _lost(record: dict[str, Any]) -> bool:
    """A task the harness lost (not a method's own answer): marked `failure`, or, in files
    written before that field existed, recognised by the harness's own message."""
    if record.get("failure"):
        return True
    message = str(record.get("message", ""))
    return message.startswith(("worker process died", "killed by the harness"))


def _drop_records(path: Path, keys: set[str]) -> None:
    """Rewrite a results file without the records of `keys` (atomically: temp file + rename)."""
    import os
    import tempfile

    kept = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.strip() and json.loads(line)["key"] in keys:
            continue
        kept.append(line)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".retry", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(kept)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _truncate_last_line(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: data.rfind(b"\n") + 1])


def _worker(conn: Connection, plugins: tuple[str, ...]) -> None:
    try:
        load_plugins(plugins)
        registry.family("dag")  # import the catalogue once, before the first task
    except Exception as e:  # e.g. a plugin that fails to import: the parent says so, once
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", None))  # the per-task clock starts from here, not from the spawn
    while True:
        task = conn.recv()
        if task is None:
            return
        conn.send(("done", execute(task)))


# A worker must finish its imports within this long (spawned interpreters on a loaded machine
# can take tens of seconds); it is not charged to any task.
STARTUP_LIMIT_S = 300.0


class _Slot:
    def __init__(self, ctx, plugins: tuple[str, ...]):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, plugins), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False  # set when the worker has finished its imports
        self.spawned = time.monotonic()
        self.task: Task | None = None
        self.started = 0.0

    def deadline(self, task_timeout_s: float | None) -> float:
        if not self.ready:
            return self.spawned + STARTUP_LIMIT_S
        return self.started + _hard_limit(self.task, task_timeout_s)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def _hard_limit(task: Task, task_timeout_s: float | None) -> float:
    # exact models stop at their time limit (model building included); allow for evaluation
    return task_timeout_s or 2 * task.options.time_limit_s + 60


def _expected_cost(task: Task) -> float:
    kind = registry.method(task.family, task.method).kind
    size = task.size if task.size is not None else 100  # files: assume a large instance
    return (task.options.time_limit_s if kind == "exact" else 1e-3) * size


def _run_pool(
    tasks: list[Task], workers: int, task_timeout_s: float | None
) -> Iterator[dict[str, Any]]:
    """Local worker processes (spawned: no state shared with the parent) with a watchdog.

    A task goes only to a worker that has said it is ready (imports done), and its hard limit
    counts from the moment it is sent to that worker.
    """
    if not tasks:
        return
    ctx = mp.get_context("spawn")
    plugins = tasks[0].plugins
    # longest expected first (LPT): one long exact solve started last would idle the others
    queue = sorted(tasks, key=_expected_cost)
    slots = [_Slot(ctx, plugins) for _ in range(min(workers, len(tasks)))]
    try:
        while queue or any(s.task for s in slots):
            for s in slots:
                if s.ready and s.task is None and queue:
                    s.task, s.started = queue.pop(), time.monotonic()
                    s.conn.send(s.task)
            watched = [s for s in slots if s.task is not None or not s.ready]
            now = time.monotonic()
            wait_s = min(s.deadline(task_timeout_s) - now for s in watched)
            ready = wait([s.conn for s in watched], timeout=max(0.0, wait_s))
            for i, s in enumerate(slots):
                if s.task is None and s.ready:
                    continue
                if s.conn in ready:
                    try:
                        kind, payload = s.conn.recv()
                    except (EOFError, OSError):
                        s.proc.join(timeout=5)
                        if not s.ready:
                            raise InputError(
                                f"a worker process died while starting (exit code "
                                f"{s.proc.exitcode}); try --workers 0 to see why"
                            ) from None
                        status, failure = Status.ERROR, "died"
                        message = (
                            f"worker process died (exit code {s.proc.exitcode}) during the task"
                        )
                    else:
                        if kind == "failed":
                            raise InputError(f"a worker process could not start: {payload}")
                        if kind == "ready":
                            s.ready = True
                            continue
                        s.task = None
                        yield payload
                        continue
                elif time.monotonic() >= s.deadline(task_timeout_s):
                    if not s.ready:
                        raise InputError(
                            f"a worker process did not finish its imports in {STARTUP_LIMIT_S:g} s"
                        )
                    elapsed = time.monotonic() - s.started
                    status, failure = Status.TIME_LIMIT, "killed"
                    message = f"killed by the harness after {elapsed:.1f} s (hard limit per task)"
                else:
                    continue
                # the worker is dead or stuck: record its task as failed and start a fresh one
                record = _failed(s.task, status, message, time.monotonic() - s.started, failure)
                s.stop(kill=True)
                slots[i] = _Slot(ctx, plugins)
                yield record
    finally:
        for s in slots:
            s.stop(kill=s.task is not None or not s.ready)


def _run_dask(tasks: list[Task], address: str) -> Iterator[dict[str, Any]]:
    """Submit every task to a Dask cluster; records come back as they finish."""
    if not tasks:
        return
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout="20s")
    except OSError as e:
        raise InputError(f"--scheduler {address}: cannot connect ({e})") from None
    try:
        futures = {
            client.submit(
                execute, t, pure=False, key=f"optgap-{t.key}", priority=_expected_cost(t)
            ): t
            for t in tasks
        }
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                yield fut.result()
            except Exception as e:  # e.g. KilledWorker: the task took its worker down
                yield _failed(task, Status.ERROR, f"{type(e).__name__}: {e}", 0.0, "dask")
    finally:
        client.close()


# ------------------------------------------------------------------------- summary


def reference(records: Iterable[dict[str, Any]]) -> dict[tuple, tuple[float, bool]]:
    """Per (family, objective, instance): (value, proven) — the best proven optimum among the
    exact runs the evaluator accepted; failing that, the tightest exact bound."""
    refs: dict[tuple, tuple[float, bool]] = {}
    by_inst: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        by_inst[_inst_key(r)].append(r)
    for key, rs in by_inst.items():
        sense = registry.family(key[0]).sense
        best, tight = (min, max) if sense == "min" else (max, min)
        exact = [
            r
            for r in rs
            if r["stats"].get("kind") == "exact" and r["evaluation"]["verdict"] != "rejected"
        ]
        # an optimum only from runs the evaluator accepted (status already certificate-checked)
        opt = [
            r["objective"]
            for r in exact
            if r["status"] == Status.OPTIMAL and r["evaluation"]["verdict"] == "feasible"
        ]
        if opt:
            refs[key] = (best(opt), True)
            continue
        bounds = [r["bound"] for r in exact if r["bound"] is not None]
        if bounds:
            refs[key] = (tight(bounds), False)
    return refs


def _inst_key(r: dict[str, Any]) -> tuple:
    return (r["family"], r["options"]["objective"], r["instance"])


def gaps(records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], float, bool]]:
    """(record, gap to the reference, reference proven) for every evaluator-accepted run."""
    refs = reference(records)
    out = []
    for r in records:
        ref = refs.get(_inst_key(r))
        if r["evaluation"]["verdict"] != "feasible" or ref is None or r["objective"] is None:
            continue
        value, proven = ref
        sense = registry.family(r["family"]).sense
        out.append((r, gap_to(r["objective"], value, sense), proven))
    return out


def summarise(records: list[dict[str, Any]]) -> str:
    """A table per family, pattern, size and method: gap to the optimum (or best bound, marked *)."""
    per: dict[tuple, list[float]] = defaultdict(list)
    marked: set[tuple] = set()
    for r, g, proven in gaps(records):
        k = (r["family"], r["options"]["objective"], _size(r), r["method"])
        per[k].append(g)
        if not proven:
            marked.add(k)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[r["family"], r["options"]["objective"], _size(r), r["method"]].append(r)
    rows = []
    for k, rs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        g = per.get(k, [])
        mark = "*" if k in marked else ""
        rows.append(
            (
                k[0],
                k[1],
                k[2],
                k[3],
                len(rs),
                sum(r["evaluation"]["verdict"] == "feasible" for r in rs),
                sum(r["status"] == Status.OPTIMAL for r in rs),
                (pct(sum(g) / len(g)) + mark) if g else "-",
                (pct(max(g)) + mark) if g else "-",
                f"{sum(r['time_s'] for r in rs) / len(rs):.3f}",
                sum(r["status"] in (Status.ERROR, Status.TIME_LIMIT) for r in rs),
                sum(r["evaluation"]["verdict"] == "rejected" for r in rs),
                _mean_stat(rs, "samples"),
            )
        )
    text = table(
        [
            "family",
            "pattern",
            "size",
            "method",
            "runs",
            "solved",
            "optimal",
            "mean gap",
            "max gap",
            "mean time s",
            "failed",
            "rejected",
            "samples",
        ],
        rows,
        "llllrrrrrrrrr",
    )
    note = (
        "gap = distance of the objective from the optimum, relative, over evaluator-checked runs; "
        "samples = profiling samples a search method spent (mean)"
    )
    if marked:
        note += "; * = no proven optimum for some instance: gap to the best exact bound"
    return text + "\n" + note


def _mean_stat(rs: list[dict[str, Any]], key: str) -> str:
    """Mean of a method statistic (e.g. profiling samples a search spent), '-' where none."""
    vals = [r["stats"][key] for r in rs if isinstance(r["stats"].get(key), int | float)]
    return f"{sum(vals) / len(vals):.1f}" if vals else "-"


def _size(r: dict[str, Any]) -> str:
    return str(r["size"]) if r.get("size") is not None else "file"
