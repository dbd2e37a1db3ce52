"""Densely connected networks (Huang et al. 2017), for ImageNet and for CIFAR.

State_dict keys follow torchvision's (``features.denseblock1.denselayer1.conv1.weight``), so its
checkpoints load unchanged -- strictly, not with ``strict=False`` under other names.

``memory_efficient=True`` trains with memory linear in depth instead of quadratic (Pleiss et al. 2017,
"Memory-Efficient Implementation of DenseNets", https://arxiv.org/abs/1707.06990): each block keeps one
shared feature storage and recomputes its BatchNorm-ReLU outputs in backward. Parameters, state_dict,
outputs and gradients are those of the plain network, and evaluation runs the plain code.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.utils import _pair

from cnnzoo._cfg import CIFAR_MEAN, CIFAR_STD
from cnnzoo.errors import check_probability
from cnnzoo.models._base import ZooModel
from cnnzoo.registry import register_model
from cnnzoo.weights import torchvision_tag as tv

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "CifarDenseNet"]

# "denselayer3.norm.1.weight" in the files torchvision published first is "denselayer3.norm1.weight"
_OLD_DENSE_KEY = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))\.([12])\.")


class DenseLayer(nn.Module):
    """BN-ReLU-Conv(1x1)-BN-ReLU-Conv(3x3) on the concatenation of all earlier maps (DenseNet-B, section 3).

    Args:
        in_channels: channels of the concatenated input.
        growth_rate: k, the channels this layer adds.
        bottleneck_size: the 1x1 convolution produces ``bottleneck_size * growth_rate`` maps (4 in the paper).
        drop_rate: dropout after the 3x3 convolution.
    """

    def __init__(self, in_channels: int, growth_rate: int, bottleneck_size: int, drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bottleneck_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bottleneck_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bottleneck_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def spatial_layers(self) -> list[nn.Module]:
        return [self.conv1, self.conv2]

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers, each fed the block input and every earlier layer's output (equation 2).

    Args:
        memory_efficient: in training, write every layer's maps into one shared storage and recompute the
            BatchNorm-ReLU outputs in backward instead of keeping them (same results, far less memory).
    """

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bottleneck_size: int, drop_rate: float,
                 memory_efficient: bool = False) -> None:
        super().__init__()
        self.memory_efficient = memory_efficient
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bottleneck_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._fused_forward(x)
        if out is not None:
            return out
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)

    def _fused_forward(self, x: torch.Tensor, tail: nn.Module | None = None) -> torch.Tensor | None:
        """The memory-efficient pass of this block, and of ``tail`` after it (a transition or the final
        BatchNorm, whose hooks then do not run), or None where the plain path must run instead."""
        layers = list(self.values())
        # what the fused pass does not call: hooks there, or other module types, need the plain path
        parts: list[nn.Module] = layers if tail is None else [self, tail]
        if tail is not None and not (type(tail) is nn.BatchNorm2d or (type(tail) is Transition and len(tail) == 4)):
            return None
        if not (self.memory_efficient and layers and all(type(layer) is DenseLayer for layer in layers)
                and _fusable(x, self, parts)):
            return None
        params = [p for layer in layers for p in (layer.norm1.weight, layer.norm1.bias, layer.conv1.weight,
                                                 layer.norm2.weight, layer.norm2.bias, layer.conv2.weight)]
        if isinstance(tail, Transition):
            params += [tail.norm.weight, tail.norm.bias, tail.conv.weight]
        elif isinstance(tail, nn.BatchNorm2d):
            params += [tail.weight, tail.bias]
        return _DenseBlockFunction.apply(self, tail, x, *params)


class Transition(nn.Sequential):
    """BN-ReLU-Conv(1x1)-AvgPool(2x2) between dense blocks, shrinking channels by the compression factor.

    Args:
        memory_efficient: in training, keep only the input for backward and recompute BatchNorm-ReLU there.
    """

    def __init__(self, in_channels: int, out_channels: int, memory_efficient: bool = False) -> None:
        super().__init__()
        self.memory_efficient = memory_efficient
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.memory_efficient and len(self) == 4 and _fusable(x, self, list(self)):
            return _TransitionFunction.apply(self, x, self.norm.weight, self.norm.bias, self.conv.weight)
        return super().forward(x)


