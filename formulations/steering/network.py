"""Full network nonlocality (FNN) in the bilocal scenario A - B - C and its sequential extension
A - B - C1 -> C2 (arXiv 2211.08153), with the Bell-state-measurement witnesses of
Pozas-Kerstjens, Gisin and Tavakoli (PRL 128, 010403, 2022; Eqs. (F1)-(F2) of arXiv 2105.09325,
computational appendix github.com/apozas/fullnn).

Scenario: sources ρ_{AB1} and ρ_{B2C} (Φ+ with visibility v each); Alice measures A_x, Charlie
C_z (±1, x, z ∈ {0, 1}); Bob makes a three-outcome partial Bell-state measurement
{Φ+, Φ-, Ψ+ + Ψ-} on B1 B2, read through the two "observables" B0 = Π_Φ+ + Π_Φ- - Π_Ψ (= Z⊗Z)
and B1 = Π_Φ+ - Π_Φ- (so that p(b) = (1 + B0 ± 2 B1)/4 for Φ±, (1 - B0)/2 for Ψ).

Witnesses (each ≤ 3 for every model with one classical source and one no-signalling source;
W_cn against a classical A-B source, W_nc against a classical B-C source):

  W_cn = 2<A0B1C0> - 2<A0B1C1> + 2<A1B0C0> + <A1B0C1> + <A1B0><C1> + <B0C0><C1> - <B0> - <C0><C1>
  W_nc = 2<A0B1C0> - 2<A0B1C1> + <A1B0C0> + 2<A1B0C1> + <A1B0><A1> - <A1>^2 + <A1><B0C1>
         + <A1><C0> - <A1><C1> - <B0>

A distribution violating both is fully network nonlocal. With Φ+ sources, A0 = σx, A1 = σz,
C0/1 = (σz ± σx)/√2 both equal 5/√2 v²: the critical visibility is v* = (3√2/5)^{1/2}.

Sequential sharing: Charlie1 measures C1_z unsharply (sharpness η, Lüders), input uniform, and
passes his qubit to Charlie2, who measures C2_z. FNN sharing means all four witnesses
(A-B-C1 and A-B-C2, both kinds) exceed 3 at once. Passive: Charlie2's input is independent of
Charlie1's (W_C1 = 5η/√2 needs η > 3√2/5, W_C2 = 5(1 + √(1-η²))/(2√2) needs η < 0.717: never).
Cooperating (our reading of "active"): Charlie1 passes his input on and Charlie2 measures the
same setting; a Lüders measurement along c keeps every correlation along c, so W_C2 = 5/√2 and
sharing holds for every η > 3√2/5. A search over unsharp strategies with independent inputs
(`active_sharing`) is also provided.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

SX = np.array([[0, 1], [1, 0]], dtype=complex)
SZ = np.array([[1, 0], [0, -1]], dtype=complex)
BOUND = 3.0
QUANTUM_PHI_PLUS = 5 / math.sqrt(2)


def _ket(v) -> np.ndarray:
    v = np.asarray(v, dtype=complex)
    return np.outer(v, v.conj()) / np.vdot(v, v).real


PHI_P = _ket([1, 0, 0, 1])
PHI_M = _ket([1, 0, 0, -1])
PSI = np.eye(4) - PHI_P - PHI_M
B_OBS = (PHI_P + PHI_M - PSI, PHI_P - PHI_M)  # B0, B1 on (B1, B2)


def xz_observable(angle: float) -> np.ndarray:
    """cos(angle) σz + sin(angle) σx."""
    return math.cos(angle) * SZ + math.sin(angle) * SX


STANDARD_A = (SX, SZ)
STANDARD_C = ((SZ + SX) / math.sqrt(2), (SZ - SX) / math.sqrt(2))


def source(visibility: float) -> np.ndarray:
    return visibility * PHI_P + (1 - visibility) * np.eye(4) / 4


def network_state(v_ab: float, v_bc: float) -> np.ndarray:
    """ρ on (A, B1, B2, C) = ρ_{AB1} ⊗ ρ_{B2C}."""
    return np.kron(source(v_ab), source(v_bc))


def correlators(
    rho: np.ndarray,
    a_obs: Sequence[np.ndarray],
    c_obs: Sequence[np.ndarray],
    rho_for_c: Sequence[np.ndarray] | None = None,
) -> Callable[[str], float]:
    """<P...> for a string of party labels with settings, e.g. "A0B1C0", "A1", "B0C1".

    ``rho_for_c[z]``: the state a term with C_z is evaluated on (a Charlie2 whose input is
    Charlie1's sees the state Charlie1's setting z left); every other term uses ``rho``."""
    eye2, eye4 = np.eye(2), np.eye(4)

    def value(label: str) -> float:
        ops = {"A": eye2, "B": eye4, "C": eye2}
        state = rho
        for party, idx in zip(label[::2], label[1::2], strict=True):
            i = int(idx)
            ops[party] = {"A": a_obs, "B": B_OBS, "C": c_obs}[party][i]
            if party == "C" and rho_for_c is not None:
                state = rho_for_c[i]
        op = np.kron(np.kron(ops["A"], ops["B"]), ops["C"])
        return float(np.real(np.trace(state @ op)))

    return value


def witnesses(e: Callable[[str], float]) -> tuple[float, float]:
    """(W_cn, W_nc) from a correlator function."""
    w_cn = (
        2 * e("A0B1C0")
        - 2 * e("A0B1C1")
        + 2 * e("A1B0C0")
        + e("A1B0C1")
        + e("A1B0") * e("C1")
        + e("B0C0") * e("C1")
        - e("B0")
        - e("C0") * e("C1")
    )
    w_nc = (
        2 * e("A0B1C0")
        - 2 * e("A0B1C1")
        + e("A1B0C0")
        + 2 * e("A1B0C1")
        + e("A1B0") * e("A1")
        - e("A1") ** 2
        + e("A1") * e("B0C1")
        + e("A1") * e("C0")
        - e("A1") * e("C1")
        - e("B0")
    )
    return float(w_cn), float(w_nc)


def bilocal_witnesses(
    visibility: float, a_obs=STANDARD_A, c_obs=STANDARD_C, v_bc: float | None = None
) -> tuple[float, float]:
    rho = network_state(visibility, visibility if v_bc is None else v_bc)
    return witnesses(correlators(rho, a_obs, c_obs))


def critical_visibility(fn: Callable[[float], float] | None = None, tol: float = 1e-12) -> float:
    """Smallest v with fn(v) > 3 by bisection (fn increasing in v; default min of both
    witnesses with equal sources and the standard measurements)."""
    fn = fn or (lambda v: min(bilocal_witnesses(v)))
    lo, hi = 0.0, 1.0
    if fn(hi) <= BOUND:
        return math.nan
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if fn(mid) > BOUND:
            hi = mid
        else:
            lo = mid
    return hi


# ------------------------------------------------------------------ sequential Charlies


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.conj().T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.conj().T


def _etas(eta: float | Sequence[float], n: int) -> list[float]:
    return [float(eta)] * n if np.isscalar(eta) else [float(e) for e in eta]


def after_charlie1(
    rho: np.ndarray, c1_obs: Sequence[np.ndarray], eta: float | Sequence[float]
) -> np.ndarray:
    """Average Lüders update of C's qubit by Charlie1's unsharp measurement (sharpness per input
    or one for both), input uniform, outcome not passed on."""
    per = after_charlie1_per_input(rho, c1_obs, eta)
    return sum(per) / len(per)


def after_charlie1_per_input(
    rho: np.ndarray, c1_obs: Sequence[np.ndarray], eta: float | Sequence[float]
) -> list[np.ndarray]:
    """The state after Charlie1 measured setting z (outcome averaged), for each z."""
    out = []
    left = np.eye(8)
    for c, e in zip(c1_obs, _etas(eta, len(c1_obs)), strict=True):
        r = np.zeros_like(rho)
        for s in (1, -1):
            k = np.kron(left, _sqrt_psd((np.eye(2) + s * e * c) / 2))
            r = r + k @ rho @ k.conj().T
        out.append(r)
    return out


def sharing(
    eta: float | Sequence[float],
    visibility: float = 1.0,
    a_obs=STANDARD_A,
    c1_obs=STANDARD_C,
    c2_obs=STANDARD_C,
    shared_input: bool = False,
) -> dict[str, float]:
    """The four witnesses of A-B-C1 (unsharp: observables η C1_z) and A-B-C2 (after C1).

    ``shared_input``: Charlie2 measures with Charlie1's input (they cooperate: the input is
    passed on with the qubit); otherwise his input is independent and uniform."""
    rho = network_state(visibility, visibility)
    w1 = witnesses(
        correlators(rho, a_obs, [e * c for e, c in zip(_etas(eta, 2), c1_obs, strict=True)])
    )
    if shared_input:
        per_input = after_charlie1_per_input(rho, c1_obs, eta)
        w2 = witnesses(correlators(rho, a_obs, c2_obs, per_input))
    else:
        w2 = witnesses(correlators(after_charlie1(rho, c1_obs, eta), a_obs, c2_obs))
    return {"C1_cn": w1[0], "C1_nc": w1[1], "C2_cn": w2[0], "C2_nc": w2[1]}


def passive_sharing(
    etas: Sequence[float] = tuple(np.linspace(0, 1, 201)), shared_input: bool = False
) -> tuple[float, float]:
    """Charlie1 and Charlie2 keep the standard measurements; best (min witness - 3, η) over η.
    With ``shared_input`` Charlie2 reuses Charlie1's input (active cooperation)."""
    best = (-math.inf, math.nan)
    for eta in etas:
        m = min(sharing(float(eta), shared_input=shared_input).values()) - BOUND
        best = max(best, (m, float(eta)))
    return best


