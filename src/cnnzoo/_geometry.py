"""The smallest input a network accepts, from the arithmetic of its convolutions and pools.

A model lists its size-changing layers in the order an input passes through them: a ``Sequential``
or ``ModuleDict`` contributes its children in order, a module with a ``spatial_layers()`` method
contributes what that method returns (blocks with parallel branches name one branch, since their
branches agree on size), and every other module without one (BatchNorm, ReLU, dropout, adaptive
pooling, Linear) leaves the side length alone or accepts any. The side length is then pushed through
each convolution and pool with PyTorch's own output-size rule; the smallest side for which every layer
gets a valid input is the answer. The tests check it against a real forward pass at that size and one
pixel less, for every registered model.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import nn

__all__ = ["spatial_chain", "min_input_side"]

_SIZED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def _pair(value: int | tuple[int, ...]) -> int:
    # cnnzoo's networks use square kernels, strides and paddings.
    return value[0] if isinstance(value, tuple) else int(value)


def spatial_chain(module: nn.Module) -> Iterator[nn.Module]:
    """The convolutions and pools an input passes through, in order, along one path through ``module``."""
    if isinstance(module, _SIZED):
        yield module
    elif hasattr(module, "spatial_layers"):
        for child in module.spatial_layers():
            yield from spatial_chain(child)
    elif isinstance(module, (nn.Sequential, nn.ModuleDict)):
        for child in module.children():
            yield from spatial_chain(child)


def _output_side(layer: nn.Module, side: int) -> int | None:
    """The side after ``layer``, or None if the layer refuses an input of this side."""
    kernel, stride, padding = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
    dilation = _pair(getattr(layer, "dilation", 1))
    extent = dilation * (kernel - 1) + 1
    ceil_mode = bool(getattr(layer, "ceil_mode", False))
    # PyTorch's pooling_output_shape; with ceil_mode a last window may overhang the input
    out = (side + 2 * padding - extent + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= side + padding:
        out -= 1  # a window may not start in the right padding
    return out if out >= 1 else None


def min_input_side(model: nn.Module, limit: int = 4096) -> int:
    """The smallest square side ``model`` accepts, by walking :func:`spatial_chain`."""
    layers = list(spatial_chain(model))
    for side in range(1, limit + 1):
        current: int | None = side
        for layer in layers:
            current = _output_side(layer, current)
            if current is None:
                break
        if current is not None:
            return side
    raise ValueError(f"{type(model).__name__} accepts no input side up to {limit} pixels.")