# -- the memory-efficient path ---------------------------------------------------------------------
#
# A plain dense layer keeps, for backward, the concatenation of its inputs, their BatchNorm-ReLU output
# (both as wide as everything before it), the 1x1 bottleneck output and its BatchNorm-ReLU output: memory
# quadratic in depth. Pleiss et al. (2017, section 4) keep instead one storage per block that every layer
# writes its k new maps into, and recompute the cheap BatchNorm and ReLU outputs in backward. The autograd
# functions below do that for a whole block with the transition (or final BatchNorm) after it, and for the
# stem's BN-ReLU-MaxPool, saving the block's storage, each layer's 1x1 bottleneck output and the BatchNorms'
# statistics: no convolution is recomputed. Each map's batch mean and variance is computed once, when the map
# is written, since every later BatchNorm that reads the map normalises it with the same statistics.
# BatchNorm updates its running statistics in the forward pass only; backward normalises with the statistics
# the forward pass used.

_Stats = tuple[torch.Tensor, torch.Tensor]  # (batch mean, inverse std) in training, (running mean, var) in eval
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def _has_hooks(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)


def _fusable(x: torch.Tensor, owner: nn.Module, parts: Sequence[nn.Module]) -> bool:
    """Whether ``parts`` of ``owner`` can run as one fused pass: gradients wanted, nothing it would skip.

    The fused pass calls none of ``parts``, so hooks on them or inside them (cnnzoo.freeze_backbone's
    BatchNorm hold, a feature tap) and modules of other types (SyncBatchNorm, a parametrized convolution)
    take the plain path. So does a batch of one value per channel, for BatchNorm's error.
    """
    if not (owner.training and torch.is_grad_enabled()):
        return False
    if torch.compiler.is_exporting():  # export traces through the forward and would drop the custom backward
        return False
    if x.dim() != 4 or x.shape[0] * x.shape[2] * x.shape[3] <= 1:
        return False
    modules = [sub for part in parts for sub in part.modules()]
    if not (x.requires_grad or any(p.requires_grad for m in modules for p in m.parameters(recurse=False))):
        return False
    if any(getattr(nn.modules.module, name) for name in _GLOBAL_HOOKS):
        return False
    plain_types = (nn.BatchNorm2d, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, DenseLayer, DenseBlock, Transition)
    for sub in modules:
        if _has_hooks(sub) or type(sub) not in plain_types:
            return False
        if isinstance(sub, nn.BatchNorm2d) and not sub.affine:
            return False
        if isinstance(sub, nn.MaxPool2d) and sub.return_indices:
            return False
        if isinstance(sub, nn.Conv2d) and (sub.bias is not None or sub.padding_mode != "zeros"
                                           or isinstance(sub.padding, str)):
            return False
    return True


def _norm_forward(norm: nn.BatchNorm2d, x: torch.Tensor,
                  moments: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, _Stats, bool]:
    """``norm(x)`` as ``nn.BatchNorm2d.forward`` computes it, the statistics it normalised with, and whether
    they were the batch's.

    The running statistics (and ``num_batches_tracked``) are updated here, once per forward pass.
    ``moments``, the batch mean and (biased) variance of each channel of ``x`` when already known, spare
    computing them again.
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
        mean, var = moments
        if running_mean is not None and running_var is not None:
            count = x.numel() // x.shape[1]
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
                running_var.mul_(1 - momentum).add_(var.to(running_var.dtype), alpha=momentum * count / (count - 1))
        invstd = torch.rsqrt(var + norm.eps)
        return _normalize(x, mean, invstd, norm.weight, norm.bias), (mean, invstd), True
    assert running_mean is not None and running_var is not None
    mean, var = running_mean.clone(), running_var.clone()
    return F.batch_norm(x, mean, var, norm.weight, norm.bias, False, 0.0, norm.eps), (mean, var), False


def _normalize(x: torch.Tensor, mean: torch.Tensor, invstd: torch.Tensor, weight: torch.Tensor,
               bias: torch.Tensor) -> torch.Tensor:
    """BatchNorm's affine normalisation with given batch statistics, in native_batch_norm's arithmetic."""
    scale = invstd * weight
    shape = (1, -1, 1, 1)
    return torch.addcmul((bias - mean * scale).view(shape), x, scale.view(shape)).to(x.dtype)


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch mean and biased variance of each channel, in at least single precision."""
    var, mean = torch.var_mean(x.to(torch.promote_types(x.dtype, torch.float32)), dim=(0, 2, 3), correction=0)
    return mean, var


