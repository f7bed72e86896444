"""Seeded F2 instances: random workflow DAGs and the shapes of AARC's evaluation workflows.

Grids: 8 CPU levels 0.25..2.0 cores (step 0.25, AARC's profiling grid) x 16 memory levels
128..4096 MB. Functions are either one of the five *real* functions AARC profiled
(``aarc_function_profiles.json``: runtime per CPU level at the function's base memory; below the
base memory the function does not run; above it the runtime is the measured one, the profiles
hold no memory effect) or a synthetic parametric model (serial + parallel / min(c, parallelism),
out of memory below a base memory, slower below a working set).

Shapes (``size`` = fan-out k), modelled on the workflows AARC evaluates:
- ``chatbot``: split -> k intent-training branches -> merge (fan-out / fan-in);
- ``ml-pipeline``: load -> PCA -> k model trainings -> combine -> test, plus a data-check
  chain beside the trainings;
- ``video-analytics``: split -> k x (extract frames -> classify) -> merge (detours of two).
``random``: a layered random DAG of ``size`` functions.

The SLO is the fastest possible latency times a slack (default drawn in [1.3, 2.0]).
``noise`` > 0 turns every function into a table whose cells are multiplied by independent
uniform factors in [1 - noise, 1 + noise]: runtimes no longer follow any parametric model
(a stress test for methods that fit one, such as fit-milp).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from optgap.formulations.workflow import space as SP
from optgap.formulations.workflow.instance import VERSION, load

CPU_GRID = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
MEM_GRID = [128, 256, 384, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096]
SHAPES = ("chatbot", "ml-pipeline", "video-analytics", "random")
PROFILES = Path(__file__).with_name("aarc_function_profiles.json")


def real_profiles() -> dict:
    return json.loads(PROFILES.read_text(encoding="utf-8"))


def real_model(name: str, cpu_grid: list[float], mem_grid: list[float]) -> dict:
    """A table model from AARC's measured profile of one function (CPU levels 0.25..2.0)."""
    prof = real_profiles()
    data = prof["functions"][name]
    by_cpu = dict(zip(prof["cpu_cores"], data["runtime_ms"], strict=True))
    missing = [c for c in cpu_grid if c not in by_cpu]
    if missing:
        raise ValueError(f"the AARC profiles have no runtime at {missing} cores")
    base = data["base_memory_mb"]
    return {
        "kind": "table",
        "runtime_ms": [[by_cpu[c] if m >= base else None for m in mem_grid] for c in cpu_grid],
    }


def synthetic_model(rng: np.random.Generator, role: str = "any") -> dict:
    """A parametric model; ``role`` biases it (light glue code, parallel compute, memory hungry)."""
    if role == "light":
        serial, parallel = rng.uniform(20, 200), rng.uniform(50, 400)
        par = float(rng.choice([1.0, 1.0, 1.5]))
        base = float(rng.choice([64, 96, 128]))
    elif role == "compute":
        serial, parallel = rng.uniform(100, 800), rng.uniform(2000, 12000)
        par = float(rng.choice([1.0, 1.5, 2.0, 4.0]))
        base = float(rng.choice([128, 256, 384]))
    else:
        serial, parallel = rng.uniform(50, 1500), rng.uniform(300, 8000)
        par = float(rng.choice([0.75, 1.0, 1.5, 2.0, 4.0]))
        base = float(rng.choice([64, 128, 256, 384, 512]))
    ws = min(4096.0, base * float(rng.choice([1.0, 2.0, 3.0, 6.0])))
    return {
        "kind": "parametric",
        "serial_ms": round(float(serial), 1),
        "parallel_ms": round(float(parallel), 1),
        "parallelism": par,
        "base_mem_mb": base,
        "working_set_mb": ws,
        "slowdown": round(float(rng.uniform(0.0, 1.5)) if ws > base else 0.0, 3),
    }


def _model(
    rng: np.random.Generator, role: str, real_share: float, real: tuple[str, ...]
) -> tuple[dict, str]:
    if real and rng.random() < real_share:
        name = str(rng.choice(real))
        return real_model(name, CPU_GRID, MEM_GRID), name
    return synthetic_model(rng, role), "synthetic"


