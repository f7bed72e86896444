"""F5 instance: a steering / Bell scenario (state, measurements) and the quantity wanted.

File format (JSON, ``"family": "steering"``, ``"version": 1``)::

    quantity:   one of QUANTITIES (what the methods bound; see below)
    state:      {kind: "phi-plus" | "singlet" | "psi-theta" | "density",
                 dim = 2 (phi-plus), theta (psi-theta: cos θ|00> + sin θ|11>),
                 dims = [dA, dB], re, im (density: the matrix, im optional),
                 visibility = 1 (mixes with white noise: v ρ + (1 - v) I / (dA dB))}
                 phi-plus/singlet with a visibility are the isotropic/Werner states.
    alice:      [measurement] untrusted party's settings (robustness, weight, lhs-distance need
                them; steering-value and double-violation may give them)
    bob:        [measurement] trusted settings (linear steering inequality) / Bob's settings
    charlie:    [measurement] Charlie's settings (double-violation)
    expression: [[c_xy]] correlator Bell expression sum_xy c_xy <A_x B_y> (bell-*, and
                double-violation with inequality "bell"; default CHSH)
    inequality: "steering" | "bell" (double-violation)
    strategies: [[instrument per Bob setting]] Bob's pure sequential strategies (double-violation)
                instrument: "projective" | "identity" | {"unsharp": eta}
    identity_bound: "trusted" (default) | "declared" (double-violation with the steering
                inequality): the LHS bound of a strategy with identity settings is computed with
                the trivial observable I Bob really measures ("trusted", sound), or with the
                declared Pauli observable ("declared": the convention under which an LHS model
                can violate, kept to show the artefact)
    sources:    {ab: state, bc: state} (network-fnn: the two two-qubit sources of A - B - C)
    witness:    "cn" | "nc" | "fnn" (network-fnn; default "fnn", the minimum of both)
                network-fnn takes alice / charlie (2 ±1 qubit settings each, optional) and bob
                (one three-outcome POVM on B1 ⊗ B2, default the partial BSM): see read_network
    assemblage: [[σ_{a|x}]] instead of state + alice (robustness, weight, lhs-distance): one
                row per setting x, one {re, im} matrix per outcome a; checked positive,
                no-signalling (Σ_a σ_{a|x} independent of x) and normalised, to 1e-9
    functional: [[F_{a|x}]] instead of bob (lhs-bound, quantum-max): the steering functional
                β(σ) = Σ_{a,x} tr(F_{a|x} σ_{a|x}), Hermitian {re, im} matrices
    alice_dim:  d_A, Alice's dimension for quantum-max of a functional (default d_B)
    name, meta: free text / free object

A measurement is an object with exactly one of ``pauli`` ("x"|"y"|"z"), ``bloch`` ([x, y, z],
unit), ``identity`` (true: the trivial measurement {I, 0}, fixed outcome +1), ``observable``
({re, im}: Hermitian, spectrum in [-1, 1], effects (I ± O)/2), ``povm`` ([{re, im}]: PSD
effects summing to I) or ``mub`` (index j of the mutually unbiased bases of a prime dimension
d: 0 the computational basis, j >= 1 the vectors (1/√d) Σ_m ω^{(j-1) m² + b m}|m>, d odd),
plus an optional ``sharpness`` η in [0, 1] for pauli/bloch (effects (I ± η n·σ)/2).
Two-outcome measurements carry the outcome values (+1, -1).

Quantities (every one is a maximisation; see formulations/steering/__init__.py):
    lhs-bound, quantum-max, steering-value, robustness, weight, lhs-distance, bell-quantum,
    bell-local, double-violation, bell-npa, bell-nosignalling, network-fnn.

robustness, weight and lhs-distance may be stated on an assemblage, lhs-bound and quantum-max on
a functional (the ALTERNATIVE table; read_operator_table checks them).

Numbers are validated: a density matrix must be Hermitian, PSD and of trace 1 (to 1e-9), an
effect PSD, a POVM complete, an observable Hermitian with spectrum in [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optgap.solvers import fields as F
from optgap.solvers.errors import InputError

FAMILY = "steering"
VERSION = 1
TOL = 1e-9  # validation tolerance for Hermiticity, PSD, trace and completeness of input data

QUANTITIES = (
    "lhs-bound",
    "quantum-max",
    "steering-value",
    "robustness",
    "weight",
    "lhs-distance",
    "bell-quantum",
    "bell-local",
    "double-violation",
    "bell-npa",
    "bell-nosignalling",
    "network-fnn",
)
STATE_KINDS = ("phi-plus", "singlet", "psi-theta", "density")
INSTRUMENTS = ("projective", "identity", "unsharp")

PAULI = {
    "x": np.array([[0, 1], [1, 0]], dtype=complex),
    "y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "z": np.array([[1, 0], [0, -1]], dtype=complex),
}


# family-wide --param keys (each method uses those that apply to it and ignores the others, so
# `optgap solve FILE --param restarts=3` runs every method); anything else is an InputError
PARAMS = ("restarts", "iterations")


def check_params(params: tuple[tuple[str, str], ...]) -> None:
    for key, _ in params:
        if key not in PARAMS:
            raise InputError(f"steering: unknown --param {key!r} (known: {', '.join(PARAMS)})")


# ------------------------------------------------------------------ complex matrices in JSON


def matrix_to_json(m: np.ndarray) -> dict[str, Any]:
    m = np.asarray(m, dtype=complex)
    out: dict[str, Any] = {"re": m.real.tolist()}
    if np.any(m.imag != 0):
        out["im"] = m.imag.tolist()
    return out


def matrix_from_json(value: Any, path: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A real or complex array from {"re": [...], "im": [...]} (im optional), strictly read."""
    F.obj(value, path, {"re"}, {"im"})
    re = _real_array(value["re"], f"{path}.re")
    im = _real_array(value["im"], f"{path}.im") if "im" in value else np.zeros_like(re)
    if re.shape != im.shape:
        raise InputError(f"{path}: re has shape {re.shape} but im has shape {im.shape}")
    if shape is not None and re.shape != shape:
        raise InputError(f"{path}: expected shape {shape}, got {re.shape}")
    return re + 1j * im


