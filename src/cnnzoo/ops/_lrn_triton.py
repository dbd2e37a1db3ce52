"""Triton kernels of ``torch.ops.cnnzoo.lrn`` for CUDA tensors (imported on the first one that arrives).

Each program normalises one (sample, channel) row over a block of positions, summing the squares of its
window straight from the input (the neighbours' loads hit the cache), so forward reads the input and
writes the output once, where PyTorch's composition makes five passes and keeps four copies for backward.
Backward runs two kernels: the first writes u = g * a * s^(-beta - 1) to a float32 work tensor, the
second sums u over the transposed window and forms the gradient, recomputing s from the input again
rather than keeping it. Everything accumulates in float32; float64 tensors take the portable kernel.

The kernels address the input through (N, C, L) strides, so contiguous and channels-last tensors run
without a copy. They can be checked without a GPU under ``TRITON_INTERPRET=1`` on CPU tensors.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["backward", "forward"]

_MAX_BLOCK = 1024


@triton.jit
def _program_row(C, L, stride_n, stride_l, BLOCK: tl.constexpr):
    """This program's channel, the mask of its block of positions, and their offsets without the channel."""
    row = tl.program_id(0)
    n = row // C
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    base = n.to(tl.int64) * stride_n + offs.to(tl.int64) * stride_l
    return row % C, offs < L, base


@triton.jit
def _window_denominator(x_ptr, base, c, C, stride_c, mask, size, first, coef, k, BLOCK: tl.constexpr):
    """k + coef * sum of x[c'] ** 2 for c' in [c + first, c + first + size), zero outside the channels."""
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for d in range(0, size):
        j = c + first + d
        inside = (j >= 0) & (j < C)
        v = tl.load(x_ptr + base + j.to(tl.int64) * stride_c, mask=mask & inside, other=0.0).to(tl.float32)
        acc += v * v
    return k + coef * acc


@triton.jit
def _lrn_forward_kernel(x_ptr, y_ptr, C, L, stride_n, stride_c, stride_l, size, first, coef, beta, k, BLOCK: tl.constexpr):
    c, mask, base = _program_row(C, L, stride_n, stride_l, BLOCK)
    s = _window_denominator(x_ptr, base, c, C, stride_c, mask, size, first, coef, k, BLOCK)
    here = base + c.to(tl.int64) * stride_c
    a = tl.load(x_ptr + here, mask=mask, other=0.0).to(tl.float32)
    y = a * tl.exp2(-beta * tl.log2(s))
    tl.store(y_ptr + here, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _lrn_backward_u_kernel(
    x_ptr, g_ptr, u_ptr, C, L, stride_n, stride_c, stride_l, size, first, coef, beta, k, BLOCK: tl.constexpr
):
    c, mask, base = _program_row(C, L, stride_n, stride_l, BLOCK)
    s = _window_denominator(x_ptr, base, c, C, stride_c, mask, size, first, coef, k, BLOCK)
    here = base + c.to(tl.int64) * stride_c
    a = tl.load(x_ptr + here, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + here, mask=mask, other=0.0).to(tl.float32)
    u = g * a * tl.exp2((-beta - 1.0) * tl.log2(s))
    tl.store(u_ptr + here, u, mask=mask)


@triton.jit
def _lrn_backward_grad_kernel(
    x_ptr, g_ptr, u_ptr, dx_ptr, C, L, stride_n, stride_c, stride_l, size, first, first_t, coef, grad_coef, beta, k,
    BLOCK: tl.constexpr,
):
    i, mask, base = _program_row(C, L, stride_n, stride_l, BLOCK)
    s = _window_denominator(x_ptr, base, i, C, stride_c, mask, size, first, coef, k, BLOCK)
    # the sum of u over {c : i in W(c)}, the window mirrored
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for d in range(0, size):
        j = i + first_t + d
        inside = (j >= 0) & (j < C)
        acc += tl.load(u_ptr + base + j.to(tl.int64) * stride_c, mask=mask & inside, other=0.0)
    here = base + i.to(tl.int64) * stride_c
    a = tl.load(x_ptr + here, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + here, mask=mask, other=0.0).to(tl.float32)
    dx = g * tl.exp2(-beta * tl.log2(s)) - grad_coef * a * acc
    tl.store(dx_ptr + here, dx.to(dx_ptr.dtype.element_ty), mask=mask)


def _rows(x: torch.Tensor, fmt: torch.memory_format) -> torch.Tensor:
    """``x`` in the op's layout, seen as (N, C, L) without a copy."""
    return x.contiguous(memory_format=fmt).flatten(2)


def _launch(rows: torch.Tensor) -> tuple[tuple[int, int], int]:
    n, c, length = rows.shape
    block = max(16, min(_MAX_BLOCK, triton.next_power_of_2(length)))
    return (n * c, triton.cdiv(length, block)), block


def forward(x: torch.Tensor, size: int, alpha: float, beta: float, k: float, fmt: torch.memory_format) -> torch.Tensor:
    """The op's forward on a CUDA tensor of 3 or more dimensions, returned in memory format ``fmt``."""
    out = torch.empty_like(x, memory_format=fmt)
    if x.numel() == 0:
        return out
    xs, ys = _rows(x, fmt), out.flatten(2)
    grid, block = _launch(xs)
    _lrn_forward_kernel[grid](
        xs, ys, xs.shape[1], xs.shape[2], *xs.stride(), size, -(size // 2), alpha / size, beta, k, BLOCK=block
    )
    return out


def backward(
    grad: torch.Tensor, x: torch.Tensor, size: int, alpha: float, beta: float, k: float, fmt: torch.memory_format
) -> torch.Tensor:
    """The op's input gradient on CUDA tensors, returned in memory format ``fmt``."""
    out = torch.empty_like(x, memory_format=fmt)
    if x.numel() == 0:
        return out
    xs, gs, dxs = _rows(x, fmt), _rows(grad, fmt), out.flatten(2)
    work = torch.empty_like(x, dtype=torch.float32, memory_format=fmt).flatten(2)
    grid, block = _launch(xs)
    channels, length = xs.shape[1], xs.shape[2]
    first, first_t = -(size // 2), -((size - 1) // 2)
    _lrn_backward_u_kernel[grid](
        xs, gs, work, channels, length, *xs.stride(), size, first, alpha / size, beta, k, BLOCK=block
    )
    _lrn_backward_grad_kernel[grid](
        xs, gs, work, dxs, channels, length, *xs.stride(), size, first, first_t, alpha / size,
        2.0 * alpha * beta / size, beta, k, BLOCK=block,
    )
    return out
