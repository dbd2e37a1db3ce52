"""The memory-efficient dense block (Pleiss et al. 2017) as one autograd operator, :func:`dense_block`.

A plain dense layer ``i`` (BN-ReLU-Conv1x1-BN-ReLU-Conv3x3 on the concatenation of the ``c_i`` maps before it)
keeps for backward its concatenated input and that input's BatchNorm-ReLU output, both ``c_i`` maps wide, plus
its 1x1 bottleneck output (4k maps) and that one's BatchNorm-ReLU output: summed over a block of ``L`` layers
that adds ``k`` maps each, memory quadratic in ``L``. Pleiss et al. ("Memory-Efficient Implementation of
DenseNets", 2017, https://arxiv.org/abs/1707.06990, section 4) keep one storage per block instead, which every
layer writes its ``k`` new maps into, and recompute the cheap BatchNorm and ReLU outputs in backward.

**Kept for backward**, for a dense block with the transition or final BatchNorm after it (the *tail*):

- the block's storage, ``(N, C_in + L k, H, W)``: its output, which the plain network keeps as well;
- each layer's 1x1 bottleneck output (4k maps) and dropout mask;
- every BatchNorm's batch mean and inverse standard deviation (a few numbers per channel).

That is memory linear in depth: about a third of the plain network's for DenseNet-121 (``benchmarks/
densenet_memory.py`` measures it), at the plain step time, because **no convolution is recomputed**.

**Recomputed in backward**, in this order, one layer at a time so that only one layer's temporaries live at once:

1. the tail: its pool's backward (which needs only the pooled input's shape; a max pool finds its indices
   again), ``relu(norm(storage))`` from the saved statistics, the backward of its convolution, ReLU and
   BatchNorm. The BatchNorm's input gradient is the gradient of the whole storage: the one storage-sized
   buffer of backward, which every layer below adds into.
2. each layer, last first: ``relu(norm2(bottleneck))`` from the saved bottleneck, the 3x3 convolution's
   backward (from the layer's ``k`` channels of the storage gradient), ReLU's and norm2's backward;
   ``relu(norm1(storage[:, :c_i]))``, the 1x1 convolution's backward, ReLU's and norm1's backward, whose input
   gradient is added into the gradient of ``storage[:, :c_i]``.

Without layers the operator is its tail alone, keeping only the input: a transition on its own, or the ImageNet
stem's BN-ReLU-MaxPool.

**Statistics.** Every BatchNorm in a block that reads a map normalises it with the same batch statistics, so
each map's mean, inverse standard deviation and unbiased variance are computed once, when it is written, by
ATen's own BatchNorm kernel on that map; ATen computes each channel's statistics on its own, so they are the
ones the plain network's BatchNorm finds on the concatenation. Normalising uses ATen's CPU arithmetic
(``x * alpha + beta`` with ``beta = bias - mean * alpha``, each a fused multiply-add) and backward calls ATen's
BatchNorm, convolution, ReLU and pooling backward kernels, so in float32 on the CPU the operator reproduces the
plain network's outputs and gradients bit for bit (checked by tests/test_ops_dense_block.py) and is exactly as
close to a float64 reference. Running statistics are updated once per forward pass, from the same statistics
(with PyTorch's unbiased variance and momentum, or its cumulative average when ``momentum`` is None).

**Private PyTorch.** The operator calls ATen's backward functions (``torch.ops.aten.*_backward``) and reads
PyTorch's hook registries. :func:`fused_available` checks them once per process; where one is missing or its
signature changed it warns once and returns False, and the caller falls back to gradient checkpointing.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.utils import _pair

__all__ = ["DenseLayerParts", "Tail", "dense_block", "fused_available", "hook_free"]


class DenseLayerParts(NamedTuple):
    """The modules of one bottleneck dense layer, BN-ReLU-Conv(1x1)-BN-ReLU-Conv(3x3)-dropout, that the operator runs.

    ``drop_rate`` is the layer's dropout probability where it trains with dropout, 0 otherwise.
    """

    norm1: nn.BatchNorm2d
    conv1: nn.Conv2d
    norm2: nn.BatchNorm2d
    conv2: nn.Conv2d
    drop_rate: float


class Tail(NamedTuple):
    """What follows the dense layers inside the operator: ``norm``, then, where ``conv`` or ``pool`` is given,
    ReLU, ``conv`` and ``pool``.

    DenseNet's transition is ``Tail(norm, conv, avg_pool)``, its final BatchNorm ``Tail(norm)``, the ImageNet
    stem's BN-ReLU-MaxPool ``Tail(norm, None, max_pool)``.
    """

    norm: nn.BatchNorm2d
    conv: nn.Conv2d | None = None
    pool: nn.AvgPool2d | nn.MaxPool2d | None = None

    @property
    def relu(self) -> bool:
        return self.conv is not None or self.pool is not None


# -- the private PyTorch the operator leans on, checked once -------------------------------------------------

# ATen operators called positionally, with the argument names each was written against
_ATEN_SIGNATURES = {
    "native_batch_norm.default": ("input", "weight", "bias", "running_mean", "running_var", "training", "momentum",
                                  "eps"),
    "native_batch_norm_backward.default": ("grad_out", "input", "weight", "running_mean", "running_var", "save_mean",
                                           "save_invstd", "train", "eps", "output_mask"),
    "convolution_backward.default": ("grad_output", "input", "weight", "bias_sizes", "stride", "padding", "dilation",
                                     "transposed", "output_padding", "groups", "output_mask"),
    "threshold_backward.grad_input": ("grad_output", "self", "threshold", "grad_input"),
    "avg_pool2d_backward.default": ("grad_output", "self", "kernel_size", "stride", "padding", "ceil_mode",
                                    "count_include_pad", "divisor_override"),
    "max_pool2d_with_indices.default": ("self", "kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "max_pool2d_with_indices_backward.default": ("grad_output", "self", "kernel_size", "stride", "padding",
                                                 "dilation", "ceil_mode", "indices"),
    "native_dropout.default": ("input", "p", "train"),
    "native_dropout_backward.default": ("grad_output", "mask", "scale"),
}
# hooks the operator would skip: those of each module it stands in for, and the global ones
_MODULE_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def _private_api_problems() -> list[str]:
    """What is missing or changed among the private PyTorch functions and registries the operator uses."""
    problems = []
    for name, expected in _ATEN_SIGNATURES.items():
        packet, overload = name.split(".")
        try:
            schema = getattr(getattr(torch.ops.aten, packet), overload)._schema
        except (AttributeError, RuntimeError):
            problems.append(f"torch.ops.aten.{name} is missing")
            continue
        arguments = tuple(argument.name for argument in schema.arguments)
        if arguments != expected:
            problems.append(f"torch.ops.aten.{name} takes ({', '.join(arguments)}), not ({', '.join(expected)})")
    probe = nn.Module()
    problems += [f"nn.Module has no {name} dict" for name in _MODULE_HOOKS
                 if not isinstance(getattr(probe, name, None), dict)]
    problems += [f"torch.nn.modules.module.{name} is missing" for name in _GLOBAL_HOOKS
                 if not isinstance(getattr(nn.modules.module, name, None), dict)]
    return problems


# traced by torch.export or torch.compile, the answer is a constant: torch 2.4's Dynamo cannot trace the
# reading of an operator's schema inside
@functools.cache
@torch.compiler.assume_constant_result
def fused_available() -> bool:
    """Whether this PyTorch has the private functions the fused operator calls, as it calls them.

    Checked once per process. Where one is missing or its signature changed, warns once (a RuntimeWarning naming
    what changed) and returns False: callers then fall back to gradient checkpointing, which gives the same
    results with memory still linear in depth, at the cost of running each dense layer twice.
    """
    problems = _private_api_problems()
    if problems:
        warnings.warn(
            f"cnnzoo's memory-efficient dense block cannot use PyTorch {torch.__version__}: {'; '.join(problems)}. "
            "memory_efficient DenseNets fall back to gradient checkpointing (same results and memory linear in "
            "depth, but each dense layer runs twice).", RuntimeWarning, stacklevel=2)
        return False
    return True


def hook_free(modules: Sequence[nn.Module], recurse: bool = True) -> bool:
    """Whether no hook would be skipped by running something other than ``modules`` (and, with ``recurse``,
    their submodules) in their place: none of theirs, and no global one."""
    if any(getattr(nn.modules.module, name) for name in _GLOBAL_HOOKS):
        return False
    subs = [sub for module in modules for sub in (module.modules() if recurse else [module])]
    return not any(getattr(sub, name) for sub in subs for name in _MODULE_HOOKS)


def _exporting() -> bool:
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    if is_exporting is None:
        # torch 2.4 has no torch.compiler.is_exporting: there every Dynamo trace, torch.compile's too, counts
        return torch.compiler.is_compiling()
    return bool(is_exporting())


# leaf modules the operator knows how to stand in for (the ReLU modules it applies as a function)
_KNOWN_LEAVES = (nn.BatchNorm2d, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d)


def _fusable(x: torch.Tensor, layers: Sequence[DenseLayerParts], tail: Tail | None,
             replaces: Sequence[nn.Module]) -> bool:
    """Whether the operator can stand in for ``replaces``: gradients wanted, nothing it would skip or get wrong.

    Hooks on ``replaces`` or inside them (cnnzoo.freeze_backbone's BatchNorm hold, a feature tap), modules of
    other types (SyncBatchNorm, a parametrized convolution) and a batch of one value per channel (BatchNorm's
    error) are left to the modules themselves. So is export, which traces through forward and would drop the
    custom backward.
    """
    if not torch.is_grad_enabled() or _exporting():
        return False
    if x.dim() != 4 or x.shape[0] * x.shape[2] * x.shape[3] <= 1:
        return False
    norms = [norm for layer in layers for norm in (layer.norm1, layer.norm2)] + ([tail.norm] if tail else [])
    convs = [conv for layer in layers for conv in (layer.conv1, layer.conv2)]
    if tail is not None and tail.conv is not None:
        convs.append(tail.conv)
    if not all(type(norm) is nn.BatchNorm2d and norm.affine for norm in norms):
        return False
    if not all(type(conv) is nn.Conv2d and conv.bias is None and conv.padding_mode == "zeros"
               and not isinstance(conv.padding, str) for conv in convs):
        return False
    if tail is not None and tail.pool is not None:
        # a max pool finds its indices again from its input, which a convolution before it would have to recompute
        max_pool = type(tail.pool) is nn.MaxPool2d and not tail.pool.return_indices and tail.conv is None
        if not (type(tail.pool) is nn.AvgPool2d or max_pool):
            return False
    params = [p for norm in norms for p in (norm.weight, norm.bias)] + [conv.weight for conv in convs]
    if not (x.requires_grad or any(p.requires_grad for p in params)):
        return False
    if not hook_free(replaces):
        return False
    return all(next(sub.children(), None) is not None or type(sub) in _KNOWN_LEAVES
               for module in replaces for sub in module.modules())


# -- BatchNorm, as ATen computes it ------------------------------------------------------------------------

_Stats = tuple[torch.Tensor, torch.Tensor]  # (batch mean, inverse std) in training, (running mean, var) in eval


class _Moments(NamedTuple):
    """Batch statistics of each channel of some maps, as ATen's BatchNorm finds them: mean, inverse standard
    deviation at ``eps``, unbiased variance, and the number of values per channel."""

    mean: torch.Tensor
    invstd: torch.Tensor
    unbiased_var: torch.Tensor
    eps: float
    count: int

    def first(self, channels: int) -> _Moments:
        return _Moments(self.mean[:channels], self.invstd[:channels], self.unbiased_var[:channels], self.eps,
                        self.count)


def _moments(x: torch.Tensor, eps: float) -> _Moments:
    """The batch statistics of each channel of ``x`` from ATen's BatchNorm kernel itself.

    A momentum of 1 leaves the unbiased variance in the running variance passed in; the normalised output is
    not used.
    """
    dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    running_mean = torch.zeros(x.shape[1], dtype=dtype, device=x.device)
    running_var = torch.zeros_like(running_mean)
    _, mean, invstd = torch.native_batch_norm(x, None, None, running_mean, running_var, True, 1.0, eps)
    return _Moments(mean, invstd, running_var, eps, x.numel() // x.shape[1])


def _normalize(x: torch.Tensor, mean: torch.Tensor, invstd: torch.Tensor, weight: torch.Tensor,
               bias: torch.Tensor) -> torch.Tensor:
    """BatchNorm's affine normalisation with given batch statistics, in the arithmetic of ATen's CPU kernel:
    ``x * alpha + beta`` with ``alpha = invstd * weight`` and ``beta = bias - mean * alpha``, both fused
    multiply-adds, as addcmul computes them."""
    scale = invstd * weight
    shift = torch.addcmul(bias, mean, scale, value=-1)
    shape = (1, -1, 1, 1)
    return torch.addcmul(shift.view(shape), x, scale.view(shape)).to(x.dtype)


def _norm_forward(norm: nn.BatchNorm2d, x: torch.Tensor,
                  moments: _Moments | None = None) -> tuple[torch.Tensor, _Stats, bool]:
    """``norm(x)`` as ``nn.BatchNorm2d.forward`` computes it, the statistics it normalised with, and whether
    they were the batch's.

    The running statistics (and ``num_batches_tracked``) are updated here, once per forward pass. ``moments``,
    the batch statistics of ``x`` when already known, spare computing them again.
    """
    momentum = 0.0 if norm.momentum is None else norm.momentum
    if norm.training and norm.track_running_stats and norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        momentum = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
    use_batch = norm.training or (norm.running_mean is None and norm.running_var is None)
    keep_running = not norm.training or norm.track_running_stats
    running_mean = norm.running_mean if keep_running else None
    running_var = norm.running_var if keep_running else None
    if use_batch and moments is None:
        out, mean, invstd = torch.native_batch_norm(x, norm.weight, norm.bias, running_mean, running_var, True,
                                                    momentum, norm.eps)
        return out, (mean, invstd), True
    if use_batch:
        assert moments is not None
        if running_mean is not None and running_var is not None:
            _update_running(running_mean, moments.mean, momentum)
            _update_running(running_var, moments.unbiased_var, momentum)
        invstd = moments.invstd
        if norm.eps != moments.eps:
            biased = moments.unbiased_var.double() * ((moments.count - 1) / moments.count)
            invstd = torch.rsqrt(biased + norm.eps).to(invstd.dtype)
        return _normalize(x, moments.mean, invstd, norm.weight, norm.bias), (moments.mean, invstd), True
    assert running_mean is not None and running_var is not None
    mean, var = running_mean.clone(), running_var.clone()
    return F.batch_norm(x, mean, var, norm.weight, norm.bias, False, 0.0, norm.eps), (mean, var), False


def _update_running(running: torch.Tensor, batch: torch.Tensor, momentum: float) -> None:
    """``running = momentum * batch + (1 - momentum) * running``, in double precision on the CPU as ATen does."""
    dtype = torch.float64 if running.device.type == "cpu" else running.dtype
    with torch.no_grad():
        running.copy_(batch.to(dtype) * momentum + running.to(dtype) * (1 - momentum))


def _norm_relu(norm: nn.BatchNorm2d, x: torch.Tensor, stats: _Stats, batch_stats: bool, weight: torch.Tensor,
               bias: torch.Tensor) -> torch.Tensor:
    """relu(norm(x)) recomputed with the statistics of the forward pass; the running statistics are untouched."""
    if batch_stats:
        out = _normalize(x, stats[0], stats[1], weight, bias)
    else:
        out = F.batch_norm(x, stats[0], stats[1], weight, bias, False, 0.0, norm.eps)
    return out.relu_()


def _norm_backward(norm: nn.BatchNorm2d, grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, stats: _Stats,
                   batch_stats: bool, mask: Sequence[bool]) -> tuple[torch.Tensor | None, ...]:
    """Gradients of a BatchNorm's input, weight and bias (those ``mask`` asks for), by ATen's own kernel."""
    if not any(mask):
        return None, None, None
    grad = grad.to(x.dtype)
    if batch_stats:
        result = torch.ops.aten.native_batch_norm_backward(grad, x, weight, None, None, stats[0], stats[1], True,
                                                           norm.eps, list(mask))
    else:
        result = torch.ops.aten.native_batch_norm_backward(grad, x, weight, stats[0], stats[1], None, None, False,
                                                           norm.eps, list(mask))
    return tuple(r if m else None for r, m in zip(result, mask))


# -- convolution, dropout, ReLU ---------------------------------------------------------------------------


class _ConvPrecision:
    """The dtype autocast ran a convolution in, so backward differentiates the same computation."""

    def __init__(self, device_type: str) -> None:
        try:
            self.dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None
        except RuntimeError:  # a device autocast does not know, such as the estimator's meta tensors
            self.dtype = None

    def conv(self, conv: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)

    def backward(self, conv: nn.Conv2d, grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
                 mask: list[bool]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not any(mask):
            return None, None
        dtype = self.dtype or torch.promote_types(x.dtype, weight.dtype)
        grad_input, grad_weight, _ = torch.ops.aten.convolution_backward(
            grad.to(dtype), x.to(dtype), weight.to(dtype), None, conv.stride, conv.padding, conv.dilation, False,
            [0, 0], conv.groups, [mask[0], mask[1], False])
        return (grad_input.to(x.dtype) if mask[0] else None), (grad_weight.to(weight.dtype) if mask[1] else None)


def _dropout(x: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``F.dropout(x, p, training=True)`` drawing the same random numbers, and its mask of kept values."""
    # at::dropout: the fused kernel off the CPU, bernoulli noise divided by 1 - p on it
    if x.device.type != "cpu" and 0 < p < 1 and x.numel() > 0:
        out, mask = torch.native_dropout(x, p, True)
        return out, mask
    if p == 1:
        return x * 0, torch.zeros_like(x, dtype=torch.bool)
    noise = torch.empty_like(x).bernoulli_(1 - p)
    return x * noise.div(1 - p), noise.bool()


def _dropout_backward(grad: torch.Tensor, mask: torch.Tensor, p: float) -> torch.Tensor:
    if grad.device.type != "cpu" and 0 < p < 1:
        return torch.ops.aten.native_dropout_backward(grad, mask, 1.0 / (1.0 - p))
    if p == 1:
        return torch.zeros_like(grad)
    return grad * mask.to(grad.dtype).div_(1 - p)


def _relu_backward_(grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """ReLU's backward (``ReluBackward0``) written into ``grad``, which saves a map-sized allocation."""
    return torch.ops.aten.threshold_backward.grad_input(grad, out, 0, grad_input=grad)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


# -- the tail: BN, then ReLU-Conv-Pool where given -----------------------------------------------------------


def _pool_args(pool: nn.Module) -> tuple[Any, ...]:
    stride = pool.stride if pool.stride is not None else pool.kernel_size
    return _pair(pool.kernel_size), _pair(stride), _pair(pool.padding)


def _tail_forward(tail: Tail, x: torch.Tensor, params: Sequence[torch.Tensor], precision: _ConvPrecision,
                  moments: _Moments | None = None) -> tuple[torch.Tensor, list[torch.Tensor], dict[str, Any]]:
    """The tail's output, the tensors its backward needs besides ``x`` and its parameters, and the rest."""
    out, stats, batch_stats = _norm_forward(tail.norm, x, moments)
    info: dict[str, Any] = {"batch_stats": batch_stats}
    if not tail.relu:
        return out, list(stats), info
    out = out.relu_()
    if tail.conv is not None:
        out = precision.conv(tail.conv, out, params[2])
    if tail.pool is not None:
        info["pooled_shape"], info["pooled_dtype"] = out.shape, out.dtype
        out = tail.pool(out)
    return out, list(stats), info


def _tail_backward(tail: Tail, grad: torch.Tensor, x: torch.Tensor, params: Sequence[torch.Tensor],
                   stats: Sequence[torch.Tensor], info: dict[str, Any], precision: _ConvPrecision,
                   needs: Sequence[bool]) -> list[torch.Tensor | None]:
    """Gradients of the tail's input and of its parameters (norm weight and bias, conv weight; those ``needs``
    asks for)."""
    weight, bias = params[0], params[1]
    statistics = (stats[0], stats[1])
    if not tail.relu:
        return list(_norm_backward(tail.norm, grad, x, weight, statistics, info["batch_stats"], needs[:3]))
    pool = tail.pool
    if isinstance(pool, nn.AvgPool2d):
        # avg_pool2d_backward reads only the shape of the pooled input, so a broadcast scalar stands in for it
        like = grad.new_zeros((), dtype=info["pooled_dtype"]).expand(info["pooled_shape"])
        grad = torch.ops.aten.avg_pool2d_backward(grad, like, *_pool_args(pool), pool.ceil_mode,
                                                  pool.count_include_pad, pool.divisor_override)
    out = _norm_relu(tail.norm, x, statistics, info["batch_stats"], weight, bias)
    if isinstance(pool, nn.MaxPool2d):  # no convolution before it (see _fusable): the pool's input is out
        args = (*_pool_args(pool), _pair(pool.dilation), pool.ceil_mode)
        _, indices = torch.ops.aten.max_pool2d_with_indices(out, *args)
        grad = torch.ops.aten.max_pool2d_with_indices_backward(grad, out, *args, indices)
        del indices
    grad_conv = None
    if tail.conv is not None:
        grad, grad_conv = precision.backward(tail.conv, grad, out, params[2], [any(needs[:3]), needs[3]])
        if grad is None:
            return [None, None, None, grad_conv]
    grad = _relu_backward_(grad, out)
    del out
    grads = list(_norm_backward(tail.norm, grad, x, weight, statistics, info["batch_stats"], needs[:3]))
    return grads + ([grad_conv] if tail.conv is not None else [])


def _tail_size(tail: Tail | None) -> int:
    """How many parameters the tail brings: the BatchNorm's weight and bias, and the convolution's weight."""
    return 0 if tail is None else 2 + (tail.conv is not None)


# -- the operator ------------------------------------------------------------------------------------------


class _DenseBlockFunction(torch.autograd.Function):
    """Dense layers sharing one feature storage, and the tail after them, recomputing BN-ReLU in backward.

    Saved for backward: the storage, each layer's 1x1 bottleneck output (4k maps) and dropout mask, and the
    BatchNorms' statistics (see the module docstring for the order of recomputation).
    """

    @staticmethod
    def forward(ctx: Any, layers: tuple[DenseLayerParts, ...], tail: Tail | None, x: torch.Tensor,
                *params: torch.Tensor) -> torch.Tensor:
        precision = _ConvPrecision(x.device.type)
        storage = x if not layers else None  # without layers, the tail reads the input itself
        moments: _Moments | None = None
        channels = x.shape[1]
        saved: list[torch.Tensor] = []
        batch_stats: list[tuple[bool, bool]] = []
        if layers:
            total = channels + sum(layer.conv2.out_channels for layer in layers)
            # Each map's statistics, computed once when it is written: the first BatchNorm of every later layer
            # (and of the tail) normalises the same maps with the same statistics.
            first = _moments(x, layers[0].norm1.eps)
            mean, invstd, unbiased_var = (first.mean.new_empty(total) for _ in range(3))
            mean[:channels], invstd[:channels], unbiased_var[:channels] = first.mean, first.invstd, first.unbiased_var
            moments = _Moments(mean, invstd, unbiased_var, first.eps, first.count)
        for i, layer in enumerate(layers):
            assert moments is not None
            c1, c2 = params[6 * i + 2], params[6 * i + 5]
            features = x if storage is None else storage[:, :channels]
            out, stats1, batch1 = _norm_forward(layer.norm1, features, moments.first(channels))
            bottleneck = precision.conv(layer.conv1, out.relu_(), c1)
            out, stats2, batch2 = _norm_forward(layer.norm2, bottleneck)
            new = precision.conv(layer.conv2, out.relu_(), c2)
            del out
            mask = new.new_empty(0, dtype=torch.bool)
            if layer.drop_rate > 0:
                new, mask = _dropout(new, layer.drop_rate)
            if storage is None:
                # the first layer's output fixes the dtype (autocast) of the storage
                storage = torch.empty((x.shape[0], total, *new.shape[2:]), device=x.device,
                                      dtype=torch.promote_types(x.dtype, new.dtype), memory_format=_memory_format(x))
                storage[:, :channels] = x
            grown = channels + new.shape[1]
            new = new.to(storage.dtype)
            storage[:, channels:grown] = new
            written = _moments(new, moments.eps)
            moments.mean[channels:grown], moments.invstd[channels:grown] = written.mean, written.invstd
            moments.unbiased_var[channels:grown] = written.unbiased_var
            channels = grown
            saved += [bottleneck, *stats1, *stats2, mask]
            batch_stats.append((batch1, batch2))
        assert storage is not None
        output, tail_saved, ctx.tail_info = storage, [], {}
        if tail is not None:
            output, tail_saved, ctx.tail_info = _tail_forward(tail, storage, params[6 * len(layers) :], precision,
                                                              moments)
        ctx.layers, ctx.tail, ctx.precision, ctx.batch_stats = layers, tail, precision, batch_stats
        ctx.in_channels, ctx.tail_saved = x.shape[1], len(tail_saved)
        ctx.save_for_backward(storage, *params, *tail_saved, *saved)
        return output

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        layers, tail, precision = ctx.layers, ctx.tail, ctx.precision
        count = 6 * len(layers)
        storage, *rest = ctx.saved_tensors
        size = _tail_size(tail)
        params, tail_params = rest[:count], rest[count : count + size]
        tail_saved = rest[count + size : count + size + ctx.tail_saved]
        saved = rest[count + size + ctx.tail_saved :]
        needs = ctx.needs_input_grad[3:]
        grads: list[torch.Tensor | None] = [None] * (count + size)
        # whether a layer's input still needs a gradient: the block input, or a parameter of an earlier layer
        below = [ctx.needs_input_grad[2] or any(needs[: 6 * i]) for i in range(len(layers) + 1)]
        # the gradient of every map of the storage, accumulated as backward walks down the block
        if tail is not None:
            grad, *grads[count:] = _tail_backward(tail, grad_output, storage, tail_params, tail_saved, ctx.tail_info,
                                                  precision, [below[-1], *needs[count:]])
        else:
            # grad_output may reach other functions too, so this function accumulates into a copy
            grad = grad_output.clone(memory_format=_memory_format(storage))
        channels = [ctx.in_channels]
        for layer in layers[:-1]:
            channels.append(channels[-1] + layer.conv2.out_channels)
        for i in reversed(range(len(layers))):
            layer, c = layers[i], channels[i]
            w1, b1, c1, w2, b2, c2 = params[6 * i : 6 * i + 6]
            bottleneck, mean1, std1, mean2, std2, mask = saved[6 * i : 6 * i + 6]
            need = needs[6 * i : 6 * i + 6]
            batch1, batch2 = ctx.batch_stats[i]
            if grad is None or not (below[i] or any(need)):
                continue
            grad_new = grad[:, c : c + layer.conv2.out_channels]
            if mask.numel():
                grad_new = _dropout_backward(grad_new, mask, layer.drop_rate)
            out2 = _norm_relu(layer.norm2, bottleneck, (mean2, std2), batch2, w2, b2)
            further = below[i] or any(need[:5])
            grad_out2, grads[6 * i + 5] = precision.backward(layer.conv2, grad_new, out2, c2, [further, need[5]])
            del grad_new
            if grad_out2 is None:
                continue
            grad_out2 = _relu_backward_(grad_out2, out2)
            del out2
            further = below[i] or any(need[:3])
            grad_bottleneck, grads[6 * i + 3], grads[6 * i + 4] = _norm_backward(
                layer.norm2, grad_out2, bottleneck, w2, (mean2, std2), batch2, [further, need[3], need[4]])
            del grad_out2
            if grad_bottleneck is None:
                continue
            out1 = _norm_relu(layer.norm1, storage[:, :c], (mean1, std1), batch1, w1, b1)
            grad_out1, grads[6 * i + 2] = precision.backward(layer.conv1, grad_bottleneck, out1, c1,
                                                             [below[i] or any(need[:2]), need[2]])
            del grad_bottleneck
            if grad_out1 is None:
                continue
            grad_out1 = _relu_backward_(grad_out1, out1)
            del out1
            # a contiguous copy: BatchNorm's backward kernels are several times slower on a strided slice
            features = storage[:, :c].contiguous(memory_format=_memory_format(storage))
            grad_features, grads[6 * i], grads[6 * i + 1] = _norm_backward(
                layer.norm1, grad_out1, features, w1, (mean1, std1), batch1, [below[i], need[0], need[1]])
            del grad_out1, features
            if grad_features is not None:
                grad[:, :c] += grad_features
        grad_input = grad[:, : ctx.in_channels] if ctx.needs_input_grad[2] and grad is not None else None
        return (None, None, grad_input, *grads)


def dense_block(x: torch.Tensor, layers: Sequence[DenseLayerParts], tail: Tail | None = None, *,
                replaces: Sequence[nn.Module]) -> torch.Tensor | None:
    """Dense layers, then ``tail``, on ``x`` as one memory-efficient operator, or None where it cannot run.

    Each layer reads the concatenation of ``x`` and every earlier layer's output and adds its maps to it; the
    output is that concatenation, or what ``tail`` makes of it. Gradients are those of the plain modules; see
    the module docstring for what is kept and what is recomputed. Call it in training: BatchNorms in training
    mode normalise with the batch statistics and update their running statistics once.

    Args:
        x: the block input, (N, C, H, W).
        layers: the dense layers' modules, in order (none: the tail alone, on ``x``).
        tail: what follows the layers (a transition, a final BatchNorm, a BN-ReLU-MaxPool).
        replaces: the modules this call stands in for: their forward and hooks do not run, so where any of them
            or of their submodules has a hook, or is of a type the operator does not know, it returns None.

    Returns:
        The output, or None where the caller must run the modules themselves: gradients are not wanted, a hook
        or unknown module is in ``replaces``, the batch has one value per channel, the model is being exported,
        or :func:`fused_available` is False (then fall back to gradient checkpointing).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> norm1, norm2 = nn.BatchNorm2d(8), nn.BatchNorm2d(16)
        >>> conv1 = nn.Conv2d(8, 16, 1, bias=False)
        >>> conv2 = nn.Conv2d(16, 4, 3, padding=1, bias=False)
        >>> layer = DenseLayerParts(norm1, conv1, norm2, conv2, drop_rate=0.0)
        >>> x = torch.randn(2, 8, 5, 5)
        >>> out = dense_block(x, [layer], replaces=[norm1, conv1, norm2, conv2])
        >>> out.shape
        torch.Size([2, 12, 5, 5])
    """
    if not layers and tail is None:
        raise ValueError("dense_block needs at least one layer or a tail.")
    if not (fused_available() and _fusable(x, layers, tail, replaces)):
        return None
    params = [p for layer in layers for p in (layer.norm1.weight, layer.norm1.bias, layer.conv1.weight,
                                              layer.norm2.weight, layer.norm2.bias, layer.conv2.weight)]
    if tail is not None:
        params += [tail.norm.weight, tail.norm.bias] + ([tail.conv.weight] if tail.conv is not None else [])
    return _DenseBlockFunction.apply(tuple(layers), tail, x, *params)
