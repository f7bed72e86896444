"""F5 Bell functionals in full: reading, local and no-signalling bounds, and the NPA moment
structure used by the `sdp` model (the evaluator re-derives all of it on its own).

A functional is  β(p) = c0 + Σ_{x,y,a,b} C[x][y][a][b] p(a,b|x,y)  over behaviours p of a
scenario with inputs (mA, mB) and outputs (oA, oB). Files give it in one of three forms:

- ``probabilities``: C itself, [x][y][a][b];
- ``collins_gisin``: {"A": [[cA(a|x)]], "B": [[cB(b|y)]], "AB": [x][y][a][b]} with a < oA - 1,
  b < oB - 1 (the last outcome dropped): β = c0 + Σ cA pA(a|x) + Σ cB pB(b|y) + Σ cAB p(ab|xy);
- ``correlators`` (two outcomes, values +1 for outcome 0, -1 for outcome 1):
  {"AB": [[c_xy]], "A": [c_x], "B": [c_y]}: β = c0 + Σ c_xy <A_x B_y> + Σ c_x <A_x> + Σ c_y <B_y>.

All three are turned into (C, c0) here; marginal terms go on y = 0 (resp. x = 0), which is
exact on no-signalling behaviours (the only ones any bound here ranges over).

Local bound: max over Alice's deterministic strategies a(x) (oA^mA of them) of
Σ_y max_b Σ_x C[x][y][a(x)][b] (Bob's best response is computed per y); refused past
MAX_LOCAL = 2^20 strategies. No-signalling bound: the LP over behaviours (sdp.py).

NPA (Navascués, Pironio, Acín, NJP 10, 073013 (2008)): projectors E_{a|x} (a < oA - 1) and
F_{b|y} (b < oB - 1), words over them; a word is reduced by [E, F] = 0 (Alice's letters first),
E² = E and E_{a|x} E_{a'|x} = 0 (a ≠ a'); a moment <w> is identified with <w†>* (= <w†> in the
real relaxation, which loses nothing for real functionals: Γ and its conjugate are both
feasible with the same value). Rows: level k = words of length ≤ k, "1+AB" = {1} ∪ A ∪ B ∪ AB.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from optgap.solvers import fields as F
from optgap.solvers.errors import InputError

MAX_LOCAL = 2**20  # deterministic strategies enumerated for a local bound
MAX_INPUTS = 12
MAX_OUTPUTS = 8
MAX_LEVEL = 4
MAX_ROWS = 400  # moment-matrix rows (an SDP of this size is already minutes)
LEVELS = ("1", "1+AB", "2", "3", "4")


@dataclass(frozen=True, eq=False)
class BellFunctional:
    inputs: tuple[int, int]
    outputs: tuple[int, int]
    coef: np.ndarray  # C[x][y][a][b]
    constant: float

    def value(self, p: np.ndarray) -> float:
        return float(self.constant + np.sum(self.coef * p))


def _tensor(value: Any, path: str, shape: tuple[int, ...]) -> np.ndarray:
    def read(v: Any, p: str, depth: int) -> Any:
        if depth == len(shape):
            return F.number(v, p, minimum=None)
        F.array(v, p)
        if len(v) != shape[depth]:
            raise InputError(f"{p}: expected {shape[depth]} entries, got {len(v)}")
        return [read(x, f"{p}[{i}]", depth + 1) for i, x in enumerate(v)]

    return np.array(read(value, path, 0), dtype=float).reshape(shape)


def read_bell(value: Any, path: str) -> BellFunctional:
    forms = ("probabilities", "collins_gisin", "correlators")
    F.obj(value, path, {"inputs"}, {"outputs", "constant", *forms})
    given = [f for f in forms if f in value]
    if len(given) != 1:
        raise InputError(f"{path}: give exactly one of {', '.join(forms)}")
    ins = F.array(value["inputs"], f"{path}.inputs")
    if len(ins) != 2:
        raise InputError(f"{path}.inputs: expected [mA, mB]")
    m = tuple(
        F.number(v, f"{path}.inputs[{i}]", integer=True, minimum=1) for i, v in enumerate(ins)
    )
    outs = F.array(value.get("outputs", [2, 2]), f"{path}.outputs")
    if len(outs) != 2:
        raise InputError(f"{path}.outputs: expected [oA, oB]")
    o = tuple(
        F.number(v, f"{path}.outputs[{i}]", integer=True, minimum=2) for i, v in enumerate(outs)
    )
    if max(m) > MAX_INPUTS or max(o) > MAX_OUTPUTS:
        raise InputError(f"{path}: at most {MAX_INPUTS} inputs and {MAX_OUTPUTS} outputs a party")
    c0 = F.number(value.get("constant", 0.0), f"{path}.constant", minimum=None)
    (ma, mb), (oa, ob) = m, o
    form = given[0]
    p = f"{path}.{form}"
    if form == "probabilities":
        c = _tensor(value[form], p, (ma, mb, oa, ob))
    elif form == "collins_gisin":
        F.obj(value[form], p, set(), {"A", "B", "AB"})
        cg = value[form]
        ca = _tensor(cg.get("A", [[0.0] * (oa - 1)] * ma), f"{p}.A", (ma, oa - 1))
        cb = _tensor(cg.get("B", [[0.0] * (ob - 1)] * mb), f"{p}.B", (mb, ob - 1))
        cab = _tensor(
            cg.get("AB", np.zeros((ma, mb, oa - 1, ob - 1)).tolist()),
            f"{p}.AB",
            (ma, mb, oa - 1, ob - 1),
        )
        c = np.zeros((ma, mb, oa, ob))
        c[:, :, : oa - 1, : ob - 1] += cab
        for x in range(ma):
            c[x, 0, : oa - 1, :] += ca[x][:, None]  # pA(a|x) = Σ_b p(ab|x,0)
        for y in range(mb):
            c[0, y, :, : ob - 1] += cb[y][None, :]
    else:
        if o != (2, 2):
            raise InputError(f"{p}: correlators need two outcomes per party")
        F.obj(value[form], p, set(), {"A", "B", "AB"})
        cr = value[form]
        cab = _tensor(cr.get("AB", [[0.0] * mb] * ma), f"{p}.AB", (ma, mb))
        ca = _tensor(cr.get("A", [0.0] * ma), f"{p}.A", (ma,))
        cb = _tensor(cr.get("B", [0.0] * mb), f"{p}.B", (mb,))
        s = np.array([1.0, -1.0])
        c = cab[:, :, None, None] * np.outer(s, s)[None, None]
        c[:, 0] += ca[:, None, None] * s[None, :, None]
        c[0, :] += cb[:, None, None] * s[None, None, :]
    return BellFunctional((ma, mb), (oa, ob), c, c0)


def local_strategy_count(bf: BellFunctional) -> int:
    return bf.outputs[0] ** bf.inputs[0]


def local_bound(bf: BellFunctional) -> tuple[float, tuple[int, ...], tuple[int, ...]]:
    """max over deterministic (a(x), b(y)) of β; Alice enumerated, Bob's best response per y."""
    n = local_strategy_count(bf)
    if n > MAX_LOCAL:
        raise InputError(
            f"local bound: {n} deterministic strategies of Alice exceed the limit {MAX_LOCAL}"
        )
    (ma, mb), (oa, _) = bf.inputs, bf.outputs
    best = (-math.inf, (), ())
    for a in itertools.product(range(oa), repeat=ma):
        # g[y][b] = Σ_x C[x][y][a(x)][b]
        g = sum(bf.coef[x, :, a[x], :] for x in range(ma))
        b = tuple(int(i) for i in np.argmax(g, axis=1))
        v = bf.constant + float(sum(g[y, b[y]] for y in range(mb)))
        if v > best[0] + 1e-12:
            best = (v, a, b)
    return best


