"""Numpy building blocks shared by the F5 models and heuristics (never by the evaluator, which
recomputes everything itself): partial traces, assemblages, LHS and local bounds by enumeration,
Lüders updates, and the per-strategy data of the sequential scenario.

Conventions: ρ_AB acts on C^dA ⊗ C^dB with A first (np.kron order); a two-outcome measurement is
its observable O = E_+ - E_-; a correlator functional is W = Σ_xy c_xy <A_x ⊗ B_y>, which for
fixed Bob observables is linear in Alice's: W = Σ_x tr(A_x X_x), X_x = Σ_y c_xy tr_B[(I ⊗ B_y) ρ].
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from optgap.formulations.steering.instance import Instrument, Measurement, SteeringInstance


def herm(m: np.ndarray) -> np.ndarray:
    return (m + m.conj().T) / 2


def reshape4(rho: np.ndarray, dims: tuple[int, int]) -> np.ndarray:
    da, db = dims
    return rho.reshape(da, db, da, db)


def trace_a(rho: np.ndarray, dims: tuple[int, int]) -> np.ndarray:
    return np.einsum("ijik->jk", reshape4(rho, dims))


def trace_b(rho: np.ndarray, dims: tuple[int, int]) -> np.ndarray:
    return np.einsum("ijkj->ik", reshape4(rho, dims))


def assemblage(
    rho: np.ndarray, dims: tuple[int, int], alice: Sequence[Measurement]
) -> list[list[np.ndarray]]:
    """σ_{a|x} = tr_A[(M_{a|x} ⊗ I) ρ]."""
    r = reshape4(rho, dims)
    return [[herm(np.einsum("ki,ijkl->jl", e, r)) for e in m.effects] for m in alice]


def instance_assemblage(inst: SteeringInstance) -> list[list[np.ndarray]]:
    """The instance's assemblage: given in the file, or tr_A[(M_{a|x} ⊗ I) ρ] of its state."""
    if inst.assemblage is not None:
        return [list(sx) for sx in inst.assemblage]
    return assemblage(inst.rho, inst.dims, inst.alice)


def alice_operators(
    rho: np.ndarray, dims: tuple[int, int], bob_obs: Sequence[np.ndarray], c: np.ndarray
) -> list[np.ndarray]:
    """X_x = Σ_y c_xy tr_B[(I ⊗ B_y) ρ], so that Σ_xy c_xy <A_x ⊗ B_y> = Σ_x tr(A_x X_x)."""
    r = reshape4(rho, dims)
    partial = [np.einsum("lj,ijkl->ik", b, r) for b in bob_obs]  # tr_B[(I ⊗ B) ρ]
    return [herm(sum(c[x, y] * partial[y] for y in range(len(bob_obs)))) for x in range(c.shape[0])]


def sign_observable(x: np.ndarray) -> np.ndarray:
    """argmax of tr(A X) over -I ⪯ A ⪯ I: +1 on X's positive eigenspace, -1 elsewhere."""
    w, v = np.linalg.eigh(herm(x))
    s = np.where(w >= 0, 1.0, -1.0)
    return (v * s) @ v.conj().T


def trace_norm(x: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvalsh(herm(x))).sum())


def lhs_bound(
    c: np.ndarray, obs: Sequence[np.ndarray]
) -> tuple[float, tuple[int, ...], np.ndarray]:
    """max over a ∈ {±1}^mA of λ_max(Σ_x a_x Σ_y c_xy B_y), with its signs and top eigenvector.

    Any LHS model is a mixture of a deterministic response a(λ) and a state σ_λ of Bob, and the
    functional is linear in both, so the maximum sits at a deterministic a and a pure state.
    """
    best = (-math.inf, (), np.zeros(0))
    b_x = [sum(c[x, y] * obs[y] for y in range(len(obs))) for x in range(c.shape[0])]
    for signs in itertools.product((1, -1), repeat=c.shape[0]):
        m = herm(sum(s * b for s, b in zip(signs, b_x, strict=True)))
        w, v = np.linalg.eigh(m)
        if w[-1] > best[0] + 1e-12:
            best = (float(w[-1]), signs, v[:, -1])
    return best


