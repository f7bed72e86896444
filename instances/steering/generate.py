"""Seeded random F5 instances: sequential sharing scenarios (double violation of the linear
steering inequality), the family's central question.

``size`` is the number of Bob's (and Charlie's, and Alice's) settings, 2 or 3. The state is a
partially entangled |ψ(θ)> = cos θ|00> + sin θ|11> with θ ∈ [π/8, π/4] and visibility in
[0.85, 1]; Bob's settings are the first ``size`` axes of a random orthonormal frame (mutually
unbiased, as the linear steering inequality wants) and Charlie tests the same inequality;
Bob's pure strategies are every projective/identity assignment to his settings plus two
unsharp ones (η ∈ [0.6, 0.95]); Alice's measurements are left free.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from optgap.formulations.steering.instance import VERSION, load


def generate(size: int, seed: int) -> object:
    return load(generate_json(size, seed))


def generate_json(size: int, seed: int) -> dict:
    if not 2 <= size <= 3:
        raise ValueError("size (number of settings) must be 2 or 3 (orthogonal Bloch axes)")
    rng = np.random.default_rng(seed)
    theta = float(rng.uniform(math.pi / 8, math.pi / 4))
    vis = float(rng.uniform(0.85, 1.0))
    frame, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    bob = [{"bloch": [round(float(x), 15) for x in frame[:, k]]} for k in range(size)]
    charlie = [dict(b) for b in bob]
    strategies: list[list] = [
        list(s) for s in itertools.product(("projective", "identity"), repeat=size)
    ]
    for _ in range(2):
        eta = round(float(rng.uniform(0.6, 0.95)), 6)
        strategies.append([{"unsharp": eta}] * size)
    return {
        "family": "steering",
        "version": VERSION,
        "name": f"random-seq-n{size}-s{seed}",
        "quantity": "double-violation",
        "inequality": "steering",
        "state": {"kind": "psi-theta", "theta": round(theta, 12), "visibility": round(vis, 12)},
        "bob": bob,
        "charlie": charlie,
        "strategies": strategies,
    }
