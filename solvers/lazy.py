"""Lazy references to functions, so that registering a method imports no solver library.

``lazy_module("optgap.formulations.dag.cpsat").solve`` is a callable that stands for
``optgap.formulations.dag.cpsat:solve`` and imports the module on its first call. The catalogue
names every method's function, export and plot this way: `optgap --version`, `list` and
`validate` then start without ortools, pulp, cvxpy, highspy, optuna, matplotlib, dask or onnx.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyRef:
    """``module:function``, resolved on first call (picklable: it travels as its name)."""

    __slots__ = ("module", "name", "_target")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._target: Any = None

    def resolve(self) -> Any:
        if self._target is None:
            self._target = getattr(importlib.import_module(self.module), self.name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __reduce__(self):
        return (LazyRef, (self.module, self.name))

    def __repr__(self) -> str:
        return f"<lazy {self.module}:{self.name}>"


class LazyModule:
    """A module stand-in whose attributes are `LazyRef`s; nothing is imported until a call."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> LazyRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return LazyRef(self._module, name)


def lazy(ref: str) -> LazyRef:
    """``lazy("package.module:function")``."""
    module, sep, name = ref.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"lazy reference {ref!r}: expected 'module:function'")
    return LazyRef(module, name)


def lazy_module(module: str) -> LazyModule:
    return LazyModule(module)