def _norm_relu(norm: nn.BatchNorm2d, x: torch.Tensor, stats: _Stats, batch_stats: bool, weight: torch.Tensor,
               bias: torch.Tensor) -> torch.Tensor:
    """relu(norm(x)) recomputed with the statistics of the forward pass; the running statistics are untouched."""
    if batch_stats:
        out = _normalize(x, stats[0], stats[1], weight, bias)
    else:
        out = F.batch_norm(x, stats[0], stats[1], weight, bias, False, 0.0, norm.eps)
    return out.relu_()


def _norm_backward(norm: nn.BatchNorm2d, grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, stats: _Stats,
                   batch_stats: bool, mask: list[bool]) -> tuple[torch.Tensor | None, ...]:
    """Gradients of a BatchNorm's input, weight and bias (those ``mask`` asks for)."""
    if not any(mask):
        return None, None, None
    grad = grad.to(x.dtype)
    if batch_stats:
        result = torch.ops.aten.native_batch_norm_backward(grad, x, weight, None, None, stats[0], stats[1], True,
                                                           norm.eps, mask)
    else:
        result = torch.ops.aten.native_batch_norm_backward(grad, x, weight, stats[0], stats[1], None, None, False,
                                                           norm.eps, mask)
    return tuple(r if m else None for r, m in zip(result, mask))


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


def _transition_forward(transition: Transition, x: torch.Tensor, params: Sequence[torch.Tensor],
                        precision: _ConvPrecision, moments: tuple[torch.Tensor, torch.Tensor] | None = None
                        ) -> tuple[torch.Tensor, list[torch.Tensor], dict[str, Any]]:
    """The transition's output, the tensors its backward needs besides ``x`` and its parameters, and the rest."""
    weight, bias, conv_weight = params
    out, stats, batch_stats = _norm_forward(transition.norm, x, moments)
    reduced = precision.conv(transition.conv, out.relu_(), conv_weight)
    del out
    info = {"batch_stats": batch_stats, "reduced_shape": reduced.shape, "reduced_dtype": reduced.dtype}
    return transition.pool(reduced), list(stats), info


def _transition_backward(transition: Transition, grad_output: torch.Tensor, x: torch.Tensor,
                         params: Sequence[torch.Tensor], stats: Sequence[torch.Tensor], info: dict[str, Any],
                         precision: _ConvPrecision, needs: Sequence[bool]) -> list[torch.Tensor | None]:
    """Gradients of the transition's input and of its three parameters (those ``needs`` asks for)."""
    weight, bias, conv_weight = params
    pool = transition.pool
    # avg_pool2d_backward reads only the shape of the pooled input, so a broadcast scalar stands in for it
    like = grad_output.new_zeros((), dtype=info["reduced_dtype"]).expand(info["reduced_shape"])
    grad = torch.ops.aten.avg_pool2d_backward(grad_output, like, _pair(pool.kernel_size),
                                              _pair(pool.stride if pool.stride is not None else pool.kernel_size),
                                              _pair(pool.padding), pool.ceil_mode, pool.count_include_pad,
                                              pool.divisor_override)
    out = _norm_relu(transition.norm, x, (stats[0], stats[1]), info["batch_stats"], weight, bias)
    grad_out, grad_conv = precision.backward(transition.conv, grad, out, conv_weight, [any(needs[:3]), needs[3]])
    del grad
    if grad_out is None:
        return [None, None, None, grad_conv]
    grad_out = _relu_backward_(grad_out, out)
    del out
    grads = _norm_backward(transition.norm, grad_out, x, weight, (stats[0], stats[1]), info["batch_stats"],
                           list(needs[:3]))
    return [*grads, grad_conv]