# ------------------------------------------------------------------ NPA words

Letter = tuple[int, int, int]  # (party 0 = A | 1 = B, input, outcome < o - 1)
Word = tuple[Letter, ...]
ZERO = None  # a word that reduces to the zero operator


def letters(bf: BellFunctional, party: int) -> list[Letter]:
    m, o = bf.inputs[party], bf.outputs[party]
    return [(party, x, a) for x in range(m) for a in range(o - 1)]


def reduce(word: Word) -> Word | None:
    """Normal form: Alice's letters then Bob's (they commute), E E = E, E_a E_a' = 0."""
    parts = []
    for party in (0, 1):
        out: list[Letter] = []
        for lt in (w for w in word if w[0] == party):
            if out and out[-1][1] == lt[1]:
                if out[-1][2] == lt[2]:
                    continue  # projector: E E = E
                return ZERO  # orthogonal outcomes of one input
            out.append(lt)
        parts.append(tuple(out))
    return parts[0] + parts[1]


def adjoint(word: Word) -> Word:
    a = tuple(w for w in word if w[0] == 0)[::-1]
    b = tuple(w for w in word if w[0] == 1)[::-1]
    return a + b


def canonical(word: Word) -> Word | None:
    """The moment's key: the smaller of the reduced word and its adjoint (<w> = <w†>)."""
    r = reduce(word)
    if r is ZERO:
        return ZERO
    return min(r, adjoint(r))


