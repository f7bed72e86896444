"""F5 speed and figures: every two-qubit SDP of the family (target < 1 s each), the qutrit-qutrit
three-setting robustness (target < 10 s), heuristics vs the SDP, the unsharp double-violation
windows found by bisection on the SDP value, the projective/identity mixtures vs θ, and the
network witnesses.

    .venv/bin/python benchmarks/bench_steering.py [--quick]

Times are wall-clock per solve after one warm-up solve (cvxpy's first import and compile cost
~1 s once per process and is not the SDP's); the median of 3 runs is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
from optgap.formulations.steering import network as N
from optgap.formulations.steering.instance import load, matrix_to_json
from optgap.instances.steering.generate import generate
from optgap.solvers import registry
from optgap.solvers.result import SolveOptions

OPTS = SolveOptions(time_limit_s=60, threads=1, seed=0)
P2 = [{"pauli": "x"}, {"pauli": "z"}]
P3 = [{"pauli": "x"}, {"pauli": "y"}, {"pauli": "z"}]


def _inst(**kw):
    return load({"family": "steering", "version": 1, **kw})


def timed(inst, method="sdp", backend=None, reps=3):
    opts = SolveOptions(**{**OPTS.__dict__, "backend": backend})
    times, r = [], None
    for _ in range(reps):
        t = time.perf_counter()
        r = registry.solve("steering", method, inst, opts)
        times.append(time.perf_counter() - t)
    return r, statistics.median(times)


def _qubits(inst) -> bool:
    """Two qubits: the state's dims, or else the size of the assemblage's / functional's matrices
    (a qutrit functional has no ``dims`` but 3 x 3 matrices) and Alice's dimension."""
    if inst.dims is not None:
        return inst.dims == (2, 2)
    given = inst.assemblage or inst.functional
    if given is not None:
        return given[0][0].shape == (2, 2) and inst.alice_dim in (None, 2)
    return inst.quantity != "bell-npa"  # NPA is dimension-free (CGLMP3 has 3 outcomes): below


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one repetition per solve")
    args = ap.parse_args()
    reps = 1 if args.quick else 3
    timed(_inst(quantity="quantum-max", bob=P2), reps=1)  # warm-up: imports and first compile

    print("== two-qubit SDPs (target < 1 s each) ==")
    cases = []
    for f in sorted(Path("instances/steering").glob("*.json")):
        inst = load(json.loads(f.read_text()))
        if _qubits(inst):
            cases.append((f.stem, inst))
    for n in (2, 3):
        cases.append((f"generated double-violation n={n}", generate(n, 0)))
    for v in (0.6, 0.9):
        for q in ("robustness", "weight", "lhs-distance"):
            cases.append(
                (
                    f"{q} Werner v={v} 3 settings",
                    _inst(quantity=q, state={"kind": "singlet", "visibility": v}, alice=P3),
                )
            )
    worst = 0.0
    print(
        f"{'instance':48s} {'quantity':16s} {'status':8s} {'value':>12s} {'clarabel s':>10s} {'scs s':>8s}"
    )
    for name, inst in cases:
        r, t = timed(inst, reps=reps)
        rs, ts = timed(inst, backend="scs", reps=1)
        worst = max(worst, t)
        print(
            f"{name[:48]:48s} {inst.quantity:16s} {r.status:8s} {r.objective:12.8f} {t:10.3f} {ts:8.3f}"
        )
    print(
        f"slowest two-qubit SDP (clarabel): {worst:.3f} s  -> {'OK' if worst < 1 else 'OVER'} the 1 s target"
    )

    print("\n== NPA hierarchy (dimension-free) and the qutrit functionals: not two-qubit SDPs ==")
    for f in sorted(Path("instances/steering").glob("*.json")):
        inst = load(json.loads(f.read_text()))
        if not _qubits(inst) and inst.dims is None:
            r, t = timed(inst, reps=reps)
            print(f"{f.stem[:48]:48s} {r.status:8s} {r.objective:12.8f} {t:10.3f} s (clarabel)")

    print("\n== qutrit-qutrit robustness, 3 MUB settings (target < 10 s) ==")
    qutrit = _inst(
        quantity="robustness",
        state={"kind": "phi-plus", "dim": 3},
        alice=[{"mub": j} for j in range(3)],
    )
    r, t = timed(qutrit, reps=reps)
    print(
        f"SR = {r.objective:.8f} ({r.status}), certified bound {r.stats['certified_bound']:.8f}, {t:.3f} s"
    )
    for v in (0.5, 0.8):
        q2 = _inst(
            quantity="robustness",
            state={"kind": "phi-plus", "dim": 3, "visibility": v},
            alice=[{"mub": j} for j in range(3)],
        )
        r2, t2 = timed(q2, reps=1)
        print(f"  isotropic v={v}: SR = {r2.objective:.8f} ({r2.status}), {t2:.3f} s")

    print(
        "\n== heuristics vs SDP on seeded random scenarios (mean / max relative gap to the optimum) =="
    )
    rng = np.random.default_rng(0)
    rows: dict[str, list] = {}
    for _ in range(3 if args.quick else 8):
        rho = _random_state(rng)
        dirs = [{"bloch": _unit(rng)} for _ in range(3)]
        expr = rng.integers(-2, 3, size=(3, 3)).tolist()
        scen = [
            _inst(quantity="quantum-max", bob=dirs),
            _inst(
                quantity="steering-value",
                state=rho,
                bob=dirs,
                alice=[{"bloch": _unit(rng)} for _ in range(3)],
            ),
            _inst(quantity="robustness", state=rho, alice=dirs),
            _inst(quantity="weight", state=rho, alice=dirs),
            _inst(quantity="lhs-distance", state=rho, alice=dirs),
            _inst(quantity="bell-quantum", expression=expr),
            _inst(quantity="lhs-bound", bob=dirs),
            generate(3, int(rng.integers(1000))),
        ]
        for inst in scen:
            best = timed(inst, reps=1)[0].objective
            for m in ("seesaw", "closed-form"):
                h = timed(inst, m, reps=1)[0].objective
                gap = 0.0 if abs(best) < 1e-9 else max(0.0, best - h) / abs(best)
                rows.setdefault((inst.quantity, m), []).append(gap)
    print(f"{'quantity':18s} {'method':12s} {'mean gap':>9s} {'max gap':>9s}")
    for (q, m), gaps in sorted(rows.items()):
        print(f"{q:18s} {m:12s} {100 * np.mean(gaps):8.2f}% {100 * max(gaps):8.2f}%")

    print("\n== unsharp double-violation windows (bisection on the SDP value) ==")
    s2, s3 = math.sqrt(2), math.sqrt(3)
    diag = [s2 / 2, 0, s2 / 2]
    anti = [s2 / 2, 0, -s2 / 2]
    for label, ineq, bob, lo, hi in (
        ("CHSH", "bell", [{"bloch": diag}, {"bloch": anti}], 1 / s2, math.sqrt(2 * s2 - 2)),
        ("linear steering n=2", "steering", P2, 1 / s2, math.sqrt(2 * s2 - 2)),
        ("linear steering n=3", "steering", P3, 1 / s3, math.sqrt(s3 / 2)),
    ):

        def val(eta, ineq=ineq, bob=bob):
            extra = {"alice": P2} if ineq == "bell" else {}
            inst = _inst(
                quantity="double-violation",
                inequality=ineq,
                state={"kind": "phi-plus"},
                bob=bob,
                charlie=bob,
                strategies=[[{"unsharp": eta}] * len(bob)],
                **extra,
            )
            return timed(inst, reps=1)[0].objective

        mid = (lo + hi) / 2
        a = _bisect(val, 0.0, mid)
        b = _bisect(lambda e, val=val: -val(e), mid, 1.0)
        print(f"{label:22s} window ({a:.6f}, {b:.6f})   closed form ({lo:.6f}, {hi:.6f})")

    print(
        "\n== projective/identity mixtures with shared randomness vs θ (linear steering, X and Z) =="
    )
    strategies = [
        ["projective", "projective"],
        ["projective", "identity"],
        ["identity", "projective"],
        ["identity", "identity"],
    ]
    print(
        "identity settings bounded with the trivial observable Bob measures (trusted) / the declared Pauli one"
    )
    for theta in (math.pi / 4, 0.7, 0.6, 0.5, 0.4):
        for alice in (None, P2):
            row = []
            for conv in ("trusted", "declared"):
                kw = {"alice": alice} if alice else {}
                inst = _inst(
                    quantity="double-violation",
                    inequality="steering",
                    identity_bound=conv,
                    state={"kind": "psi-theta", "theta": theta},
                    bob=P2,
                    charlie=P2,
                    strategies=strategies,
                    **kw,
                )
                r = timed(inst, reps=1)[0]
                sw = timed(inst, "seesaw", reps=1)[0]
                row.append(f"{conv} {r.objective:+.6f} (seesaw {sw.objective:+.6f})")
            who = "Alice X,Z (LP)" if alice else "Alice free (SDP)"
            print(f"θ={theta:.4f} {who:17s} max min(v_AB, v_AC): " + "  ".join(row))

    print("\n== full network nonlocality (bilocal, Bell-state measurement) ==")
    print(f"witnesses with Φ+ sources: {N.bilocal_witnesses(1.0)} (5/√2 = {5 / s2:.10f}), bound 3")
    print(
        f"critical visibility by bisection: {N.critical_visibility():.10f} (closed form {math.sqrt(3 * s2 / 5):.10f})"
    )
    p, eta = N.passive_sharing()
    print(
        f"passive sharing (standard measurements, unsharp Charlie1): best min witness - 3 = {p:+.6f} at η = {eta:.3f}"
    )
    p2, eta2 = N.passive_sharing(shared_input=True)
    print(
        f"cooperating Charlies (Charlie2 measures Charlie1's setting): best min witness - 3 = {p2:+.6f} at η = {eta2:.3f}; sharing iff η > 3√2/5 = {3 * s2 / 5:.6f}"
    )
    t = time.perf_counter()
    a, where = N.active_sharing(5 if args.quick else 9)
    print(
        f"active sharing search (Charlie1 η per input and directions, Charlie2 and Alice directions): best min witness - 3 = {a:+.6f} ({time.perf_counter() - t:.1f} s) at {where}"
    )


def _unit(rng) -> list[float]:
    v = rng.normal(size=3)
    return [float(x) for x in v / np.linalg.norm(v)]


def _random_state(rng) -> dict:
    """A random two-qubit state: 0.85 Φ+ + 0.15 a random G G† (normalised)."""
    g = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    rho = g @ g.conj().T
    rho = rho / np.trace(rho).real
    phi = np.array([1, 0, 0, 1]) / math.sqrt(2)
    rho = 0.15 * rho + 0.85 * np.outer(phi, phi)
    rho = (rho + rho.conj().T) / 2
    return {"kind": "density", "dims": [2, 2], **matrix_to_json(rho / np.trace(rho).real)}


def _bisect(f, lo: float, hi: float, tol: float = 1e-6) -> float:
    """The point where f changes sign from ≤ 0 (at lo) to > 0 (at hi)."""
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if f(mid) > 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


if __name__ == "__main__":
    main()