def _real_array(value: Any, path: str) -> np.ndarray:
    F.array(value, path, min_len=1)

    def check(v: Any, p: str) -> Any:
        if isinstance(v, list):
            return [check(x, f"{p}[{i}]") for i, x in enumerate(v)]
        return F.number(v, p, minimum=None)

    data = check(value, path)
    try:
        arr = np.array(data, dtype=float)
    except ValueError:
        raise InputError(f"{path}: rows of different lengths") from None
    if arr.dtype == object:
        raise InputError(f"{path}: rows of different lengths")
    return arr


# ------------------------------------------------------------------ measurements


@dataclass(frozen=True, eq=False)
class Measurement:
    """A POVM on one party's system: effects[a] with outcome values[a] (±1 for two outcomes)."""

    effects: tuple[np.ndarray, ...]
    values: tuple[float, ...]
    kind: str  # "projective" | "unsharp" | "identity" | "povm"
    spec: dict[str, Any]  # the JSON it was read from (normalised), for dump

    @property
    def dim(self) -> int:
        return self.effects[0].shape[0]

    @property
    def outcomes(self) -> int:
        return len(self.effects)

    @property
    def observable(self) -> np.ndarray:
        """Σ_a value_a E_a: E_+ - E_- for a two-outcome measurement."""
        return sum(v * e for v, e in zip(self.values, self.effects, strict=True))


def mub_basis(d: int, j: int) -> list[np.ndarray]:
    """Basis j of the d + 1 mutually unbiased bases of an odd prime dimension d."""
    if j == 0:
        return [np.eye(d, dtype=complex)[b] for b in range(d)]
    w = np.exp(2j * np.pi / d)
    m = np.arange(d)
    return [w ** (((j - 1) * m * m + b * m) % d) / math.sqrt(d) for b in range(d)]


def _is_odd_prime(d: int) -> bool:
    return d > 2 and all(d % p for p in range(2, int(math.isqrt(d)) + 1))


F.define_limit("steering.dim", 32, "dimensions of one party's system")
F.define_limit("steering.joint_dim", 256, "dimensions of the joint state (dA x dB)")
F.define_limit("steering.outcomes", 64, "outcomes of one measurement")


def _dim(value: Any, path: str, minimum: int) -> int:
    """A system dimension, checked against its limit before any matrix of that size exists."""
    d = F.number(value, path, integer=True, minimum=minimum)
    F.check_size("steering.dim", d, path)
    return d


