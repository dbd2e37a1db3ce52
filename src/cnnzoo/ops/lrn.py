"""Local Response Normalization as one custom operator, ``torch.ops.cnnzoo.lrn``.

For an input ``a`` of shape (N, C, ...) the op computes, channel by channel (Krizhevsky et al. 2012,
section 3.3, with PyTorch's scaling)::

    s_c = k + alpha / size * sum_{j = c - size // 2}^{c + (size - 1) // 2} a_j ** 2
    b_c = a_c * s_c ** -beta

with ``a_j`` taken as zero outside channels 0..C-1, and its gradient, with ``W(c)`` the window above::

    da_i = g_i * s_i ** -beta
           - 2 * alpha * beta / size * a_i
             * sum_{c : i in W(c)} g_c * a_c * s_c ** (-beta - 1)

PyTorch's ``nn.LocalResponseNorm`` builds the same from a padded copy of ``a ** 2`` and ``avg_pool3d``,
and autograd keeps four input-sized tensors for backward. Here backward keeps only the input and
recomputes ``s``, so the memory kept for backward is exactly the input's. The window sums accumulate in
place, one pass per neighbouring channel (a cumulative sum for windows wider than 16), so forward
allocates nothing but its result and backward one work tensor besides its own. The default kernel is
written in torch operations (it serves the CPU and any other device); CUDA tensors go to Triton kernels
(``_lrn_triton.py``), imported the first time one arrives. Exporting to ONNX translates the op with
``_lrn_onnx.py``, which :mod:`cnnzoo.onnx` hands to torch's exporter.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any, Literal

import torch

from cnnzoo.errors import CnnzooValueError

__all__ = ["check_lrn_params", "check_scale", "local_response_norm", "lrn_checked"]

log = logging.getLogger(__name__)

# Larger windows sum through a cumulative sum (a few passes) instead of one pass per neighbour.
_MAX_SHIFTED_WINDOW = 16
_EXACT_DTYPES = (torch.float32, torch.float64)


def check_lrn_params(size: Any, alpha: Any, beta: Any, k: Any) -> None:
    """Raise a ValueError naming the parameter unless ``size >= 1`` and alpha, beta, k are finite numbers."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise CnnzooValueError(f"LocalResponseNorm size must be an int >= 1, got {size!r}.")
    for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CnnzooValueError(f"LocalResponseNorm {name} must be a finite number, got {value!r}.")


def _check_input(x: torch.Tensor) -> None:
    if x.dim() < 3:
        raise CnnzooValueError(
            f"local_response_norm needs an input of 3 or more dimensions (N, C, ...), got shape {tuple(x.shape)}; "
            "add a batch dimension with x.unsqueeze(0)."
        )
    if not x.is_floating_point():
        raise CnnzooValueError(f"local_response_norm needs a floating-point input, got {x.dtype}.")


def _layout(x: torch.Tensor) -> torch.memory_format:
    """The memory format the op computes in and returns: channels-last stays channels-last, anything else
    becomes contiguous. The fake implementation uses the same rule, so compiled graphs see real strides."""
    if not x.is_contiguous():
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return torch.channels_last
        if x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d):
            return torch.channels_last_3d
    return torch.contiguous_format


def _offsets(size: int, transpose: bool) -> range:
    """Channel offsets d of the window: channel c sums c + d. Backward sums the transposed window
    {c : i in W(c)}, whose offsets are the forward ones mirrored (they differ for even sizes)."""
    before, after = size // 2, (size - 1) // 2
    if transpose:
        before, after = after, before
    return range(-before, after + 1)


def _accumulate_window(
    out: torch.Tensor, first: torch.Tensor, second: torch.Tensor, size: int, transpose: bool, value: float, first_shifts: bool
) -> None:
    """``out[:, c] += value * sum_d first[:, c (+ d)] * second[:, c + d]`` over the window's offsets d, in place.

    ``first`` is shifted with ``second`` when ``first_shifts`` (forward: the sum of a_j ** 2), else read
    at c (backward: a_i times the sum of u_c). Every tensor is (rows, C, ...) with channels on dim 1. One
    in-place pass per neighbour: on the CPU a pass over memory already mapped costs a fraction of one
    that allocates, so this beats materialising ``a ** 2`` and a band-matrix product.
    """
    channels = out.shape[1]
    offsets = _offsets(size, transpose)
    if size <= _MAX_SHIFTED_WINDOW:
        for d in offsets:
            if abs(d) >= channels:
                continue
            length = channels - abs(d)
            at, shifted = max(-d, 0), max(d, 0)
            target = out.narrow(1, at, length)
            factor = first.narrow(1, shifted if first_shifts else at, length)
            target.addcmul_(factor, second.narrow(1, shifted, length), value=value)
        return
    before, after = -offsets[0], offsets[-1]
    summed = first * second if first_shifts else second
    pad = [0, 0] * (summed.dim() - 2) + [before + 1, after]
    cumulative = torch.nn.functional.pad(summed, pad).cumsum(1)
    window = cumulative.narrow(1, before + after + 1, channels) - cumulative.narrow(1, 0, channels)
    if first_shifts:
        out.add_(window, alpha=value)
    else:
        out.addcmul_(first, window, value=value)