def _tail_size(tail: nn.Module | None) -> int:
    """How many parameters the module fused after a dense block brings (a transition, the final BatchNorm)."""
    return 3 if isinstance(tail, Transition) else 2 if isinstance(tail, nn.BatchNorm2d) else 0


class _DenseBlockFunction(torch.autograd.Function):
    """A dense block whose layers share one feature storage and recompute their BatchNorm-ReLU in backward.

    ``tail``, the transition or final BatchNorm after the block, may run inside the same function: its
    backward then hands over a gradient of the storage that this function owns and accumulates into, and
    its BatchNorm reuses the block's batch statistics. Saved for backward: the storage, each layer's 1x1
    bottleneck output (4k maps) and dropout mask, and the BatchNorms' statistics.
    """

    @staticmethod
    def forward(ctx: Any, block: DenseBlock, tail: nn.Module | None, x: torch.Tensor,
                *params: torch.Tensor) -> torch.Tensor:
        layers: list[DenseLayer] = list(block.values())
        precision = _ConvPrecision(x.device.type)
        storage: torch.Tensor | None = None
        channels = x.shape[1]
        total = channels + sum(layer.conv2.out_channels for layer in layers)
        # Each map's batch mean and variance, computed once when it is written: the first BatchNorm of every
        # later layer (and of the tail) normalises the same maps with the same statistics.
        mean, var = _moments(x)
        means, variances = mean.new_empty(total), var.new_empty(total)
        means[:channels], variances[:channels] = mean, var
        saved: list[torch.Tensor] = []
        batch_stats: list[tuple[bool, bool]] = []
        for i, layer in enumerate(layers):
            w1, b1, c1, w2, b2, c2 = params[6 * i : 6 * i + 6]
            features = x if storage is None else storage[:, :channels]
            out, stats1, batch1 = _norm_forward(layer.norm1, features, (means[:channels], variances[:channels]))
            bottleneck = precision.conv(layer.conv1, out.relu_(), c1)
            out, stats2, batch2 = _norm_forward(layer.norm2, bottleneck)
            new = precision.conv(layer.conv2, out.relu_(), c2)
            del out
            mask = new.new_empty(0, dtype=torch.bool)
            if layer.drop_rate > 0 and layer.training:
                new, mask = _dropout(new, layer.drop_rate)
            if storage is None:
                # the first layer's output fixes the dtype (autocast) of the storage
                storage = torch.empty((x.shape[0], total, *new.shape[2:]), device=x.device,
                                      dtype=torch.promote_types(x.dtype, new.dtype), memory_format=_memory_format(x))
                storage[:, :channels] = x
            grown = channels + new.shape[1]
            storage[:, channels:grown] = new
            means[channels:grown], variances[channels:grown] = _moments(new)
            channels = grown
            saved += [bottleneck, *stats1, *stats2, mask]
            batch_stats.append((batch1, batch2))
        assert storage is not None
        output, tail_saved, ctx.tail_info = storage, [], {}
        tail_params = params[6 * len(layers) :]
        if isinstance(tail, Transition):
            output, tail_saved, ctx.tail_info = _transition_forward(tail, storage, tail_params, precision,
                                                                    (means, variances))
        elif isinstance(tail, nn.BatchNorm2d):
            output, stats, ctx.tail_info["batch_stats"] = _norm_forward(tail, storage, (means, variances))
            tail_saved = list(stats)
        ctx.block, ctx.tail, ctx.precision, ctx.batch_stats = block, tail, precision, batch_stats
        ctx.in_channels, ctx.tail_saved = x.shape[1], len(tail_saved)
        ctx.save_for_backward(storage, *params, *tail_saved, *saved)
        return output

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        block, tail, precision = ctx.block, ctx.tail, ctx.precision
        layers: list[DenseLayer] = list(block.values())
        count = 6 * len(layers)
        storage, *rest = ctx.saved_tensors
        params, tail_params = rest[:count], rest[count : count + _tail_size(tail)]
        tail_saved = rest[count + len(tail_params) : count + len(tail_params) + ctx.tail_saved]
        saved = rest[count + len(tail_params) + ctx.tail_saved :]
        needs = ctx.needs_input_grad[3:]
        grads: list[torch.Tensor | None] = [None] * (count + len(tail_params))
        # whether a layer's input still needs a gradient: the block input, or a parameter of an earlier layer
        below = [ctx.needs_input_grad[2] or any(needs[: 6 * i]) for i in range(len(layers) + 1)]
        # the gradient of every map of the storage, accumulated as backward walks down the block
        tail_needs = [below[-1], *needs[count:]]
        if isinstance(tail, Transition):
            grad, *grads[count:] = _transition_backward(tail, grad_output, storage, tail_params, tail_saved,
                                                        ctx.tail_info, precision, tail_needs)
        elif isinstance(tail, nn.BatchNorm2d):
            grad, *grads[count:] = _norm_backward(tail, grad_output, storage, tail_params[0], tail_saved,
                                                  ctx.tail_info["batch_stats"], tail_needs)
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