def read_measurement(value: Any, path: str, dim: int) -> Measurement:
    keys = {"pauli", "bloch", "identity", "observable", "povm", "mub"}
    F.obj(value, path, set(), keys | {"sharpness"})
    given = sorted(k for k in keys if k in value)
    if len(given) != 1:
        raise InputError(
            f"{path}: give exactly one of {', '.join(sorted(keys))} (got {', '.join(given) or 'none'})"
        )
    kind = given[0]
    eye = np.eye(dim, dtype=complex)
    if "sharpness" in value and kind not in ("pauli", "bloch"):
        raise InputError(f"{path}.sharpness: only for pauli or bloch measurements")
    if kind in ("pauli", "bloch"):
        if dim != 2:
            raise InputError(
                f"{path}.{kind}: a Bloch-sphere measurement needs a qubit, not d={dim}"
            )
        if kind == "pauli":
            axis = F.string(value["pauli"], f"{path}.pauli", choices=("x", "y", "z"))
            n = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}[axis]
        else:
            vec = F.array(value["bloch"], f"{path}.bloch")
            if len(vec) != 3:
                raise InputError(f"{path}.bloch: expected 3 components, got {len(vec)}")
            n = tuple(F.number(x, f"{path}.bloch[{i}]", minimum=None) for i, x in enumerate(vec))
            norm = math.sqrt(sum(x * x for x in n))
            if abs(norm - 1) > 1e-6:
                raise InputError(f"{path}.bloch: must be a unit vector, |n| = {norm:.6g}")
            n = tuple(x / norm for x in n)
        eta = 1.0
        if "sharpness" in value:
            eta = F.number(value["sharpness"], f"{path}.sharpness")
            if eta > 1:
                raise InputError(f"{path}.sharpness: must be in [0, 1], got {eta:g}")
        obs = n[0] * PAULI["x"] + n[1] * PAULI["y"] + n[2] * PAULI["z"]
        effects = ((eye + eta * obs) / 2, (eye - eta * obs) / 2)
        return Measurement(effects, (1.0, -1.0), "projective" if eta == 1 else "unsharp", value)
    if kind == "identity":
        if value["identity"] is not True:
            raise InputError(f"{path}.identity: expected true")
        return Measurement((eye, 0 * eye), (1.0, -1.0), "identity", value)
    if kind == "observable":
        obs = matrix_from_json(value["observable"], f"{path}.observable", (dim, dim))
        _check_hermitian(obs, f"{path}.observable")
        ev = np.linalg.eigvalsh(obs)
        if ev[0] < -1 - TOL or ev[-1] > 1 + TOL:
            raise InputError(
                f"{path}.observable: spectrum must lie in [-1, 1], got [{ev[0]:.6g}, {ev[-1]:.6g}]"
            )
        sharp = bool(np.allclose(obs @ obs, eye, atol=1e-9))
        return Measurement(
            ((eye + obs) / 2, (eye - obs) / 2),
            (1.0, -1.0),
            "projective" if sharp else "povm",
            value,
        )
    if kind == "povm":
        els = F.array(value["povm"], f"{path}.povm", min_len=2)
        F.check_size("steering.outcomes", len(els), f"{path}.povm")
        effects = []
        for i, e in enumerate(els):
            m = matrix_from_json(e, f"{path}.povm[{i}]", (dim, dim))
            _check_hermitian(m, f"{path}.povm[{i}]")
            lo = np.linalg.eigvalsh(m)[0]
            if lo < -TOL:
                raise InputError(
                    f"{path}.povm[{i}]: not positive semidefinite (eigenvalue {lo:.3g})"
                )
            effects.append(m)
        total = sum(effects)
        if not np.allclose(total, eye, atol=1e-9):
            err = float(np.abs(total - eye).max())
            raise InputError(f"{path}.povm: effects must sum to the identity (off by {err:.3g})")
        values = (1.0, -1.0) if len(effects) == 2 else tuple(float(a) for a in range(len(effects)))
        sharp = all(np.allclose(e @ e, e, atol=1e-9) for e in effects)
        return Measurement(tuple(effects), values, "projective" if sharp else "povm", value)
    j = F.number(value["mub"], f"{path}.mub", integer=True)
    if not _is_odd_prime(dim):
        raise InputError(f"{path}.mub: MUBs are built for odd prime dimensions, not d={dim}")
    if j > dim:
        raise InputError(f"{path}.mub: index must be in 0..{dim}, got {j}")
    effects = tuple(np.outer(v, v.conj()) for v in mub_basis(dim, j))
    return Measurement(effects, tuple(float(a) for a in range(dim)), "projective", value)


def _check_hermitian(m: np.ndarray, path: str) -> None:
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InputError(f"{path}: expected a square matrix, got shape {m.shape}")
    err = float(np.abs(m - m.conj().T).max())
    if err > TOL:
        raise InputError(f"{path}: not Hermitian (max |M - M†| = {err:.3g})")


# ------------------------------------------------------------------ states


def read_state(value: Any, path: str) -> tuple[np.ndarray, tuple[int, int]]:
    F.obj(value, path, {"kind"}, {"dim", "theta", "dims", "re", "im", "visibility"})
    kind = F.string(value["kind"], f"{path}.kind", choices=STATE_KINDS)
    allowed = {
        "phi-plus": {"dim"},
        "singlet": set(),
        "psi-theta": {"theta"},
        "density": {"dims", "re", "im"},
    }[kind] | {"kind", "visibility"}
    for key in value:
        if key not in allowed:
            raise InputError(f"{path}.{key}: not a field of a {kind} state")
    if kind == "phi-plus":
        d = _dim(value.get("dim", 2), f"{path}.dim", 2)
        F.check_size("steering.joint_dim", d * d, f"{path}.dim x dim")
        psi = np.eye(d, dtype=complex).reshape(d * d) / math.sqrt(d)
        rho, dims = np.outer(psi, psi.conj()), (d, d)
    elif kind == "singlet":
        psi = np.array([0, 1, -1, 0], dtype=complex) / math.sqrt(2)
        rho, dims = np.outer(psi, psi.conj()), (2, 2)
    elif kind == "psi-theta":
        if "theta" not in value:
            raise InputError(f"{path}.theta: missing required field")
        t = F.number(value["theta"], f"{path}.theta", minimum=None)
        psi = np.array([math.cos(t), 0, 0, math.sin(t)], dtype=complex)
        rho, dims = np.outer(psi, psi.conj()), (2, 2)
    else:
        for key in ("dims", "re"):
            if key not in value:
                raise InputError(f"{path}.{key}: missing required field")
        dl = F.array(value["dims"], f"{path}.dims")
        if len(dl) != 2:
            raise InputError(f"{path}.dims: expected [dA, dB], got {len(dl)} entries")
        dims = tuple(_dim(x, f"{path}.dims[{i}]", 1) for i, x in enumerate(dl))
        n = dims[0] * dims[1]
        F.check_size("steering.joint_dim", n, f"{path}.dims")
        rho = matrix_from_json({k: value[k] for k in ("re", "im") if k in value}, path, (n, n))
        check_density(rho, path)
    if "visibility" in value:
        v = F.number(value["visibility"], f"{path}.visibility")
        if v > 1:
            raise InputError(f"{path}.visibility: must be in [0, 1], got {v:g}")
        n = dims[0] * dims[1]
        rho = v * rho + (1 - v) * np.eye(n) / n
    return rho, (int(dims[0]), int(dims[1]))