def rows(bf: BellFunctional, level: str) -> list[Word]:
    la, lb = letters(bf, 0), letters(bf, 1)
    if level == "1+AB":
        cand = [(), *[(a,) for a in la], *[(b,) for b in lb], *[(a, b) for a in la for b in lb]]
    else:
        k = int(level)
        cand = [()]
        for n in range(1, k + 1):
            cand += [tuple(w) for w in itertools.product(la + lb, repeat=n)]
    seen, out = set(), []
    for w in cand:
        r = reduce(w)
        if r is ZERO or r in seen:
            continue
        seen.add(r)
        out.append(r)
    return out


def moment_structure(bf: BellFunctional, level: str):
    """(rows, keys, index): index[i][j] = position of canonical(u_i† u_j) in keys, or -1 for 0;
    keys[0] = () (the normalisation)."""
    rs = rows(bf, level)
    if len(rs) > MAX_ROWS:
        raise InputError(f"NPA level {level}: {len(rs)} rows exceed the limit {MAX_ROWS}")
    keys: dict[Word, int] = {(): 0}
    idx = np.full((len(rs), len(rs)), -1, dtype=int)
    for i, u in enumerate(rs):
        for j in range(i, len(rs)):
            k = canonical(adjoint(u) + rs[j])
            if k is ZERO:
                continue
            idx[i, j] = idx[j, i] = keys.setdefault(k, len(keys))
    return rs, list(keys), idx


def cg_objective(bf: BellFunctional, keys: list[Word]) -> np.ndarray:
    """Coefficients of β on the moments keys (key () carries the constant): p(ab|xy) written in
    the Collins-Gisin moments <E_a|x>, <F_b|y>, <E_a|x F_b|y>, the last outcomes eliminated."""
    pos = {k: i for i, k in enumerate(keys)}
    out = np.zeros(len(keys))
    out[0] = bf.constant
    (ma, mb), (oa, ob) = bf.inputs, bf.outputs

    def add(word: Word, c: float) -> None:
        out[pos[canonical(word)]] += c

    for x, y, a, b in itertools.product(range(ma), range(mb), range(oa), range(ob)):
        c = bf.coef[x, y, a, b]
        if c == 0:
            continue
        # p(ab|xy) = <P_a P_b> with P_last = 1 - Σ_{a' < last} E_a'
        ta = [((0, x, a),)] if a < oa - 1 else [()] + [((0, x, k),) for k in range(oa - 1)]
        sa = [1.0] if a < oa - 1 else [1.0] + [-1.0] * (oa - 1)
        tb = [((1, y, b),)] if b < ob - 1 else [()] + [((1, y, k),) for k in range(ob - 1)]
        sb = [1.0] if b < ob - 1 else [1.0] + [-1.0] * (ob - 1)
        for wa, ca in zip(ta, sa, strict=True):
            for wb, cb in zip(tb, sb, strict=True):
                add(wa + wb, c * ca * cb)
    return out


def parse_level(value: Any, path: str) -> str:
    if isinstance(value, bool):
        raise InputError(f'{path}: expected 1, 2, 3, 4 or "1+AB"')
    text = str(value) if isinstance(value, int | str) else None
    if text not in LEVELS:
        raise InputError(f'{path}: expected 1, 2, 3, 4 or "1+AB", got {value!r}')
    return text


# ------------------------------------------------------------------ Collins-Gisin coordinates


def cg_size(bf: BellFunctional) -> int:
    (ma, mb), (oa, ob) = bf.inputs, bf.outputs
    return ma * (oa - 1) + mb * (ob - 1) + ma * mb * (oa - 1) * (ob - 1)


