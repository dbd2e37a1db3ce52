"""Memory sizes for people: reading ``"2GiB"``, ``"512 MB"`` or a byte count, and writing ``"1.25 GiB"``.

:func:`parse_bytes` and :func:`format_bytes` are public; :func:`_size_in_bytes` is the reader the rest of
:mod:`cnnzoo.memory` checks its size arguments with (a budget, an overhead), its messages naming the argument.
"""

from __future__ import annotations

import math
import operator
import re

from cnnzoo.errors import CnnzooValueError

__all__ = ["parse_bytes", "format_bytes"]

#: The largest memory size cnnzoo takes (a budget, an overhead, an input batch): 1 PiB, 2**50 bytes, the
#: ``cnnzoo memory --budget`` limit too. No one machine has that much (a node of eight H200s has 1.1 TiB of
#: GPU memory, the largest CPU servers a few dozen TiB), so a larger figure is a slip of a unit; and below
#: it a float holds every byte count exactly, and a step whose input batch is within it (its activations
#: are at most a few hundred times the input in these networks) keeps every tensor's size far inside the
#: int64 that torch counts bytes in.
_MAX_BYTES = 2**50

_BINARY = {"": 1, "b": 1, "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30,
           "t": 2**40, "tib": 2**40}
_DECIMAL = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS = {**_BINARY, **_DECIMAL}
_SIZE = re.compile(r"^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_bytes(size: int | str) -> int:
    """Read a memory size: ``"2GiB"``, ``"512 MiB"``, ``"1.5GiB"``, ``"2GB"`` or a number of bytes.

    ``KiB``/``MiB``/``GiB``/``TiB`` are powers of 1024 and ``kB``/``MB``/``GB``/``TB`` powers of 1000; a
    bare ``K``/``M``/``G``/``T`` is binary, as in Slurm's ``--mem=2G``. Case does not matter.

    Args:
        size: a whole number of bytes from 1 to 2**50 (1 PiB: more than any one machine has), as a Python,
            numpy or torch integer, or a string as above.

    Returns:
        The size in bytes, rounded to the nearest byte.

    Raises:
        CnnzooValueError: for anything else, saying which forms are accepted.

    Example:
        >>> parse_bytes("1.5 GiB"), parse_bytes("2GB"), parse_bytes(4096)
        (1610612736, 2000000000, 4096)
    """
    return _size_in_bytes("size", size)


def _size_in_bytes(name: str, size: object, smallest: int = 1) -> int:
    """:func:`parse_bytes` for the argument ``name``, whose messages name it; ``smallest`` is 0 or 1."""
    accepted = "Write it as a number with a unit, like '2GiB', '512MiB', '1.5 GiB' or '2GB' (10^9 bytes), or as bytes."
    if isinstance(size, str):
        match = _SIZE.match(size)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise CnnzooValueError(f"Cannot read {size!r} as a memory size ({name}). {accepted}")
        value: float = float(match.group(1)) * _UNITS[unit]  # inf for "1e999": refused below
    else:
        whole = _integer(size)
        if whole is None:
            raise CnnzooValueError(
                f"{name} must be a whole number of bytes or a string, got {size!r} ({type(size).__name__}). "
                f"{accepted}")
        value = whole
    if value > _MAX_BYTES or (isinstance(value, float) and math.isnan(value)):  # ints of any size compare
        raise CnnzooValueError(
            f"{name} must be at most 1 PiB ({_MAX_BYTES:,} bytes), more memory than any one machine has; got "
            f"{size!r}. Check its unit. {accepted}")
    if round(value) < smallest:
        least = "at least one byte" if smallest else "zero or more bytes"
        raise CnnzooValueError(f"{name} must be {least}, got {size!r}. {accepted}")
    return int(round(value))


def _integer(value: object) -> int | None:
    """``value`` as an int if it is a Python, numpy or torch integer (not a bool), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):  # torch raises these for tensors that are not one integer
        return None


def format_bytes(size: int) -> str:
    """A byte count for people: ``"512 B"``, ``"97.5 MiB"``, ``"1.25 GiB"``.

    Args:
        size: a whole number of bytes (negative for a shortfall), as a Python, numpy or torch integer,
            within +-2**63 (torch counts bytes in int64).

    Raises:
        CnnzooValueError: for anything else.
    """
    count = _integer(size)
    if count is None:
        raise CnnzooValueError(f"size must be a whole number of bytes, got {size!r} ({type(size).__name__}).")
    if abs(count) >= 2**63:
        raise CnnzooValueError(f"size must be within +-2**63 bytes (torch's int64 byte counts), got {count}.")
    if abs(count) < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if abs(value) < 1024 or unit == "TiB":
            break
    return f"{value:.2f} {unit}" if unit in ("GiB", "TiB") else f"{value:.1f} {unit}"