def _rows(x: torch.Tensor, fmt: torch.memory_format) -> tuple[torch.Tensor, bool]:
    """``x`` as a 3-D (N, C, L) or, for channels-last, a 2-D (R, C) view the window sums run on."""
    if fmt == torch.contiguous_format:
        return x.contiguous().view(x.shape[0], x.shape[1], -1), False
    return x.contiguous(memory_format=fmt).movedim(1, -1).reshape(-1, x.shape[1]), True


def _unrows(rows: torch.Tensor, like: torch.Tensor, channels_last: bool) -> torch.Tensor:
    if not channels_last:
        return rows.view(like.shape)
    shape = (like.shape[0], *like.shape[2:], like.shape[1])
    return rows.view(shape).movedim(-1, 1)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    # float16 and bfloat16 accumulate the sum of squares and the power in float32
    return dtype if dtype in _EXACT_DTYPES else torch.float32


def _denominator(xf: torch.Tensor, size: int, alpha: float, k: float) -> torch.Tensor:
    """``s = k + alpha / size * window_sum(x ** 2)``: the one tensor forward allocates."""
    s = torch.full_like(xf, k)
    _accumulate_window(s, xf, xf, size, transpose=False, value=alpha / size, first_shifts=True)
    return s


def _check_op_arguments(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> None:
    # the op is a boundary of its own (torch.ops.cnnzoo.lrn can be called directly): every kernel checks once
    _check_input(x)
    check_lrn_params(size, alpha, beta, k)


def _lrn_default(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """Local response normalization with PyTorch's scaling; see the module docstring for the equations."""
    _check_op_arguments(x, size, alpha, beta, k)
    return _lrn_compute(x, size, alpha, beta, k)


def _lrn_compute(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    if x.numel() == 0:
        return torch.empty_like(x, memory_format=_layout(x))
    rows, channels_last = _rows(x, _layout(x))
    xf = rows.to(_compute_dtype(x.dtype))
    out = _denominator(xf, size, alpha, k).pow_(-beta).mul_(xf)
    return _unrows(out.to(x.dtype), x, channels_last)


def _lrn_backward_default(grad: torch.Tensor, x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """The gradient of the op with respect to its input, recomputing the denominators from ``x``.

    Allocates the result and one work tensor; everything else happens in place in those two.
    """
    if x.numel() == 0:
        return torch.empty_like(x, memory_format=_layout(x))
    fmt = _layout(x)
    rows, channels_last = _rows(x, fmt)
    grad_rows, _ = _rows(grad, fmt)
    dtype = _compute_dtype(x.dtype)
    xf, gf = rows.to(dtype), grad_rows.to(dtype)
    work = _denominator(xf, size, alpha, k)
    out = work.pow(-beta)
    # work <- u = g * a * s^(-beta - 1) = g * a * s^-beta / s
    torch.div(out, work, out=work)
    work.mul_(gf).mul_(xf)
    out.mul_(gf)
    _accumulate_window(out, xf, work, size, transpose=True, value=-2.0 * alpha * beta / size, first_shifts=False)
    return _unrows(out.to(x.dtype), x, channels_last)


# The bodies above are the default kernels (CPU and any device without its own); CUDA gets Triton below.
# The schemas are spelt out (the ones torch >= 2.5 infers) because torch 2.4 cannot infer a schema from the
# string annotations ``from __future__ import annotations`` makes.
lrn = torch.library.custom_op(
    "cnnzoo::lrn", _lrn_default, mutates_args=(),
    schema="(Tensor x, SymInt size, float alpha, float beta, float k) -> Tensor",
)
lrn_backward = torch.library.custom_op(
    "cnnzoo::lrn_backward", _lrn_backward_default, mutates_args=(),
    schema="(Tensor grad, Tensor x, SymInt size, float alpha, float beta, float k) -> Tensor",
)


@lrn.register_fake
def _lrn_fake(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    _check_op_arguments(x, size, alpha, beta, k)
    return torch.empty_like(x, memory_format=_layout(x))


@lrn_backward.register_fake
def _lrn_backward_fake(grad: torch.Tensor, x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    return torch.empty_like(x, memory_format=_layout(x))


@lrn.register_kernel("cuda")
def _lrn_cuda(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    _check_op_arguments(x, size, alpha, beta, k)
    triton_lrn = _triton()
    if triton_lrn is None or x.dtype == torch.float64:
        return _lrn_compute(x, size, alpha, beta, k)
    return triton_lrn.forward(x, size, alpha, beta, k, _layout(x))


@lrn_backward.register_kernel("cuda")
def _lrn_backward_cuda(grad: torch.Tensor, x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    triton_lrn = _triton()
    if triton_lrn is None or x.dtype == torch.float64:
        return _lrn_backward_default(grad, x, size, alpha, beta, k)
    return triton_lrn.backward(grad, x, size, alpha, beta, k, _layout(x))


@functools.lru_cache(maxsize=1)
def _triton() -> Any:
    """The Triton kernels, imported on the first CUDA tensor; None (with a warning) where Triton is missing."""
    try:
        from cnnzoo.ops import _lrn_triton
    except ImportError as error:  # e.g. a platform without Triton wheels
        log.warning("Triton is not available (%s); cnnzoo's LRN runs its portable kernel on CUDA.", error)
        return None
    return _lrn_triton


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    x, size, alpha, beta, k = inputs
    # the input is all backward keeps: the denominators are recomputed from it
    ctx.save_for_backward(x)
    ctx.params = (size, alpha, beta, k)


def _backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None, None]:
    (x,) = ctx.saved_tensors
    return torch.ops.cnnzoo.lrn_backward(grad, x, *ctx.params), None, None, None, None


lrn.register_autograd(_backward, setup_context=_setup_context)


def local_response_norm(
    x: torch.Tensor,
    size: int,
    alpha: float = 1e-4,
    beta: float = 0.75,
    k: float = 1.0,
    *,
    scale: Literal["pytorch", "paper"] = "pytorch",
) -> torch.Tensor:
    """Local response normalization over channels, as one fused operator with a lean backward.

    Numerically equal to :func:`torch.nn.functional.local_response_norm` (its window for even sizes
    too) for any input of 3 or more dimensions, in float32, float64, bfloat16 and float16 (the last two
    accumulate in float32), contiguous or channels-last; backward keeps only the input.

    Args:
        x: input of shape (N, C, ...).
        size: the number of channels n in each window.
        alpha: multiplier of the sum of squares; divided by ``size`` as PyTorch does unless
            ``scale="paper"``.
        beta: the exponent.
        k: the additive constant.
        scale: ``"pytorch"`` or ``"paper"`` -- Krizhevsky et al.'s equation, where alpha multiplies the
            sum itself (AlexNet's k=2, n=5, alpha=1e-4, beta=0.75 are meant that way).

    Returns:
        A tensor of ``x``'s shape and dtype (channels-last when ``x`` is).

    Raises:
        ValueError: ``size < 1``, non-finite alpha, beta or k, an unknown scale, or an input with
            fewer than 3 dimensions.

    Example:
        >>> import torch, cnnzoo.ops
        >>> x = torch.randn(2, 96, 55, 55)
        >>> y = cnnzoo.ops.local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=2.0)
        >>> F = torch.nn.functional
        >>> torch.allclose(y, F.local_response_norm(x, 5, 1e-4, 0.75, 2.0))
        True
    """
    check_lrn_params(size, alpha, beta, k)
    check_scale(scale)
    return lrn_checked(x, size, float(alpha), float(beta), float(k), scale)


def check_scale(scale: Any) -> None:
    """Raise a ValueError unless ``scale`` is ``"pytorch"`` or ``"paper"``."""
    if scale not in ("pytorch", "paper"):
        raise CnnzooValueError(f"LocalResponseNorm scale must be 'pytorch' or 'paper', got {scale!r}.")


def lrn_checked(x: torch.Tensor, size: int, alpha: float, beta: float, k: float, scale: str) -> torch.Tensor:
    """The LRN op under either scaling, for callers that checked the parameters once already.

    :class:`cnnzoo.layers.LocalResponseNorm` checks ``size``, ``alpha``, ``beta``, ``k`` and ``scale`` when
    it is built and calls this on every forward pass; :func:`local_response_norm` checks them on every
    call. The op itself checks ``x``. ``scale="paper"`` uses Krizhevsky et al.'s equation (alpha not
    divided by ``size``), ``"pytorch"`` torch.nn.LocalResponseNorm's."""
    # the op divides alpha by size, as PyTorch does; multiplying first gives the paper's equation
    return torch.ops.cnnzoo.lrn(x, size, alpha * size if scale == "paper" else alpha, beta, k)