def cg_affine(bf: BellFunctional) -> tuple[np.ndarray, np.ndarray]:
    """p = M q + m0 as arrays (M: [x,y,a,b] x CG, m0: [x,y,a,b]); q = (pA, pB, pAB) flattened."""
    (ma, mb), (oa, ob) = bf.inputs, bf.outputs
    n = cg_size(bf)
    ia = lambda x, a: x * (oa - 1) + a  # noqa: E731
    ib = lambda y, b: ma * (oa - 1) + y * (ob - 1) + b  # noqa: E731

    def iab(x, y, a, b):
        return ma * (oa - 1) + mb * (ob - 1) + ((x * mb + y) * (oa - 1) + a) * (ob - 1) + b

    m = np.zeros((ma, mb, oa, ob, n))
    m0 = np.zeros((ma, mb, oa, ob))
    for x, y, a, b in itertools.product(range(ma), range(mb), range(oa), range(ob)):
        la, lb = a == oa - 1, b == ob - 1
        if not la and not lb:
            m[x, y, a, b, iab(x, y, a, b)] = 1
        elif not la:  # pA(a|x) - Σ_b' p(ab'|xy)
            m[x, y, a, b, ia(x, a)] = 1
            for k in range(ob - 1):
                m[x, y, a, b, iab(x, y, a, k)] -= 1
        elif not lb:
            m[x, y, a, b, ib(y, b)] = 1
            for k in range(oa - 1):
                m[x, y, a, b, iab(x, y, k, b)] -= 1
        else:  # 1 - Σ pA - Σ pB + Σ pAB
            m0[x, y, a, b] = 1
            for k in range(oa - 1):
                m[x, y, a, b, ia(x, k)] -= 1
            for k in range(ob - 1):
                m[x, y, a, b, ib(y, k)] -= 1
            for k in range(oa - 1):
                for j in range(ob - 1):
                    m[x, y, a, b, iab(x, y, k, j)] += 1
    return m, m0


def deterministic_moments(bf: BellFunctional, keys: list[Word], limit: int = 4096, seed: int = 0):
    """Moments of the uniform mixture of deterministic strategies (all, or `limit` sampled):
    a PSD point of every NPA level, used to pull an SDP point strictly inside."""
    (ma, mb), (oa, ob) = bf.inputs, bf.outputs
    total = oa**ma * ob**mb
    rng = np.random.default_rng(seed)
    if total <= limit:
        strategies = [
            (s[:ma], s[ma:]) for s in itertools.product(*([range(oa)] * ma + [range(ob)] * mb))
        ]
    else:
        strategies = [
            (tuple(rng.integers(0, oa, ma)), tuple(rng.integers(0, ob, mb))) for _ in range(limit)
        ]
    y = np.zeros(len(keys))
    for a, b in strategies:
        resp = (a, b)
        for i, w in enumerate(keys):
            y[i] += all(resp[p][x] == o for p, x, o in w)
    return y / len(strategies)


def interior_moments(bf: BellFunctional, keys: list[Word], n_rows: int, seed: int = 0):
    """Moments of a product strategy with maximally mixed states and random real projective
    measurements of dimension d (d² > rows, so the row operators are generically independent):
    a positive definite point of the NPA level, to pull an SDP point strictly inside.
    <Π_A Π_B> = tr(Π_A)/d · tr(Π_B)/d."""
    rng = np.random.default_rng(seed)
    d = min(16, max(bf.outputs) + int(math.isqrt(n_rows)) + 1)

    def measurements(m: int, o: int):
        out = []
        for _ in range(m):
            q, _ = np.linalg.qr(rng.normal(size=(d, d)))
            groups = np.array_split(np.arange(d), o)
            out.append([q[:, g] @ q[:, g].T for g in groups])
        return out

    ops = (measurements(bf.inputs[0], bf.outputs[0]), measurements(bf.inputs[1], bf.outputs[1]))
    y = np.zeros(len(keys))
    for i, w in enumerate(keys):
        val = 1.0
        for party in (0, 1):
            prod = np.eye(d)
            for p, x, a in w:
                if p == party:
                    prod = prod @ ops[party][x][a]
            val *= np.trace(prod) / d
        y[i] = val
    return y
