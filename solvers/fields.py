"""Small strict readers for JSON objects: every error names the field path, in one line.

Used by each family's loader so that bad input never reaches a model as a traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from optgap.solvers.errors import InputError


def read_text(path: str | Path, what: str = "a text file") -> str:
    """Read a UTF-8 file, turning every I/O problem into an InputError (``what``: the kind of
    file expected, for the message)."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, expected {what}") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a UTF-8 text file") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror})") from None


def read_json(path: str | Path) -> Any:
    """Parse a JSON file, turning every I/O or syntax problem into an InputError."""
    p = Path(path)
    text = read_text(p, "a JSON file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"{p}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None


def write_json_new(path: str | Path, data: Any, *, force: bool = False) -> None:
    """Write JSON to a path, refusing to overwrite an existing file unless force is set."""
    p = Path(path)
    if p.exists() and not force:
        raise InputError(f"{p}: already exists; choose another name or pass --force")
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(p)


def refuse_nonempty_dir(path: str | Path, force: bool) -> None:
    """An output directory must be new or empty, so nothing a user wrote is overwritten."""
    p = Path(path)
    if p.exists() and any(p.iterdir()) and not force:
        raise InputError(f"{p}: exists and is not empty; choose another -o or pass --force")


def obj(value: Any, path: str, required: set[str], optional: set[str] = frozenset()) -> dict:
    """Check that value is an object with all required keys and no unknown ones."""
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected an object, got {type_name(value)}")
    for key in sorted(required):
        if key not in value:
            raise InputError(f"{path}.{key}: missing required field")
    allowed = required | set(optional)
    for key in value:
        if key not in allowed:
            raise InputError(
                f"{path}.{key}: unknown field (expected one of: {', '.join(sorted(allowed))})"
            )
    return value


def array(value: Any, path: str, *, min_len: int = 0) -> list:
    if not isinstance(value, list):
        raise InputError(f"{path}: expected an array, got {type_name(value)}")
    if len(value) < min_len:
        raise InputError(f"{path}: expected at least {min_len} element(s), got {len(value)}")
    return value


def string(value: Any, path: str, *, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{path}: expected a non-empty string, got {type_name(value)}")
    if choices is not None and value not in choices:
        raise InputError(f"{path}: {value!r} is not one of {', '.join(choices)}")
    return value


def number(
    value: Any,
    path: str,
    *,
    minimum: float | None = 0.0,
    exclusive_minimum: bool = False,
    integer: bool = False,
) -> float:
    """A finite number (bool rejected); by default non-negative."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{path}: expected a number, got {type_name(value)}")
    if not math.isfinite(value):
        raise InputError(f"{path}: expected a finite number, got {value}")
    if integer and value != int(value):
        raise InputError(f"{path}: expected an integer, got {value}")
    if minimum is not None:
        if exclusive_minimum and value <= minimum:
            raise InputError(f"{path}: must be > {minimum:g}, got {value:g}")
        if not exclusive_minimum and value < minimum:
            what = "negative" if minimum == 0 else f"below {minimum:g}"
            raise InputError(f"{path}: must not be {what}, got {value:g}")
    return int(value) if integer else float(value)


def type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
