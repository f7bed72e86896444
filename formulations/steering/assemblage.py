"""F5 exact models for a steering functional given in the file (issue 16 point 3).

A steering functional F = {F_{a|x}} (Hermitian operators on Bob's C^{d_B}, settings x with o_x
outcomes) acts on an assemblage as β(σ) = Σ_{a,x} tr(F_{a|x} σ_{a|x}). (The linear steering
inequality of the `bob` field is the functional F_{±|k} = ±B_k/√n.) Robustness, weight and LHS
distance of a *given assemblage* need no model of their own: sdp.py's witness programs take the
assemblage from the file (quantum.instance_assemblage).

- lhs-bound (enumeration, exact): an LHS assemblage is σ_{a|x} = Σ_λ D(a|x,λ) σ_λ with σ_λ ⪰ 0,
  Σ_λ tr σ_λ = 1, and β is linear in it, so the maximum sits at one deterministic strategy λ
  (λ(x) the outcome of setting x) and a pure state:
      C(F) = max_λ λ_max(Σ_x F_{λ(x)|x}),   Π_x o_x strategies,
  refused past the limit steering.strategies (65536) by the loader. The solution is the best λ
  and the top eigenvector ψ; the evaluator enumerates the strategies again (its own code).

- quantum-max: max β over quantum assemblages σ_{a|x} = tr_A[(M_{a|x} ⊗ I) ρ_AB], ρ_AB a state on
  C^{d_A} ⊗ C^{d_B} (d_A = the field alice_dim, default d_B) and M_{·|x} POVMs of Alice. Upper
  bound: the SDP over no-signalling assemblages
      max Σ_{a,x} tr(F_{a|x} σ_{a|x})  s.t.  σ_{a|x} ⪰ 0,  Σ_a σ_{a|x} = ρ_B ∀x,  tr ρ_B = 1,
  with the dual  min λ_max(Σ_x Y_x)  s.t.  Y_x ⪰ F_{a|x} ∀a, x  (for every feasible σ,
  β ≤ Σ_{a,x} tr(Y_x σ_{a|x}) = Σ_x tr(Y_x ρ_B) ≤ λ_max(Σ_x Y_x)); the certificate is Y, solved
  as its own program (cvxpy's multipliers of Hermitian PSD constraints are not accurate enough).
  Exactness, by the Schrödinger–HJW (GHJW) construction: an NS assemblage with reduced state
  ρ_B = Σ_{i<r} p_i |e_i><e_i| of rank r is produced by |ψ> = Σ_i √p_i |i>_A |e_i>_B on
  C^r ⊗ C^{d_B} and Alice's POVMs M_{a|x} = (ρ_B^{-1/2} σ_{a|x} ρ_B^{-1/2})^T in the basis e_i
  (σ_{a|x} ⪯ ρ_B keeps each σ on the support, and Σ_a M_{a|x} = I_r). So the SDP value IS the
  quantum maximum when Alice's dimension d_A ≥ r — in particular whenever d_A ≥ d_B — and Alice
  may use POVMs (with projective measurements only a Naimark dilation may need a larger d_A).
  For d_A < d_B it is an upper bound only (d_A = 1 allows no steering at all: the value is then
  the LHS bound).
  The sdp's point is that realisation as an explicit state and POVMs in dimension d_A (what the
  evaluator checks); when the optimal ρ_B has rank > d_A it is truncated to its d_A largest
  eigenvalues — a feasible strategy of lower value, so the answer is `feasible` with the gap to
  the certified bound (the see-saw of heuristics/steering/functional_seesaw.py may do better).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from optgap.formulations.steering import quantum as Q
from optgap.formulations.steering.instance import SteeringInstance, matrix_to_json
from optgap.formulations.steering.sdp import (
    _backend,
    _finish,
    _hvar,
    _tr,
    _uncertified,
    _val,
    solve_cvxpy,
)
from optgap.solvers.fields import limit
from optgap.solvers.result import Result, SolveOptions, Status

RANK_TOL = 1e-10  # eigenvalues of ρ_B below this are dropped in the GHJW realisation


def _mj(m: np.ndarray) -> dict:
    return matrix_to_json(m)


def strategy_operator(f, lam) -> np.ndarray:
    """Σ_x F_{λ(x)|x}."""
    return Q.herm(sum(f[x][a] for x, a in enumerate(lam)))


def lhs_bound(f) -> tuple[float, tuple[int, ...], np.ndarray]:
    """C(F) = max_λ λ_max(Σ_x F_{λ(x)|x}), with the best λ and its top eigenvector."""
    best = (-math.inf, (), np.zeros(0))
    for lam in itertools.product(*(range(len(fx)) for fx in f)):
        w, v = np.linalg.eigh(strategy_operator(f, lam))
        if w[-1] > best[0] + 1e-12:
            best = (float(w[-1]), lam, v[:, -1])
    return best


def lhs_solution(f, lam, vec: np.ndarray) -> tuple[dict, float]:
    """The evaluator's point for lhs-bound: λ and ψ, with value <ψ|Σ_x F_{λ(x)|x}|ψ>."""
    vec = vec / np.linalg.norm(vec)
    value = float(np.real(vec.conj() @ strategy_operator(f, lam) @ vec))
    return {"strategy": [int(a) for a in lam], "vector": _mj(vec.reshape(-1, 1))}, value


