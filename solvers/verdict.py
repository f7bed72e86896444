"""One verdict for every answer, used by `solve`, `evaluate`, `compare` and `adversary`.

The family's evaluator re-checks the solution from the instance alone; a certificate that the
evaluator recomputes (``Evaluation.certified_bound``, e.g. steering SDP duals) decides the bound
that is reported and whether ``optimal`` stands:

- the reported bound is the certified bound, never the method's (or the file's) claim;
- ``optimal`` stands only when the certified bound meets the evaluator's objective within
  ``CERT_ATOL + CERT_RTOL * |objective|`` (1e-6 + 1e-6 relative: SDP certificates are good to
  about 1e-7, and the steering evaluator accepts an optimal claim within 1e-6 absolute);
  otherwise it is demoted to ``feasible`` with the certified bound and its gap;
- in a family whose exact method always returns a certificate (``Family.certified``), an
  ``optimal`` without one is demoted, and an uncertified bound is dropped;
- a claimed bound tighter than the certified one (by more than that tolerance), or a
  certificate inconsistent with the objective, is an unsupported claim: `evaluate` exits 1.

The method's objective must agree with the evaluator's within ``OBJ_RTOL`` / ``OBJ_ATOL``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from optgap.solvers.result import Evaluation, Result, SolveOptions, Status, relative_gap

# a certified bound meets the objective when |bound - objective| <= CERT_ATOL + CERT_RTOL * |obj|
CERT_ATOL = 1e-6
CERT_RTOL = 1e-6
OBJ_RTOL = 1e-9  # the method's objective agrees with the evaluator's within this (relative) ...
OBJ_ATOL = 1e-9  # ... or this (absolute)


@dataclass
class Checked:
    """A result as the evaluator supports it, and what it does not support."""

    result: Result  # status, bound and gap after the certificate check
    evaluation: Evaluation | None  # None when there was no solution to evaluate
    accepted: bool  # the evaluator accepts the solution and agrees on the objective
    verdict: str  # one line for the user
    claims: list[str] = field(default_factory=list)  # claims the certificate does not support

    @property
    def code(self) -> int:
        """Exit code for `solve`: 1 when a solution exists and the evaluator rejects it."""
        return 1 if self.evaluation is not None and not self.accepted else 0

    @property
    def strict_code(self) -> int:
        """Exit code for `evaluate`: also 1 on a claimed bound or status left unsupported."""
        return 1 if self.code or self.claims else 0


def _pattern(result: Result, options: SolveOptions) -> str | None:
    stats = result.stats if isinstance(result.stats, dict) else {}
    pattern = stats.get("objective_pattern")
    return pattern if isinstance(pattern, str) else options.objective


def check(
    fam: Any, instance: Any, result: Result, options: SolveOptions, *, from_file: bool = False
) -> Checked:
    """Evaluate a result's solution and apply its certificate (see the module docstring).

    ``from_file``: the result is a user's solution file, evaluated whatever its status says.
    """
    has = result.solution is not None and (
        from_file or result.status in (Status.OPTIMAL, Status.FEASIBLE)
    )
    if not has:
        return Checked(result, None, False, result.message or "no solution")
    ev = fam.evaluate(
        instance, result.solution, replace(options, objective=_pattern(result, options))
    )
    if not ev.feasible:
        return Checked(result, ev, False, ev.summary())
    if ev.objective is None or not math.isfinite(ev.objective):
        return Checked(result, ev, False, f"evaluator gives no finite objective ({ev.objective})")
    if result.objective is not None and not math.isclose(
        ev.objective, result.objective, rel_tol=OBJ_RTOL, abs_tol=OBJ_ATOL
    ):
        return Checked(
            result,
            ev,
            False,
            f"DISAGREES: evaluator objective {ev.objective:g}, method says {result.objective:g}",
        )
    sense = fam.sense
    claims: list[str] = []
    status, bound = result.status, result.bound
    if from_file and status not in (Status.OPTIMAL, Status.FEASIBLE):
        claims.append(f"status {status} in the file, but the evaluator accepts the solution")
    cb = ev.certified_bound
    if cb is not None and (
        isinstance(cb, bool) or not isinstance(cb, int | float) or not math.isfinite(cb)
    ):
        claims.append(f"certificate gives no finite bound ({cb!r})")
        cb = None
    if cb is not None and _beyond(cb, ev.objective, sense):
        # a valid bound can never be beaten by a feasible objective: the certificate is wrong
        claims.append(
            f"certified bound {cb:g} lies beyond the objective {ev.objective:g}: "
            "inconsistent certificate, not used"
        )
        cb = None
    if cb is not None:
        if bound is not None and _beyond(bound, cb, sense):
            claims.append(f"bound {bound:g} is not supported by the certificate ({cb:g})")
        bound = float(cb)
        if status == Status.OPTIMAL and _beyond(ev.objective, cb, sense):
            status = Status.FEASIBLE
            claims.append(
                f"optimal, but the certified bound {cb:g} does not meet the objective "
                f"{ev.objective:g} (tolerance {CERT_ATOL:g} + {CERT_RTOL:g} relative): "
                "demoted to feasible"
            )
    elif getattr(fam, "certified", False):
        if bound is not None and status != Status.OPTIMAL:
            claims.append(f"bound {bound:g} comes without a certificate: not used")
        if status == Status.OPTIMAL:
            status = Status.FEASIBLE
            claims.append("optimal claimed without a certificate: demoted to feasible")
        bound = None
    # a method that states no objective (e.g. a search that only saw noisy measurements) gets
    # the evaluator's
    checked = replace(
        result,
        status=status,
        objective=ev.objective if result.objective is None else result.objective,
        bound=bound,
        gap=relative_gap(ev.objective, bound, sense),
    )
    verdict = f"feasible, objective {ev.objective:g} (agrees)"
    if ev.certified_bound is not None and cb is not None:
        verdict += f", certified bound {cb:g}"
    if claims:
        verdict += "; NOT SUPPORTED: " + "; ".join(claims)
    return Checked(checked, ev, True, verdict, claims)


def _beyond(a: float, b: float, sense: str) -> bool:
    """True when `a` lies beyond `b` on the bound's side (min: above it; max: below it) by more
    than CERT_ATOL + CERT_RTOL * |b|: a lower bound above an objective, an objective below a
    lower bound, a claimed bound tighter than the certified one."""
    diff = a - b if sense == "min" else b - a
    return diff > CERT_ATOL + CERT_RTOL * abs(b)


__all__ = ["CERT_ATOL", "CERT_RTOL", "OBJ_ATOL", "OBJ_RTOL", "Checked", "check"]