def active_sharing(steps: int = 13) -> tuple[float, dict]:
    """Charlie1 chooses his sharpness per input and his directions (x-z plane) to let Charlie2
    share, Charlie2 and Alice re-choose theirs: a grid over (η0, η1, C1 angles) then a
    coordinate search over all eight parameters. A heuristic lower bound on max min(four witnesses) - 3; > 0 would show
    active sharing."""

    def score(eta: Sequence[float], t: Sequence[float]) -> float:
        a = [xz_observable(t[4]), xz_observable(t[5])]
        c1 = [xz_observable(t[0]), xz_observable(t[1])]
        c2 = [xz_observable(t[2]), xz_observable(t[3])]
        return min(sharing(eta, 1.0, a, c1, c2).values()) - BOUND

    q = math.pi / 4
    start = (q, -q, q, -q, math.pi / 2, 0.0)  # the standard measurements
    best = (-math.inf, {})
    grid = np.linspace(-q, q, steps)
    for e0, e1 in itertools.product(np.linspace(0.6, 1.0, 9), repeat=2):
        for d1, d2 in itertools.product(grid, repeat=2):
            t = (start[0] + d1, start[1] + d2, *start[2:])
            sc = score((float(e0), float(e1)), t)
            if sc > best[0]:
                best = (sc, {"eta": (float(e0), float(e1)), "angles": tuple(float(x) for x in t)})
    eta, t = list(best[1]["eta"]), list(best[1]["angles"])
    step = 0.05
    while step > 1e-4:
        improved = False
        for i in range(8):
            for sgn in (1, -1):
                e2, t2 = list(eta), list(t)
                if i >= 6:
                    e2[i - 6] = min(1.0, max(0.0, eta[i - 6] + sgn * step))
                else:
                    t2[i] += sgn * step
                sc = score(e2, t2)
                if sc > best[0] + 1e-12:
                    best = (sc, {"eta": tuple(e2), "angles": tuple(float(x) for x in t2)})
                    eta, t, improved = e2, t2, True
        if not improved:
            step /= 2
    return best