def functional_lhs_bound(inst: SteeringInstance) -> Result:
    f = inst.functional
    value, lam, vec = lhs_bound(f)
    sol, obj = lhs_solution(f, lam, vec)
    sol["bound"] = value
    sol["status"] = "optimal"
    stats = {"strategies": math.prod(len(fx) for fx in f), "limit": limit("steering.strategies")}
    return Result("", "", "enumeration", Status.OPTIMAL, obj, value, solution=sol, stats=stats)


# ------------------------------------------------------------------ quantum maximum


def strategy_value(f, rho: np.ndarray, povms, d_a: int) -> float:
    """Σ_{a,x} tr[(M_{a|x} ⊗ F_{a|x}) ρ_AB]."""
    return float(
        sum(
            np.real(np.trace(rho @ np.kron(m, fa)))
            for fx, mx in zip(f, povms, strict=True)
            for fa, m in zip(fx, mx, strict=True)
        )
    )


def realise(sig, d_a: int) -> tuple[np.ndarray, list[list[np.ndarray]], int]:
    """The GHJW realisation of a (near) no-signalling assemblage by a pure state on
    C^{d_A} ⊗ C^{d_B} and POVMs of Alice (the module docstring), made exactly valid: the
    effects clipped to PSD and renormalised, E ← T^{-1/2} E T^{-1/2} with T = Σ_a E_a; a rank
    above d_A is truncated to the d_A largest eigenvalues. Returns (ρ_AB, POVMs, rank of ρ_B)."""
    d_b = sig[0][0].shape[0]
    rho_b = Q.herm(sum(sum(sx) for sx in sig) / len(sig))
    w, v = np.linalg.eigh(rho_b)
    order = np.argsort(w)[::-1]
    keep = [i for i in order if w[i] > RANK_TOL]
    rank = len(keep)
    keep = keep[:d_a]
    r = len(keep)
    p = w[keep] / w[keep].sum()
    vb = v[:, keep]  # d_B x r
    psi = np.zeros(d_a * d_b, dtype=complex)
    for i in range(r):
        psi += math.sqrt(p[i]) * np.kron(np.eye(d_a)[i], vb[:, i])
    inv = 1 / np.sqrt(w[keep])
    povms = []
    for sx in sig:
        eff = []
        for s in sx:
            m = (inv[:, None] * (vb.conj().T @ s @ vb) * inv[None, :]).T
            eff.append(Q.herm(_psd(m)))
        t = Q.herm(sum(eff))
        tw, tv = np.linalg.eigh(t)
        t_inv = (tv / np.sqrt(np.clip(tw, 1e-300, None))) @ tv.conj().T
        eff = [Q.herm(t_inv @ e @ t_inv) for e in eff]
        full = [np.zeros((d_a, d_a), dtype=complex) for _ in eff]
        for e, g in zip(eff, full, strict=True):
            g[:r, :r] = e
        full[0][r:, r:] = np.eye(d_a - r)  # outside the support: any completion, here outcome 0
        povms.append(full)
    return np.outer(psi, psi.conj()), povms, rank