def local_bound(c: np.ndarray) -> tuple[float, tuple[int, ...], tuple[int, ...]]:
    """max over a ∈ {±1}^mA, b ∈ {±1}^mB of Σ c_xy a_x b_y (b is then sign(c^T a))."""
    best = (-math.inf, (), ())
    for a in itertools.product((1, -1), repeat=c.shape[0]):
        col = np.asarray(a, dtype=float) @ c
        b = tuple(1 if v >= 0 else -1 for v in col)
        val = float(np.abs(col).sum())
        if val > best[0] + 1e-12:
            best = (val, a, b)
    return best


def deterministic_strategies(outcomes: Sequence[int]) -> list[tuple[int, ...]]:
    """λ = (a_0, ..., a_{m-1}): D(a|x, λ) = 1 iff λ[x] = a."""
    return list(itertools.product(*(range(o) for o in outcomes)))


# ------------------------------------------------------------------ sequential measurements


def psd_sqrt(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(herm(m))
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.conj().T


def instrument_kraus(meas: Measurement, ins: Instrument) -> list[np.ndarray]:
    """Lüders Kraus operators √E_b of Bob's instrument on his declared measurement."""
    kind, eta = ins
    d = meas.dim
    if kind == "identity":
        return [np.eye(d, dtype=complex)]
    obs = meas.observable
    if kind == "projective":
        return [psd_sqrt(e) for e in meas.effects]
    eye = np.eye(d, dtype=complex)
    return [psd_sqrt((eye + eta * obs) / 2), psd_sqrt((eye - eta * obs) / 2)]


def effective_observable(meas: Measurement, ins: Instrument) -> np.ndarray:
    """What Bob's recorded ±1 outcome measures: O, η O, or I (identity: fixed outcome +1)."""
    kind, eta = ins
    if kind == "identity":
        return np.eye(meas.dim, dtype=complex)
    return meas.observable if kind == "projective" else eta * meas.observable


def declared_observable(meas: Measurement, ins: Instrument) -> np.ndarray:
    """The trusted observable the LHS bound is computed with: Bob's declared sharp observable,
    or the identity for an identity setting. (C is monotone in sharpness, so the sharp bound is
    valid, if conservative, for an unsharp setting.)"""
    return np.eye(meas.dim, dtype=complex) if ins[0] == "identity" else meas.observable


def after_bob(
    rho: np.ndarray,
    dims: tuple[int, int],
    bob: Sequence[Measurement],
    strategy: Sequence[Instrument],
    p: Sequence[float] | None = None,
) -> np.ndarray:
    """ρ_AC = Σ_y p_y Σ_b (I ⊗ K_{b|y}) ρ (I ⊗ K_{b|y})†: Bob's input uniform unless p given."""
    n = len(bob)
    p = [1 / n] * n if p is None else p
    eye_a = np.eye(dims[0])
    out = np.zeros_like(rho)
    for y, (m, ins) in enumerate(zip(bob, strategy, strict=True)):
        for k in instrument_kraus(m, ins):
            kk = np.kron(eye_a, k)
            out = out + p[y] * kk @ rho @ kk.conj().T
    return herm(out)


def strategy_data(inst: SteeringInstance, strategy: Sequence[Instrument]) -> dict:
    """For one pure Bob strategy: Alice's operators X^AB_x, X^AC_x and the two bounds.

    W_AB(A) - C_AB and W_AC(A) - C_AC are the violations; they are linear in Alice's observables.
    """
    c = inst.expression
    rho, dims = inst.rho, inst.dims
    eff = [effective_observable(m, s) for m, s in zip(inst.bob, strategy, strict=True)]
    x_ab = alice_operators(rho, dims, eff, c)
    rho_ac = after_bob(rho, dims, inst.bob, strategy)
    x_ac = alice_operators(rho_ac, dims, [m.observable for m in inst.charlie], c)
    if inst.inequality == "steering":
        if inst.identity_bound == "declared":
            decl = [m.observable for m in inst.bob]
        else:
            decl = [declared_observable(m, s) for m, s in zip(inst.bob, strategy, strict=True)]
        c_ab = lhs_bound(c, decl)[0]
        c_ac = lhs_bound(c, [m.observable for m in inst.charlie])[0]
    else:
        c_ab = c_ac = local_bound(c)[0]
    return {"x_ab": x_ab, "x_ac": x_ac, "c_ab": c_ab, "c_ac": c_ac}
