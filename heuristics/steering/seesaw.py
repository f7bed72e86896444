"""F5 heuristic `seesaw`: alternating optimisation over explicit strategies from seeded random
starts. Where the quantity splits into blocks each step solves one block exactly, so the value
never decreases; the witness quantities use a search that keeps its best point. Every point is a
feasible strategy or witness, so the result is a lower bound on the quantity (never above `sdp`).

- lhs-bound: signs s_k = sign <ψ|B_k|ψ>  ↔  ψ = top eigenvector of Σ s_k B_k.
- quantum-max: a pure state ψ ∈ C^d ⊗ C^d and Alice's observables: A_k = sign(tr_B[(I ⊗ B_k)ψψ†])
  ↔ ψ = top eigenvector of Σ_k A_k ⊗ B_k / √n; the assemblage of (ψ, A) is the solution.
- steering-value: Alice's observables are one block: A_k = sign(X_k) is reached in one step.
- robustness / weight / lhs-distance: coordinate search over the closed-form witness family
  built on a reference assemblage between σ and Φ+'s (mixing κ, aligned term α, identity β),
  each point made exactly feasible; for robustness and weight the best one is then polished by
  ascent on the exact value ratio (heuristics/steering/ascent.py): the step alternates between
  the witness and the re-weighted set of binding LHS strategies; for the distance, the ascended
  robustness witness F_R gives F = k (I/n - F_R).
- bell-quantum: unit vectors in R^3 (Tsirelson): a_x ∝ Σ_y c_xy b_y ↔ b_y ∝ Σ_x c_xy a_x.
- bell-local: a = sign(c b) ↔ b = sign(c^T a).
- lhs-bound / quantum-max of a given functional F_{a|x}: functional_seesaw.py (strategy λ ↔ ψ;
  state ↔ Alice's POVMs in dimension alice_dim).
- bell-npa: see-saw over a state and POVMs of the instance's dimension (bell_seesaw.py); a
  lower bound on the quantum value, hence on every NPA level. bell-nosignalling and a full
  bell-local: the best deterministic strategy.
- double-violation: ONE Alice for all of Bob's strategies (she does not see the shared
  randomness, unlike the `sdp` model): mixture q (exact, two strategies suffice) ↔ Alice's
  observables (exact max-min by the weight w). Starts from each pure strategy.

Parameters (--param): restarts (default 8), iterations (default 50).
"""

from __future__ import annotations

import math
import time

import numpy as np
from optgap.formulations.steering import quantum as Q
from optgap.formulations.steering.instance import SteeringInstance, check_params
from optgap.heuristics.steering import common as C
from optgap.heuristics.steering.ascent import witness_ascent
from optgap.heuristics.steering.bell_seesaw import deterministic
from optgap.heuristics.steering.bell_seesaw import seesaw as bell_seesaw
from optgap.heuristics.steering.closed_form import aligned_witness, trivial_witness
from optgap.solvers.result import Result, SolveOptions, Status


def seesaw(inst: SteeringInstance, options: SolveOptions) -> Result:
    check_params(options.params)
    if inst.quantity == "network-fnn":  # heuristics/steering/network_seesaw.py
        from optgap.heuristics.steering.network_seesaw import network_seesaw

        return network_seesaw(inst, options)
    restarts = options.int_param("restarts", 8)
    iters = options.int_param("iterations", 50)
    rng = np.random.default_rng(options.seed)
    t0 = time.perf_counter()

    def deadline() -> bool:  # --time-limit: stop between steps, keep the best point so far
        return time.perf_counter() - t0 > options.time_limit_s

    if inst.functional is not None:  # lhs-bound / quantum-max of a given functional
        from optgap.heuristics.steering.functional_seesaw import seesaw as functional_seesaw

        sol, value = functional_seesaw(inst, rng, restarts, iters, deadline)
    elif inst.quantity in ("bell-npa", "bell-nosignalling") or (
        inst.quantity == "bell-local" and inst.bell is not None
    ):
        if inst.quantity == "bell-npa":
            sol, value = bell_seesaw(inst, rng, restarts, iters, deadline)
        else:
            sol, value = deterministic(inst)
    else:
        sol, value = _run(inst, rng, restarts, iters, deadline)
    return Result(
        "",
        "",
        "python",
        Status.FEASIBLE,
        value,
        solution=sol,
        stats={"restarts": restarts, "iterations": iters},
    )


def _rand_unit(rng, d: int) -> np.ndarray:
    v = rng.normal(size=d) + 1j * rng.normal(size=d)
    return v / np.linalg.norm(v)