def check_density(rho: np.ndarray, path: str) -> None:
    """Hermitian, PSD and trace one, to TOL; an InputError naming the failure otherwise."""
    _check_hermitian(rho, path)
    tr = complex(np.trace(rho))
    if abs(tr - 1) > TOL:
        raise InputError(f"{path}: trace must be 1, got {tr.real:.9g}")
    lo = float(np.linalg.eigvalsh(rho)[0])
    if lo < -TOL:
        raise InputError(f"{path}: not positive semidefinite (smallest eigenvalue {lo:.3g})")


# ------------------------------------------------------------------ the instance


Instrument = tuple[str, float]  # ("projective", 1) | ("identity", 0) | ("unsharp", eta)


@dataclass(frozen=True, eq=False)
class SteeringInstance:
    quantity: str
    spec: dict[str, Any]  # the normalised JSON (dump returns it)
    rho: np.ndarray | None = None
    dims: tuple[int, int] | None = None
    alice: tuple[Measurement, ...] | None = None
    bob: tuple[Measurement, ...] | None = None
    charlie: tuple[Measurement, ...] | None = None
    expression: np.ndarray | None = None
    inequality: str | None = None
    strategies: tuple[tuple[Instrument, ...], ...] | None = None
    identity_bound: str = "trusted"  # "trusted" | "declared" (double-violation, steering)
    bell: Any = None  # formulations.steering.bell.BellFunctional (bell-npa, -nosignalling, -local)
    level: str | None = None  # NPA level (bell-npa)
    dim: int | None = None  # see-saw dimension per party (bell-npa)
    network: Any = None  # NetworkScenario (network-fnn)
    # a given assemblage σ[x][a] (robustness, weight, lhs-distance) or steering functional
    # F[x][a] (lhs-bound, quantum-max), Hermitian d_B x d_B; alice_dim d_A (quantum-max)
    assemblage: tuple[tuple[np.ndarray, ...], ...] | None = None
    functional: tuple[tuple[np.ndarray, ...], ...] | None = None
    alice_dim: int | None = None
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of trusted settings (linear steering) or Bob's settings."""
        return len(self.bob) if self.bob is not None else 0


REQUIRED = {
    "lhs-bound": {"bob"},
    "quantum-max": {"bob"},
    "steering-value": {"state", "bob"},
    "robustness": {"state", "alice"},
    "weight": {"state", "alice"},
    "lhs-distance": {"state", "alice"},
    "bell-quantum": {"expression"},
    "bell-local": set(),  # expression or bell
    "double-violation": {"state", "bob", "charlie", "inequality", "strategies"},
    "bell-npa": {"bell", "level"},
    "bell-nosignalling": {"bell"},
    "network-fnn": {"sources"},
}
OPTIONAL = {
    "lhs-bound": {"dim"},
    "quantum-max": {"dim"},
    "steering-value": {"alice"},
    "robustness": {"bob"},
    "weight": {"bob"},
    "lhs-distance": {"bob"},
    "bell-quantum": {"state", "alice", "bob"},
    "bell-local": {"expression", "bell"},
    "double-violation": {"alice", "expression", "identity_bound"},
    "bell-npa": {"dim"},
    "bell-nosignalling": set(),
    "network-fnn": {"alice", "bob", "charlie", "witness", "sequential"},
}
# the other way to state a quantity: instead of REQUIRED[q] and OPTIONAL[q] a file may give
# ALTERNATIVE[q] (and ALTERNATIVE_OPTIONAL[q]): an assemblage σ_{a|x} directly, or a steering
# functional F_{a|x} (read by read_operator_table; see the module docstring)
ALTERNATIVE = {
    "robustness": {"assemblage"},
    "weight": {"assemblage"},
    "lhs-distance": {"assemblage"},
    "lhs-bound": {"functional"},
    "quantum-max": {"functional"},
}
ALTERNATIVE_OPTIONAL = {"quantum-max": {"alice_dim"}}
CHSH = [[1.0, 1.0], [1.0, -1.0]]
MAX_SETTINGS = 12  # deterministic strategies are enumerated: keep 2^n (or Π outcomes) small


