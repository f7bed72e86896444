"""Witness ascent for robustness and weight: a solver-free lower bound used by `seesaw`.

Robustness: any F ⪰ 0 scaled by 1/T(F), T(F) = max_λ λ_max(Σ_x F_{λ(x)|x}), is a feasible witness
of value Σ tr(F σ)/T(F) - 1. Weight: any F ⪰ 0 with m(F) = min_λ λ_min(Σ_x F_{λ(x)|x}) > 0,
scaled by 1/m(F), has value 1 - Σ tr(F σ)/m(F). So both are unconstrained ratios over
F = G G† (PSD by construction). The max/min over strategies and eigenvalues is smoothed by a
log-sum-exp of temperature 1/β (β raised along the way: early steps weigh every nearly binding
strategy, late ones the binding ones) and G follows Adam steps on the log ratio. The exact ratio
of the best iterate is returned, so the value is a true lower bound whatever the smoothing did.
"""

from __future__ import annotations

import numpy as np
from optgap.formulations.steering import quantum as Q


def witness_ascent(
    q: str, sig, start: list[list[np.ndarray]], iters: int = 300, lr: float = 0.05, deadline=None
) -> list[list[np.ndarray]]:
    """Improve a PSD witness ``start`` for ``q`` in {"robustness", "weight"}; returns the best
    F found (unscaled: the caller scales it to feasibility)."""
    outs = [len(sx) for sx in sig]
    lams = Q.deterministic_strategies(outs)
    pairs = [(x, a) for x in range(len(outs)) for a in range(outs[x])]
    index = {p: i for i, p in enumerate(pairs)}
    members = [[index[(x, a)] for x, a in enumerate(lam)] for lam in lams]
    sg = [sig[x][a] for x, a in pairs]
    sign = 1.0 if q == "robustness" else -1.0  # robustness: max of λ_max; weight: min of λ_min

    g = [Q.psd_sqrt(start[x][a] + 1e-3 * np.eye(len(sg[0]))) for x, a in pairs]
    m_t = [np.zeros_like(x) for x in g]
    v_t = [np.zeros(x.shape) for x in g]

    def exact(fs) -> float:
        num = sum(float(np.real(np.trace(f @ s))) for f, s in zip(fs, sg, strict=True))
        ext = [np.linalg.eigvalsh(Q.herm(sum(fs[i] for i in mem))) for mem in members]
        if q == "robustness":
            return num / max(e[-1] for e in ext)
        low = min(e[0] for e in ext)
        return -num / low if low > 1e-12 else -np.inf  # maximise -(Σ tr Fσ)/m

    fs = [x @ x.conj().T for x in g]
    best, best_val = fs, exact(fs)
    for it in range(iters):
        if deadline is not None and deadline():
            break
        beta = 20.0 * (1 + 24.0 * it / max(1, iters - 1))
        fs = [x @ x.conj().T for x in g]
        num = sum(float(np.real(np.trace(f @ s))) for f, s in zip(fs, sg, strict=True))
        # smoothed extreme eigenvalue: (1/β) log Σ_λ Σ_i exp(±β μ_{λ,i}), gradient Σ w V V†
        eigs = [np.linalg.eigh(Q.herm(sum(fs[i] for i in mem))) for mem in members]
        allmu = np.concatenate([w for w, _ in eigs])
        shift = np.max(sign * allmu)
        grads = [np.zeros_like(fs[0]) for _ in fs]
        z = 0.0
        for (w, v), mem in zip(eigs, members, strict=True):
            wt = np.exp(beta * (sign * w - shift))
            z += wt.sum()
            proj = (v * wt) @ v.conj().T
            for i in mem:
                grads[i] += proj
        ext = sign * (shift + np.log(z) / beta)
        if num <= 0 or (q == "weight" and ext <= 0):
            break
        # log ratio: log num - log ext (robustness, maximise); weight: maximise log ext - log num
        for i in range(len(fs)):
            d_f = sg[i] / num - grads[i] / (z * ext)
            if q == "weight":
                d_f = -d_f
            d_g = 2 * d_f @ g[i]  # d tr(F X)/dG for F = G G†, X Hermitian
            m_t[i] = 0.9 * m_t[i] + 0.1 * d_g
            v_t[i] = 0.999 * v_t[i] + 0.001 * np.abs(d_g) ** 2
            mh, vh = m_t[i] / (1 - 0.9 ** (it + 1)), v_t[i] / (1 - 0.999 ** (it + 1))
            g[i] = g[i] + lr * mh / (np.sqrt(vh) + 1e-12)
        fs = [x @ x.conj().T for x in g]
        val = exact(fs)
        if val > best_val:
            best, best_val = fs, val
    return [[best[index[(x, a)]] for a in range(outs[x])] for x in range(len(outs))]
