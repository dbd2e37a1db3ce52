"""The exceptions cnnzoo raises.

Every error cnnzoo raises on bad input is a :class:`CnnzooError`, so ``except cnnzoo.CnnzooError`` catches
them all; each also derives from the built-in exception a Python user would expect (``ValueError`` for a
bad argument, ``FileNotFoundError`` for a missing file), so existing ``except ValueError`` code keeps
working. Messages say what was wrong and what to do about it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable

__all__ = [
    "CnnzooError",
    "UnknownModelError",
    "InputShapeError",
    "WeightsError",
    "RegistryError",
    "CnnzooValueError",
    "CnnzooTypeError",
]


class CnnzooError(Exception):
    """Base class of every error cnnzoo raises on purpose."""


class UnknownModelError(CnnzooError, ValueError):
    """A model name (or ``name.tag``) that is not in the registry."""


class InputShapeError(CnnzooError, ValueError):
    """An input tensor a network cannot take: wrong rank, wrong channel count, or too small."""


class WeightsError(CnnzooError):
    """Pretrained weights that cannot be found, verified or loaded completely."""


class RegistryError(CnnzooError, ValueError):
    """A model registration that would break the registry (a duplicate name, say)."""


class CnnzooValueError(CnnzooError, ValueError):
    """An argument with a value outside what it accepts."""


class CnnzooTypeError(CnnzooError, TypeError):
    """An argument a function does not take (a misspelt architecture option, say)."""


def check_positive_int(name: str, value: object, maximum: int | None = None, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is a whole number >= ``minimum`` (1 unless told; at most ``maximum``),
    else raise a ValueError naming the argument.

    Python, numpy and torch integers are accepted (anything with ``__index__``); ``bool`` and floats are not.
    """
    try:
        if isinstance(value, bool) or "bool" in str(getattr(value, "dtype", "")):  # numpy and torch booleans too
            raise TypeError
        number = operator.index(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):  # torch raises these for non-integer tensors
        raise CnnzooValueError(f"{name} must be a whole number >= {minimum}, got {value!r} ({type(value).__name__}).") from None
    if number < minimum:
        hint = ""
        if name == "num_classes":
            hint = " num_classes=0 gives a model without classifier, whose forward returns the pooled features."
        raise CnnzooValueError(f"{name} must be >= {minimum}, got {number}.{hint}")
    if maximum is not None and number > maximum:
        raise CnnzooValueError(f"{name} must be at most {maximum:,}, got {number:,}: {_WHY_AT_MOST.get(name, 'too large to build')}.")
    return number


def check_class_count(value: object) -> int:
    """``num_classes`` as an int: 0 (no classifier: the model returns pooled features, as in timm) up to
    :data:`MAX_CLASSES`, else a ValueError naming it."""
    return check_positive_int("num_classes", value, MAX_CLASSES, minimum=0)


# Bounds far above any real use that keep a typo from asking for terabytes.
MAX_CLASSES = 10_000_000
MAX_CHANNELS = 100_000
_WHY_AT_MOST = {
    "num_classes": "the largest classification data sets have about a million classes, and a head this wide "
                   "would not fit in memory",
    "in_chans": "even hyperspectral images have a few hundred channels, and a first convolution this wide would "
                "not fit in memory",
}


def check_probability(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a dropout probability in [0, 1), else raise a ValueError naming it."""
    number = _as_float(name, value, "a probability in [0, 1)")
    if not 0.0 <= number < 1.0:
        raise CnnzooValueError(
            f"{name} must be a probability in [0, 1), got {value!r}: 0 turns dropout off, 0.5 drops half the units."
        )
    return number


def check_positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise a ValueError naming it."""
    number = _as_float(name, value, "a finite number > 0")
    if not (math.isfinite(number) and number > 0):
        raise CnnzooValueError(f"{name} must be a finite number > 0, got {value!r}.")
    return number


def check_non_negative_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise a ValueError naming it."""
    number = _as_float(name, value, "a finite number >= 0")
    if not (math.isfinite(number) and number >= 0):
        raise CnnzooValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return number


def _as_float(name: str, value: object, expected: str) -> float:
    """``value`` as a float: Python, numpy and torch real numbers; not bool, str or None."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise CnnzooValueError(f"{name} must be {expected}, got {value!r} ({type(value).__name__}).")
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:  # an integer beyond any float: infinite for the range checks
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]
    except (TypeError, ValueError, RuntimeError):
        raise CnnzooValueError(f"{name} must be {expected}, got {value!r} ({type(value).__name__}).") from None


def check_out_indices(out_indices: object) -> list[int] | None:
    """``out_indices`` as a list of ints (numpy and torch integers accepted), or a named error."""
    if out_indices is None:
        return None
    example = "a sequence of stage indices such as (1, 2, 3); for one stage write (2,)"
    if isinstance(out_indices, (str, bytes)) or not isinstance(out_indices, Iterable):
        raise CnnzooValueError(f"out_indices must be {example}; got {out_indices!r}.")
    indices = []
    for index in out_indices:
        try:
            if isinstance(index, bool):
                raise TypeError
            indices.append(operator.index(index))
        except (TypeError, ValueError, RuntimeError):
            raise CnnzooValueError(f"out_indices must be {example}; {index!r} is not a whole number.") from None
    if not indices:
        raise CnnzooValueError(f"out_indices is empty; give {example}, or None for every stage.")
    return indices
