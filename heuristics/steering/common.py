"""Solution builders shared by the F5 heuristics: each returns (solution dict, value) in the
evaluator's format, the value computed from the very matrices written to the solution."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from optgap.formulations.steering import quantum as Q
from optgap.formulations.steering.instance import SteeringInstance, matrix_to_json


def _mj(m: np.ndarray) -> dict:
    return matrix_to_json(m)


def _re_tr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.real(np.trace(a @ b)))


def lhs_solution(inst: SteeringInstance, signs: Sequence[int], vec: np.ndarray | None):
    n = inst.n
    m = Q.herm(sum(s * b.observable for s, b in zip(signs, inst.bob, strict=True))) / math.sqrt(n)
    if vec is None:
        vec = np.linalg.eigh(m)[1][:, -1]
    vec = vec / np.linalg.norm(vec)
    value = float(np.real(vec.conj() @ m @ vec))
    return {"signs": [int(s) for s in signs], "vector": _mj(vec.reshape(-1, 1))}, value


def assemblage_solution(inst: SteeringInstance, asm: list[list[np.ndarray]]):
    n = inst.n
    value = sum(_re_tr(m.observable, a[0] - a[1]) for m, a in zip(inst.bob, asm, strict=True))
    return {"assemblage": [[_mj(x) for x in a] for a in asm]}, value / math.sqrt(n)


def steering_ops(inst: SteeringInstance) -> list[np.ndarray]:
    n = inst.n
    return Q.alice_operators(
        inst.rho, inst.dims, [m.observable for m in inst.bob], np.eye(n) / math.sqrt(n)
    )


def alice_solution(inst: SteeringInstance, obs: list[np.ndarray]):
    xs = steering_ops(inst)
    obs = [Q.herm(o) for o in obs]
    return {"alice": [_mj(o) for o in obs]}, sum(_re_tr(o, x) for o, x in zip(obs, xs, strict=True))


def witness_solution(inst: SteeringInstance, f, sig):
    q = inst.quantity
    f = [[Q.herm(fa) for fa in fx] for fx in f]
    pairing = sum(_re_tr(f[x][a], sig[x][a]) for x in range(len(f)) for a in range(len(f[x])))
    value = {"robustness": pairing - 1, "weight": 1 - pairing, "lhs-distance": -pairing}[q]
    return {"witness": [[_mj(fa) for fa in fx] for fx in f]}, value


def strategy_solution(inst: SteeringInstance):
    c = inst.expression
    al = [m.observable for m in inst.alice]
    bo = [m.observable for m in inst.bob]
    value = sum(
        c[x, y] * _re_tr(inst.rho, np.kron(al[x], bo[y]))
        for x in range(c.shape[0])
        for y in range(c.shape[1])
    )
    sol = {
        "strategy": {
            "state": _mj(inst.rho),
            "alice": [_mj(a) for a in al],
            "bob": [_mj(b) for b in bo],
        }
    }
    return sol, value


def gram_solution(inst: SteeringInstance, vectors: np.ndarray):
    """Γ = V V^T for unit rows V (1, A_0.., B_0..): a quantum correlation by Tsirelson."""
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    g = v @ v.T
    np.fill_diagonal(g, 1.0)
    ma = inst.expression.shape[0]
    value = float(np.sum(inst.expression * g[1 : 1 + ma, 1 + ma :]))
    return {"gram": g.tolist()}, value


# ------------------------------------------------------------------ sequential sharing


def fixed_alice(inst: SteeringInstance) -> list[np.ndarray] | None:
    return None if inst.alice is None else [m.observable for m in inst.alice]


def violations(data: list[dict], alices: list[list[np.ndarray]]) -> list[tuple[float, float]]:
    """(v_AB, v_AC) per strategy for Alice's observables per strategy."""
    out = []
    for dd, obs in zip(data, alices, strict=True):
        vab = sum(_re_tr(o, x) for o, x in zip(obs, dd["x_ab"], strict=True)) - dd["c_ab"]
        vac = sum(_re_tr(o, x) for o, x in zip(obs, dd["x_ac"], strict=True)) - dd["c_ac"]
        out.append((vab, vac))
    return out


