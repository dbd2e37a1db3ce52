"""The ONNX translation of ``torch.ops.cnnzoo.lrn`` (imported when a model is exported to ONNX).

ONNX's ``LRN`` scales as the op does, ``b_c = a_c * (k + alpha / size * sum a_j ** 2) ** -beta``, but
centres an even window the other way: channels ``c - (size - 1) // 2 .. c + size // 2`` where the op (and
PyTorch) sums ``c - size // 2 .. c + (size - 1) // 2``. ONNX Runtime's kernel also takes only 4-D float32
inputs and odd sizes. So the translation is ONNX's ``LRN`` where the two agree and a runtime can run it
(4-D, odd size: AlexNet's and GoogLeNet's layers), and otherwise PyTorch's own composition: the squares
averaged over a zero-padded window of channels by ``AveragePool`` (which divides by ``size``, padding
included), placed as the op places it.

float16 and bfloat16 inputs compute in float32 and return their own type, as the op's kernels do.
"""

from __future__ import annotations

from typing import TypeVar

import onnx_ir as ir
from onnxscript import BFLOAT16, DOUBLE, FLOAT, FLOAT16
from onnxscript import opset18 as op

__all__ = ["lrn"]

# the exporter reads the inputs' and attributes' roles from these annotations
TFloat = TypeVar("TFloat", FLOAT16, BFLOAT16, FLOAT, DOUBLE)

# the types the op computes in itself; any other floating type goes through float32
_COMPUTE_TYPES = (ir.DataType.FLOAT, ir.DataType.DOUBLE)


def lrn(x: TFloat, size: int, alpha: float, beta: float, k: float) -> TFloat:
    """``torch.ops.cnnzoo.lrn(x, size, alpha, beta, k)`` in ONNX operators (traced: the branches are on
    the attributes, the rank and the type, all known when the graph is built)."""
    compute = x if x.dtype in _COMPUTE_TYPES else op.Cast(x, to=ir.DataType.FLOAT)
    if x.shape is not None and len(x.shape) == 4 and size % 2 == 1 and x.dtype != ir.DataType.DOUBLE:
        y = op.LRN(compute, size=size, alpha=alpha, beta=beta, bias=k)
    else:
        y = _composed_lrn(compute, size, alpha, beta, k)
    return y if x.dtype in _COMPUTE_TYPES else op.Cast(y, to=x.dtype)


def _composed_lrn(x: ir.Value, size: int, alpha: float, beta: float, k: float) -> ir.Value:
    """The op's equation for any rank >= 3 and any size, from primitive operators."""
    # (N, C, ...) -> (N, 1, C, L): a 2-D pooling whose window runs over the channels
    channels_last_dim = op.Concat(
        op.Constant(value_ints=[0, 1]), op.Shape(x, start=1, end=2), op.Constant(value_ints=[-1]), axis=0
    )
    squares = op.Reshape(op.Mul(x, x), channels_last_dim)
    mean = op.AveragePool(
        squares, kernel_shape=[size, 1], pads=[size // 2, 0, (size - 1) // 2, 0], count_include_pad=1
    )
    dtype = x.dtype
    scale = op.Add(op.Mul(op.Reshape(mean, op.Shape(x)), _scalar(alpha, dtype)), _scalar(k, dtype))
    return op.Mul(x, op.Pow(scale, _scalar(-beta, dtype)))


def _scalar(value: float, dtype: ir.DataType) -> ir.Value:
    return op.Constant(value=ir.tensor(value, dtype=dtype))
