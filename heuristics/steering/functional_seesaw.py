"""F5 heuristics for a steering functional F = {F_{a|x}} given in the file (lhs-bound and
quantum-max with a `functional` field): explicit points, so every value is a lower bound.

- lhs-bound, see-saw: λ(x) = argmax_a <ψ|F_{a|x}|ψ>  ↔  ψ = top eigenvector of Σ_x F_{λ(x)|x}
  (each step exact, the value never decreases), from seeded random ψ.
- quantum-max, see-saw in Alice's dimension d_A (instance field alice_dim): (1) ψ ∈ C^{d_A} ⊗
  C^{d_B} = top eigenvector of W = Σ_{a,x} M_{a|x} ⊗ F_{a|x}; (2) per setting x, Alice's POVM
  for fixed ψ: max Σ_a tr(M_a X_a), X_a = tr_B[(I ⊗ F_{a|x}) ψψ†] — for two outcomes exactly
  the projector on the positive part of X_0 - X_1, else the monotone iteration of
  bell_seesaw._best_povm (Ježek–Řeháček–Fiurášek). Seeded random projective starts plus the
  best deterministic strategy (a product state, the LHS bound: quantum ≥ LHS always).
- closed-form (both): the best deterministic strategy λ with Bob's top eigenvector; for
  quantum-max as the product state |0>_A |ψ>_B with Alice's POVM M_{λ(x)|x} = I.

Parameters (--param): restarts (default 8), iterations (default 50).
"""

from __future__ import annotations

import numpy as np
from optgap.formulations.steering import quantum as Q

# the model module's enumeration is numpy only; reused here for the deterministic start
from optgap.formulations.steering.assemblage import (
    deterministic_strategy,
    lhs_bound,
    lhs_solution,
    strategy_value,
)
from optgap.formulations.steering.instance import SteeringInstance, matrix_to_json
from optgap.heuristics.steering.bell_seesaw import _best_povm, _random_povm


def _mj(m: np.ndarray) -> dict:
    return matrix_to_json(m)


def _rand_unit(rng, d: int) -> np.ndarray:
    v = rng.normal(size=d) + 1j * rng.normal(size=d)
    return v / np.linalg.norm(v)


def closed_form(inst: SteeringInstance) -> tuple[dict, float, str]:
    f = inst.functional
    _, lam, vec = lhs_bound(f)
    if inst.quantity == "lhs-bound":
        return lhs_solution(f, lam, vec) + ("best deterministic strategy",)
    return _deterministic_strategy(inst) + ("best deterministic strategy (product state)",)


def _deterministic_strategy(inst) -> tuple[dict, float]:
    rho, povms = deterministic_strategy(inst.functional, inst.alice_dim)
    sol = {"strategy": {"state": _mj(rho), "alice": [[_mj(m) for m in mx] for mx in povms]}}
    return sol, strategy_value(inst.functional, rho, povms, inst.alice_dim)


def _strategy_solution(f, psi, povms, d_a) -> tuple[dict, float]:
    rho = np.outer(psi, psi.conj())
    sol = {"strategy": {"state": _mj(rho), "alice": [[_mj(m) for m in mx] for mx in povms]}}
    return sol, strategy_value(f, rho, povms, d_a)


def seesaw(inst: SteeringInstance, rng, restarts: int, iters: int, deadline) -> tuple[dict, float]:
    if inst.quantity == "lhs-bound":
        return _lhs_seesaw(inst, rng, restarts, iters, deadline)
    return _quantum_seesaw(inst, rng, restarts, iters, deadline)


def _lhs_seesaw(inst, rng, restarts, iters, deadline):
    f = inst.functional
    d = f[0][0].shape[0]
    best = None
    for r in range(restarts):
        if r and deadline():
            break
        psi = _rand_unit(rng, d)
        for _ in range(iters):
            if deadline():
                break
            lam = [int(np.argmax([np.real(psi.conj() @ fa @ psi) for fa in fx])) for fx in f]
            psi = np.linalg.eigh(Q.herm(sum(f[x][a] for x, a in enumerate(lam))))[1][:, -1]
        lam = [int(np.argmax([np.real(psi.conj() @ fa @ psi) for fa in fx])) for fx in f]
        cand = lhs_solution(f, lam, psi)
        if best is None or cand[1] > best[1] + 1e-13:
            best = cand
    return best


def _top_state(f, povms) -> np.ndarray:
    w = sum(
        np.kron(m, fa)
        for fx, mx in zip(f, povms, strict=True)
        for fa, m in zip(fx, mx, strict=True)
    )
    return np.linalg.eigh(Q.herm(w))[1][:, -1]


def _best_measurement(xs: list[np.ndarray], start: list[np.ndarray]) -> list[np.ndarray]:
    if len(xs) == 2:  # exact: M_0 = projector on the positive part of X_0 - X_1
        w, v = np.linalg.eigh(Q.herm(xs[0] - xs[1]))
        p = v[:, w > 0] @ v[:, w > 0].conj().T
        return [Q.herm(p), Q.herm(np.eye(len(p)) - p)]
    return _best_povm(xs, start, steps=60)


def _quantum_seesaw(inst, rng, restarts, iters, deadline):
    f, d_a = inst.functional, inst.alice_dim
    d_b = f[0][0].shape[0]
    best = _deterministic_strategy(inst)
    for r in range(restarts):
        if r and deadline():
            break
        povms = [_random_povm(rng, d_a, len(fx)) for fx in f]
        prev = -np.inf
        for _ in range(iters):
            if deadline():
                break
            psi = _top_state(f, povms)
            r4 = np.outer(psi, psi.conj()).reshape(d_a, d_b, d_a, d_b)
            for x, fx in enumerate(f):
                xs = [Q.herm(np.einsum("ijkl,lj->ik", r4, fa)) for fa in fx]  # tr_B[(I ⊗ F) ρ]
                povms[x] = _best_measurement(xs, povms[x])
            val = strategy_value(f, np.outer(psi, psi.conj()), povms, d_a)
            if val <= prev + 1e-10:
                break
            prev = val
        cand = _strategy_solution(f, _top_state(f, povms), povms, d_a)
        if cand[1] > best[1] + 1e-12:
            best = cand
    return best
