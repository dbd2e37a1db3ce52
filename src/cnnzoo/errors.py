"""The exceptions cnnzoo raises.

Every error cnnzoo raises on bad input is a :class:`CnnzooError`, so ``except cnnzoo.CnnzooError`` catches
them all; each also derives from the built-in exception a Python user would expect (``ValueError`` for a
bad argument, ``FileNotFoundError`` for a missing file), so existing ``except ValueError`` code keeps
working. Messages say what was wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "CnnzooError",
    "UnknownModelError",
    "InputShapeError",
    "WeightsError",
    "RegistryError",
    "CnnzooValueError",
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


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1, else raise a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CnnzooValueError(f"{name} must be a whole number >= 1, got {value!r} ({type(value).__name__}).")
    if value < 1:
        hint = ""
        if name == "num_classes":
            hint = (
                " To get features instead of class scores, use model.forward_features(x) or "
                "model.forward_head(x, pre_logits=True)."
            )
        raise CnnzooValueError(f"{name} must be >= 1, got {value}.{hint}")
    return value

