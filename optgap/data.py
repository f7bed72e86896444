"""Shipped data by name: instances (``dag/fork-3``) and suites (``quick``), from anywhere.

The files are package data of ``optgap.instances`` and ``optgap.suites``; a name is looked up
there only when no file of that name exists, so a user's own file always wins.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from optgap.solvers.errors import InputError

# JSON files under instances/ that are data for instances, not instances
_NOT_INSTANCES = ("devices/",)


def _root(package: str) -> Path:
    return Path(str(files(package)))


def shipped_instances() -> dict[str, Path]:
    """Every shipped instance: ``{"dag/fork-3": path, ...}``, sorted by name."""
    root = _root("optgap.instances")
    out = {}
    for p in sorted(root.glob("*/**/*.json")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith(_NOT_INSTANCES) or "/devices/" in rel:
            continue
        try:
            with open(p, encoding="utf-8") as f:
                head = f.read(4096)
        except OSError:
            continue
        if '"family"' not in head:  # profiles and other data files
            continue
        out[rel.removesuffix(".json")] = p
    return out


def shipped_suites() -> dict[str, Path]:
    """Every shipped suite: ``{"quick": path, ...}``."""
    return {p.stem: p for p in sorted(_root("optgap.suites").glob("*.toml"))}


def instance_path(name: str) -> str:
    """A file path as given, or the shipped instance ``FAMILY/NAME`` (``.json`` optional)."""
    if Path(name).exists():
        return name
    shipped = shipped_instances()
    key = name.removesuffix(".json").removeprefix("instances/")
    if key in shipped:
        return str(shipped[key])
    if "/" not in name and not name.endswith(".json"):
        near = [k for k in shipped if k.endswith("/" + key)]
        if len(near) == 1:
            return str(shipped[near[0]])
    raise InputError(
        f"{name}: no such file, nor a shipped instance (`optgap list --instances` shows them)"
    )


def suite_path(name: str) -> str:
    """A suite file as given, or a shipped suite by name (``quick``, ``dag-full``...)."""
    if Path(name).exists():
        return name
    shipped = shipped_suites()
    key = Path(name).stem if name.endswith(".toml") else name
    if key in shipped and ("/" not in name or name.startswith("suites/")):
        return str(shipped[key])
    raise InputError(
        f"{name}: no such suite file, nor a shipped suite (shipped: {', '.join(shipped)})"
    )


def read_instance_json(name: str) -> object:
    from optgap.solvers.fields import read_json

    return read_json(instance_path(name))


__all__ = [
    "instance_path",
    "read_instance_json",
    "shipped_instances",
    "shipped_suites",
    "suite_path",
]
