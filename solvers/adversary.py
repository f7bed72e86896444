"""`optgap adversary`: search the instance space for instances where a heuristic is far from optimal.

Simulated annealing over instance files, for any family, in the spirit of PISA (saga's adversarial
instance search for list schedulers). A move is one of

- *regenerate*: a fresh instance from the family generator at a random size in [min, max] and a
  random seed (moves between regions of generator parameters);
- *scale*: multiply one numeric field by exp(N(0, 0.5)) (integers move by at least 1; fields
  that must stay integral stay integral);
- *drop*: remove one element of a list field (an edge, an operator, a stage, ...).

A candidate is kept only if the family's loader accepts it (so every move stays a valid instance),
the exact method proves its optimum (accepted by the evaluator, its certificate checked by
solvers/verdict.py), and the evaluator accepts the heuristic's answer. The score
is 1 + the relative gap (heuristic / optimum when minimising positive values), and the search
maximises it with the Metropolis rule on log-ratios and geometric cooling.
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.fields import refuse_nonempty_dir, write_json_new
from optgap.solvers.result import SolveOptions, Status, gap_to
from optgap.solvers.verdict import check

_FIXED = {"family", "version"}


@dataclass
class Found:
    ratio: float
    heuristic: float
    optimum: float
    iteration: int
    data: dict[str, Any]


def ratio_of(heuristic: float, optimum: float, sense: str) -> float:
    """1 + the heuristic's relative gap to the optimum: heuristic / optimum when minimising
    positive values; defined through the gap so that maximised quantities that may be negative
    (a steering violation) are scored the same way."""
    return 1.0 + gap_to(heuristic, optimum, sense)


def score(
    family_id: str, method: str, data: dict, options: SolveOptions, exact: str
) -> Found | None:
    """(ratio, heuristic, optimum) of one instance, or None if it does not qualify."""
    fam = registry.family(family_id)
    try:
        inst = fam.load(copy.deepcopy(data))
    except InputError:
        return None
    # the optimum must be proven and accepted by the evaluator (its certificate, if any, checked)
    opt = check(fam, inst, registry.solve(family_id, exact, inst, options), options)
    if not opt.accepted or opt.result.status != Status.OPTIMAL or opt.result.objective is None:
        return None
    h = check(fam, inst, registry.solve(family_id, method, inst, options), options)
    if not h.accepted or h.result.objective is None:
        return None
    opt, h = opt.result, h.result
    return Found(
        ratio_of(h.objective, opt.objective, fam.sense), h.objective, opt.objective, 0, data
    )


def _leaves(x: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    out = []
    if isinstance(x, dict):
        for k, v in x.items():
            if k not in _FIXED:
                out += _leaves(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _leaves(v, path + (i,))
    elif isinstance(x, int | float) and not isinstance(x, bool):
        out.append((path, x))
    return out


def _lists(x: Any, path: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(x, dict):
        for k, v in x.items():
            if k not in _FIXED:
                out += _lists(v, path + (k,))
    elif isinstance(x, list):
        if len(x) > 1:
            out.append(path)
        for i, v in enumerate(x):
            out += _lists(v, path + (i,))
    return out


def _at(x: Any, path: tuple) -> Any:
    for p in path:
        x = x[p]
    return x


def mutate(data: dict, rng: random.Random) -> dict:
    """One scale or drop move on a copy of an instance's JSON."""
    new = copy.deepcopy(data)
    lists = _lists(new)
    if lists and rng.random() < 0.25:
        path = rng.choice(lists)
        seq = _at(new, path)
        seq.pop(rng.randrange(len(seq)))
        return new
    leaves = _leaves(new)
    if not leaves:
        return new
    path, value = rng.choice(leaves)
    factor = math.exp(rng.gauss(0.0, 0.5))
    if isinstance(value, int):
        moved = round(value * factor)
        if moved == value:
            moved = value + rng.choice((-1, 1))
    else:
        moved = value * factor if value != 0 else rng.expovariate(1.0)
    _at(new, path[:-1])[path[-1]] = moved
    return new


