"""Seeded random F5 instances: sequential sharing scenarios (double violation of the linear
steering inequality), the family's central question.

``size`` is the number of Bob's (and Charlie's, and Alice's) settings, 2 to 4. The state is a
partially entangled |ψ(θ)> = cos θ|00> + sin θ|11> with θ ∈ [π/8, π/4] and visibility in
[0.85, 1]; Bob's and Charlie's settings are random unit Bloch vectors; Bob's pure strategies are
every projective/identity assignment to his settings plus two unsharp ones (η ∈ [0.6, 0.95]);
Alice's measurements are left free.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from formulations.steering.instance import VERSION, load


def generate(size: int, seed: int) -> object:
    return load(generate_json(size, seed))


def _unit(rng) -> list[float]:
    v = rng.normal(size=3)
    v /= np.linalg.norm(v)
    return [round(float(x), 12) for x in v / np.linalg.norm(v)]


def generate_json(size: int, seed: int) -> dict:
    if not 2 <= size <= 4:
        raise ValueError("size (number of settings) must be 2, 3 or 4")
    rng = np.random.default_rng(seed)
    theta = float(rng.uniform(math.pi / 8, math.pi / 4))
    vis = float(rng.uniform(0.85, 1.0))
    bob = [{"bloch": _unit(rng)} for _ in range(size)]
    charlie = [{"bloch": _unit(rng)} for _ in range(size)]
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
