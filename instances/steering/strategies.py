"""Public hypothesis strategies for F5: small scenario JSON dicts (qubits, 2-3 settings) that
every method solves in well under a second. Use them to test your own heuristics:

    from hypothesis import given
    from optgap.instances.steering.strategies import instances

    @given(instances(quantities=("robustness",)))
    def test_mine(data): ...
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from optgap.formulations.steering.instance import QUANTITIES, matrix_to_json

_unit = st.floats(-1.0, 1.0, allow_nan=False)


@st.composite
def bloch(draw) -> dict:
    """A unit Bloch vector measurement (rejects near-zero draws)."""
    v = np.array([draw(_unit) for _ in range(3)])
    n = float(np.linalg.norm(v))
    if n < 0.1:
        v, n = np.array([0.0, 0.0, 1.0]), 1.0
    return {"bloch": [float(x) for x in v / n]}


@st.composite
def density(draw, dims: tuple[int, int] = (2, 2)) -> dict:
    """A random two-qubit density matrix: G G† / tr, G with entries in [-1, 1] + i[-1, 1],
    mixed with a drawn amount of a maximally entangled state so that steering occurs."""
    d = dims[0] * dims[1]
    g = np.array([[draw(_unit) + 1j * draw(_unit) for _ in range(d)] for _ in range(d)])
    rho = g @ g.conj().T
    tr = float(np.trace(rho).real)
    if tr < 1e-3:
        rho, tr = np.eye(d, dtype=complex), float(d)
    rho = rho / tr
    phi = np.eye(dims[0]).reshape(-1) / math.sqrt(dims[0])
    # half the draws close to Φ+ (steerable), half anywhere (mostly unsteerable)
    p = draw(st.one_of(st.floats(0.0, 1.0), st.floats(0.85, 1.0)))
    rho = p * np.outer(phi, phi) + (1 - p) * rho
    rho = (rho + rho.conj().T) / 2
    rho = rho / np.trace(rho).real
    return {"kind": "density", "dims": list(dims), **matrix_to_json(rho)}


def state() -> st.SearchStrategy:
    return st.one_of(
        st.builds(
            lambda v: {"kind": "phi-plus", "visibility": v},
            # both sides of the two-setting Werner threshold 1/√2 (and of 1/√3)
            st.one_of(st.floats(0.3, 0.7, allow_nan=False), st.floats(0.75, 1.0, allow_nan=False)),
        ),
        st.builds(
            lambda t, v: {"kind": "psi-theta", "theta": t, "visibility": v},
            st.floats(0.0, math.pi / 2, allow_nan=False),
            st.floats(0.5, 1.0, allow_nan=False),
        ),
        density(),
    )


def _settings(n: int, pauli_ok: bool = True) -> st.SearchStrategy:
    one = st.one_of(bloch(), st.sampled_from([{"pauli": "x"}, {"pauli": "y"}, {"pauli": "z"}]))
    free = st.lists(one if pauli_ok else bloch(), min_size=n, max_size=n)
    if not pauli_ok or n > 3:
        return free
    # distinct Pauli axes (mutually unbiased: where steering is strongest) or any settings
    axes = st.permutations(["x", "y", "z"]).map(lambda p: [{"pauli": a} for a in p[:n]])
    return st.one_of(axes, free)


@st.composite
def instances(draw, quantities: tuple[str, ...] = QUANTITIES, max_settings: int = 3) -> dict:
    """A scenario JSON dict for one of ``quantities``, with 2..max_settings settings."""
    q = draw(st.sampled_from(quantities))
    n = draw(st.integers(2, max(2, max_settings)))
    base = {"family": "steering", "version": 1, "quantity": q}
    if q in ("lhs-bound", "quantum-max"):
        bob = draw(_settings(n))
        if q == "lhs-bound" and draw(st.booleans()):
            bob[draw(st.integers(0, n - 1))] = {"identity": True}
        return {**base, "bob": bob}
    if q == "steering-value":
        out = {**base, "state": draw(state()), "bob": draw(_settings(n))}
        if draw(st.booleans()):
            out["alice"] = draw(_settings(n))
        return out
    if q in ("robustness", "weight", "lhs-distance"):
        return {**base, "state": draw(state()), "alice": draw(_settings(n))}
    if q in ("bell-quantum", "bell-local"):
        mb = draw(st.integers(2, max(2, max_settings)))
        coef = st.integers(-2, 2).map(float)
        c = draw(st.lists(st.lists(coef, min_size=mb, max_size=mb), min_size=n, max_size=n))
        out = {**base, "expression": c}
        if q == "bell-quantum" and draw(st.booleans()):
            out.update(state=draw(state()), alice=draw(_settings(n)), bob=draw(_settings(mb)))
        return out
    if q in ("bell-npa", "bell-nosignalling"):
        out = {**base, "bell": draw(bell_functional())}
        if q == "bell-npa":
            small = out["bell"].get("outputs", [2, 2]) == [2, 2]
            out["level"] = draw(st.sampled_from(["1", "1+AB", "2"] if small else ["1", "1+AB"]))
            out["dim"] = 2
        return out
    if q == "network-fnn":
        return {**base, **draw(network_fields())}
    # double-violation: 2 settings, a few pure strategies
    kinds = st.one_of(
        st.sampled_from(["projective", "identity"]),
        st.builds(lambda e: {"unsharp": e}, st.floats(0.0, 1.0, allow_nan=False)),
    )
    strategies = draw(st.lists(st.lists(kinds, min_size=2, max_size=2), min_size=1, max_size=4))
    ineq = draw(st.sampled_from(["steering", "bell"]))
    out = {
        **base,
        "inequality": ineq,
        "state": draw(state()),
        "bob": draw(_settings(2, pauli_ok=True)),
        "charlie": draw(_settings(2)),
        "strategies": strategies,
    }
    if draw(st.booleans()):
        out["alice"] = draw(_settings(2))
    if ineq == "steering" and draw(st.booleans()):
        out["identity_bound"] = "declared"
    return out


@st.composite
def bell_functional(draw) -> dict:
    """A small Bell functional in one of the three file forms (integer coefficients in
    [-2, 2]): probabilities (2-3 inputs, 2-3 outputs), Collins-Gisin, or correlators."""
    form = draw(st.sampled_from(["probabilities", "collins_gisin", "correlators"]))
    coef = st.integers(-2, 2).map(float)
    ma, mb = draw(st.integers(2, 3)), draw(st.integers(2, 3))
    if form == "correlators":
        return {
            "inputs": [ma, mb],
            "correlators": {
                "AB": draw(
                    st.lists(st.lists(coef, min_size=mb, max_size=mb), min_size=ma, max_size=ma)
                ),
                "A": draw(st.lists(coef, min_size=ma, max_size=ma)),
                "B": draw(st.lists(coef, min_size=mb, max_size=mb)),
            },
        }
    oa, ob = (draw(st.integers(2, 3)), draw(st.integers(2, 3))) if ma == mb == 2 else (2, 2)

    def tensor(*shape):
        if not shape:
            return draw(coef)
        return [tensor(*shape[1:]) for _ in range(shape[0])]

    if form == "probabilities":
        return {"inputs": [ma, mb], "outputs": [oa, ob], "probabilities": tensor(ma, mb, oa, ob)}
    return {
        "inputs": [ma, mb],
        "outputs": [oa, ob],
        "collins_gisin": {
            "A": tensor(ma, oa - 1),
            "B": tensor(mb, ob - 1),
            "AB": tensor(ma, mb, oa - 1, ob - 1),
        },
        "constant": draw(coef),
    }


@st.composite
def network_fields(draw, free: bool = False, sequential: bool | None = None) -> dict:
    """network-fnn: two sources (Φ+ or a random density, each with a visibility in [0, 1]),
    Alice's and Charlie's settings (with ``free``, each party given or left to the methods; the
    default gives both, so that the exact answer is a computation), the witness, sometimes a
    sequential Charlie (Charlie1 unsharp, passive or cooperating Charlie2) and sometimes a random
    Bob POVM (a unitary rotation of the partial BSM). ``sequential``: True always, False never."""

    def source() -> dict:
        if draw(st.booleans()):
            out: dict = {"kind": "phi-plus"}
        else:
            out = draw(density())
        out["visibility"] = draw(st.sampled_from([1.0, 0.95, 0.8, 1 / 3, 0.0]) | st.floats(0, 1))
        return out

    out = {"sources": {"ab": source(), "bc": source()}}
    for key in ("alice", "charlie"):
        if not free or draw(st.booleans()) or (key == "charlie" and sequential):
            out[key] = draw(_settings(2))
    out["witness"] = draw(st.sampled_from(["cn", "nc", "fnn"]))
    if sequential or (sequential is None and "charlie" in out and draw(st.booleans())):
        eta = draw(st.floats(0.5, 1.0, allow_nan=False))
        out["charlie"] = [draw(bloch()) | {"sharpness": eta} for _ in range(2)]
        seq = {"mode": draw(st.sampled_from(["passive", "cooperating"]))}
        if not free or draw(st.booleans()):
            seq["charlie2"] = draw(_settings(2))
        out["sequential"] = seq
    if draw(st.integers(0, 3)) == 0:
        g = np.array([[draw(_unit) + 1j * draw(_unit) for _ in range(4)] for _ in range(4)])
        u, _ = np.linalg.qr(g + 3 * np.eye(4))
        phi_p = np.zeros((4, 4))
        phi_p[np.ix_([0, 3], [0, 3])] = 0.5
        phi_m = np.zeros((4, 4))
        phi_m[np.ix_([0, 3], [0, 3])] = [[0.5, -0.5], [-0.5, 0.5]]
        psi = np.diag([0.0, 1.0, 1.0, 0.0])
        effects = [u @ e @ u.conj().T for e in (phi_p, phi_m, psi)]
        effects[2] = np.eye(4) - effects[0] - effects[1]  # complete to rounding
        out["bob"] = [{"povm": [matrix_to_json((e + e.conj().T) / 2) for e in effects]}]
    return out
