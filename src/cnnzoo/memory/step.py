"""The step :mod:`cnnzoo.memory` estimates and measures, and the checks of the arguments that describe it.

One training step is forward, cross-entropy loss (:func:`_loss`) and backward in training mode, or a
forward pass without autograd in evaluation mode (:func:`_mode` sets either and restores the model);
:mod:`~cnnzoo.memory.estimate` traces it on the meta device and :mod:`~cnnzoo.memory.measure` runs it for
real, so both check its batch, input size and mode here, the same way, with the same messages.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._pytree import tree_leaves

from cnnzoo.errors import CnnzooValueError, check_positive_int
from cnnzoo.memory.units import _MAX_BYTES


@contextlib.contextmanager
def _mode(model: nn.Module, training: bool) -> Iterator[None]:
    """Put the model in training or evaluation mode, and every module back as it was afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield
    finally:
        for module, was_training in modes:
            module.training = was_training


def _loss(output: Any, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of every (N, classes) output (GoogLeNet's auxiliary heads too); the mean of others."""
    leaves = [t for t in tree_leaves(output) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not leaves:
        raise CnnzooValueError(
            f"The model returned {type(output).__name__}, with no floating-point tensor to train on.")
    losses = [F.cross_entropy(t, targets) if t.dim() == 2 and t.shape[0] == targets.shape[0] else t.mean()
              for t in leaves]
    return functools.reduce(torch.add, losses)


def _check_flag(name: str, value: object) -> bool:
    """``value`` if it is True or False (a numpy bool too), else a CnnzooValueError naming ``name``."""
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    raise CnnzooValueError(f"{name} must be True or False, got {value!r} ({type(value).__name__}).")


def _check_input_size(input_size: object) -> int | tuple[int, int, int] | None:
    """``input_size`` as None, one side, or ``(C, H, W)``, each a whole number >= 1; else a CnnzooValueError."""
    if input_size is None:
        return None
    expected = "input_size must be (C, H, W) or one side, in whole numbers >= 1 (the model's default when None)"
    if isinstance(input_size, Sequence) and not isinstance(input_size, (str, bytes)):
        if len(input_size) != 3:
            raise CnnzooValueError(f"{expected}; got {input_size!r}, of {len(input_size)} numbers.")
        sides = []
        for side in input_size:
            try:
                sides.append(check_positive_int("input_size", side))
            except CnnzooValueError:
                raise CnnzooValueError(f"{expected}; got {input_size!r}.") from None
        return (sides[0], sides[1], sides[2])
    try:
        return check_positive_int("input_size", input_size)
    except CnnzooValueError:
        raise CnnzooValueError(f"{expected}; got {input_size!r} ({type(input_size).__name__}).") from None


def _resolve_input_size(model: nn.Module, input_size: int | tuple[int, int, int] | None) -> tuple[int, int, int]:
    """The ``(C, H, W)`` a checked ``input_size`` means for ``model``, from its ``default_cfg`` where needed."""
    # a FeatureExtractor keeps its model's configuration on the model it wraps
    cfg = getattr(model, "default_cfg", None) or getattr(getattr(model, "model", None), "default_cfg", None) or {}
    if isinstance(input_size, tuple):
        return input_size
    if input_size is not None:  # one side: the model's channels, or an RGB image's
        return (int(cfg.get("input_size", (3,))[0]), input_size, input_size)
    if "input_size" not in cfg:
        raise CnnzooValueError(f"{type(model).__name__} does not say what input it takes; pass input_size=(C, H, W).")
    channels, height, width = (int(s) for s in cfg["input_size"])
    return (channels, height, width)


def _check_image_bytes(input_size: tuple[int, int, int], dtype: torch.dtype) -> int:
    """The bytes of one image; a CnnzooValueError naming input_size if that is more than :data:`_MAX_BYTES`."""
    image = math.prod(input_size) * dtype.itemsize
    if image > _MAX_BYTES:
        raise CnnzooValueError(
            f"input_size {'x'.join(map(str, input_size))} is {image:,} bytes an image, more than 1 PiB "
            f"({_MAX_BYTES:,} bytes), which no machine has; pass a smaller input_size."
        )
    return image


def _check_batch_bytes(batch_size: int, input_size: tuple[int, int, int], dtype: torch.dtype) -> None:
    """Refuse a batch whose input alone is more than :data:`_MAX_BYTES`, naming the argument to shrink."""
    image = _check_image_bytes(input_size, dtype)
    size = "x".join(map(str, input_size))
    if batch_size * image > _MAX_BYTES:
        raise CnnzooValueError(
            f"batch_size {batch_size:,} of {size} images is {batch_size * image:,} bytes of input alone, more than "
            f"1 PiB ({_MAX_BYTES:,} bytes), which no machine has; pass a batch_size of at most "
            f"{_MAX_BYTES // image:,}, or max_batch_size() for the largest that fits a budget."
        )


def _meta_model(name: str, create_kwargs: dict[str, Any]) -> nn.Module:
    """The architecture ``name`` names, on the meta device: the weights do not change the memory."""
    from cnnzoo.factory import create

    try:
        with torch.device("meta"):
            return create(name, **{**create_kwargs, "pretrained": False})
    except TypeError as exc:  # an argument the model's class does not take
        raise CnnzooValueError(f"{exc} (the extra keyword arguments go to cnnzoo.create).") from exc