def _run(inst: SteeringInstance, rng, restarts: int, iters: int, deadline=lambda: False):
    """The best point over the restarts; a restart starts only while time is left (the first
    always runs, so there is an answer)."""
    q = inst.quantity
    best: tuple[dict, float] | None = None

    def keep(cand):
        nonlocal best
        if best is None or cand[1] > best[1] + 1e-13:
            best = cand

    if q == "lhs-bound":
        obs = [m.observable for m in inst.bob]
        for r in range(restarts):
            if r and deadline():
                break
            psi = _rand_unit(rng, obs[0].shape[0])
            for _ in range(iters):
                if deadline is not None and deadline():
                    break
                signs = [1 if np.real(psi.conj() @ b @ psi) >= 0 else -1 for b in obs]
                psi = np.linalg.eigh(Q.herm(sum(s * b for s, b in zip(signs, obs, strict=True))))[
                    1
                ][:, -1]
            keep(C.lhs_solution(inst, signs, psi))
    elif q == "quantum-max":
        keep(_quantum_max(inst, rng, restarts, iters, deadline))
    elif q == "steering-value":
        keep(C.alice_solution(inst, [Q.sign_observable(x) for x in C.steering_ops(inst)]))
    elif q in ("robustness", "weight", "lhs-distance"):
        keep(_witness_search(inst, rng, restarts, iters, deadline))
    elif q == "bell-quantum":
        c = inst.expression
        ma, mb = c.shape
        for r in range(restarts):
            if r and deadline():
                break
            b = rng.normal(size=(mb, 3))
            b /= np.linalg.norm(b, axis=1, keepdims=True)
            for _ in range(iters):
                if deadline is not None and deadline():
                    break
                a = _normalise(c @ b, rng)
                b = _normalise(c.T @ a, rng)
            v = np.zeros((1 + ma + mb, 4))
            v[0, 0] = 1.0
            v[1 : 1 + ma, 1:] = a
            v[1 + ma :, 1:] = b
            keep(C.gram_solution(inst, v))
    elif q == "bell-local":
        c = inst.expression
        for r in range(restarts):
            if r and deadline():
                break
            a = rng.choice([-1.0, 1.0], size=c.shape[0])
            for _ in range(iters):
                if deadline is not None and deadline():
                    break
                b = np.where(c.T @ a >= 0, 1.0, -1.0)
                a = np.where(c @ b >= 0, 1.0, -1.0)
            b = np.where(c.T @ a >= 0, 1.0, -1.0)
            keep(({"a": [int(x) for x in a], "b": [int(y) for y in b]}, float(a @ c @ b)))
    else:
        keep(_double(inst, iters))
    return best


def _witness_search(inst: SteeringInstance, rng, restarts: int, iters: int, deadline=None):
    """Witnesses F(τ; α, β) of the closed-form family built on a reference assemblage
    τ = (1 - κ) σ + κ σ^Φ+ (σ^Φ+_{a|x} = M_{a|x}^T / d: what Φ+ would give with Alice's
    measurements), made feasible on τ and scored on the true σ; coordinate search over
    (κ, α, β) from seeded starts, steps halved when no move improves."""
    q = inst.quantity
    sig = Q.instance_assemblage(inst)
    d = sig[0][0].shape[0]
    # a given assemblage has no measurements to build Φ+'s from: κ then has no effect
    phi = inst.alice is not None and inst.dims[0] == d
    ref = [[e.T / d for e in m.effects] for m in inst.alice] if phi else sig

    def score(p: tuple[float, ...]):
        kappa, alpha, beta = p
        tau = [
            [(1 - kappa) * s + kappa * r for s, r in zip(sx, rx, strict=True)]
            for sx, rx in zip(sig, ref, strict=True)
        ]
        return C.witness_solution(inst, aligned_witness(q, tau, alpha, beta), sig)

    best = C.witness_solution(inst, trivial_witness(q, sig), sig)
    lo = (0.0, 0.0, 0.0)
    hi = (1.0, 1.0, 1.0 if q != "lhs-distance" else 0.5)
    for r in range(restarts):
        if r and deadline is not None and deadline():
            break
        if r == 0:
            p = (0.0, 1.0, 0.0)  # the closed-form witness
        else:
            p = tuple(float(rng.uniform(a, b)) for a, b in zip(lo, hi, strict=True))
        cur = score(p)
        step = 0.25
        for _ in range(iters):
            if deadline is not None and deadline():
                break
            moved = False
            for i in range(3):
                for sgn in (1, -1):
                    p2 = list(p)
                    p2[i] = min(1.0 if i == 0 else 4.0, max(lo[i], p2[i] + sgn * step))
                    if p2[1] == 0 and p2[2] == 0:
                        continue
                    cand = score(tuple(p2))
                    if cand[1] > cur[1] + 1e-12:
                        p, cur, moved = tuple(p2), cand, True
            if not moved:
                step /= 2
                if step < 1e-4:
                    break
        if cur[1] > best[1]:
            best = cur
    if q in ("robustness", "weight"):
        # polish the best witness of the family by ascent on the exact ratio (ascent.py)
        start = [[_mat(m) for m in row] for row in best[0]["witness"]]
        start = start if best[1] > 0 else aligned_witness(q, sig, 1.0, 0.0)
        if all(np.linalg.eigvalsh(f)[0] > -1e-12 for row in start for f in row):
            f = witness_ascent(q, sig, start, iters=max(iters, 100) * 3, deadline=deadline)
            cand = C.witness_solution(inst, aligned_witness_scale(q, f, sig), sig)
            if cand[1] > best[1]:
                best = cand
    if q == "lhs-distance":
        # from a robustness witness F_R (F_R ⪰ 0, Σ_x F_R ⪯ I): F = k (I/n - F_R) has
        # Σ_x F_{λ(x)|x} ⪰ 0, and k = 1 / max ||I/n - F_R|| keeps -I ⪯ F ⪯ I; its value is
        # k (Σ tr(F_R σ) - 1), k times the robustness witness's
        start = aligned_witness("robustness", sig, 1.0, 0.0)
        f_r = aligned_witness_scale(
            "robustness",
            witness_ascent("robustness", sig, start, iters=max(iters, 100) * 3, deadline=deadline),
            sig,
        )
        n, dd = len(sig), sig[0][0].shape[0]
        g = [[np.eye(dd) / n - fa for fa in fx] for fx in f_r]
        k = 1 / max(np.abs(np.linalg.eigvalsh(Q.herm(ga))).max() for gx in g for ga in gx)
        cand = C.witness_solution(inst, [[k * ga for ga in gx] for gx in g], sig)
        if cand[1] > best[1]:
            best = cand
    return best


