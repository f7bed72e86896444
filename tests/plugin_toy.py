"""A toy family for testing the compare harness: methods that crash, hang, raise or do nothing.

Its own family id, so `--method all` on real families never meets these methods. The instance is
{"n": k}; the optimum of "pick the smallest of 1..k" is 1, a fact checkable by hand.

A second family, ``toycert``, maximises x in 1..n (optimum n) and checks certificates: a
solution may carry ``ub``, an upper bound the evaluator accepts as certified only when ub >= n
(the instance's own optimum, so any smaller ub is a false certificate). Its exact methods
return good, loose, missing and false certificates.

Environment knobs (read when used, so a spawned worker sees them): ``TOY_IMPORT_SLEEP`` seconds
to sleep at import (a slow worker start); ``TOY_ONCE_DIR`` a directory where ``crash-once`` and
``hang-once`` leave a marker, so they fail on the first run of a task and succeed on a retry.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from optgap.solvers.errors import InputError
from optgap.solvers.fields import number, obj
from optgap.solvers.registry import Family, Method, declare_params, register_family, register_method
from optgap.solvers.result import Evaluation, Result, Status

time.sleep(float(os.environ.get("TOY_IMPORT_SLEEP", "0")))


def load(data):
    obj(data, "instance", {"family", "version", "n"})
    return {"n": int(number(data["n"], "instance.n", minimum=1, integer=True))}


def evaluate(inst, solution, options=None):
    x = solution.get("x")
    ok = isinstance(x, int) and 1 <= x <= inst["n"]
    return Evaluation(ok, float(x) if ok else None, [] if ok else [f"x={x!r} not in 1..n"])


def _sol(x: int, status: Status = Status.FEASIBLE) -> Result:
    return Result("", "", "python", status, objective=float(x), solution={"x": x})


def exact(inst, options):
    return _sol(1, Status.OPTIMAL)


def worst(inst, options):
    return _sol(inst["n"])


def sleepy(inst, options):  # a heuristic that takes a while (for kill -9 and speed-up tests)
    time.sleep(float(options.param("sleep", "0.2")))
    return _sol(inst["n"])


def noop(inst, options):  # does nothing: measures the harness's own overhead
    return Result("", "", "python", Status.ERROR, message="no-op")


def boom(inst, options):
    raise RuntimeError("boom")


def crash(inst, options):
    os._exit(139)  # the worker process dies as a segfault would take it down


def hang(inst, options):
    time.sleep(3600)


def liar(inst, options):  # a heuristic that claims a proof it cannot have
    return _sol(inst["n"], Status.OPTIMAL)


def bad(inst, options):  # a heuristic whose answer the evaluator rejects
    return _sol(0)


def _first_time(inst, what: str) -> bool:
    marker = Path(os.environ["TOY_ONCE_DIR"]) / f"{what}-{inst['n']}"
    if marker.exists():
        return False
    marker.write_text("")
    return True


def crash_once(inst, options):
    if _first_time(inst, "crash"):
        os._exit(139)
    return _sol(inst["n"])


def hang_once(inst, options):
    if _first_time(inst, "hang"):
        time.sleep(3600)
    return _sol(inst["n"])


def warm(inst, options, warm=()):
    """An exact method that reports what the solve layer handed it."""
    r = _sol(1, Status.OPTIMAL)
    r.stats = {
        "warm_seen": [[w.method, w.solution, w.objective] for w in warm],
        "limit_seen": options.time_limit_s,
    }
    return r


register_family(
    Family(
        id="toy",
        title="toy family for harness tests",
        load=load,
        dump=lambda inst: {"family": "toy", "version": 1, "n": inst["n"]},
        evaluate=evaluate,
        generate=lambda size, seed: {"n": size + seed},
        describe=lambda inst: f"n={inst['n']}",
        objectives=("value",),
        exact="exact",
    )
)
for name, kind, fn in [
    ("exact", "exact", exact),
    ("worst", "heuristic", worst),
    ("sleepy", "heuristic", sleepy),
    ("noop", "heuristic", noop),
    ("boom", "heuristic", boom),
    ("crash", "heuristic", crash),
    ("hang", "heuristic", hang),
    ("liar", "heuristic", liar),
    ("bad", "heuristic", bad),
    ("crash-once", "heuristic", crash_once),
    ("hang-once", "heuristic", hang_once),
]:
    register_method(Method("toy", name, kind, name, fn, ("python",), ("value",)))
register_method(
    Method(
        "toy",
        "warm",
        "exact",
        "exact, warm-started",
        warm,
        ("python",),
        ("value",),
        warm_start=("worst", "bad", "sleepy", "boom"),
    )
)

declare_params("toy", {"sleepy": ("sleep",)})


# ------------------------------------------------------------------ toycert: certificates


def cert_evaluate(inst, solution, options=None):
    x, ub = solution.get("x"), solution.get("ub")
    n = inst["n"]
    ok = isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= n
    if not ok:
        return Evaluation(False, None, [f"x={x!r} not in 1..n"])
    valid = isinstance(ub, int | float) and not isinstance(ub, bool) and ub >= n
    return Evaluation(True, float(x), certified_bound=float(ub) if valid else None)


def _cert(x: int, ub: float | None, status: Status = Status.OPTIMAL, bound=None) -> Result:
    sol = {"x": x} if ub is None else {"x": x, "ub": ub}
    return Result("", "", "python", status, objective=float(x), bound=bound, solution=sol)


CERT_METHODS = {
    # name: (kind, run) -- every exact one claims optimal with the bound it states
    "exact": ("exact", lambda inst, o: _cert(inst["n"], inst["n"], bound=inst["n"])),
    "loose": ("exact", lambda inst, o: _cert(inst["n"], inst["n"] + 1, bound=inst["n"])),
    "nocert": ("exact", lambda inst, o: _cert(inst["n"], None, bound=inst["n"])),
    "falsecert": (
        "exact",
        lambda inst, o: _cert(inst["n"] - 1, inst["n"] - 1, bound=inst["n"] - 1),
    ),
    "one": ("heuristic", lambda inst, o: _cert(1, None, Status.FEASIBLE)),
}

register_family(
    Family(
        id="toycert",
        title="toy family with certificates (maximise x in 1..n)",
        load=lambda data: load({**data, "family": "toy"}),
        dump=lambda inst: {"family": "toycert", "version": 1, "n": inst["n"]},
        evaluate=cert_evaluate,
        generate=lambda size, seed: {"n": size + seed},
        describe=lambda inst: f"n={inst['n']}",
        objectives=("value",),
        exact="exact",
        sense="max",
        certified=True,
    )
)
for name, (kind, fn) in CERT_METHODS.items():
    register_method(Method("toycert", name, kind, name, fn, ("python",), ("value",)))

__all__ = ["InputError"]