def load(data: Any) -> SteeringInstance:
    path = "instance"
    common = {"family", "version", "quantity", "name", "meta"}
    F.obj(
        data,
        path,
        {"family", "version", "quantity"},
        common
        | set().union(*OPTIONAL.values(), *REQUIRED.values())
        | set().union(*ALTERNATIVE.values(), *ALTERNATIVE_OPTIONAL.values()),
    )
    if data["family"] != FAMILY:
        raise InputError(f"{path}.family: expected {FAMILY!r}, got {data['family']!r}")
    if data["version"] != VERSION:
        raise InputError(
            f"{path}.version: this reader knows version {VERSION}, got {data['version']!r}"
        )
    q = F.string(data["quantity"], f"{path}.quantity", choices=QUANTITIES)
    if ALTERNATIVE.get(q, set()) & set(data):
        return _load_given(data, q, path)
    F.obj(
        data,
        path,
        REQUIRED[q] | {"family", "version", "quantity"},
        common | REQUIRED[q] | OPTIONAL[q],
    )
    name = F.string(data["name"], f"{path}.name") if "name" in data else ""
    meta = _read_meta(data, path)

    bell = level = bell_dim = None
    if q in ("bell-npa", "bell-nosignalling", "bell-local"):
        from optgap.formulations.steering.bell import parse_level, read_bell

        if q == "bell-local" and ("expression" in data) == ("bell" in data):
            raise InputError(f"{path}: bell-local needs exactly one of expression, bell")
        if "bell" in data:
            bell = read_bell(data["bell"], f"{path}.bell")
        if q == "bell-npa":
            level = parse_level(data["level"], f"{path}.level")
            bell_dim = F.number(
                data.get("dim", max(bell.outputs)), f"{path}.dim", integer=True, minimum=1
            )
            if bell_dim > 8:
                raise InputError(f"{path}.dim: the see-saw works in dimension <= 8, got {bell_dim}")
    rho = dims = None
    if "state" in data:
        rho, dims = read_state(data["state"], f"{path}.state")
    dim_b = dims[1] if dims else None
    dim_a = dims[0] if dims else None
    if "dim" in data:
        dim_b = _dim(data["dim"], f"{path}.dim", 2)

    def settings(key: str, dim: int | None) -> tuple[Measurement, ...] | None:
        if key not in data:
            return None
        items = F.array(data[key], f"{path}.{key}", min_len=1)
        if len(items) > MAX_SETTINGS:
            raise InputError(f"{path}.{key}: at most {MAX_SETTINGS} settings, got {len(items)}")
        d = dim if dim is not None else _guess_dim(items)
        F.check_size("steering.dim", d, f"{path}.{key}: the matrices")
        return tuple(read_measurement(m, f"{path}.{key}[{i}]", d) for i, m in enumerate(items))

    alice = settings("alice", dim_a)
    bob = settings("bob", dim_b)
    charlie = settings("charlie", dim_b)
    two_outcome = {
        "lhs-bound": ("bob",),
        "quantum-max": ("bob",),
        "steering-value": ("bob", "alice"),
        "bell-quantum": ("alice", "bob"),
        "double-violation": ("bob", "charlie", "alice"),
    }.get(q, ())
    for key, ms in (("alice", alice), ("bob", bob), ("charlie", charlie)):
        if key in two_outcome and ms is not None:
            for i, m in enumerate(ms):
                if m.outcomes != 2:
                    raise InputError(
                        f"{path}.{key}[{i}]: {q} needs two-outcome (±1) measurements, got {m.outcomes} outcomes"
                    )
    if q == "steering-value" and alice is not None and len(alice) != len(bob):
        raise InputError(
            f"{path}.alice: one setting per trusted setting ({len(bob)}), got {len(alice)}"
        )
    if q in ("robustness", "weight", "lhs-distance"):
        total = math.prod(m.outcomes for m in alice)
        if total > 4096:
            raise InputError(
                f"{path}.alice: {total} deterministic strategies is too many (max 4096)"
            )

    expression = None
    if "expression" in data or q == "double-violation":
        raw = data.get("expression", CHSH)
        expression = _real_array(raw, f"{path}.expression")
        if expression.ndim != 2:
            raise InputError(f"{path}.expression: expected a matrix [[c_xy]]")
        if max(expression.shape) > MAX_SETTINGS:
            raise InputError(f"{path}.expression: at most {MAX_SETTINGS} settings per party")
    inequality = strategies = None
    identity_bound = "trusted"
    if q == "double-violation":
        inequality = F.string(
            data["inequality"], f"{path}.inequality", choices=("steering", "bell")
        )
        if len(charlie) != len(bob):
            raise InputError(f"{path}.charlie: needs as many settings as bob ({len(bob)})")
        if inequality == "steering":
            if "expression" in data:
                raise InputError(f"{path}.expression: the linear steering inequality fixes it")
            expression = np.eye(len(bob)) / math.sqrt(len(bob))
        elif expression.shape != (expression.shape[0], len(bob)):
            raise InputError(f"{path}.expression: needs one column per bob setting ({len(bob)})")
        m_a = expression.shape[0]
        if alice is not None and len(alice) != m_a:
            raise InputError(f"{path}.alice: the expression needs {m_a} settings, got {len(alice)}")
        strategies = read_strategies(data["strategies"], f"{path}.strategies", len(bob))
        if "identity_bound" in data:
            identity_bound = F.string(
                data["identity_bound"], f"{path}.identity_bound", choices=("trusted", "declared")
            )
            if inequality != "steering":
                raise InputError(f"{path}.identity_bound: only for the steering inequality")
        for i, m in enumerate(bob):
            if m.kind == "identity":
                raise InputError(
                    f"{path}.bob[{i}]: declare the measured observable; identity is a strategy"
                )
    if q in ("bell-quantum",) and any(k in data for k in ("state", "alice", "bob")):
        missing = [k for k in ("state", "alice", "bob") if k not in data]
        if missing:
            raise InputError(f"{path}.{missing[0]}: a given strategy needs state, alice and bob")
        if expression.shape != (len(alice), len(bob)):
            raise InputError(
                f"{path}.expression: shape {expression.shape} does not match the strategy's settings"
            )
    if dims is not None:
        for key, ms, d in (("alice", alice, dims[0]), ("bob", bob, dims[1])):
            if ms is not None and ms[0].dim != d:
                raise InputError(
                    f"{path}.{key}: dimension {ms[0].dim} does not match the state's {d}"
                )
    if bob is not None and len({m.dim for m in bob}) > 1:
        raise InputError(f"{path}.bob: all settings must act on the same dimension")

    network = read_network(data, path, alice, bob, charlie) if q == "network-fnn" else None
    spec = {k: data[k] for k in data}
    return SteeringInstance(
        quantity=q,
        spec=spec,
        rho=rho,
        dims=dims,
        alice=alice,
        bob=bob,
        charlie=charlie,
        expression=expression,
        inequality=inequality,
        strategies=strategies,
        identity_bound=identity_bound,
        bell=bell,
        level=level,
        dim=bell_dim,
        network=network,
        name=name,
        meta=dict(meta),
    )


