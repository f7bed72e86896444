"""F5 heuristic `closed-form`: a textbook strategy per quantity, a lower bound in closed form.

- lhs-bound: all signs +1 and the top eigenvector of Σ_k B_k / √n.
- quantum-max: ρ_B = I/d (a maximally entangled state) and Alice's outcome ± on the sign
  projectors of B_k: value Σ_k ||B_k||_1 / (d √n) (= √n for Pauli settings).
- steering-value: Alice's given observables if the instance has them (the value of the given
  state and measurements), else A_k = sign(X_k), which is the optimum Σ ||X_k||_1 / √n.
- robustness: the assemblage-aligned witness F_{a|x} = t σ_{a|x}, t = 1 / max_λ λ_max(Σ_x σ_{λ(x)|x})
  (for Φ+ with Pauli settings this is the optimal witness: SR = (√n - 1)/(√n + 1)).
- weight: the anti-aligned witness F_{a|x} = γ (λ_max(σ_{a|x}) I - σ_{a|x}), γ = 1 / min_λ λ_min(Σ_x ·).
- lhs-distance: F_{a|x} = α (m I - σ_{a|x}) with m making every Σ_x F_{λ(x)|x} ⪰ 0 and α the
  largest scale keeping ||F|| ≤ 1.
  For these three, the trivial witness (F = I/n, or 0; value 0) when the formula does worse.
- bell-quantum: the instance's strategy if given, else the best deterministic strategy (a Gram
  matrix of rank one). bell-local: a = (+1, ...), b = sign(c^T a).
- bell-npa, bell-nosignalling, bell-local of a full functional: the best deterministic strategy.
- lhs-bound / quantum-max of a steering functional: the best deterministic strategy
  (functional_seesaw.closed_form).
- double-violation: the best single pure strategy, Alice's observables chosen for it.
"""

from __future__ import annotations

import numpy as np
from optgap.formulations.steering import quantum as Q
from optgap.formulations.steering.instance import SteeringInstance, check_params
from optgap.heuristics.steering import common as C
from optgap.solvers.result import Result, SolveOptions, Status


def closed_form(inst: SteeringInstance, options: SolveOptions) -> Result:
    check_params(options.params)  # family-wide keys; none applies here
    if inst.quantity == "network-fnn":  # heuristics/steering/network_seesaw.py
        from optgap.heuristics.steering.network_seesaw import network_closed_form

        return network_closed_form(inst, options)
    sol, value, note = _solve(inst)
    return Result("", "", "python", Status.FEASIBLE, value, solution=sol, stats={"strategy": note})


def _solve(inst: SteeringInstance) -> tuple[dict, float, str]:
    q = inst.quantity
    if inst.functional is not None:
        from optgap.heuristics.steering.functional_seesaw import closed_form as functional_cf

        return functional_cf(inst)
    if inst.bell is not None:
        from optgap.heuristics.steering.bell_seesaw import deterministic

        return deterministic(inst) + ("best deterministic strategy",)
    if q == "lhs-bound":
        ones = [1] * inst.n
        return C.lhs_solution(inst, ones, None) + ("signs +1",)
    if q == "quantum-max":
        d = inst.bob[0].dim
        asm = []
        for m in inst.bob:
            w, v = np.linalg.eigh(Q.herm(m.observable))
            pp = v[:, w >= 0] @ v[:, w >= 0].conj().T / d
            asm.append([pp, np.eye(d) / d - pp])
        return C.assemblage_solution(inst, asm) + ("maximally entangled",)
    if q == "steering-value":
        if inst.alice is not None:
            return C.alice_solution(inst, [m.observable for m in inst.alice]) + ("given",)
        xs = C.steering_ops(inst)
        return C.alice_solution(inst, [Q.sign_observable(x) for x in xs]) + ("sign(X_k)",)
    if q in ("robustness", "weight", "lhs-distance"):
        sig = Q.instance_assemblage(inst)
        cand = C.witness_solution(inst, aligned_witness(q, sig, 1.0, 0.0), sig)
        if cand[1] < 0:  # the trivial witness (value 0) is better
            return C.witness_solution(inst, trivial_witness(q, sig), sig) + ("trivial witness",)
        return cand + ("assemblage-aligned witness",)
    if q == "bell-quantum":
        if inst.alice is not None:
            return C.strategy_solution(inst) + ("given strategy",)
        _, a, b = Q.local_bound(inst.expression)
        return C.gram_solution(inst, np.array([[1.0], *[[x] for x in a], *[[y] for y in b]])) + (
            "deterministic",
        )
    if q == "bell-local":
        c = inst.expression
        a = [1] * c.shape[0]
        col = np.asarray(a, dtype=float) @ c
        b = [1 if v >= 0 else -1 for v in col]
        return {"a": a, "b": b}, float(np.asarray(a) @ c @ np.asarray(b)), "a = +1"
    # double-violation
    data = [Q.strategy_data(inst, s) for s in inst.strategies]
    best = None
    for s, dd in enumerate(data):
        obs = C.fixed_alice(inst) or C.balance_alice([dd], [1.0])
        vals = C.violations([dd], [obs])[0]
        score = min(vals)
        if best is None or score > best[0]:
            best = (score, s, obs)
    _, s, obs = best
    qs = [0.0] * len(data)
    qs[s] = 1.0
    return C.double_solution(inst, data, qs, obs) + (f"pure strategy {s}",)


def trivial_witness(q: str, sig) -> list[list[np.ndarray]]:
    """F = I/n (robustness, weight) or 0 (distance): always feasible, value exactly 0."""
    n, d = len(sig), sig[0][0].shape[0]
    c = 0.0 if q == "lhs-distance" else 1.0 / n
    return [[c * np.eye(d) for _ in sx] for sx in sig]


def aligned_witness(q: str, sig, alpha: float, beta: float) -> list[list[np.ndarray]]:
    """The family F_{a|x} = ±(σ_{a|x} ...) of the docstring built on a reference assemblage
    ``sig``, scaled to be exactly feasible (feasibility does not depend on the assemblage the
    witness is then evaluated on).

    ``alpha`` weighs the assemblage term and ``beta`` adds β I (robustness, weight) or shifts
    the centre m (distance); the seesaw searches over them and over the reference.
    """
    d = sig[0][0].shape[0]
    eye = np.eye(d)
    lams = Q.deterministic_strategies([len(s) for s in sig])
    n = len(sig)

    def sums(f):
        return [np.linalg.eigvalsh(Q.herm(sum(f[x][a] for x, a in enumerate(lam)))) for lam in lams]

    if q == "robustness":
        f = [[alpha * s + beta * eye for s in sx] for sx in sig]
        top = max(e[-1] for e in sums(f))
        return [[fa / top for fa in fx] for fx in f]
    if q == "weight":
        f = [[alpha * (np.linalg.eigvalsh(s)[-1] * eye - s) + beta * eye for s in sx] for sx in sig]
        low = min(e[0] for e in sums(f))
        if low <= 1e-12:
            return [[eye / n for _ in sx] for sx in sig]
        return [[fa / low for fa in fx] for fx in f]
    # lhs-distance
    f = [[-alpha * s for s in sx] for sx in sig]
    m = max(0.0, -min(e[0] for e in sums(f))) / n + beta
    f = [[fa + m * eye for fa in fx] for fx in f]
    top = max(max(abs(np.linalg.eigvalsh(fa)).max() for fa in fx) for fx in f)
    return [[fa / top for fa in fx] for fx in f] if top > 0 else f