class _TransitionFunction(torch.autograd.Function):
    """A transition (BN-ReLU-Conv-AvgPool) that saves only its input and recomputes BN-ReLU in backward."""

    @staticmethod
    def forward(ctx: Any, transition: Transition, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        ctx.transition, ctx.precision = transition, _ConvPrecision(x.device.type)
        out, saved, ctx.info = _transition_forward(transition, x, params, ctx.precision)
        ctx.save_for_backward(x, *params, *saved)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, *rest = ctx.saved_tensors
        grads = _transition_backward(ctx.transition, grad_output, x, rest[:3], rest[3:], ctx.info, ctx.precision,
                                     ctx.needs_input_grad[1:5])
        return None, *grads


class _StemFunction(torch.autograd.Function):
    """The ImageNet stem's BN-ReLU-MaxPool, saving only its input and recomputing the rest in backward."""

    @staticmethod
    def forward(ctx: Any, norm: nn.BatchNorm2d, pool: nn.MaxPool2d, x: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor) -> torch.Tensor:
        out, stats, ctx.batch_stats = _norm_forward(norm, x)
        ctx.norm, ctx.pool = norm, pool
        ctx.save_for_backward(x, weight, bias, *stats)
        return pool(out.relu_())

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        norm, pool = ctx.norm, ctx.pool
        x, weight, bias, *stats = ctx.saved_tensors
        out = _norm_relu(norm, x, (stats[0], stats[1]), ctx.batch_stats, weight, bias)
        args = (_pair(pool.kernel_size), _pair(pool.stride if pool.stride is not None else pool.kernel_size),
                _pair(pool.padding), _pair(pool.dilation), pool.ceil_mode)
        _, indices = torch.ops.aten.max_pool2d_with_indices(out, *args)
        grad = torch.ops.aten.max_pool2d_with_indices_backward(grad_output, out, *args, indices)
        del indices
        grad = _relu_backward_(grad, out)
        del out
        grad_x, grad_weight, grad_bias = _norm_backward(norm, grad, x, weight, (stats[0], stats[1]), ctx.batch_stats,
                                                        list(ctx.needs_input_grad[2:5]))
        return None, None, grad_x, grad_weight, grad_bias


class DenseNet(ZooModel):
    """DenseNet-BC (Huang et al. 2017, Table 1 for ImageNet, section 4 for CIFAR).

    Args:
        block_config: dense layers in each block (``(6, 12, 24, 16)`` for DenseNet-121).
        growth_rate: k, channels each dense layer adds.
        stem_channels: channels of the first convolution (2k in the paper).
        bottleneck_size: width of each 1x1 bottleneck in multiples of k (4 in the paper).
        compression: theta, the fraction of channels a transition keeps (0.5 for DenseNet-BC).
        drop_rate: dropout after each dense layer (0 for ImageNet; 0.2 on CIFAR without augmentation).
        memory_efficient: train with memory linear in depth (Pleiss et al. 2017): one shared feature storage
            per dense block, BatchNorm-ReLU outputs recomputed in backward. Same parameters, outputs and
            gradients; about a third of the activation memory; evaluation and ``torch.no_grad`` run the
            plain code. Hooks on a layer inside a block (or a transition, or the stem) send that part down
            the plain path, so they fire as usual. ``set_grad_checkpointing(True)`` turns it on as well.
        stem: ``"imagenet"`` (7x7/2 convolution, BN, ReLU, 3x3/2 max-pool) or ``"cifar"`` (one 3x3
            convolution, as in the paper's CIFAR networks).
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    classifier_name = "classifier"
    first_conv_name = "features.conv0"

    def __init__(
        self,
        block_config: Sequence[int],
        *,
        growth_rate: int = 32,
        stem_channels: int = 64,
        bottleneck_size: int = 4,
        compression: float = 0.5,
        drop_rate: float = 0.0,
        memory_efficient: bool = False,
        stem: Literal["imagenet", "cifar"] = "imagenet",
        num_classes: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans)
        check_probability("drop_rate", drop_rate)
        if not 0 < compression <= 1:
            raise ValueError(f"compression must be in (0, 1], got {compression}.")
        if stem == "imagenet":
            layers: list[tuple[str, nn.Module]] = [
                ("conv0", nn.Conv2d(in_chans, stem_channels, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(stem_channels)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ]
        elif stem == "cifar":
            layers = [("conv0", nn.Conv2d(in_chans, stem_channels, kernel_size=3, padding=1, bias=False))]
        else:
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}.")
        self.memory_efficient = bool(memory_efficient)
        self.features = nn.Sequential(OrderedDict(layers))
        channels = stem_channels
        for i, num_layers in enumerate(block_config, start=1):
            block = DenseBlock(num_layers, channels, growth_rate, bottleneck_size, drop_rate, self.memory_efficient)
            self.features.add_module(f"denseblock{i}", block)
            channels += num_layers * growth_rate
            if i != len(block_config):
                reduced = math.floor(compression * channels)
                self.features.add_module(f"transition{i}", Transition(channels, reduced, self.memory_efficient))
                channels = reduced
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.num_features = channels
        self.classifier = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.zeros_(self.classifier.bias)
        self._finish_init()

    @property
    def stages(self) -> dict[str, list[nn.Module]]:
        # each dense block with the transition after it; the last with the final BatchNorm
        stages: dict[str, list[nn.Module]] = {"stem": []}
        current = stages["stem"]
        for name, module in self.features.named_children():
            if name.startswith("denseblock"):
                current = stages.setdefault(name, [])
            current.append(module)
        return stages

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Turn the memory-efficient path on (or back to what ``memory_efficient`` asked for at construction)."""
        super().set_grad_checkpointing(enable)
        for module in self.features.modules():
            if isinstance(module, (DenseBlock, Transition)):
                module.memory_efficient = self.memory_efficient or self.grad_checkpointing

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        features = self.features
        if not ((self.memory_efficient or self.grad_checkpointing) and self.training and torch.is_grad_enabled()
                and not _has_hooks(features)):
            return F.relu(features(x), inplace=True)
        # The memory-efficient pass: the stem's BN-ReLU-MaxPool as one function that keeps only its input, and
        # each dense block fused with the transition (or final BatchNorm) after it, so that the block owns
        # the gradient of its storage and the transition reuses its batch statistics.
        names = list(features._modules)
        i = 0
        while i < len(names):
            module = features._modules[names[i]]
            if names[i : i + 3] == ["norm0", "relu0", "pool0"]:
                stem = [features._modules[name] for name in names[i : i + 3]]
                norm, pool = stem[0], stem[2]
                if _fusable(x, self, stem):
                    x = _StemFunction.apply(norm, pool, x, norm.weight, norm.bias)
                    i += 3
                    continue
            if isinstance(module, DenseBlock) and i + 1 < len(names):
                out = module._fused_forward(x, features._modules[names[i + 1]])
                if out is not None:
                    x = out
                    i += 2
                    continue
            x = module(x)  # type: ignore[misc]
            i += 1
        return F.relu(x, inplace=True)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return x if pre_logits else self.classifier(x)

    def _new_classifier(self, num_classes: int) -> nn.Module:
        layer = nn.Linear(self.num_features, num_classes)
        nn.init.zeros_(layer.bias)
        return layer

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Accept torchvision's original DenseNet files, which name ``norm1`` as ``norm.1`` (and so on)."""
        return {_OLD_DENSE_KEY.sub(r"\1\2.", key): value for key, value in state_dict.items()}


_DENSENET = 'Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks", CVPR 2017. https://arxiv.org/abs/1608.06993'


@register_model(paper=_DENSENET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/densenet121-a639ec97.pth", hub="timm/densenet121.tv_in1k", license="apache-2.0", top1=74.434, top5=91.972, resize=256),
])
def densenet121(**kwargs: Any) -> DenseNet:
    """DenseNet-121 (Huang et al. 2017, Table 1): k=32, blocks (6, 12, 24, 16); 7,978,856 parameters."""
    return DenseNet((6, 12, 24, 16), growth_rate=32, stem_channels=64, **kwargs)


