"""The one result type every method returns, the solve options, and the evaluator verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OPTIMAL = "optimal"  # proven optimal by an exact model
    FEASIBLE = "feasible"  # a solution without optimality proof (always so for heuristics)
    INFEASIBLE = "infeasible"  # proven to have no solution
    TIME_LIMIT = "time_limit"  # stopped by the limit without any solution
    ERROR = "error"  # the method failed; see message


@dataclass(frozen=True)
class SolveOptions:
    """What every method accepts. Backends honour time limit, threads and seed."""

    time_limit_s: float = 60.0
    threads: int = 1
    seed: int = 0
    backend: str | None = None  # None: the method's default backend
    objective: str | None = None  # family pattern, e.g. dag: "latency" or "memory"
    slo_ms: float | None = None  # overrides the instance's SLO where the family has one
    hint: bool = True  # exact models may start from a heuristic solution
    # family-specific knobs from `--param KEY=VALUE` (e.g. a memory budget); each family documents
    # its keys and rejects unknown ones with InputError
    params: tuple[tuple[str, str], ...] = ()
    verbose: bool = False  # backends show the solver's own log (CBC, HiGHS, CP-SAT, cvxpy)

    def __post_init__(self) -> None:
        """Options that no method can honour are one clear error, in the API and the CLI alike.

        A time limit of 0 is allowed here (the solve layer hands on what is left of a budget);
        the user-facing entry points (optgap.solve, the CLI) require > 0.
        """
        from optgap.solvers.errors import InputError

        t = self.time_limit_s
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t < math.inf:
            raise InputError(
                f"time limit (--time-limit, time_limit_s) must be >= 0 s and finite, got {t!r}"
            )
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise InputError(f"threads (--threads) must be an integer >= 1, got {self.threads!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError(f"seed (--seed) must be an integer, got {self.seed!r}")
        s = self.slo_ms
        if s is not None and (
            isinstance(s, bool) or not isinstance(s, int | float) or not 0 < s < math.inf
        ):
            raise InputError(f"SLO (--slo-ms, slo_ms) must be > 0 and finite, got {s!r}")
        for item in self.params:
            if not (
                isinstance(item, tuple)
                and len(item) == 2
                and all(isinstance(x, str) for x in item)
                and item[0]
            ):
                raise InputError(f"params: expected (KEY, VALUE) string pairs, got {item!r}")

    def param(self, key: str, default: str | None = None) -> str | None:
        return dict(self.params).get(key, default)

    def int_param(self, key: str, default: int, lo: int = 1) -> int:
        """An integer `--param` (>= lo), or the default when it is not given."""
        from optgap.solvers.errors import InputError

        raw = self.param(key)
        if raw is None:
            return default
        try:
            v = int(raw)
        except ValueError:
            raise InputError(f"--param {key}={raw}: expected an integer") from None
        if v < lo:
            raise InputError(f"--param {key}={raw}: must be >= {lo}")
        return v


@dataclass
class Result:
    family: str
    method: str
    backend: str
    status: Status
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    time_s: float = 0.0
    solution: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    message: str = ""  # why a result is infeasible or an error, in one line

    @property
    def has_solution(self) -> bool:
        return self.solution is not None and self.status in (Status.OPTIMAL, Status.FEASIBLE)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = str(self.status)
        return d

    @classmethod
    def from_json(cls, d: Any) -> Result:
        """A solution file's top level, every field type-checked: any value of any type is a
        one-line InputError naming the field (numbers must be finite floats)."""
        from optgap.solvers.errors import InputError
        from optgap.solvers.fields import obj, string, type_name

        known = {f for f in cls.__dataclass_fields__}
        obj(d, "solution file", {"family", "method", "status", "solution"}, known)
        status = string(d["status"], "solution file.status", choices=tuple(s.value for s in Status))
        out: dict[str, Any] = {"status": Status(status)}
        for key in ("family", "method"):
            out[key] = string(d[key], f"solution file.{key}")
        for key in ("backend", "message"):
            v = d.get(key, "")
            if not isinstance(v, str):
                raise InputError(f"solution file.{key}: expected a string, got {type_name(v)}")
            out[key] = v
        for key in ("objective", "bound", "gap", "time_s"):
            v = d.get(key)
            if v is None:
                if key == "time_s" and key in d:
                    raise InputError("solution file.time_s: expected a number, got null")
                continue
            out[key] = _finite(v, f"solution file.{key}")
        for key in ("solution", "stats"):
            v = d.get(key)
            if v is None and key == "solution":
                out[key] = None
                continue
            if v is None:
                continue
            if not isinstance(v, dict):
                raise InputError(f"solution file.{key}: expected an object, got {type_name(v)}")
            out[key] = v
        pattern = out.get("stats", {}).get("objective_pattern")
        if pattern is not None:  # the CLI judges against it when --objective is not given
            string(pattern, "solution file.stats.objective_pattern")
        return cls(**out)


def _finite(v: Any, path: str) -> float:
    """A JSON number as a finite float (bool, huge ints, NaN and infinities refused)."""
    from optgap.solvers.errors import InputError
    from optgap.solvers.fields import type_name

    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InputError(f"{path}: expected a number, got {type_name(v)}")
    try:
        f = float(v)
    except OverflowError:
        raise InputError(f"{path}: number too large (at most about 1.8e308)") from None
    if not math.isfinite(f):
        raise InputError(f"{path}: expected a finite number, got {f}")
    return f


# Gaps near zero. A difference within GAP_ATOL + GAP_RTOL * max(|a|, |b|) is solver round-off
# (CP-SAT and MILP answers are exact to ~1e-9, SDP values to ~1e-8 relative), not a gap; and a
# gap is relative to max(|reference|, GAP_SCALE), so an optimum of 0 (an unsteerable steering
# instance, a zero-cost plan) gives a finite gap: below GAP_SCALE in magnitude the gap is the
# absolute difference divided by GAP_SCALE. GAP_SCALE lies far below every family's objective
# unit in use (ms, $, MB, a steering value of order 0.1), so ordinary gaps are plain relative gaps.
GAP_ATOL = 1e-9
GAP_RTOL = 1e-7
GAP_SCALE = 1e-3


def _scale(x: float) -> float:
    return max(abs(x), GAP_SCALE)


def _round_off(a: float, b: float) -> float:
    return GAP_ATOL + GAP_RTOL * max(abs(a), abs(b))


def relative_gap(objective: float | None, bound: float | None, sense: str = "min") -> float | None:
    """How far the objective may be from optimal: the distance to the bound on the side that
    matters, relative to max(|objective|, GAP_SCALE); 0 within round-off (see GAP_ATOL).

    Minimisation: (objective - bound) / scale; maximisation: (bound - objective) / scale.
    """
    if objective is None or bound is None:
        return None
    diff = max(0.0, objective - bound if sense == "min" else bound - objective)
    if diff <= _round_off(objective, bound):
        return 0.0
    return diff / _scale(objective)


def gap_to(objective: float, reference: float, sense: str = "min") -> float:
    """Distance of a solution's objective from a reference optimum, relative to
    max(|reference|, GAP_SCALE): > 0 if worse, < 0 if better, 0 within round-off (GAP_ATOL)."""
    diff = objective - reference if sense == "min" else reference - objective
    if abs(diff) <= _round_off(objective, reference):
        return 0.0
    return diff / _scale(reference)


@dataclass
class Evaluation:
    """An evaluator's verdict: recomputed from the instance and the solution alone."""

    feasible: bool
    objective: float | None
    violations: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    # A bound on the optimum that the evaluator recomputed itself from a certificate in the
    # solution (e.g. an SDP dual); None when the solution carries none. The solve layer, evaluate
    # and compare report this bound, never the one the solution claims.
    certified_bound: float | None = None

    def summary(self, limit: int = 3) -> str:
        if self.feasible:
            return "feasible"
        more = len(self.violations) - limit
        text = "; ".join(self.violations[:limit])
        return f"INFEASIBLE: {text}" + (f" (+{more} more)" if more > 0 else "")