def search(
    family_id: str,
    method: str,
    *,
    sizes: tuple[int, int] = (6, 12),
    iterations: int = 200,
    keep: int = 5,
    seed: int = 0,
    options: SolveOptions | None = None,
    exact: str = "exact",
    progress: bool = True,
) -> list[Found]:
    """Simulated annealing; returns the `keep` worst distinct instances found, worst first."""
    fam = registry.family(family_id)
    m = registry.method(family_id, method)
    if m.kind != "heuristic":
        raise InputError(f"adversary: {method!r} is an exact method; give a heuristic")
    ex = registry.method(family_id, exact)
    if ex.kind != "exact":
        raise InputError(f"adversary: --exact {exact!r} is not an exact method")
    lo, hi = sizes
    if not 1 <= lo <= hi:
        raise InputError(f"adversary: sizes {lo}..{hi}: need 1 <= min <= max")
    options = options or SolveOptions(time_limit_s=10.0)
    options = replace(options, objective=options.objective or fam.objectives[0])
    rng = random.Random(seed)

    def fresh() -> dict:
        return fam.dump(fam.generate(rng.randint(lo, hi), rng.randrange(2**31)))

    current = None
    for _ in range(50):
        current = score(family_id, method, fresh(), options, exact)
        if current is not None:
            break
    else:
        raise InputError(
            f"adversary: no generated {family_id} instance of size {lo}..{hi} was solved to proven "
            f"optimality with a feasible {method!r} answer in 50 tries; try smaller sizes or a "
            "longer --time-limit"
        )
    # the starting instance counts too: a search whose every move is rejected still reports it
    best: dict[str, Found] = {json.dumps(current.data, sort_keys=True): current}
    t0, t_end = 0.3, 0.01  # temperature on log-ratios: early moves may lose ~30 %

    from optgap.solvers.progress import bar as progress_bar

    bar = progress_bar(iterations, "adversary", "iteration", show=progress)
    for it in range(iterations):
        bar.update(1)
        temp = t0 * (t_end / t0) ** (it / max(1, iterations - 1))
        data = fresh() if rng.random() < 0.1 else mutate(current.data, rng)
        cand = score(family_id, method, data, options, exact)
        if cand is None:
            continue
        cand.iteration = it
        key = json.dumps(cand.data, sort_keys=True)
        best.setdefault(key, cand)
        delta = _log(cand.ratio) - _log(current.ratio)
        if delta >= 0 or rng.random() < math.exp(delta / temp):
            current = cand
    bar.close()
    ranked, seen = [], set()
    for f in sorted(best.values(), key=lambda f: -f.ratio):
        sig = tuple(
            f"{x:.8g}" for x in (f.ratio, f.heuristic, f.optimum)
        )  # twins differ in an idle field only
        if sig not in seen:
            seen.add(sig)
            ranked.append(f)
    return ranked[:keep]


def _log(r: float) -> float:
    return math.log(r) if 0 < r < math.inf else (50.0 if r == math.inf else -50.0)


def save(found: list[Found], out_dir: str | Path, family_id: str, method: str, force: bool) -> Path:
    out = Path(out_dir)
    refuse_nonempty_dir(out, force)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    for k, f in enumerate(found, 1):
        name = f"worst-{k}.json"
        data = dict(f.data)
        if "name" in data:
            data["name"] = f"adversary-{method}-{k}"
        write_json_new(out / name, data, force=True)
        summary.append(
            {
                "file": name,
                "ratio": f.ratio if math.isfinite(f.ratio) else "inf",
                "heuristic": f.heuristic,
                "optimum": f.optimum,
                "iteration": f.iteration,
            }
        )
    write_json_new(
        out / "adversary.json",
        {"family": family_id, "method": method, "worst": summary},
        force=True,
    )
    return out
