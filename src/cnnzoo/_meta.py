"""Running a model on the meta device: shapes and FLOPs without touching (or allocating) real weights.

A meta tensor carries shape and dtype but no storage, so a forward pass over meta tensors costs only
Python dispatch. Parameters of a model built on a real device are swapped for meta stand-ins with
:func:`torch.func.functional_call`, which leaves the model itself untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["meta_state", "meta_forward", "count_flops"]


def meta_state(model: nn.Module, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """Meta stand-ins for every parameter and buffer of ``model`` by name, for :func:`torch.func.functional_call`.

    Each keeps its tensor's ``requires_grad``, and a tensor under several names (tied weights) has one
    stand-in under all of them, so a step on the stand-ins shares what the model shares. With ``dtype``,
    the floating-point stand-ins take it (the memory estimator's ``dtype=``); the others keep theirs.
    """
    stand_ins: dict[int, torch.Tensor] = {}
    state: dict[str, torch.Tensor] = {}
    named = chain(model.named_parameters(remove_duplicate=False), model.named_buffers(remove_duplicate=False))
    for name, tensor in named:
        if id(tensor) not in stand_ins:
            cast = dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
            stand_in = torch.empty_like(tensor, device="meta", dtype=cast)
            stand_ins[id(tensor)] = stand_in.requires_grad_(tensor.requires_grad)
        state[name] = stand_ins[id(tensor)]
    return state


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