def shape_graph(
    shape: str, size: int, rng: np.random.Generator
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(functions as (id, role), edges) of a shape with fan-out / size ``size``."""
    k = max(1, size)
    if shape == "chatbot":
        fs = [("split", "light")] + [(f"train_intent{i}", "compute") for i in range(k)]
        fs.append(("merge", "light"))
        es = [("split", f"train_intent{i}") for i in range(k)]
        es += [(f"train_intent{i}", "merge") for i in range(k)]
    elif shape == "ml-pipeline":
        fs = [
            ("load", "light"),
            ("pca", "compute"),
            ("check_schema", "light"),
            ("check_stats", "any"),
        ]
        fs += [(f"train{i}", "compute") for i in range(k)]
        fs += [("combine", "any"), ("test", "any")]
        es = [("load", "pca"), ("load", "check_schema"), ("check_schema", "check_stats")]
        es += [("pca", f"train{i}") for i in range(k)] + [
            (f"train{i}", "combine") for i in range(k)
        ]
        es += [("check_stats", "combine"), ("combine", "test")]
    elif shape == "video-analytics":
        fs = [("split", "light")]
        for i in range(k):
            fs += [(f"extract{i}", "any"), (f"classify{i}", "compute")]
        fs.append(("merge", "light"))
        es = []
        for i in range(k):
            es += [
                ("split", f"extract{i}"),
                (f"extract{i}", f"classify{i}"),
                (f"classify{i}", "merge"),
            ]
    elif shape == "random":
        n = k
        fs = [(f"f{i}", "any") for i in range(n)]
        es = []
        for i in range(1, n):
            lo = max(0, i - 6)
            m = int(rng.integers(1, min(2, i) + 1))
            for p in sorted(rng.choice(np.arange(lo, i), size=m, replace=False).tolist()):
                es.append((f"f{p}", f"f{i}"))
    else:
        raise ValueError(f"unknown shape {shape!r} (known: {', '.join(SHAPES)})")
    return fs, es


def generate_json(
    size: int,
    seed: int,
    *,
    shape: str = "random",
    slack: float | None = None,
    prices: str | dict = "aarc",
    real_share: float = 0.3,
    real: tuple[str, ...] = ("chameleon", "float_operation", "matmul", "model_serving", "pyaes"),
    noise: float = 0.0,
    spread: bool = False,
) -> dict:
    """``spread``: give every function the run-to-run spread AARC measured (all functions'
    ratios pooled, from ``aarc_scheduler_samples.json``) for the noisy oracle."""
    if size < 1:
        raise ValueError("size must be >= 1")
    rng = np.random.default_rng([seed, SHAPES.index(shape) if shape in SHAPES else 99])
    fs, es = shape_graph(shape, size, rng)
    functions, kinds = [], {}
    for fid, role in fs:
        model, kind = _model(rng, role, real_share, real)
        functions.append({"id": fid, "model": model})
        kinds[fid] = kind
    if slack is None:
        slack = round(float(rng.uniform(1.3, 2.0)), 3)
    data = {
        "family": "workflow",
        "version": VERSION,
        "name": f"{shape}-n{len(fs)}-s{seed}",
        "cpu_grid": CPU_GRID,
        "mem_grid_mb": MEM_GRID,
        "prices": prices,
        "slo_ms": 1.0,  # placeholder, set below from the fastest latency
        "functions": functions,
        "edges": [list(e) for e in es],
        "meta": {
            "generator": "optgap.instances.workflow.generate",
            "shape": shape,
            "size": size,
            "seed": seed,
            "slack": slack,
            "real_functions": {f: k for f, k in kinds.items() if k != "synthetic"},
            "source": "real runtimes: github.com/HongyuZh/AARC profiling data (see instances/ATTRIBUTION.md)",
        },
    }
    if noise > 0:  # every function becomes a table with multiplicative noise on each cell
        noisy = np.random.default_rng([seed, 7919])
        inst = load(data)
        for f, fn in zip(functions, inst.functions, strict=True):
            f["model"] = {
                "kind": "table",
                "runtime_ms": [
                    [
                        None
                        if t is None
                        else round(t / 1000 * float(noisy.uniform(1 - noise, 1 + noise)), 3)
                        for t in row
                    ]
                    for row in fn.runtime_us
                ],
            }
        data["meta"]["noise"] = noise
    if spread:
        pooled = pooled_spread()
        for f in functions:
            f["spread"] = pooled
        data["meta"]["spread"] = (
            "AARC's measured run-to-run ratios, pooled (aarc_scheduler_samples)"
        )
    inst = load(data)
    fastest = SP.build(inst, 1, SP.candidates(inst, "decoupled")).fastest_us
    data["slo_ms"] = round(fastest * slack / 1000, 3)
    return data


def pooled_spread() -> list[float]:
    """Every function's run-to-run ratios in AARC's scheduler samples, pooled."""
    out: list[float] = []
    for f in samples_json()["functions"]:
        if f["id"] != "fun_3_matmul":  # fun_3 has no repeat: it carries the pooled list itself
            out += f["spread"]
    return out


def generate(size: int, seed: int, **kwargs) -> object:
    """A random workflow of ``size`` functions (``shape=...`` for the named shapes)."""
    return load(generate_json(size, seed, **kwargs))


# the 10-function DAG of AARC's prototype (scheduler/__main__.py in github.com/HongyuZh/AARC)
PROTOTYPE_IMAGES = ["matmul", "float_operation", "pyaes"] * 3 + ["matmul"]
PROTOTYPE_EDGES = [
    (0, 1), (0, 2), (1, 7), (1, 8), (2, 3), (2, 4), (3, 5), (4, 5), (5, 6), (6, 9), (7, 9), (8, 9),
]  # fmt: skip


def prototype_json(slack: float = 1.5, prices: str = "aarc") -> dict:
    """AARC's prototype workflow: its DAG and functions, with the measured runtime curves."""
    functions = [
        {"id": f"fun_{k}_{name}", "model": real_model(name, CPU_GRID, MEM_GRID)}
        for k, name in enumerate(PROTOTYPE_IMAGES)
    ]
    ids = [f["id"] for f in functions]
    data = {
        "family": "workflow",
        "version": VERSION,
        "name": "aarc-prototype",
        "cpu_grid": CPU_GRID,
        "mem_grid_mb": MEM_GRID,
        "prices": prices,
        "slo_ms": 1.0,
        "functions": functions,
        "edges": [[ids[a], ids[b]] for a, b in PROTOTYPE_EDGES],
        "meta": {
            "source": "DAG and functions of AARC's prototype scheduler (github.com/HongyuZh/AARC, "
            "scheduler/__main__.py); runtimes measured by AARC (profiling data, commit bdcffdf)",
            "slack": slack,
        },
    }
    inst = load(data)
    fastest = SP.build(inst, 1, SP.candidates(inst, "decoupled")).fastest_us
    data["slo_ms"] = round(fastest * slack / 1000, 3)
    return data


SAMPLES = Path(__file__).with_name("aarc_scheduler_samples.json")
PROTOTYPE_SLO_MS = (
    1800.0  # the SLO AARC's prototype schedules its DAG under (scheduler/__main__.py)
)


def samples_json(slack: float = 1.5, slo_ms: float | None = None) -> dict:
    """The prototype DAG with the 2-D runtimes AARC's scheduler measured for each function.

    Grid: every CPU level and memory size the scheduler tried (9 x 10). A function's cell is the
    mean of its measurements at that configuration; a configuration the scheduler never ran on
    that function is null (not measured, so not usable: the problem is restricted to measured
    points). ``spread``: the function's run-to-run ratios (runtime / mean) at the configurations
    measured more than once, or every function's ratios pooled when it has no repeat. The SLO is
    ``slack`` times the fastest latency, or ``slo_ms``. (The prototype's own SLO, 1,800 ms, is
    below the fastest latency of these measurements, 2,586 ms: no configuration meets it.)
    """
    raw = json.loads(SAMPLES.read_text(encoding="utf-8"))
    runs: dict[str, dict[tuple[float, float], list[float]]] = {}
    for fid, rows in raw["functions"].items():
        cells: dict[tuple[float, float], list[float]] = {}
        for r in rows:
            cells.setdefault((float(r["cpu"]), float(r["memory_mb"])), []).append(r["runtime_ms"])
        runs[fid] = cells
    cpus = sorted({c for cells in runs.values() for c, _ in cells})
    mems = sorted({m for cells in runs.values() for _, m in cells})

    def ratios(cells: dict) -> list[float]:
        out = []
        for ts in cells.values():
            if len(ts) > 1:
                mean = sum(ts) / len(ts)
                out += [round(t / mean, 4) for t in ts]
        return out

    pooled = [r for cells in runs.values() for r in ratios(cells)]
    ids = sorted(runs, key=lambda k: int(k.split("_")[1]))
    functions = []
    for k, fid in enumerate(ids):
        cells = runs[fid]
        table = [
            [
                round(sum(cells[(c, m)]) / len(cells[(c, m)]), 3) if (c, m) in cells else None
                for m in mems
            ]
            for c in cpus
        ]
        functions.append(
            {
                "id": f"{fid}_{PROTOTYPE_IMAGES[k]}",
                "model": {"kind": "table", "runtime_ms": table},
                "spread": ratios(cells) or pooled,
            }
        )
    names = [f["id"] for f in functions]
    data = {
        "family": "workflow",
        "version": VERSION,
        "name": "aarc-samples",
        "cpu_grid": cpus,
        "mem_grid_mb": mems,
        "prices": "aarc",
        "slo_ms": 1.0,
        "functions": functions,
        "edges": [[names[a], names[b]] for a, b in PROTOTYPE_EDGES],
        "meta": {
            "source": "runtimes measured by AARC's scheduler on its prototype DAG "
            "(github.com/HongyuZh/AARC, scheduler/data/func/fun_*.pkl, commit "
            "bdcffdf7b8f579adb138cdf6e5926993994245ea; see instances/ATTRIBUTION.md)",
            "null_means": "not measured (the scheduler never ran the function there)",
            "spread": "run-to-run ratios at repeated configurations; pooled when none",
        },
    }
    if slo_ms is None:
        inst = load(data)
        fastest = SP.build(inst, 1, SP.candidates(inst, "decoupled")).fastest_us
        data["slo_ms"] = round(fastest * slack / 1000, 3)
        data["meta"]["slack"] = slack
    else:
        data["slo_ms"] = slo_ms
    return data
