"""Running a model on the meta device: shapes and FLOPs without touching (or allocating) real weights.

A meta tensor carries shape and dtype but no storage, so a forward pass over meta tensors costs only
Python dispatch. Parameters of a model built on a real device are swapped for meta stand-ins with
:func:`torch.func.functional_call`, which leaves the model itself untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["meta_state", "meta_forward", "count_flops"]


def meta_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Meta stand-ins for every parameter and buffer of ``model`` by name, keeping ``requires_grad``, for
    :func:`torch.func.functional_call`."""
    tensors = dict(model.named_parameters(remove_duplicate=False))
    tensors.update(model.named_buffers(remove_duplicate=False))
    return {name: torch.empty_like(t, device="meta").requires_grad_(t.requires_grad) for name, t in tensors.items()}


def meta_forward(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype = torch.float32) -> Any:
    """Run ``model`` on a meta tensor of ``input_shape`` and return its (meta) output.

    Forward hooks registered on the model's modules fire as usual, which is how the layer table is
    built. Exceptions raised by the model (an input too small, say) propagate unchanged.
    """
    x = torch.empty(tuple(input_shape), dtype=dtype, device="meta")
    with torch.no_grad():
        return torch.func.functional_call(model, meta_state(model), (x,), tie_weights=False, strict=False)


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass at ``input_shape`` as counted by :mod:`torch.utils.flop_counter`.

    The counter counts a multiply-add as two FLOPs, so ResNet-50 at 224x224 counts 8.2 GFLOPs where
    torchvision's tables, which count multiply-adds, say 4.1.
    """
    counter = FlopCounterMode(display=False)
    with counter:
        meta_forward(model, input_shape)
    return int(counter.get_total_flops())
