"""Small strict readers for JSON objects: every error names the field path, in one line.

Used by each family's loader so that bad input never reaches a model as a traceback.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
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


# The largest magnitude of any number read from a file: integers up to here are exact in a double
# (the MILP backends) and in int64 (CP-SAT).
MAX_NUMBER = 2**53
# The largest quantity in a solver's internal integer unit (µs, kB, requests, ...): a sum of up to
# 9,000 of them is exact in a double and a sum of up to 10^6 fits in int64 (CP-SAT), so horizons
# and totals stay representable at every size limit.
MAX_UNITS = 10**12

# A JSON value nested deeper than this is refused (the shipped files need 6 levels; json.loads and
# recursive readers hit Python's recursion limit near 1000).
MAX_DEPTH = 64
# An integer literal longer than this parses as a float (then refused by number() with its field)
# instead of raising Python's 4300-digit ValueError.
_MAX_INT_DIGITS = 400


def _parse_int(text: str) -> int | float:
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


def parse_json(text: str, where: str) -> Any:
    """Parse JSON text; every syntax problem, nesting deeper than MAX_DEPTH, an integer too long
    for Python, or a string that is not valid Unicode (a lone surrogate) is an InputError."""
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise InputError(
            f"{where}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as e:  # anything else json.loads refuses
        raise InputError(f"{where}: malformed JSON: {e}") from None
    _check_tree(data, where)
    return data


def _check_tree(data: Any, where: str) -> None:
    """Depth and strings of a parsed value, walked without recursion."""
    stack = [(data, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(
                f"{where}: JSON nested too deeply at {path[:60] or 'the top'}... "
                f"(at most {MAX_DEPTH} levels)"
            )
        if isinstance(value, dict):
            for k, v in value.items():
                _check_string(k, f"{path}.{_safe(k)}", where)
                if isinstance(v, dict | list | str):
                    stack.append((v, depth + 1, f"{path}.{_safe(k)}"))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, dict | list | str):
                    stack.append((v, depth + 1, f"{path}[{i}]"))
        elif isinstance(value, str):
            _check_string(value, path, where)


def _safe(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")[:40]


def _check_string(s: str, path: str, where: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{where}: {path.lstrip('.') or 'value'}: string is not valid Unicode (a lone surrogate)"
        ) from None


def check_numbers(data: Any, where: str, maximum: float = MAX_NUMBER) -> None:
    """No integer inside a parsed value exceeds ``maximum`` in magnitude (10**400 cannot even be
    turned into a float; walked without recursion). Floats, NaN and Infinity included, are left
    to the evaluator, which rejects what it cannot use with a violation naming the field."""
    stack = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{_safe(k)}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > maximum:
            raise InputError(
                f"{where}: {path.lstrip('.')}: must be at most {maximum:.6g} in magnitude, "
                f"got {_g(value)}"
            )


def read_json(path: str | Path) -> Any:
    """Parse a JSON file, turning every I/O or syntax problem into an InputError."""
    p = Path(path)
    return parse_json(read_text(p, "a JSON file"), str(p))


def check_output(path: str | Path, force: bool = False) -> Path:
    """Refuse an output path before any work starts: it exists (without force), is a directory,
    or its folder cannot be written. Returns the path."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a directory; give a file name")
    if p.exists() and not force:
        raise InputError(f"{p}: already exists; choose another name or pass --force")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # write_* creates the missing folders under the first existing one
    if not parent.is_dir():
        raise InputError(f"{p}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{p}: cannot write in {parent} (permission denied)")
    return p