def best_mixture(vals: list[tuple[float, float]]) -> tuple[list[float], float]:
    """max_q min(Σ q_s a_s, Σ q_s b_s): an optimum mixes at most two strategies (2 constraints)."""
    ns = len(vals)
    best = (-math.inf, [1.0] + [0.0] * (ns - 1))
    for i in range(ns):
        for j in range(i, ns):
            (a1, b1), (a2, b2) = vals[i], vals[j]
            cands = [0.0, 1.0]
            den = (a1 - a2) - (b1 - b2)
            if abs(den) > 1e-15:
                p = (b2 - a2) / den
                if 0 < p < 1:
                    cands.append(p)
            for p in cands:
                v = min(p * a1 + (1 - p) * a2, p * b1 + (1 - p) * b2)
                if v > best[0] + 1e-15:
                    qs = [0.0] * ns
                    qs[i] += p
                    qs[j] += 1 - p
                    best = (v, qs)
    return best[1], best[0]


def balance_alice(data: list[dict], qs: Sequence[float], iters: int = 60) -> list[np.ndarray]:
    """max over one Alice of min(Σ_s q_s v_AB, Σ_s q_s v_AC): ternary search on the weight w of
    min_w max_A [w v_AB + (1 - w) v_AC], then the best mix of the two sign strategies near w*."""
    y1 = [
        sum(q * dd["x_ab"][x] for q, dd in zip(qs, data, strict=True))
        for x in range(len(data[0]["x_ab"]))
    ]
    y2 = [
        sum(q * dd["x_ac"][x] for q, dd in zip(qs, data, strict=True))
        for x in range(len(data[0]["x_ac"]))
    ]
    c1 = sum(q * dd["c_ab"] for q, dd in zip(qs, data, strict=True))
    c2 = sum(q * dd["c_ac"] for q, dd in zip(qs, data, strict=True))

    def g(w: float) -> float:
        return (
            sum(Q.trace_norm(w * a + (1 - w) * b) for a, b in zip(y1, y2, strict=True))
            - w * c1
            - (1 - w) * c2
        )

    lo, hi = 0.0, 1.0
    for _ in range(iters):
        m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if g(m1) <= g(m2):
            hi = m2
        else:
            lo = m1
    w = (lo + hi) / 2

    def at(wv: float) -> list[np.ndarray]:
        return [Q.sign_observable(wv * a + (1 - wv) * b) for a, b in zip(y1, y2, strict=True)]

    def score(obs):
        f1 = sum(_re_tr(o, a) for o, a in zip(obs, y1, strict=True)) - c1
        f2 = sum(_re_tr(o, b) for o, b in zip(obs, y2, strict=True)) - c2
        return f1, f2

    best_obs, best_val = None, -math.inf
    for delta in (0.0, 1e-6, 1e-4, 1e-2):
        oa, ob = at(max(0.0, w - delta)), at(min(1.0, w + delta))
        (a1, b1), (a2, b2) = score(oa), score(ob)
        cands = [0.0, 1.0]
        den = (a1 - a2) - (b1 - b2)
        if abs(den) > 1e-15 and 0 < (b2 - a2) / den < 1:
            cands.append((b2 - a2) / den)
        for p in cands:
            obs = [p * x + (1 - p) * y for x, y in zip(oa, ob, strict=True)]
            v = min(score(obs))
            if v > best_val:
                best_obs, best_val = obs, v
    return best_obs


def double_solution(inst: SteeringInstance, data, qs, obs_or_rows):
    """obs_or_rows: one Alice for every strategy (list of matrices) or one per strategy."""
    ns = len(data)
    rows = obs_or_rows if obs_or_rows and isinstance(obs_or_rows[0], list) else [obs_or_rows] * ns
    sol: dict = {"weights": [float(q) for q in qs]}
    if inst.alice is None:
        sol["alice"] = [[_mj(Q.herm(a)) for a in row] for row in rows]
    vals = violations(data, rows)
    vab = sum(q * v[0] for q, v in zip(qs, vals, strict=True))
    vac = sum(q * v[1] for q, v in zip(qs, vals, strict=True))
    return sol, float(min(vab, vac))
