"""F5 assemblages and steering functionals given in the file (issue 16 point 3): second routes
(the same assemblage from a state and measurements), hand-derived and published values, a
second exact model of the functional's LHS bound, the sandwich LHS ≤ see-saw ≤ SDP, and the
loader and evaluator by violation."""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optgap.formulations.steering import quantum as Q
from optgap.formulations.steering.evaluate import evaluate
from optgap.formulations.steering.instance import load, matrix_to_json, mub_basis
from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

OPTS = SolveOptions(time_limit_s=30, threads=1, seed=0)
P2 = [{"pauli": "x"}, {"pauli": "z"}]
P3 = [{"pauli": "x"}, {"pauli": "y"}, {"pauli": "z"}]
PAULI = [
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]]),
    np.array([[1, 0], [0, -1]], dtype=complex),
]


def _inst(**kw):
    return load({"family": "steering", "version": 1, **kw})


def _table(mats) -> list:
    return [[matrix_to_json(m) for m in row] for row in mats]


def _solve(inst, method="sdp"):
    r = registry.solve("steering", method, inst, OPTS)
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE), r.message
    ev = evaluate(inst, json.loads(json.dumps(r.solution)))
    assert ev.feasible, ev.violations
    assert math.isclose(ev.objective, r.objective, rel_tol=1e-9, abs_tol=1e-9)
    if method == "sdp":
        cb = ev.metrics["certified_bound"]
        assert cb >= ev.objective - 1e-7
        assert (r.status == Status.OPTIMAL) == (cb - ev.objective <= 1e-6), (r.status, cb)
    return r, ev


def _assemblage(state, alice):
    i = _inst(quantity="robustness", state=state, alice=alice)
    return Q.assemblage(i.rho, i.dims, i.alice)


# ------------------------------------------------------------------ a given assemblage


@pytest.mark.parametrize("quantity", ["robustness", "weight", "lhs-distance"])
def test_given_assemblage_equals_state_route(quantity):
    # the same assemblage stated two ways must give the same optimum (the state route is
    # tested against published values in test_steering.py); v = 0.9 with Pauli X, Y, Z
    state = {"kind": "phi-plus", "visibility": 0.9}
    by_state = _solve(_inst(quantity=quantity, state=state, alice=P3))[0]
    given_inst = _inst(quantity=quantity, assemblage=_table(_assemblage(state, P3)))
    r, _ = _solve(given_inst)
    assert r.status == Status.OPTIMAL
    assert r.objective == pytest.approx(by_state.objective, abs=1e-7)
    if quantity == "robustness":
        # by hand: the witness F_{a|x} = (I + (-1)^a B_x)/(n + √n) is feasible (λ_max of
        # Σ_x F_{λ(x)|x} = (n + √n)/(n + √n) = 1) and has value (v√n - 1)/(√n + 1)
        s3 = math.sqrt(3)
        assert r.objective >= (0.9 * s3 - 1) / (s3 + 1) - 1e-7


def test_given_assemblage_published_robustness_and_membership():
    # SR(Φ+, 2 Pauli settings) = (√2 - 1)/(√2 + 1) (Skrzypczyk, Navascués, Cavalcanti PRL 112,
    # 180404 (2014); Cavalcanti & Skrzypczyk, Rep. Prog. Phys. 80, 024001 (2017)), as the
    # state route is tested in test_steering.py
    s2 = math.sqrt(2)
    rob = _inst(quantity="robustness", assemblage=_table(_assemblage({"kind": "phi-plus"}, P2)))
    assert _solve(rob)[0].objective == pytest.approx((s2 - 1) / (s2 + 1), abs=1e-6)
    # Werner states with n Pauli settings are LHS iff v ≤ 1/√n: 0.55 < 1/√3 < 0.6
    for v, member in ((0.55, True), (0.6, False)):
        sig = _assemblage({"kind": "singlet", "visibility": v}, P3)
        r, ev = _solve(_inst(quantity="lhs-distance", assemblage=_table(sig)))
        assert ev.metrics["lhs_member"] is member
        assert (abs(r.objective) < 1e-6) is member