@register_model(paper=_DENSENET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/densenet161-8d451a50.pth", hub="timm/densenet161.tv_in1k", license="apache-2.0", top1=77.138, top5=93.56, resize=256),
])
def densenet161(**kwargs: Any) -> DenseNet:
    """DenseNet-161 (Huang et al. 2017, Table 1): k=48, blocks (6, 12, 36, 24); 28,681,000 parameters."""
    return DenseNet((6, 12, 36, 24), growth_rate=48, stem_channels=96, **kwargs)


@register_model(paper=_DENSENET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/densenet169-b2777c0a.pth", hub="timm/densenet169.tv_in1k", license="apache-2.0", top1=75.6, top5=92.806, resize=256),
])
def densenet169(**kwargs: Any) -> DenseNet:
    """DenseNet-169 (Huang et al. 2017, Table 1): k=32, blocks (6, 12, 32, 32); 14,149,480 parameters."""
    return DenseNet((6, 12, 32, 32), growth_rate=32, stem_channels=64, **kwargs)


@register_model(paper=_DENSENET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/densenet201-c1103571.pth", hub="timm/densenet201.tv_in1k", license="apache-2.0", top1=76.896, top5=93.37, resize=256),
])
def densenet201(**kwargs: Any) -> DenseNet:
    """DenseNet-201 (Huang et al. 2017, Table 1): k=32, blocks (6, 12, 48, 32); 20,013,928 parameters."""
    return DenseNet((6, 12, 48, 32), growth_rate=32, stem_channels=64, **kwargs)