def _read_meta(data: dict, path: str) -> dict:
    """The free-form meta object (a non-object is a clean error, not a TypeError)."""
    if "meta" not in data:
        return {}
    m = data["meta"]
    return F.obj(m, f"{path}.meta", set(), set(m) if isinstance(m, dict) else set())


def _guess_dim(items: list) -> int:
    """Dimension of settings given without a state: qubit unless a matrix says otherwise."""
    for m in items:
        if isinstance(m, dict):
            for key in ("observable",):
                if isinstance(m.get(key), dict) and isinstance(m[key].get("re"), list):
                    return len(m[key]["re"])
            if isinstance(m.get("povm"), list) and m["povm"] and isinstance(m["povm"][0], dict):
                re = m["povm"][0].get("re")
                if isinstance(re, list):
                    return len(re)
    return 2


def read_strategies(value: Any, path: str, n: int) -> tuple[tuple[Instrument, ...], ...]:
    items = F.array(value, path, min_len=1)
    if len(items) > 64:
        raise InputError(f"{path}: at most 64 pure strategies, got {len(items)}")
    out = []
    for i, s in enumerate(items):
        F.array(s, f"{path}[{i}]")
        if len(s) != n:
            raise InputError(f"{path}[{i}]: one instrument per bob setting ({n}), got {len(s)}")
        row = []
        for y, ins in enumerate(s):
            p = f"{path}[{i}][{y}]"
            if isinstance(ins, dict):
                F.obj(ins, p, {"unsharp"})
                eta = F.number(ins["unsharp"], f"{p}.unsharp")
                if eta > 1:
                    raise InputError(f"{p}.unsharp: sharpness must be in [0, 1], got {eta:g}")
                row.append(("unsharp", eta))
            else:
                kind = F.string(ins, p, choices=("projective", "identity"))
                row.append((kind, 1.0 if kind == "projective" else 0.0))
        out.append(tuple(row))
    return tuple(out)


def dump(inst: SteeringInstance) -> dict[str, Any]:
    return dict(inst.spec)


def describe(inst: SteeringInstance) -> str:
    parts = [inst.quantity]
    state = inst.spec.get("state")
    if state:
        s = state["kind"]
        if "theta" in state:
            s += f"(θ={state['theta']:.4g})"
        if "visibility" in state:
            s += f" v={state['visibility']:.4g}"
        parts.append(f"state {s} dims {inst.dims[0]}x{inst.dims[1]}")
    for key in ("alice", "bob", "charlie"):
        ms = getattr(inst, key)
        if ms is not None:
            parts.append(f"{len(ms)} {key} settings")
    if inst.bell is not None:
        b = inst.bell
        parts.append(f"Bell functional {b.inputs[0]}{b.inputs[1]}{b.outputs[0]}{b.outputs[1]}")
        if inst.level:
            parts.append(f"NPA level {inst.level}, see-saw dimension {inst.dim}")
    if inst.expression is not None and inst.quantity != "double-violation":
        parts.append(f"expression {inst.expression.shape[0]}x{inst.expression.shape[1]}")
    if inst.strategies is not None:
        parts.append(f"{inst.inequality}, {len(inst.strategies)} Bob strategies")
    if inst.network is not None:
        parts.append(describe_network(inst))
    for key in ("assemblage", "functional"):
        table = getattr(inst, key)
        if table is not None:
            outs = "x".join(str(len(r)) for r in table)
            parts.append(
                f"given {key}: {len(table)} settings, outcomes {outs}, d_B {len(table[0][0])}"
            )
    if inst.alice_dim is not None:
        parts.append(f"Alice's dimension {inst.alice_dim}")
    return (inst.name + ": " if inst.name else "") + ", ".join(parts)


# ------------------------------------------------------------------ given assemblages, functionals

F.define_limit(
    "steering.strategies", 65536, "deterministic strategies Π_x o_x of an assemblage or functional"
)
# Σ_a σ_{a|x} may differ between settings, and tr ρ_B from 1, by this much (as TOL for states)
ASSEMBLAGE_TOL = TOL


