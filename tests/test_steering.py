"""F5 `steering`: published and hand-derived values, SDP = second model / enumeration,
heuristics ≤ SDP, primal = dual (certificates re-checked by the evaluator), strict input."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optgap.formulations.steering import network as N
from optgap.formulations.steering.evaluate import evaluate
from optgap.formulations.steering.instance import dump, load
from optgap.instances.steering.generate import generate, generate_json
from optgap.instances.steering.strategies import instances
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status, relative_gap

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
P2 = [{"pauli": "x"}, {"pauli": "z"}]
P3 = [{"pauli": "x"}, {"pauli": "y"}, {"pauli": "z"}]
S2, S3 = math.sqrt(2), math.sqrt(3)
DIAG = [S2 / 2, 0, S2 / 2]
ANTI = [S2 / 2, 0, -S2 / 2]


def _inst(**kw):
    return load({"family": "steering", "version": 1, **kw})


def _solve(inst, method="sdp", **kw):
    r = registry.solve("steering", method, inst, SolveOptions(**{**OPTS.__dict__, **kw}))
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE), r.message
    return r


def _checked(inst, r):
    """The evaluator accepts the solution (through JSON), reproduces its value, and re-checks
    the certificate: certified bound ≥ value, and = value up to the SDP tolerance (primal = dual)."""
    ev = evaluate(inst, json.loads(json.dumps(r.solution)))
    assert ev.feasible, ev.violations
    assert math.isclose(ev.objective, r.objective, rel_tol=1e-9, abs_tol=1e-9)
    if r.stats.get("kind") == "exact":
        assert r.status == Status.OPTIMAL, r.message
        assert ev.metrics["certificate"] in ("valid", "enumeration", "computation"), ev.metrics
        # the weight's LHS-model bound holds up to the evaluator's CERT_TOL on its constraints
        slack = 1e-7 if inst.quantity == "weight" else 1e-9
        assert ev.metrics["certified_bound"] >= ev.objective - slack
        # primal = dual to the sdp's CERT_GAP (relative, as the solve layer measures gaps) or to
        # 1e-6 absolute near a value of 0 (seen: 1e-7 on NPA bounds of 0, from the PSD margin)
        cb = ev.metrics["certified_bound"]
        assert cb - ev.objective <= 1e-6 or relative_gap(ev.objective, cb, "max") <= 1e-6
    return ev


def _value(inst, method="sdp"):
    r = _solve(inst, method)
    _checked(inst, r)
    return r.objective


# ------------------------------------------------------------------ linear steering inequality


def test_lhs_bound_pauli_pairs_and_triples_is_one():
    # λ_max(s1 X + s2 Z) = |s| = √2 for every sign pattern, so C_2 = √2/√2 = 1; the triple: √3/√3
    for bob in (P2, P3, [{"pauli": "x"}, {"pauli": "y"}]):
        assert _value(_inst(quantity="lhs-bound", bob=bob)) == pytest.approx(1.0, abs=1e-12)


def test_lhs_bound_with_trivial_trusted_measurement_exceeds_one():
    # {X, I}: λ_max(s1 X + s2 I) = 1 + 1 at s = (+,+): C_2 = 2/√2 = √2.
    assert _value(_inst(quantity="lhs-bound", bob=[{"pauli": "x"}, {"identity": True}])) == (
        pytest.approx(S2, abs=1e-12)
    )
    # {X, I, Z}: λ_max(s1 X + s3 Z + s2 I) = √2 + 1: C_3 = (1 + √2)/√3 > 1.
    bob = [{"pauli": "x"}, {"identity": True}, {"pauli": "z"}]
    assert _value(_inst(quantity="lhs-bound", bob=bob)) == pytest.approx((1 + S2) / S3, abs=1e-12)


def _lhs_bound_by_sdp(inst) -> float:
    """Second exact model: max over LHS assemblages σ_{a|k} = Σ_λ D(a|k,λ) σ_λ, σ_λ ⪰ 0,
    tr Σ σ_λ = 1 of (1/√n) Σ_k tr B_k(σ_{+|k} - σ_{-|k})."""
    import cvxpy as cp

    n = inst.n
    d = inst.bob[0].dim
    lams = list(itertools.product((0, 1), repeat=n))
    s = [cp.Variable((d, d), hermitian=True) for _ in lams]
    cons = [x >> 0 for x in s] + [cp.real(sum(cp.trace(x) for x in s)) == 1]
    obj = 0
    for lam, x in zip(lams, s, strict=True):
        obj += sum(
            cp.real(cp.trace(b.observable @ x)) * (1 - 2 * a)
            for a, b in zip(lam, inst.bob, strict=True)
        )
    prob = cp.Problem(cp.Maximize(obj / math.sqrt(n)), cons)
    prob.solve(solver=cp.CLARABEL)
    return prob.value


@given(instances(quantities=("lhs-bound",)))
@settings(max_examples=10)
def test_lhs_bound_enumeration_equals_lhs_sdp(data):
    inst = load(data)
    r = _solve(inst)
    _checked(inst, r)
    assert r.objective == pytest.approx(_lhs_bound_by_sdp(inst), abs=1e-6)


def test_quantum_maxima_sqrt2_sqrt3():
    # Φ+ with A_k = B_k^T: <A_k ⊗ B_k> = 1 each, F_n = n/√n = √n; the SDP over assemblages says
    # no assemblage does better.
    assert _value(_inst(quantity="quantum-max", bob=P2)) == pytest.approx(S2, abs=1e-7)
    assert _value(_inst(quantity="quantum-max", bob=P3)) == pytest.approx(S3, abs=1e-7)


@pytest.mark.parametrize("n, bob", [(2, P2), (3, P3)])
def test_werner_threshold_one_over_sqrt_n(n, bob):
    # Isotropic Φ+ with visibility v: X_k = tr_B[(I ⊗ B_k)ρ]/√n = v B_k^T/(2√n), so the best
    # Alice gets F_n = Σ_k ||X_k||_1 = v √n: violation (F_n > C_n = 1) iff v > 1/√n.
    thr = 1 / math.sqrt(n)
    for v in (thr - 0.01, thr + 0.01, 1.0):
        inst = _inst(
            quantity="steering-value", state={"kind": "phi-plus", "visibility": v}, bob=bob
        )
        value = _value(inst)
        assert value == pytest.approx(v * math.sqrt(n), abs=1e-7)
        assert (value > 1) == (v > thr)
    # the singlet (Werner) gives the same value: Alice flips her observables
    inst = _inst(quantity="steering-value", state={"kind": "singlet", "visibility": 0.8}, bob=bob)
    assert _value(inst) == pytest.approx(0.8 * math.sqrt(n), abs=1e-7)


@pytest.mark.parametrize("n, alice", [(2, P2), (3, P3)])
def test_werner_lhs_membership_threshold(n, alice):
    # With n = 2 (3) Pauli settings the Werner assemblage is unsteerable iff v ≤ 1/√2 (1/√3)
    # (Cavalcanti, Jones, Wiseman, Reid, PRA 80, 032112 (2009)): distance 0 below, > 0 above.
    thr = 1 / math.sqrt(n)
    below = _inst(
        quantity="lhs-distance", state={"kind": "singlet", "visibility": thr - 0.02}, alice=alice
    )
    above = _inst(
        quantity="lhs-distance", state={"kind": "singlet", "visibility": thr + 0.02}, alice=alice
    )
    ev = _checked(below, _solve(below))
    assert ev.metrics["lhs_member"] and abs(ev.objective) < 1e-6
    r = _solve(above)
    assert _checked(above, r).metrics["lhs_member"] is False
    assert r.objective > 1e-3


# ------------------------------------------------------------------ robustness and weight


@pytest.mark.parametrize("alice, sqrt_n", [(P2, S2), (P3, S3)])
def test_phi_plus_robustness_and_weight(alice, sqrt_n):
    # SR(Φ+, n MUB qubit settings) = (√n - 1)/(√n + 1), SW = 1 (Skrzypczyk, Navascués,
    # Cavalcanti PRL 112, 180404 (2014); Cavalcanti & Skrzypczyk, Rep. Prog. Phys. 80 (2017)).
    rob = _inst(quantity="robustness", state={"kind": "phi-plus"}, alice=alice)
    assert _value(rob) == pytest.approx((sqrt_n - 1) / (sqrt_n + 1), abs=1e-6)
    # the aligned witness F = t σ_{a|x} is optimal here: by hand, Σ_x σ_{λ(x)|x} =
    # (n I + Σ s_x B_x)/4 has λ_max = (n + √n)/4, t = 4/(n + √n), Σ tr(Fσ) = t n/4 = n/(n+√n)... ·
    # giving the same (√n - 1)/(√n + 1)
    assert _value(rob, "closed-form") == pytest.approx((sqrt_n - 1) / (sqrt_n + 1), abs=1e-12)
    wt = _inst(quantity="weight", state={"kind": "phi-plus"}, alice=alice)
    assert _value(wt) == pytest.approx(1.0, abs=1e-6)
    assert _value(wt, "closed-form") == pytest.approx(1.0, abs=1e-12)


@given(instances(quantities=("robustness", "weight", "lhs-distance")))
@settings(max_examples=8)
def test_qubit_cone_model_equals_psd_model(data):
    # two exact models of the same witness problem: Pauli-coordinate second-order cones (the
    # default for a qubit Bob) and Hermitian PSD blocks (any dimension)
    from optgap.formulations.steering import quantum as Q
    from optgap.formulations.steering import sdp

    inst = load(data)
    sig = Q.assemblage(inst.rho, inst.dims, inst.alice)
    lams = Q.deterministic_strategies([m.outcomes for m in inst.alice])
    vals = []
    for model in (sdp._witness_qubit, sdp._witness_psd):
        f, out = model(inst.quantity, sig, lams, OPTS)
        assert f is not None
        vals.append(
            sdp.witness_value(inst.quantity, sdp.repair_witness(inst.quantity, f, lams), sig)
        )
    assert vals[0] == pytest.approx(vals[1], abs=1e-6)


def test_qutrit_mub_robustness_matches_scs():
    # a second solver on the same model: Clarabel and SCS agree on the qutrit 3-MUB robustness
    inst = _inst(
        quantity="robustness",
        state={"kind": "phi-plus", "dim": 3},
        alice=[{"mub": 0}, {"mub": 1}, {"mub": 2}],
    )
    a = _value(inst)
    b = _solve(inst, backend="scs")
    assert _checked(inst, b).metrics["certified_bound"] >= b.objective
    assert a == pytest.approx(b.objective, abs=1e-5)
    assert a > 0


# ------------------------------------------------------------------ Bell


def test_chsh_tsirelson_and_local_bound():
    chsh = [[1, 1], [1, -1]]
    assert _value(_inst(quantity="bell-quantum", expression=chsh)) == pytest.approx(
        2 * S2, abs=1e-7
    )
    assert _value(_inst(quantity="bell-local", expression=chsh)) == 2.0
    # the textbook strategy: Φ+, A = X, Z, B = (X ± Z)/√2 → each correlator 1/√2, sum 4/√2
    inst = _inst(
        quantity="bell-quantum",
        expression=chsh,
        state={"kind": "phi-plus"},
        alice=P2,
        bob=[{"bloch": DIAG}, {"bloch": ANTI}],
    )
    assert _value(inst, "closed-form") == pytest.approx(2 * S2, abs=1e-12)


def _local_brute(c: np.ndarray) -> float:
    return max(
        float(np.asarray(a) @ c @ np.asarray(b))
        for a in itertools.product((1, -1), repeat=c.shape[0])
        for b in itertools.product((1, -1), repeat=c.shape[1])
    )


@given(instances(quantities=("bell-local", "bell-quantum")))
@settings(max_examples=15)
def test_bell_bounds_sandwich(data):
    inst = load(data)
    local = _local_brute(inst.expression)
    r = _solve(inst)
    _checked(inst, r)
    if inst.quantity == "bell-local":
        assert r.objective == local
    else:
        assert r.objective >= local - 1e-7  # the quantum set contains the local one
    for m in ("seesaw", "closed-form"):
        h = _solve(inst, m)
        _checked(inst, h)
        assert h.objective <= r.objective + 1e-6


# ------------------------------------------------------------------ every quantity, random


@given(instances())
def test_heuristics_never_exceed_sdp_and_evaluator_agrees(data):
    inst = load(data)
    r = _solve(inst)
    ev = _checked(inst, r)
    for m in ("seesaw", "closed-form"):
        h = _solve(inst, m)
        _checked(inst, h)
        slack = 1e-7 if inst.quantity == "weight" else 1e-9  # weight bound: to CERT_TOL
        assert h.objective <= ev.metrics["certified_bound"] + slack


@given(instances(quantities=("steering-value",)), st.integers(0, 10**6))
@settings(max_examples=10)
def test_sampled_alice_strategies_below_sdp(data, seed):
    # any sampled Alice (random observables with spectrum in [-1, 1]) stays below the SDP
    inst = load(data)
    top = _value(inst)
    rng = np.random.default_rng(seed)
    from optgap.formulations.steering import quantum as Q

    n = inst.n
    xs = Q.alice_operators(
        inst.rho, inst.dims, [m.observable for m in inst.bob], np.eye(n) / math.sqrt(n)
    )
    for _ in range(20):
        val = 0.0
        for x in xs:
            g = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
            a = (g + g.conj().T) / 2
            a /= max(1.0, np.abs(np.linalg.eigvalsh(a)).max())
            val += float(np.real(np.trace(a @ x)))
        assert val <= top + 1e-7


def test_scs_backend_agrees_on_two_qubit_quantities():
    for kw in (
        {"quantity": "quantum-max", "bob": P3},
        {"quantity": "weight", "state": {"kind": "psi-theta", "theta": 0.5}, "alice": P2},
        {"quantity": "bell-quantum", "expression": [[1, 1, 1], [1, -1, 0], [0, 1, -1]]},
    ):
        inst = _inst(**kw)
        a, b = _solve(inst), _solve(inst, backend="scs")
        ev = evaluate(inst, b.solution)
        assert ev.feasible and b.objective == pytest.approx(a.objective, abs=1e-5)


# ------------------------------------------------------------------ sequential sharing


def _unsharp(eta: float, inequality: str, bob, n_alice: int | None = None):
    kw = {}
    if inequality == "bell":
        kw["alice"] = P2
    return _inst(
        quantity="double-violation",
        inequality=inequality,
        state={"kind": "phi-plus"},
        bob=bob,
        charlie=bob,
        strategies=[[{"unsharp": eta}] * len(bob)],
        **kw,
    )


@pytest.mark.parametrize("eta", [0.5, 0.72, 0.8, 0.9, 0.95])
def test_unsharp_chsh_closed_forms(eta):
    # Silva et al. PRL 114, 250401 (2015): CHSH_AB = 2√2 η, CHSH_AC = √2 (1 + √(1 - η²)).
    inst = _unsharp(eta, "bell", [{"bloch": DIAG}, {"bloch": ANTI}])
    r = _solve(inst)
    ev = _checked(inst, r)
    assert ev.metrics["violation_ab"] == pytest.approx(2 * S2 * eta - 2, abs=1e-9)
    assert ev.metrics["violation_ac"] == pytest.approx(
        S2 * (1 + math.sqrt(1 - eta * eta)) - 2, abs=1e-9
    )


def test_unsharp_double_violation_windows():
    # CHSH: 2√2 η > 2 ⟺ η > 1/√2 and √2(1 + F) > 2 ⟺ F > √2 - 1 ⟺ η < √(2√2 - 2).
    # Linear steering, n = 2 (X, Z), Alice free: F_AB = √2 η; Charlie's state keeps the
    # measured axis and shrinks the other by F = √(1 - η²), averaged: T = (1 + F)/2 on both
    # axes, F_AC = (1 + F)/√2 -- the same window (1/√2, √(2√2 - 2)).
    # n = 3 (X, Y, Z): F_AB = √3 η > 1 ⟺ η > 1/√3; T = (1 + 2F)/3, F_AC = (1 + 2F)/√3 > 1
    # ⟺ F > (√3 - 1)/2 ⟺ η² < 1 - (4 - 2√3)/4 = √3/2: window (1/√3, (√3/2)^{1/2}).
    cases = [
        ("bell", [{"bloch": DIAG}, {"bloch": ANTI}], 1 / S2, math.sqrt(2 * S2 - 2)),
        ("steering", P2, 1 / S2, math.sqrt(2 * S2 - 2)),
        ("steering", P3, 1 / S3, math.sqrt(S3 / 2)),
    ]
    for ineq, bob, lo, hi in cases:
        for eta, inside in (
            (lo - 1e-3, False),
            (lo + 1e-3, True),
            (hi - 1e-3, True),
            (hi + 1e-3, False),
        ):
            inst = _unsharp(eta, ineq, bob)
            r = _solve(inst)
            ev = _checked(inst, r)
            assert ev.metrics["double_violation"] == inside, (ineq, eta)
            assert (r.objective > 0) == inside
        if ineq == "steering":
            n = len(bob)
            eta = (lo + hi) / 2
            f = math.sqrt(1 - eta * eta)
            expect = min(math.sqrt(n) * eta - 1, (1 + (n - 1) * f) / math.sqrt(n) - 1)
            assert _value(_unsharp(eta, ineq, bob)) == pytest.approx(expect, abs=1e-6)


def test_projective_identity_mixture_lp():
    # Φ+, Alice measures X, Z (given), Bob and Charlie X, Z, linear steering inequality.
    # By hand: PP: W_AB = (1 + 1)/√2, v_AB = √2 - 1; Charlie's correlations T = diag(1/2, ·, 1/2)
    #   (each axis survives only Bob's measurement of that axis): W_AC = 1/√2, v_AC = 1/√2 - 1.
    # II: Bob's recorded observable is I (fixed outcome), <X ⊗ I> = <Z ⊗ I> = 0, so W_AB = 0,
    #   and his trusted measurements {I, I} have C = 2/√2: v_AB = -√2; Charlie gets Φ+:
    #   v_AC = √2 - 1.
    # Mixing q·PP + (1-q)·II, the two violations cross at q* = (2√2 - 1)/(2√2 - 1 + 1/√2):
    #   value q*(√2 - 1) - (1 - q*)√2 ≈ -0.0957 < 0: no double violation this way.
    pts = [(S2 - 1, 1 / S2 - 1), (-S2, S2 - 1)]
    qstar = (2 * S2 - 1) / (2 * S2 - 1 + 1 / S2)
    expect = qstar * pts[0][0] + (1 - qstar) * pts[1][0]
    assert expect == pytest.approx(qstar * pts[0][1] + (1 - qstar) * pts[1][1], abs=1e-12)
    inst = _inst(
        quantity="double-violation",
        inequality="steering",
        state={"kind": "phi-plus"},
        alice=P2,
        bob=P2,
        charlie=P2,
        strategies=[["projective", "projective"], ["identity", "identity"]],
    )
    r = _solve(inst)
    ev = _checked(inst, r)
    assert r.objective == pytest.approx(expect, abs=1e-7)
    assert r.solution["weights"][0] == pytest.approx(qstar, abs=1e-6)
    assert ev.metrics["double_violation"] is False
    # with Alice free (she may use the shared randomness) the SDP can only do better
    free = _inst(**{k: v for k, v in inst.spec.items() if k not in ("family", "version", "alice")})
    assert _value(free) >= r.objective - 1e-7


def test_identity_bound_conventions():
    # A product state (Φ+ at visibility 0 = I/4) and Alice always answering +1 (identity
    # measurement): an LHS model. Bob's identity setting records +1 too, so W_AB = (1 + 1)/√2.
    # "trusted": Bob's real observables {I, I} give C = 2/√2 = √2, violation 0 (none);
    # "declared": the Pauli bound C = 1 reports a spurious violation √2 - 1.
    base = dict(
        quantity="double-violation",
        inequality="steering",
        state={"kind": "phi-plus", "visibility": 0.0},
        alice=[{"identity": True}, {"identity": True}],
        bob=P2,
        charlie=P2,
        strategies=[["identity", "identity"]],
    )
    for conv, expect in (("trusted", 0.0), ("declared", S2 - 1)):
        inst = _inst(**base, identity_bound=conv)
        ev = _checked(inst, _solve(inst))
        assert ev.metrics["violation_ab"] == pytest.approx(expect, abs=1e-12)
    with pytest.raises(InputError, match="only for the steering inequality"):
        _inst(**{**base, "inequality": "bell"}, identity_bound="declared")


@given(instances(quantities=("steering-value",)), st.floats(0.0, 1.0))
@settings(max_examples=10)
def test_luders_updates(data, eta):
    # unsharp E_± = (I ± η n·σ)/2, K = √E, outcome averaged: ρ → (1+F)/2 ρ + (1-F)/2 (n·σ)ρ(n·σ)
    # with F = √(1 - η²) (check: η = 0 leaves ρ, η = 1 dephases); projective Σ_b Π_b ρ Π_b;
    # identity leaves ρ.
    from optgap.formulations.steering import quantum as Q

    inst = load(data)
    rho, dims = inst.rho, inst.dims
    bob = inst.bob[:1]
    nn = np.kron(np.eye(dims[0]), bob[0].observable)
    f = math.sqrt(1 - eta * eta)
    expect = (1 + f) / 2 * rho + (1 - f) / 2 * nn @ rho @ nn
    assert np.allclose(Q.after_bob(rho, dims, bob, [("unsharp", eta)]), expect, atol=1e-12)
    proj = sum(
        np.kron(np.eye(dims[0]), e) @ rho @ np.kron(np.eye(dims[0]), e) for e in bob[0].effects
    )
    assert np.allclose(Q.after_bob(rho, dims, bob, [("projective", 1.0)]), proj, atol=1e-12)
    assert np.allclose(Q.after_bob(rho, dims, bob, [("identity", 0.0)]), rho, atol=1e-12)


@given(instances(quantities=("double-violation",)))
@settings(max_examples=15)
def test_seesaw_never_exceeds_sequential_bound(data):
    inst = load(data)
    r = _solve(inst)
    _checked(inst, r)
    for m in ("seesaw", "closed-form"):
        h = _solve(inst, m)
        _checked(inst, h)
        assert h.objective <= r.objective + 1e-6


# ------------------------------------------------------------------ network witnesses


def test_network_witnesses_phi_plus_and_critical_visibility():
    # both Bell-state-measurement witnesses reach 5/√2 with Φ+ sources (PGT 2022, App. F); their
    # three-body terms scale as v² and every marginal vanishes, so W = 5 v²/√2 and the
    # critical visibility solves 5 v²/√2 = 3: v* = (3√2/5)^{1/2} ≈ 0.9212 (the notebook's 0.9212).
    w = N.bilocal_witnesses(1.0)
    assert w == pytest.approx((5 / S2, 5 / S2), abs=1e-12)
    assert N.bilocal_witnesses(0.9)[0] == pytest.approx(5 / S2 * 0.81, abs=1e-12)
    assert N.critical_visibility() == pytest.approx(math.sqrt(3 * S2 / 5), abs=1e-9)
    # classical strategies never exceed 3: deterministic A, C (±I) and any Bob state
    for a0, a1, c0, c1 in itertools.product((1, -1), repeat=4):
        eye = np.eye(2)
        val = N.witnesses(
            N.correlators(N.network_state(1, 1), (a0 * eye, a1 * eye), (c0 * eye, c1 * eye))
        )
        assert max(val) <= 3 + 1e-12


def test_network_passive_sharing_impossible():
    # unsharp Charlie1 (η): W(ABC1) = 5η/√2; Charlie2 sees each direction kept half the time and
    # shrunk by F = √(1 - η²) otherwise: W(ABC2) = 5(1 + F)/(2√2). Both > 3 needs
    # η > 3√2/5 ≈ 0.849 and F > 6√2/5 - 1 ⟺ η < 0.717: impossible.
    for eta in (0.3, 0.72, 0.85, 0.95):
        s = N.sharing(eta)
        f = math.sqrt(1 - eta * eta)
        assert s["C1_cn"] == pytest.approx(5 * eta / S2, abs=1e-12)
        assert s["C2_nc"] == pytest.approx(5 * (1 + f) / (2 * S2), abs=1e-12)
    best, _ = N.passive_sharing()
    assert best < 0


def test_network_sharing_with_cooperating_charlies():
    # Charlie2 measures Charlie1's setting: Lüders operators √((I ± η c·σ)/2) commute with c·σ,
    # so every correlation along c survives and W(ABC2) = 5/√2 for any η; with W(ABC1) = 5η/√2
    # all four witnesses exceed 3 iff η > 3√2/5.
    thr = 3 * S2 / 5
    for eta in (thr - 1e-3, thr + 1e-3, 0.95):
        s = N.sharing(eta, shared_input=True)
        assert s["C2_cn"] == pytest.approx(5 / S2, abs=1e-12)
        assert s["C2_nc"] == pytest.approx(5 / S2, abs=1e-12)
        assert (min(s.values()) > 3) == (eta > thr)


# ------------------------------------------------------------------ files and input


@given(instances())
@settings(max_examples=10)
def test_round_trip(data):
    inst = load(data)
    again = load(json.loads(json.dumps(dump(inst))))
    assert dump(again) == dump(inst)
    assert np.allclose(again.rho, inst.rho) if inst.rho is not None else again.rho is None


def test_generator_deterministic():
    assert generate_json(3, 7) == generate_json(3, 7)
    assert generate_json(3, 7) != generate_json(3, 8)
    inst = generate(2, 0)
    r = _solve(inst)
    _checked(inst, r)


BASE = {"family": "steering", "version": 1, "quantity": "robustness", "alice": P2}


@pytest.mark.parametrize(
    "patch, message",
    [
        (
            {
                "state": {
                    "kind": "density",
                    "dims": [2, 2],
                    "re": [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
                }
            },
            "not Hermitian",
        ),
        (
            {
                "state": {
                    "kind": "density",
                    "dims": [2, 2],
                    "re": np.diag([0.5, 0.5, 0.5, 0.5]).tolist(),
                }
            },
            "trace must be 1",
        ),
        (
            {
                "state": {
                    "kind": "density",
                    "dims": [2, 2],
                    "re": np.diag([1.5, -0.5, 0, 0]).tolist(),
                }
            },
            "not positive semidefinite",
        ),
        ({"state": {"kind": "density", "dims": [2, 2], "re": [[1, 0], [0, 0]]}}, "expected shape"),
        ({"state": {"kind": "phi-plus", "visibility": 1.5}}, "visibility"),
        ({"state": {"kind": "bell"}}, "not one of"),
        ({"state": {"kind": "psi-theta"}}, "theta: missing"),
        (
            {"state": {"kind": "phi-plus"}, "alice": [{"bloch": [1, 1, 0]}, {"pauli": "z"}]},
            "unit vector",
        ),
        ({"state": {"kind": "phi-plus"}, "alice": [{"pauli": "w"}]}, "not one of"),
        (
            {"state": {"kind": "phi-plus"}, "alice": [{"pauli": "x", "bloch": [1, 0, 0]}]},
            "exactly one",
        ),
        ({"state": {"kind": "phi-plus"}, "alice": [{"pauli": "x", "sharpness": 2}]}, "sharpness"),
        (
            {
                "state": {"kind": "phi-plus"},
                "alice": [{"povm": [{"re": [[1, 0], [0, 0]]}, {"re": [[0, 0], [0, 0.5]]}]}],
            },
            "sum to the identity",
        ),
        ({"state": {"kind": "phi-plus", "dim": 4}, "alice": [{"mub": 1}]}, "odd prime"),
        ({"state": {"kind": "phi-plus"}, "colour": "red"}, "unknown field"),
        ({"state": {"kind": "phi-plus"}, "quantity": "entropy"}, "not one of"),
        ({"state": {"kind": "phi-plus"}, "alice": None}, "expected an array"),
        ({"state": {"kind": "phi-plus"}, "version": 2}, "version"),
    ],
)
def test_bad_input_is_rejected_with_field_path(patch, message):
    data = {**BASE, **patch}
    if data.get("alice") is None and "alice" in patch:
        data["alice"] = None
    with pytest.raises(InputError, match=message):
        load(data)


def test_bad_input_missing_and_mismatched_fields():
    with pytest.raises(InputError, match="instance.state: missing"):
        load(BASE)
    with pytest.raises(InputError, match="strategies\\[0\\]: one instrument per bob setting"):
        _inst(
            quantity="double-violation",
            inequality="bell",
            state={"kind": "phi-plus"},
            bob=P2,
            charlie=P2,
            strategies=[["projective"]],
        )
    with pytest.raises(InputError, match="two-outcome"):
        _inst(quantity="quantum-max", bob=[{"mub": 0}], dim=3)
    with pytest.raises(InputError, match="unknown --param"):
        registry.solve(
            "steering",
            "sdp",
            _inst(quantity="lhs-bound", bob=P2),
            SolveOptions(params=(("x", "1"),)),
        )


def test_bad_solutions_are_infeasible():
    inst = _inst(quantity="robustness", state={"kind": "phi-plus"}, alice=P2)
    r = _solve(inst)
    bad = json.loads(json.dumps(r.solution))
    bad["witness"][0][0]["re"] = [[5.0, 0.0], [0.0, 5.0]]  # breaks I - Σ F ⪰ 0
    ev = evaluate(inst, bad)
    assert not ev.feasible and "I - Σ_x F" in ev.violations[0]
    assert not evaluate(inst, {"witness": "x"}).feasible
    seq = _unsharp(0.8, "steering", P2)
    sol = json.loads(json.dumps(_solve(seq).solution))
    sol["weights"] = [0.5]
    assert "probability vector" in evaluate(seq, sol).violations[0]


def test_cli_solves_shipped_examples(capsys):
    from pathlib import Path

    from optgap.solvers.cli import main

    files = sorted(Path("instances/steering").glob("*.json"))
    assert len(files) >= 8
    for f in files:
        assert main(["solve", str(f)]) == 0
    out = capsys.readouterr().out
    assert "DISAGREES" not in out and "(agrees)" in out


def test_plot_double_violation(tmp_path):
    from optgap.formulations.steering.plot import plot_solution_file

    inst = _unsharp(0.8, "steering", P2)
    r = _solve(inst)
    out = tmp_path / "dv.png"
    plot_solution_file(inst, {"method": "sdp", "solution": r.solution}, str(out))
    assert out.stat().st_size > 1000
    with pytest.raises(InputError, match="double-violation"):
        plot_solution_file(_inst(quantity="lhs-bound", bob=P2), {"solution": {}}, str(out))
