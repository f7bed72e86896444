"""Comparison suites: which instances, which methods, which settings — as data, read from TOML.

A suite file::

    name = "quick"
    time_limit_s = 10          # defaults for every run below (each run may override them)
    threads = 1
    seed = 0
    plugins = ["my_heuristics"]  # modules imported first (they may register methods)

    [[run]]
    family = "dag"
    sizes = [8, 12]            # generated instances: family generator(size, seed)
    seeds = [0, 1, 2]
    generator = { gpu_speedup = [1, 6] }   # keyword arguments for the generator, if it takes any
    methods = ["cpsat", "heft", "peft"]    # default: every method for the objective
    objective = "latency"

    [[run]]
    family = "dag"
    files = ["instances/dag/fork-3.json"]  # instance files, relative to the suite file
    methods = ["exact", "heft"]

Every (instance, method, settings) becomes one `Task`; its `key` names it in a results file, so a
resumed run knows what is done and a file written by another suite is recognised as such.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.fields import array, number, obj, read_text, string
from optgap.solvers.result import SolveOptions

_SETTINGS = {"time_limit_s", "threads", "seed", "hint", "slo_ms", "backend", "params", "objective"}
_TOP = {"name", "plugins", "run", "task_timeout_s"} | _SETTINGS
_RUN = {"family", "sizes", "seeds", "files", "generator", "methods"} | _SETTINGS


@dataclass(frozen=True)
class Task:
    """One method on one instance. Picklable: workers rebuild the instance from `source`."""

    family: str
    instance: str  # label: "n12-s0" for a generated instance, the file path otherwise
    source: dict[str, Any]  # {"generate": {"size", "seed", "kwargs"}} or {"file": path}
    method: str
    options: SolveOptions
    plugins: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        opts = {k: v for k, v in self.options.__dict__.items()}
        opts["params"] = [list(p) for p in self.options.params]
        blob = json.dumps([self.family, self.source, self.method, opts], sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]

    @property
    def size(self) -> int | None:
        return self.source.get("generate", {}).get("size")

    @property
    def seed(self) -> int | None:
        return self.source.get("generate", {}).get("seed")


@dataclass
class Suite:
    name: str
    tasks: list[Task] = field(default_factory=list)
    plugins: tuple[str, ...] = ()
    task_timeout_s: float | None = None  # hard wall-clock limit per task in worker processes


def load_plugins(plugins: tuple[str, ...] | list[str]) -> None:
    for name in plugins:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise InputError(f"plugin {name!r}: cannot import it ({e})") from None


def read_suite(path: str | Path) -> Suite:
    path = Path(path)
    try:
        data = tomllib.loads(read_text(path, "a suite file"))
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML: {e}") from None
    return parse_suite(data, base=path.parent, where=str(path))


def parse_suite(data: dict[str, Any], *, base: Path = Path("."), where: str = "suite") -> Suite:
    obj(data, where, {"run"}, _TOP)
    plugins = tuple(
        string(p, f"{where}.plugins[{i}]")
        for i, p in enumerate(array(data.get("plugins", []), f"{where}.plugins"))
    )
    load_plugins(plugins)
    defaults = {k: data[k] for k in _SETTINGS if k in data}
    suite = Suite(
        name=string(data.get("name", Path(where).stem), f"{where}.name"),
        plugins=plugins,
        task_timeout_s=(
            number(data["task_timeout_s"], f"{where}.task_timeout_s", exclusive_minimum=True)
            if "task_timeout_s" in data
            else None
        ),
    )
    for i, run in enumerate(array(data["run"], f"{where}.run", min_len=1)):
        suite.tasks += _run_tasks(run, defaults, base, f"{where}.run[{i}]", plugins)
    return suite


def _run_tasks(
    run: Any, defaults: dict, base: Path, where: str, plugins: tuple[str, ...]
) -> list[Task]:
    obj(run, where, {"family"}, _RUN)
    fam = registry.family(string(run["family"], f"{where}.family"))
    settings = {**defaults, **{k: run[k] for k in _SETTINGS if k in run}}
    options = _options(settings, where)
    objective = options.objective or fam.objectives[0]
    if objective not in fam.objectives:
        raise InputError(
            f"{where}.objective: {objective!r} is not an objective of {fam.id} "
            f"({', '.join(fam.objectives)})"
        )
    options = SolveOptions(**{**options.__dict__, "objective": objective})
    if "methods" in run:
        names = [
            string(m, f"{where}.methods[{j}]")
            for j, m in enumerate(array(run["methods"], f"{where}.methods", min_len=1))
        ]
        names = [registry.method(fam.id, n).name for n in names]
    else:
        names = [n for n, m in registry.methods(fam.id).items() if objective in m.objectives]
    for n in names:
        m = registry.method(fam.id, n)
        if objective not in m.objectives:
            raise InputError(f"{where}.methods: {n!r} does not handle objective {objective!r}")
        if options.backend is not None and options.backend not in m.backends:
            raise InputError(f"{where}.backend: method {n!r} has no backend {options.backend!r}")

    sources: list[tuple[str, dict]] = []
    if ("sizes" in run) == ("files" in run):
        raise InputError(f"{where}: give either sizes (generated instances) or files, not both")
    if "sizes" in run:
        sizes = [
            int(number(s, f"{where}.sizes[{j}]", minimum=1, integer=True))
            for j, s in enumerate(array(run["sizes"], f"{where}.sizes", min_len=1))
        ]
        seeds = [
            int(number(s, f"{where}.seeds[{j}]", integer=True))
            for j, s in enumerate(array(run.get("seeds", [0, 1, 2]), f"{where}.seeds", min_len=1))
        ]
        kwargs = obj(
            run.get("generator", {}), f"{where}.generator", set(), set(run.get("generator", {}))
        )
        for size in sizes:
            for seed in seeds:
                label = f"n{size}-s{seed}"
                source = {"generate": {"size": size, "seed": seed, "kwargs": kwargs}}
                sources.append((label, source))
    else:
        if "generator" in run or "seeds" in run:
            raise InputError(f"{where}: generator and seeds apply to sizes, not to files")
        for j, f in enumerate(array(run["files"], f"{where}.files", min_len=1)):
            p = (base / string(f, f"{where}.files[{j}]")).resolve()
            if not p.is_file():
                raise InputError(f"{where}.files[{j}]: no such file {p}")
            sources.append((str(p), {"file": str(p)}))
    batch = [registry.method(fam.id, n) for n in names]
    routed = {m.name: registry.route_params(m, options, batch) for m in batch}
    return [
        Task(fam.id, label, source, n, routed[n], plugins)
        for label, source in sources
        for n in names
    ]


def _options(s: dict, where: str) -> SolveOptions:
    params = obj(s.get("params", {}), f"{where}.params", set(), set(s.get("params", {})))
    return SolveOptions(
        time_limit_s=number(
            s.get("time_limit_s", 60.0), f"{where}.time_limit_s", exclusive_minimum=True
        ),
        threads=int(number(s.get("threads", 1), f"{where}.threads", minimum=1, integer=True)),
        seed=int(number(s.get("seed", 0), f"{where}.seed", minimum=None, integer=True)),
        backend=string(s["backend"], f"{where}.backend") if "backend" in s else None,
        objective=string(s["objective"], f"{where}.objective") if "objective" in s else None,
        slo_ms=number(s["slo_ms"], f"{where}.slo_ms", exclusive_minimum=True)
        if "slo_ms" in s
        else None,
        hint=_bool(s.get("hint", True), f"{where}.hint"),
        params=tuple(sorted((str(k), str(v)) for k, v in params.items())),
    )


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{where}: expected true or false")
    return value


def grid_tasks(
    family_id: str, sizes: list[int], seeds: list[int], methods: list[str], options: SolveOptions
) -> list[Task]:
    """The tasks of `optgap compare FAMILY --sizes .. --seeds ..` (a one-run suite)."""
    fam = registry.family(family_id)
    objective = options.objective or fam.objectives[0]
    options = SolveOptions(**{**options.__dict__, "objective": objective})
    names = [registry.method(fam.id, n).name for n in methods]
    batch = [registry.method(fam.id, n) for n in names]
    routed = {m.name: registry.route_params(m, options, batch) for m in batch}
    return [
        Task(
            fam.id,
            f"n{n}-s{s}",
            {"generate": {"size": n, "seed": s, "kwargs": {}}},
            m,
            routed[m],
        )
        for n in sizes
        for s in seeds
        for m in names
    ]


def generate_instance(family_id: str, size: int, seed: int, kwargs: dict[str, Any]) -> Any:
    """The family generator's instance; a bad generator argument is an InputError."""
    fam = registry.family(family_id)
    try:
        return fam.generate(size, seed, **kwargs)
    except (TypeError, ValueError) as e:  # an unknown or out-of-range generator argument
        raise InputError(f"{fam.id} generator: {e}") from None


def build_instance(family_id: str, source: dict[str, Any]) -> Any:
    """The instance a task's source names: generated from (size, seed, kwargs) or read from a file."""
    from optgap.solvers.fields import read_json

    if "file" in source:
        fam, inst = registry.load_instance(read_json(source["file"]))
        if fam.id != family_id:
            raise InputError(f"{source['file']}: a {fam.id} instance, not {family_id}")
        return inst
    g = source["generate"]
    return generate_instance(family_id, g["size"], g["seed"], g["kwargs"])