def read_operator_table(value: Any, path: str, kind: str) -> tuple[tuple[np.ndarray, ...], ...]:
    """An assemblage σ[x][a] (kind "assemblage") or a steering functional F[x][a] ("functional"):
    one row per setting x (at most MAX_SETTINGS), one Hermitian d_B x d_B matrix {re, im} per
    outcome a, every matrix of one dimension. An assemblage must also be positive (each σ_{a|x}
    PSD), no-signalling (Σ_a σ_{a|x} the same ρ_B for every x) and normalised (tr ρ_B = 1), each
    to ASSEMBLAGE_TOL; the count of deterministic strategies Π_x o_x is checked against the limit
    steering.strategies before anything is enumerated."""
    rows = F.array(value, path, min_len=1)
    if len(rows) > MAX_SETTINGS:
        raise InputError(f"{path}: at most {MAX_SETTINGS} settings, got {len(rows)}")
    for x, row in enumerate(rows):
        F.array(row, f"{path}[{x}]", min_len=1)
        F.check_size("steering.outcomes", len(row), f"{path}[{x}]")
    F.check_size("steering.strategies", math.prod(len(r) for r in rows), path)
    first = rows[0][0]
    d = None
    if isinstance(first, dict) and isinstance(first.get("re"), list):
        d = len(first["re"])
        F.check_size("steering.dim", d, f"{path}[0][0]")
    out = []
    for x, row in enumerate(rows):
        mats = []
        for a, m in enumerate(row):
            p = f"{path}[{x}][{a}]"
            mat = matrix_from_json(m, p, None if d is None else (d, d))
            _check_hermitian(mat, p)
            d = mat.shape[0]
            F.check_size("steering.dim", d, p)
            mat = (mat + mat.conj().T) / 2
            if kind == "assemblage":
                lo = float(np.linalg.eigvalsh(mat)[0])
                if lo < -ASSEMBLAGE_TOL:
                    raise InputError(f"{p}: not positive semidefinite (λ_min = {lo:.3g})")
            mats.append(mat)
        out.append(tuple(mats))
    if kind == "assemblage":
        rho_b = sum(out[0])
        for x in range(1, len(out)):
            err = float(np.abs(sum(out[x]) - rho_b).max())
            if err > ASSEMBLAGE_TOL:
                raise InputError(
                    f"{path}[{x}]: signalling: Σ_a σ_(a|{x}) differs from Σ_a σ_(a|0) by {err:.3g}"
                )
        tr = float(np.real(np.trace(rho_b)))
        if abs(tr - 1) > ASSEMBLAGE_TOL:
            raise InputError(f"{path}: not normalised: tr Σ_a σ_(a|x) = {tr:.9g}, must be 1")
    return tuple(out)


def _load_given(data: dict, q: str, path: str) -> SteeringInstance:
    """The quantity stated on a given assemblage or functional (ALTERNATIVE[q])."""
    (key,) = ALTERNATIVE[q]
    allowed = {"family", "version", "quantity", "name", "meta", key} | ALTERNATIVE_OPTIONAL.get(
        q, set()
    )
    for k in data:
        if k not in allowed:
            raise InputError(
                f"{path}.{k}: not a field of {q} on a given {key} "
                f"(expected one of: {', '.join(sorted(allowed))})"
            )
    name = F.string(data["name"], f"{path}.name") if "name" in data else ""
    meta = _read_meta(data, path)
    table = read_operator_table(data[key], f"{path}.{key}", key)
    d_b = table[0][0].shape[0]
    alice_dim = None
    if q == "quantum-max":
        alice_dim = _dim(data.get("alice_dim", d_b), f"{path}.alice_dim", 1)
        F.check_size("steering.joint_dim", alice_dim * d_b, f"{path}.alice_dim x d_B")
    return SteeringInstance(
        quantity=q,
        spec={k: data[k] for k in data},
        assemblage=table if key == "assemblage" else None,
        functional=table if key == "functional" else None,
        alice_dim=alice_dim,
        name=name,
        meta=dict(meta),
    )


# ------------------------------------------------------------------ networks (network-fnn)

WITNESSES = ("cn", "nc", "fnn")


@dataclass(frozen=True, eq=False)
class NetworkScenario:
    """The bilocal network A - B - C: sources ρ_{AB1}, ρ_{B2C} (two qubits each, visibility v
    mixing with white noise), Bob's three-outcome measurement on B1 B2 and the witness wanted
    (W_cn, W_nc, or "fnn": their minimum). Alice's and Charlie's two ±1 settings are the
    instance's ``alice`` / ``charlie`` (None: the methods choose them)."""

    rho_ab: np.ndarray  # on (A, B1), with the visibility applied
    rho_bc: np.ndarray  # on (B2, C)
    base_ab: np.ndarray  # the same states before the visibility (the critical visibility)
    base_bc: np.ndarray
    v_ab: float
    v_bc: float
    bob: Measurement  # effects (E0, E1, E2) on B1 ⊗ B2: B0 = E0 + E1 - E2, B1 = E0 - E1
    witness: str  # "cn" | "nc" | "fnn"
    sequential: SequentialCharlie | None = None


@dataclass(frozen=True, eq=False)
class SequentialCharlie:
    """Charlie1 (the instance's ``charlie``, e.g. unsharp) passes C's qubit, Lüders-updated, to
    Charlie2: "passive" (Charlie2's input independent of Charlie1's) or "cooperating" (Charlie2
    measures Charlie1's setting). ``charlie2``: his two ±1 settings (None: chosen by the methods)."""

    mode: str
    charlie2: tuple[Measurement, ...] | None


