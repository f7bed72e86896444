"""F5 heuristics for full Bell functionals (bell-npa, bell-nosignalling, bell-local with a
`bell` field): explicit strategies, so every value is a lower bound.

- see-saw (bell-npa): a state ψ ∈ C^d ⊗ C^d and POVMs {E_a|x}, {F_b|y} in the dimension asked
  (instance field `dim`); alternate (1) ψ = top eigenvector of the Bell operator
  W = c0 + Σ C[x][y][a][b] E_a|x ⊗ F_b|y, (2) Alice's POVMs for fixed ψ and Bob: per x,
  max Σ_a tr(E_a X_a), X_a = Σ_{y,b} C tr_B[(I ⊗ F_b|y) ψψ†], by the monotone iteration
  E_a ← Λ^{-1/2} X'_a E_a X'_a Λ^{-1/2} (X'_a = X_a + s I ⪰ 0, Λ = Σ_a X'_a E_a X'_a;
  Ježek, Řeháček, Fiurášek, PRA 65, 060301 (2002)), (3) the same for Bob. Seeded random starts.
- deterministic (all three quantities): the best local deterministic strategy (enumeration of
  Alice's, Bob's best response), as outcome indices, a behaviour, or a 1-dimensional strategy.
"""

from __future__ import annotations

import itertools

import numpy as np
from optgap.formulations.steering.instance import matrix_to_json


def _mj(m):
    return matrix_to_json(m)


def deterministic(inst) -> tuple[dict, float]:
    from optgap.formulations.steering.bell import local_bound

    bf = inst.bell
    value, a, b = local_bound(bf)
    (ma, mb), (oa, ob) = bf.inputs, bf.outputs
    if inst.quantity == "bell-local":
        return {"a": list(a), "b": list(b)}, value
    p = np.zeros((ma, mb, oa, ob))
    for x, y in itertools.product(range(ma), range(mb)):
        p[x, y, a[x], b[y]] = 1.0
    if inst.quantity == "bell-nosignalling":
        return {"p": p.tolist()}, bf.value(p)
    one = np.eye(1)
    sol = {
        "strategy": {
            "state": _mj(one),
            "alice": [[_mj(one * (k == a[x])) for k in range(oa)] for x in range(ma)],
            "bob": [[_mj(one * (k == b[y])) for k in range(ob)] for y in range(mb)],
        }
    }
    return sol, bf.value(p)


def _random_povm(rng, d: int, o: int) -> list[np.ndarray]:
    g = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    q, _ = np.linalg.qr(g)
    groups = np.array_split(np.arange(d), o)
    return [q[:, gr] @ q[:, gr].conj().T for gr in groups]


def _herm(m):
    return (m + m.conj().T) / 2


def _best_povm(xs: list[np.ndarray], start: list[np.ndarray], steps: int = 30) -> list[np.ndarray]:
    d = xs[0].shape[0]
    shift = max(0.0, -min(float(np.linalg.eigvalsh(_herm(x))[0]) for x in xs)) + 1e-9
    xp = [_herm(x) + shift * np.eye(d) for x in xs]
    e = [_herm(s) for s in start]
    for _ in range(steps):
        t = [x @ ei @ x for x, ei in zip(xp, e, strict=True)]
        lam = _herm(sum(t))
        w, v = np.linalg.eigh(lam)
        if w[0] <= 1e-14:
            break
        inv = (v / np.sqrt(w)) @ v.conj().T
        e = [_herm(inv @ ti @ inv) for ti in t]
    # exact PSD and completeness for the evaluator: clip, then E_a ← S^{-1/2} E_a S^{-1/2}
    e = [_psd(ei) for ei in e]
    w, v = np.linalg.eigh(_herm(sum(e)))
    inv = (v / np.sqrt(w)) @ v.conj().T
    return [_herm(inv @ ei @ inv) for ei in e]


def _psd(m):
    w, v = np.linalg.eigh(_herm(m))
    return _herm((v * np.clip(w, 0, None)) @ v.conj().T)


def _value(bf, rho, alice, bob, da, db) -> float:
    (ma, mb), (oa, ob) = bf.inputs, bf.outputs
    total = bf.constant
    for x, y, a, b in itertools.product(range(ma), range(mb), range(oa), range(ob)):
        c = bf.coef[x, y, a, b]
        if c:
            total += c * float(np.real(np.trace(rho @ np.kron(alice[x][a], bob[y][b]))))
    return total


def seesaw(inst, rng, restarts: int, iters: int, deadline) -> tuple[dict, float]:
    bf = inst.bell
    (ma, mb), (oa, ob) = bf.inputs, bf.outputs
    d = inst.dim
    best = deterministic(inst)
    for _ in range(restarts):
        if deadline():
            break
        alice = [_random_povm(rng, d, oa) for _ in range(ma)]
        bob = [_random_povm(rng, d, ob) for _ in range(mb)]
        prev = -np.inf
        for _ in range(iters):
            if deadline():
                break
            w = bf.constant * np.eye(d * d, dtype=complex)
            for x, y, a, b in itertools.product(range(ma), range(mb), range(oa), range(ob)):
                if bf.coef[x, y, a, b]:
                    w = w + bf.coef[x, y, a, b] * np.kron(alice[x][a], bob[y][b])
            psi = np.linalg.eigh(_herm(w))[1][:, -1]
            r = np.outer(psi, psi.conj()).reshape(d, d, d, d)
            # X_a|x = Σ_{y,b} C tr_B[(I ⊗ F) ρ];  Y_b|y = Σ_{x,a} C tr_A[(E ⊗ I) ρ]
            for x in range(ma):
                xs = [
                    sum(
                        bf.coef[x, y, a, b] * np.einsum("ijkl,lj->ik", r, bob[y][b])
                        for y in range(mb)
                        for b in range(ob)
                    )
                    for a in range(oa)
                ]
                alice[x] = _best_povm(xs, alice[x])
            for y in range(mb):
                ys = [
                    sum(
                        bf.coef[x, y, a, b] * np.einsum("ijkl,ki->jl", r, alice[x][a])
                        for x in range(ma)
                        for a in range(oa)
                    )
                    for b in range(ob)
                ]
                bob[y] = _best_povm(ys, bob[y])
            val = _value(bf, np.outer(psi, psi.conj()), alice, bob, d, d)
            if val <= prev + 1e-10:
                break
            prev = val
        # the final state for the final measurements
        w = bf.constant * np.eye(d * d, dtype=complex)
        for x, y, a, b in itertools.product(range(ma), range(mb), range(oa), range(ob)):
            if bf.coef[x, y, a, b]:
                w = w + bf.coef[x, y, a, b] * np.kron(alice[x][a], bob[y][b])
        psi = np.linalg.eigh(_herm(w))[1][:, -1]
        rho = np.outer(psi, psi.conj())
        val = _value(bf, rho, alice, bob, d, d)
        if val > best[1] + 1e-12:
            sol = {
                "strategy": {
                    "state": _mj(rho),
                    "alice": [[_mj(e) for e in row] for row in alice],
                    "bob": [[_mj(e) for e in row] for row in bob],
                }
            }
            best = (sol, val)
    return best
