"""Making a network run faster without changing what it computes.

Two changes pay on most hardware: storing 4-d tensors channels-last (NHWC), the layout cuDNN's tensor-core
kernels and oneDNN's CPU kernels work in, so convolutions skip a transpose on each side; and
:func:`torch.compile`, which fuses BatchNorm, ReLU and additions into few kernels. What each buys on each
device is measured by ``benchmarks/throughput.py --optimize`` (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from cnnzoo.errors import CnnzooValueError

__all__ = ["optimize"]

logger = logging.getLogger(__name__)


def optimize(model: nn.Module, *, channels_last: bool = True, compile: bool = False, **compile_options: Any) -> nn.Module:
    """Convert ``model`` in place to the fast layout, optionally compile it, and return it.

    The model stays the same object of the same class: ``get_classifier``, ``reset_classifier``,
    ``forward_features``, ``state_dict`` keys, :func:`cnnzoo.freeze_backbone` and
    :func:`cnnzoo.save_pretrained` work as before. Compilation uses :meth:`torch.nn.Module.compile`, which
    compiles the module's forward in place, rather than :func:`torch.compile`, whose wrapper would hide
    those methods and prefix every state_dict key with ``_orig_mod.``. Outputs equal the unoptimised
    model's up to floating-point rounding (the kernels of another layout sum in another order).

    Feed a channels-last model channels-last input too
    (``x = x.contiguous(memory_format=torch.channels_last)``); an NCHW input still works, and the first
    convolution converts it. The rest of the fast recipe is global and the caller's choice:
    ``torch.backends.cudnn.benchmark = True`` for fixed input sizes, and ``torch.autocast`` with bfloat16
    on cards that have it.

    Args:
        model: the network, on the device it will run on (moving it afterwards keeps the layout).
        channels_last: store 4-d parameters and buffers in ``torch.channels_last`` order.
        compile: compile the forward pass with :meth:`torch.nn.Module.compile`. The first call then
            takes seconds to minutes, and each new input shape or train/eval switch compiles again.
        **compile_options: keyword arguments of :func:`torch.compile` (``mode="max-autotune"``,
            ``backend="eager"``, ``dynamic=False``); only with ``compile=True``.

    Returns:
        ``model`` itself, converted.

    Raises:
        CnnzooValueError: if ``model`` is not an ``nn.Module``, or compile options come without
            ``compile=True``.

    Example:
        >>> model = cnnzoo.create("resnet50").cuda()
        >>> model = cnnzoo.optimize(model, channels_last=True, compile=True)
        >>> x = torch.randn(64, 3, 224, 224, device="cuda")
        >>> x = x.contiguous(memory_format=torch.channels_last)
        >>> with torch.autocast("cuda", dtype=torch.bfloat16):
        ...     logits = model(x)
        >>> model.get_classifier()
        Linear(in_features=2048, out_features=1000, bias=True)
    """
    if not isinstance(model, nn.Module):
        raise CnnzooValueError(
            f"optimize() takes an nn.Module, got {type(model).__name__}. Pass the network itself, e.g. "
            "cnnzoo.optimize(cnnzoo.create('resnet50'))."
        )
    if compile_options and not compile:
        raise CnnzooValueError(
            f"Compile options {sorted(compile_options)} were given without compile=True; add compile=True "
            "or drop them."
        )
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if compile:
        model.compile(**compile_options)
    logger.debug("optimized %s: channels_last=%s, compile=%s %s", type(model).__name__, channels_last, compile,
                 compile_options)
    return model