def partial_bsm() -> Measurement:
    """{Φ+, Φ-, Ψ+ + Ψ-} on B1 ⊗ B2 (basis |00>, |01>, |10>, |11>, B1 first)."""
    phi_p = np.zeros((4, 4), dtype=complex)
    phi_p[np.ix_([0, 3], [0, 3])] = [[0.5, 0.5], [0.5, 0.5]]
    phi_m = np.zeros((4, 4), dtype=complex)
    phi_m[np.ix_([0, 3], [0, 3])] = [[0.5, -0.5], [-0.5, 0.5]]
    psi = np.diag([0, 1, 1, 0]).astype(complex)
    return Measurement((phi_p, phi_m, psi), (0.0, 1.0, 2.0), "projective", {"bsm": "partial"})


def read_network(
    data: dict,
    path: str,
    alice: tuple[Measurement, ...] | None,
    bob: tuple[Measurement, ...] | None,
    charlie: tuple[Measurement, ...] | None,
) -> NetworkScenario:
    """The network-fnn fields: ``sources`` {"ab": state, "bc": state} (two-qubit states as the
    ``state`` field, visibility included), optional ``alice`` / ``charlie`` (two ±1 qubit
    settings each), ``bob`` (one three-outcome POVM on B1 ⊗ B2, default the partial BSM) and
    ``witness`` ("cn" | "nc" | "fnn", default "fnn") and ``sequential`` {"mode": "passive" |
    "cooperating", "charlie2": [2 settings] (optional)}, which needs ``charlie`` (Charlie1)."""
    src = F.obj(data["sources"], f"{path}.sources", {"ab", "bc"})
    states = {}
    for key in ("ab", "bc"):
        p = f"{path}.sources.{key}"
        rho, dims = read_state(src[key], p)
        if dims != (2, 2):
            raise InputError(f"{p}: a network source is a two-qubit state, got dims {dims}")
        spec = src[key]
        base = rho
        v = 1.0
        if "visibility" in spec:
            base, _ = read_state({k: x for k, x in spec.items() if k != "visibility"}, p)
            v = float(spec["visibility"])
        states[key] = (rho, base, v)
    for key, ms in (("alice", alice), ("charlie", charlie)):
        if ms is None:
            continue
        if len(ms) != 2:
            raise InputError(f"{path}.{key}: the network witnesses need 2 settings, got {len(ms)}")
        for i, m in enumerate(ms):
            if m.dim != 2 or m.outcomes != 2:
                raise InputError(
                    f"{path}.{key}[{i}]: a ±1 qubit measurement is needed "
                    f"(got {m.outcomes} outcomes on d={m.dim})"
                )
    if bob is None:
        b = partial_bsm()
    else:
        if len(bob) != 1:
            raise InputError(f"{path}.bob: the network has one Bob measurement, got {len(bob)}")
        b = bob[0]
        if b.dim != 4 or b.outcomes != 3:
            raise InputError(
                f"{path}.bob[0]: a three-outcome POVM on B1 ⊗ B2 (4x4 effects) is needed "
                f"(got {b.outcomes} outcomes on d={b.dim})"
            )
    witness = "fnn"
    if "witness" in data:
        witness = F.string(data["witness"], f"{path}.witness", choices=WITNESSES)
    seq = None
    if "sequential" in data:
        p = f"{path}.sequential"
        spec = F.obj(data["sequential"], p, set(), {"mode", "charlie2"})
        if charlie is None:
            raise InputError(f"{p}: needs charlie, Charlie1's measurements (e.g. unsharp)")
        mode = "passive"
        if "mode" in spec:
            mode = F.string(spec["mode"], f"{p}.mode", choices=("passive", "cooperating"))
        c2 = None
        if "charlie2" in spec:
            items = F.array(spec["charlie2"], f"{p}.charlie2")
            if len(items) != 2:
                raise InputError(
                    f"{p}.charlie2: the network witnesses need 2 settings, got {len(items)}"
                )
            c2 = tuple(read_measurement(m, f"{p}.charlie2[{i}]", 2) for i, m in enumerate(items))
            for i, m in enumerate(c2):
                if m.outcomes != 2:
                    raise InputError(f"{p}.charlie2[{i}]: a ±1 qubit measurement is needed")
        seq = SequentialCharlie(mode, c2)
    (rab, bab, vab), (rbc, bbc, vbc) = states["ab"], states["bc"]
    return NetworkScenario(rab, rbc, bab, bbc, vab, vbc, b, witness, seq)


def describe_network(inst: SteeringInstance) -> str:
    n = inst.network
    w = {"cn": "W_cn", "nc": "W_nc", "fnn": "min(W_cn, W_nc)"}[n.witness]
    kinds = [inst.spec["sources"][k]["kind"] for k in ("ab", "bc")]
    free = [k for k in ("alice", "charlie") if getattr(inst, k) is None]
    if n.sequential is not None and n.sequential.charlie2 is None:
        free.append("charlie2")
    parts = [
        f"sources {kinds[0]} v={n.v_ab:.4g}, {kinds[1]} v={n.v_bc:.4g}",
        f"witness {w}",
        "Bob " + ("partial BSM" if "bob" not in inst.spec else "given POVM"),
    ]
    if n.sequential is not None:
        parts.append(f"sequential Charlie ({n.sequential.mode})")
    if free:
        parts.append(" and ".join(free) + " free")
    return ", ".join(parts)