@st.composite
def lhs_assemblages(draw):
    """σ_{a|x} = Σ_λ D(a|x,λ) p_λ ρ_λ: LHS by construction (random p, random states ρ_λ)."""
    d = draw(st.sampled_from([2, 3]))
    outs = draw(st.lists(st.sampled_from([2, 3]), min_size=2, max_size=3))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    lams = list(itertools.product(*(range(o) for o in outs)))
    p = rng.dirichlet(np.ones(len(lams)))
    sig = [[np.zeros((d, d), dtype=complex) for _ in range(o)] for o in outs]
    for lam, w in zip(lams, p, strict=True):
        g = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
        rho = g @ g.conj().T
        rho /= np.trace(rho).real
        for x, a in enumerate(lam):
            sig[x][a] = sig[x][a] + w * rho
    return sig


@given(lhs_assemblages())
@settings(max_examples=5)
def test_lhs_assemblage_has_robustness_and_weight_zero_and_is_a_member(sig):
    for q in ("robustness", "weight", "lhs-distance"):
        r, ev = _solve(_inst(quantity=q, assemblage=_table(sig)))
        assert abs(r.objective) <= 1e-6 and ev.metrics["certified_bound"] <= 1e-6
    assert ev.metrics["lhs_member"]


# ------------------------------------------------------------------ steering functionals


def _pauli_functional(n: int):
    return [[b / math.sqrt(n), -b / math.sqrt(n)] for b in PAULI[:n]]


@pytest.mark.parametrize("n, bob", [(2, [{"pauli": "x"}, {"pauli": "y"}]), (3, P3)])
def test_functional_equals_bob_route(n, bob):
    # the linear steering inequality is the functional F_{±|k} = ±B_k/√n: C_n = 1, Q = √n
    f = _table(_pauli_functional(n))
    for q, expect in (("lhs-bound", 1.0), ("quantum-max", math.sqrt(n))):
        by_bob = _solve(_inst(quantity=q, bob=bob))[0].objective
        r, _ = _solve(_inst(quantity=q, functional=f))
        assert r.status == Status.OPTIMAL
        assert r.objective == pytest.approx(by_bob, abs=1e-7)
        assert r.objective == pytest.approx(expect, abs=1e-7)
        # the see-saw's exact two-outcome step (sign projectors) reaches the optimum too
        assert _solve(_inst(quantity=q, functional=f), "seesaw")[0].objective == pytest.approx(
            expect, abs=1e-7
        )


def _mub_functional(d: int = 3):
    return [[np.outer(v, v.conj()) for v in mub_basis(d, j)] for j in (0, 1)]


def test_qutrit_mub_functional_by_hand():
    # F_{a|x} = Π^x_a, two MUBs of C^3. LHS: λ_max(|u><u| + |v><v|) = 1 + |<u|v>| = 1 + 1/√3.
    # Quantum: Σ_a tr(Π_a σ_{a|x}) ≤ tr ρ_B = 1 per setting, so ≤ 2, met by Φ+ and Alice's
    # conjugate bases (needs d_A = 3; the GHJW point is complex: a missing transpose fails here)
    f = _table(_mub_functional())
    r, _ = _solve(_inst(quantity="lhs-bound", functional=f))
    assert r.objective == pytest.approx(1 + 1 / math.sqrt(3), abs=1e-12)
    r, _ = _solve(_inst(quantity="quantum-max", functional=f, alice_dim=3))
    assert r.status == Status.OPTIMAL and r.objective == pytest.approx(2.0, abs=1e-7)
    assert _solve(_inst(quantity="quantum-max", functional=f), "seesaw")[0].objective == (
        pytest.approx(2.0, abs=1e-7)
    )
    # a qubit Alice: the NS bound 2 stays an upper bound; the answer is feasible with its gap
    qubit = _inst(quantity="quantum-max", functional=f, alice_dim=2)
    r, ev = _solve(qubit)
    assert r.status == Status.FEASIBLE and ev.metrics["certified_bound"] == pytest.approx(2.0)
    s, _ = _solve(qubit, "seesaw")
    assert 1 + 1 / math.sqrt(3) + 0.1 < s.objective < 2 - 0.1