def _mat(m: dict) -> np.ndarray:
    return np.asarray(m["re"], dtype=complex) + 1j * np.asarray(m.get("im", 0.0))


def aligned_witness_scale(q: str, f, sig):
    """Scale a PSD witness to exact feasibility (robustness: 1/T, weight: 1/m)."""
    lams = Q.deterministic_strategies([len(sx) for sx in sig])
    ext = [np.linalg.eigvalsh(Q.herm(sum(f[x][a] for x, a in enumerate(lam)))) for lam in lams]
    scale = 1 / max(e[-1] for e in ext) if q == "robustness" else 1 / min(e[0] for e in ext)
    return [[fa * scale for fa in fx] for fx in f]


def _normalise(m: np.ndarray, rng) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    out = m.copy()
    for i in np.where(norms[:, 0] < 1e-12)[0]:  # a zero row: any unit vector does
        out[i] = rng.normal(size=m.shape[1])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _quantum_max(inst, rng, restarts: int, iters: int, deadline=lambda: False):
    d = inst.bob[0].dim
    n = inst.n
    bs = [m.observable for m in inst.bob]
    best = None
    for r in range(restarts):
        if r and deadline():
            break
        psi = _rand_unit(rng, d * d)
        for _ in range(iters):
            if deadline is not None and deadline():
                break
            rho = np.outer(psi, psi.conj())
            xs = Q.alice_operators(rho, (d, d), bs, np.eye(n))
            a = [Q.sign_observable(x) for x in xs]
            op = Q.herm(sum(np.kron(ak, bk) for ak, bk in zip(a, bs, strict=True)))
            psi = np.linalg.eigh(op)[1][:, -1]
        rho = np.outer(psi, psi.conj())
        xs = Q.alice_operators(rho, (d, d), bs, np.eye(n))
        a = [Q.sign_observable(x) for x in xs]
        r = Q.reshape4(rho, (d, d))
        asm = []
        for ak in a:
            plus = (np.eye(d) + ak) / 2
            sp = Q.herm(np.einsum("ki,ijkl->jl", plus, r))
            asm.append([sp, Q.herm(Q.trace_a(rho, (d, d)) - sp)])
        cand = C.assemblage_solution(inst, asm)
        if best is None or cand[1] > best[1]:
            best = cand
    return best


def _double(inst: SteeringInstance, iters: int, deadline=None):
    data = [Q.strategy_data(inst, s) for s in inst.strategies]
    ns = len(data)
    fixed = C.fixed_alice(inst)
    best = None
    for start in range(ns):
        qs = [0.0] * ns
        qs[start] = 1.0
        prev = -math.inf
        for _ in range(iters):
            if deadline is not None and deadline():
                break
            obs = fixed or C.balance_alice(data, qs)
            qs, val = C.best_mixture(C.violations(data, [obs] * ns))
            if val <= prev + 1e-12:
                break
            prev = val
        cand = C.double_solution(inst, data, qs, obs)
        if best is None or cand[1] > best[1]:
            best = cand
        if fixed:
            break  # with Alice given the mixture step is already exact
    return best