@register_model(paper=_DENSENET)
def densenet264(**kwargs: Any) -> DenseNet:
    """DenseNet-264 (Huang et al. 2017, Table 1): k=32, blocks (6, 12, 64, 48); 33,337,704 parameters."""
    return DenseNet((6, 12, 64, 48), growth_rate=32, stem_channels=64, **kwargs)


class CifarDenseNet(DenseNet):
    """DenseNet-BC for CIFAR at 32x32 (Huang et al. 2017, section 4): three blocks, a 3x3 stem of 2k maps."""

    default_input_size = (32, 32)
    default_mean = CIFAR_MEAN
    default_std = CIFAR_STD
    default_crop_pct = 1.0
    default_train_augment = "pad_crop"

    def __init__(self, depth: int = 100, *, growth_rate: int = 12, num_classes: int = 10, in_chans: int = 3, **kwargs: Any) -> None:
        # depth = 3 blocks * 2 convolutions per bottleneck layer * n + stem + 2 transitions + classifier
        if (depth - 4) % 6 != 0:
            raise ValueError(f"DenseNet-BC depth must be 6n + 4, got {depth}.")
        layers = (depth - 4) // 6
        super().__init__(
            (layers, layers, layers),
            growth_rate=growth_rate,
            stem_channels=2 * growth_rate,
            stem="cifar",
            num_classes=num_classes,
            in_chans=in_chans,
            **kwargs,
        )


@register_model(family="cifar_densenet", paper=_DENSENET)
def cifar_densenet_bc100(**kwargs: Any) -> CifarDenseNet:
    """DenseNet-BC (L=100, k=12) for CIFAR-10 (Huang et al. 2017, Table 2); 769,162 parameters."""
    return CifarDenseNet(100, growth_rate=12, **kwargs)