def write_text_new(path: str | Path, text: str, *, force: bool = False) -> None:
    """Write a file through a unique temporary file in its folder, renamed into place: a reader
    never sees half a file, and a failure leaves nothing behind. Refuses to overwrite an existing
    file unless force is set; every OSError is an InputError."""
    p = check_output(path, force)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as e:
        raise InputError(f"{p}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual mode
        if not force and p.exists():  # appeared while we wrote: do not replace it
            raise InputError(f"{p}: already exists; choose another name or pass --force")
        os.replace(tmp, p)
    except OSError as e:
        raise InputError(f"{p}: cannot write ({e.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json_new(path: str | Path, data: Any, *, force: bool = False) -> None:
    """Write JSON to a path (see write_text_new), refusing to overwrite unless force is set."""
    write_text_new(path, json.dumps(data, indent=1) + "\n", force=force)


def refuse_nonempty_dir(path: str | Path, force: bool) -> None:
    """An output directory must be new or empty, so nothing a user wrote is overwritten; it must
    be a directory (or creatable) and writable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{p}: exists and is not a directory; choose another -o")
    try:
        nonempty = p.exists() and any(p.iterdir())
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror})") from None
    if nonempty and not force:
        raise InputError(f"{p}: exists and is not empty; choose another -o or pass --force")
    parent = p if p.exists() else p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{p}: cannot write in {parent} (permission denied)")


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
    maximum: float = MAX_NUMBER,
    note: str = "",
) -> float:
    """A finite number (bool rejected) of magnitude at most ``maximum``; by default non-negative."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{path}: expected a number, got {type_name(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{path}: expected a finite number, got {value}")
    if abs(value) > maximum:  # int or float: Python compares exactly, no overflow
        raise InputError(
            f"{path}: must be at most {maximum:.6g} in magnitude{note}, got {_g(value)}"
        )
    if integer and value != int(value):
        raise InputError(f"{path}: expected an integer, got {value}")
    if minimum is not None:
        if exclusive_minimum and value <= minimum:
            raise InputError(f"{path}: must be > {minimum:g}, got {value:g}")
        if not exclusive_minimum and value < minimum:
            what = "negative" if minimum == 0 else f"below {minimum:g}"
            raise InputError(f"{path}: must not be {what}, got {value:g}")
    return int(value) if integer else float(value)


def quantity(
    value: Any,
    path: str,
    scale: float,
    unit: str,
    *,
    minimum: float | None = 0.0,
    exclusive_minimum: bool = False,
) -> int:
    """A number in the file's unit, returned in the solvers' integer unit: ``round(value * scale)``
    (e.g. ms -> µs with scale 1000). Refused, with the largest value allowed, when the result
    would exceed MAX_UNITS."""
    x = number(
        value,
        path,
        minimum=minimum,
        exclusive_minimum=exclusive_minimum,
        maximum=MAX_UNITS / scale,
        note=f" (10^12 {unit} inside the solvers)",
    )
    return round(x * scale)


def _g(value: int | float) -> str:
    if isinstance(value, int) and abs(value) > 10**15:
        return (
            f"an integer of {len(str(abs(value))) if abs(value) < 10**400 else 'over 400'} digits"
        )
    return f"{value:g}"


# ------------------------------------------------------------------------------ size limits

# Counts that drive memory or time, checked before anything is built. A user with a really large
# instance raises one with OPTGAP_LIMITS="dag.operators=500000,stages.windows=1e6" (or
# `optgap --limit dag.operators=500000 ...`, which sets it for worker processes too).
LIMITS: dict[str, int] = {}


def define_limit(key: str, default: int, what: str) -> None:
    """Declare a size limit (family.count) with its default; families call this at import."""
    LIMITS.setdefault(key, default)
    _WHAT[key] = what


_WHAT: dict[str, str] = {}


def limit(key: str) -> int:
    """The limit in force: OPTGAP_LIMITS overrides the default."""
    for item in reversed(os.environ.get("OPTGAP_LIMITS", "").split(",")):  # the last one wins
        name, sep, value = item.partition("=")
        if sep and name.strip() == key:
            try:
                n = float(value)
            except ValueError:
                raise InputError(f"OPTGAP_LIMITS: {item!r}: expected KEY=NUMBER") from None
            if not (n >= 1 and math.isfinite(n)):
                raise InputError(f"OPTGAP_LIMITS: {item!r}: the limit must be >= 1")
            return int(n)
    return LIMITS[key]


def set_limits(items: list[str]) -> None:
    """Apply `optgap --limit KEY=N` options: into OPTGAP_LIMITS, so worker processes see them."""
    if not items:
        return
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--limit {item!r}: expected KEY=N, e.g. dag.operators=500000")
    current = os.environ.get("OPTGAP_LIMITS", "")
    os.environ["OPTGAP_LIMITS"] = ",".join([i for i in (current, *items) if i])
    for item in items:
        key = item.partition("=")[0].strip()
        if key not in LIMITS:
            _load_families()
        if key not in LIMITS:
            raise InputError(f"--limit {key}: unknown limit (known: {', '.join(sorted(LIMITS))})")
        limit(key)  # the value parses


def _load_families() -> None:
    from optgap.solvers import registry

    registry.family("dag")  # imports the catalogue, so every family declares its limits


def check_size(key: str, count: float, path: str) -> None:
    """Refuse a count above its limit, before anything of that size is allocated."""
    n = limit(key)
    if count > n:
        raise InputError(
            f"{path}: {_g(count) if isinstance(count, int) else f'{count:.4g}'} "
            f"{_WHAT.get(key, 'items')} exceeds the limit {n} "
            f"(raise it with --limit {key}=N or OPTGAP_LIMITS={key}=N)"
        )


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