def deterministic_strategy(f, d_a: int) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """The best LHS point as a quantum strategy: the product state |0>_A |ψ>_B and Alice's
    POVM M_{λ(x)|x} = I, for the best deterministic λ and its top eigenvector ψ (value C(F))."""
    _, lam, vec = lhs_bound(f)
    psi = np.kron(np.eye(d_a)[0], vec / np.linalg.norm(vec))
    povms = [
        [np.eye(d_a, dtype=complex) * (a == lam[x]) for a in range(len(fx))]
        for x, fx in enumerate(f)
    ]
    return np.outer(psi, psi.conj()), povms


def _psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(Q.herm(m))
    return (v * np.clip(w, 0, None)) @ v.conj().T


def dual_bound(f, ys) -> float:
    """λ_max(Σ_x Y'_x), Y'_x = Y_x raised by the largest violation of Y_x ⪰ F_{a|x}."""
    d = f[0][0].shape[0]
    tot = np.zeros((d, d), dtype=complex)
    for fx, y in zip(f, ys, strict=True):
        shift = max(0.0, *(-float(np.linalg.eigvalsh(Q.herm(y - fa))[0]) for fa in fx))
        tot = tot + y + shift * np.eye(d)
    return float(np.linalg.eigvalsh(Q.herm(tot))[-1])


def _primal(f, options: SolveOptions):
    import cvxpy as cp

    d = f[0][0].shape[0]
    sig = [[_hvar(d) for _ in fx] for fx in f]
    rho = sum(sig[0])
    cons = [s >> 0 for sx in sig for s in sx] + [cp.real(cp.trace(rho)) == 1]
    cons += [sum(sx) == rho for sx in sig[1:]]
    obj = sum(
        _tr(fa, s) for fx, sx in zip(f, sig, strict=True) for fa, s in zip(fx, sx, strict=True)
    )
    out = solve_cvxpy(cp.Problem(cp.Maximize(obj), cons), options, _backend(options))
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return None, out
    return [[_val(s) for s in sx] for sx in sig], out


def _dual(f, options: SolveOptions):
    import cvxpy as cp

    d = f[0][0].shape[0]
    ys = [_hvar(d) for _ in f]
    t = cp.Variable()
    cons = [y - fa >> 0 for fx, y in zip(f, ys, strict=True) for fa in fx]
    cons.append(t * np.eye(d) - sum(ys) >> 0)
    out = solve_cvxpy(cp.Problem(cp.Minimize(t), cons), options, _backend(options))
    if out.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return None, out
    return [_val(y) for y in ys], out


def functional_quantum_max(inst: SteeringInstance, options: SolveOptions) -> Result:
    f = inst.functional
    d_a = inst.alice_dim
    sig, out = _primal(f, options)
    if sig is None:
        return Result("", "", _backend(options), out.status, message=out.message)
    rho, povms, rank = realise(sig, d_a)
    value = strategy_value(f, rho, povms, d_a)
    point = "GHJW realisation of the SDP's assemblage"
    if rank > d_a:  # truncated: the best deterministic strategy may do better
        rho_d, povms_d = deterministic_strategy(f, d_a)
        value_d = strategy_value(f, rho_d, povms_d, d_a)
        if value_d > value:
            rho, povms, value = rho_d, povms_d, value_d
            point = "best deterministic strategy (the truncated GHJW point was worse)"
    ns_value = sum(
        float(np.real(np.trace(fa @ s)))
        for fx, sx in zip(f, sig, strict=True)
        for fa, s in zip(fx, sx, strict=True)
    )
    sol: dict = {
        "strategy": {"state": _mj(rho), "alice": [[_mj(m) for m in mx] for mx in povms]},
    }
    stats = {
        "settings": len(f),
        "outcomes": [len(fx) for fx in f],
        "dim_b": f[0][0].shape[0],
        "alice_dim": d_a,
        "ns_value": ns_value,
        "rank_rho_b": rank,
        "ghjw_exact": rank <= d_a,
        "point": point,
    }
    ys, out2 = _dual(f, options)
    if ys is None:  # the strategy stands (a lower bound) without a certificate
        return _uncertified(value, sol, stats, out2.message, options)
    sol["dual"] = {"Y": [_mj(y) for y in ys]}
    result = _finish(out, value, dual_bound(f, ys), sol, _backend(options), stats)
    if rank > d_a:
        result.message = (
            f"Alice's dimension {d_a} < rank {rank} of the SDP's ρ_B: the SDP is an upper bound "
            f"only; {result.message}"
        )
    return result