def _lhs_bound_by_sdp(f) -> float:
    """Second exact model: max Σ tr(F_{a|x} σ_{a|x}) over LHS assemblages
    σ_{a|x} = Σ_λ D(a|x,λ) σ_λ, σ_λ ⪰ 0, Σ tr σ_λ = 1."""
    import cvxpy as cp

    d = f[0][0].shape[0]
    lams = list(itertools.product(*(range(len(fx)) for fx in f)))
    s = [cp.Variable((d, d), hermitian=True) for _ in lams]
    cons = [x >> 0 for x in s] + [cp.real(sum(cp.trace(x) for x in s)) == 1]
    obj = sum(
        cp.real(cp.trace(f[x][a] @ sl))
        for lam, sl in zip(lams, s, strict=True)
        for x, a in enumerate(lam)
    )
    prob = cp.Problem(cp.Maximize(obj), cons)
    prob.solve(solver=cp.CLARABEL)
    return prob.value


@st.composite
def functionals(draw):
    """Random Hermitian functionals, or projectors of random bases ("bases": steering binds,
    Φ+ reaches n while the LHS bound is below it), with d_A below, at or above d_B."""
    d = draw(st.sampled_from([2, 3]))
    n = draw(st.sampled_from([2, 3]))
    kind = draw(st.sampled_from(["random", "bases"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    f = []
    for _ in range(n):
        if kind == "bases":
            u, _ = np.linalg.qr(rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)))
            f.append([np.outer(u[:, a], u[:, a].conj()) for a in range(d)])
        else:
            o = draw(st.sampled_from([2, 3]))
            row = []
            for _ in range(o):
                g = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
                row.append((g + g.conj().T) / 2)
            f.append(row)
    d_a = draw(st.sampled_from([1, d - 1, d]))
    return f, d_a, kind


@given(functionals())
@settings(max_examples=6)
def test_lhs_bound_below_seesaw_below_sdp(case):
    f, d_a, kind = case
    table = _table(f)
    lhs, _ = _solve(_inst(quantity="lhs-bound", functional=table))
    assert lhs.status == Status.OPTIMAL
    assert lhs.objective == pytest.approx(_lhs_bound_by_sdp(f), abs=1e-6)
    inst = _inst(quantity="quantum-max", functional=table, alice_dim=d_a)
    sdp, ev = _solve(inst)
    saw, _ = _solve(inst, "seesaw")
    top = ev.metrics["certified_bound"]
    assert lhs.objective - 1e-9 <= saw.objective <= top + 1e-9
    assert lhs.objective - 1e-9 <= sdp.objective <= top + 1e-9
    if d_a == 1:  # a one-dimensional Alice cannot steer: the quantum value is the LHS bound
        assert saw.objective == pytest.approx(lhs.objective, abs=1e-9)
    if d_a >= len(f[0][0]):  # GHJW: the NS bound is the quantum value, reached
        assert sdp.status == Status.OPTIMAL
        assert saw.objective <= sdp.objective + 1e-7
        if kind == "bases":  # the binding case: perfect correlations beat every LHS model
            assert sdp.objective == pytest.approx(len(f), abs=1e-6)
            assert sdp.objective > lhs.objective + 1e-3


# ------------------------------------------------------------------ the loader


def _bad_assemblage(change):
    sig = _table(_assemblage({"kind": "phi-plus", "visibility": 0.9}, P2))
    data = {"family": "steering", "version": 1, "quantity": "robustness", "assemblage": sig}
    change(data)
    return data


def _add(path, delta):
    def change(data):
        node = data
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = node[path[-1]] + delta

    return change


def _non_psd(data):
    # Φ+ at v = 0.9 measured in Z: σ_{0|1} = diag(0.475, 0.025); move 0.045 of |1><1| to σ_{1|1}
    # (still no-signalling and normalised): λ_min(σ_{0|1}) = -0.02
    m0, m1 = data["assemblage"][1]
    shift = np.diag([0.0, 0.045])
    m0["re"] = (np.array(m0["re"]) - shift).tolist()
    m1["re"] = (np.array(m1["re"]) + shift).tolist()


def _scale(factor):
    def change(data):
        for row in data["assemblage"]:
            for m in row:
                m["re"] = (np.array(m["re"]) * factor).tolist()

    return change


def _set(path, value):
    def change(data):
        node = data
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return change


BAD = [
    (_non_psd, r"instance.assemblage\[1\]\[0\]: not positive semidefinite \(λ_min = -0.02"),
    (
        _set(["assemblage", 1, 0, "re"], [[0.5, 0.0], [0.0, 0.0]]),
        r"instance.assemblage\[1\]: signalling: Σ_a σ_\(a\|1\) differs",
    ),
    (_scale(1.01), r"instance.assemblage: not normalised: tr Σ_a σ_\(a\|x\) = 1.01, must be 1"),
    (
        _set(["assemblage", 0, 0, "im"], [[0.0, 0.1], [0.1, 0.0]]),
        r"assemblage\[0\]\[0\]: not Hermitian",
    ),
    (
        _set(["assemblage", 0, 1, "re"], [[1.0]]),
        r"assemblage\[0\]\[1\]: expected shape \(2, 2\), got \(1, 1\)",
    ),
    (_set(["assemblage", 0, 1, "re"], [[1, "a"], [0, 0]]), r"assemblage\[0\]\[1\]\.re\[0\]\[1\]"),
    (_set(["assemblage", 0, 1, "re"], [[1, float("nan")], [0, 0]]), r"assemblage\[0\]\[1\]\.re"),
    (_set(["assemblage"], []), r"instance.assemblage: expected at least 1"),
    (_set(["assemblage", 0], "x"), r"instance.assemblage\[0\]: expected an array"),
    (_set(["state"], {"kind": "singlet"}), r"instance.state: not a field of robustness on a given"),
    (_set(["alice_dim"], 2), r"instance.alice_dim: not a field of robustness"),
]


@pytest.mark.parametrize("change, message", BAD)
def test_bad_assemblage_is_a_one_line_error(change, message):
    with pytest.raises(InputError, match=message):
        load(_bad_assemblage(change))


def test_bad_functional_and_limits():
    f = _table(_mub_functional())
    base = {"family": "steering", "version": 1, "quantity": "quantum-max", "functional": f}
    load(base)
    bad = copy.deepcopy(base)
    bad["functional"][0][0]["im"] = [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    with pytest.raises(InputError, match=r"functional\[0\]\[0\]: not Hermitian"):
        load(bad)
    with pytest.raises(InputError, match=r"instance.alice_dim: must not be below 1"):
        load({**base, "alice_dim": 0})
    with pytest.raises(InputError, match=r"instance.bob: not a field of quantum-max on a given"):
        load({**base, "bob": P2})
    lhs = {**base, "quantity": "lhs-bound", "alice_dim": 2}
    with pytest.raises(InputError, match=r"instance.alice_dim: not a field of lhs-bound"):
        load(lhs)
    # 12 settings of 3 outcomes: 3^12 = 531441 deterministic strategies > 65536
    many = {**base, "functional": [f[0]] * 12}
    with pytest.raises(InputError, match=r"531441 .*exceeds the limit 65536"):
        load(many)
    with pytest.raises(InputError, match=r"instance.meta: expected an object"):
        load({**base, "meta": 5})  # was a TypeError (set(5)) in both steering readers
    # neither form given: the loader names the missing field, and the schema refuses it too
    with pytest.raises(InputError, match=r"instance.bob: missing required field"):
        load({k: v for k, v in base.items() if k != "functional"})


def test_schema_accepts_the_new_files_and_refuses_neither_form():
    import jsonschema

    from optgap.schema import build

    validator = jsonschema.Draft202012Validator(build("steering"))
    files = sorted(Path("instances/steering").glob("*assemblage*.json")) + sorted(
        Path("instances/steering").glob("functional-*.json")
    )
    assert len(files) >= 4
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert not list(validator.iter_errors(data)), path
        key = "assemblage" if "assemblage" in data else "functional"
        data.pop(key)
        assert list(validator.iter_errors(data)), f"{path} without {key} accepted"


# ------------------------------------------------------------------ the evaluator by violation


def _sdp_solution(inst):
    r = registry.solve("steering", "sdp", inst, OPTS)
    return json.loads(json.dumps(r.solution)), r


def _refused(inst, sol, word):
    ev = evaluate(inst, sol)
    assert not ev.feasible and any(word in v for v in ev.violations), ev.violations


def test_evaluator_refuses_a_certificate_or_point_off_by_a_little():
    inst = _inst(quantity="quantum-max", functional=_table(_mub_functional()), alice_dim=3)
    sol, r = _sdp_solution(inst)
    assert evaluate(inst, sol).feasible
    # the dual raised by 1e-5: the claimed bound is now tighter than the certificate supports
    bad = copy.deepcopy(sol)
    y = np.array(bad["dual"]["Y"][0]["re"]) + 1e-5 * np.eye(3)
    bad["dual"]["Y"][0]["re"] = y.tolist()
    _refused(inst, bad, "tighter than the certified")
    # a dual lowered below F: the evaluator must shift it back (a bound that stays ≥ the value)
    low = copy.deepcopy(sol)
    low["dual"]["Y"][0]["re"] = (np.array(low["dual"]["Y"][0]["re"]) - 1e-3 * np.eye(3)).tolist()
    low.pop("bound"), low.pop("status")
    ev = evaluate(inst, low)
    assert ev.feasible and ev.certified_bound >= ev.objective - 1e-9
    # the claimed bound 1e-6 too tight, optimal claimed without a certificate
    _refused(inst, {**sol, "bound": sol["bound"] - 1e-6}, "tighter than the certified")
    _refused(inst, {k: v for k, v in sol.items() if k != "dual"}, "without a valid certificate")
    # the strategy: a state of trace 1 + 1e-6, a POVM off completeness by 1e-6
    st_bad = copy.deepcopy(sol)
    re = np.array(st_bad["strategy"]["state"]["re"])
    re[0, 0] += 1e-6
    st_bad["strategy"]["state"]["re"] = re.tolist()
    _refused(inst, st_bad, "not a density matrix")
    pv = copy.deepcopy(sol)
    e = np.array(pv["strategy"]["alice"][1][2]["re"])
    pv["strategy"]["alice"][1][2]["re"] = (e + 1e-6 * np.eye(3)).tolist()
    _refused(inst, pv, "do not sum to I")


def test_evaluator_lhs_bound_and_malformed_values():
    inst = _inst(quantity="lhs-bound", functional=_table(_mub_functional()))
    sol, r = _sdp_solution(inst)
    ev = evaluate(inst, sol)
    assert ev.feasible and ev.certified_bound == pytest.approx(1 + 1 / math.sqrt(3), abs=1e-12)
    assert ev.metrics["strategies"] == 9
    _refused(inst, {**sol, "bound": 1.5}, "tighter than the certified")
    v = np.array(sol["vector"]["re"]) * (1 + 1e-6)
    _refused(inst, {**sol, "vector": {"re": v.tolist()}}, "norm 1")
    for bad in (
        {**sol, "strategy": [0, 3]},
        {**sol, "strategy": [True, 0]},
        {**sol, "strategy": "01"},
        {**sol, "vector": {"re": [[float("nan")], [0], [0]]}},
        {**sol, "vector": {"re": [[1e400], [0], [0]]}},
        {**sol, "vector": {"re": [[[1]], [0], [0]]}},
        {**sol, "vector": "psi"},
        [],
    ):
        assert not evaluate(inst, bad).feasible  # a named rejection, never an exception
    qm = _inst(quantity="quantum-max", functional=_table(_mub_functional()), alice_dim=2)
    sol, _ = _sdp_solution(qm)
    for bad in (
        {**sol, "strategy": "x"},
        {**sol, "strategy": {"state": sol["strategy"]["state"]}},
        {**sol, "strategy": {**sol["strategy"], "alice": [[1, 2, 3]] * 2}},
        {**sol, "dual": {"Y": ["a", "b"]}},
        {**sol, "dual": {"Y": [{"re": [[1e400]]}] * 2}},
    ):
        ev = evaluate(qm, bad)
        assert not ev.feasible or ev.certified_bound is None
