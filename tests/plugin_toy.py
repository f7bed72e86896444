"""A toy family for testing the compare harness: methods that crash, hang, raise or do nothing.

Its own family id, so `--method all` on real families never meets these methods. The instance is
{"n": k}; the optimum of "pick the smallest of 1..k" is 1, a fact checkable by hand.
"""

from __future__ import annotations

import os
import time

from optgap.solvers.errors import InputError
from optgap.solvers.fields import number, obj
from optgap.solvers.registry import Family, Method, declare_params, register_family, register_method
from optgap.solvers.result import Evaluation, Result, Status


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
]:
    register_method(Method("toy", name, kind, name, fn, ("python",), ("value",)))

declare_params("toy", {"sleepy": ("sleep",)})

__all__ = ["InputError"]
