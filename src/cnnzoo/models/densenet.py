"""Densely connected networks (Huang et al. 2017), for ImageNet and for CIFAR.

The DenseNets torchvision also builds are torchvision's exactly: the same parameter count, the same
weight names in the same order (``features.denseblock1.denselayer1.conv1.weight`` ...) and the same
outputs given the same weights (the test suite checks all three), so its checkpoints load unchanged --
strictly, not with ``strict=False`` under other names. DenseNet-264, which torchvision has no builder
for, is torchvision's DenseNet with the paper's Table 1 configuration, checked the same way.

``memory_efficient=True`` trains with memory linear in depth instead of quadratic (Pleiss et al. 2017,
"Memory-Efficient Implementation of DenseNets", https://arxiv.org/abs/1707.06990): each block keeps one
shared feature storage and recomputes its BatchNorm-ReLU outputs in backward, as one operator
(:mod:`cnnzoo.ops.dense_block`). Parameters, state_dict, outputs and gradients are those of the plain
network, and evaluation runs the plain code.
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

from cnnzoo._cfg import CIFAR_MEAN, CIFAR_STD

from cnnzoo.models._base import ZooModel, checkpoint_modules, is_fx_proxy, sequential_stages
from cnnzoo.ops.dense_block import DenseLayerParts, Tail, dense_block, fused_available, hook_free
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
        if self.memory_efficient and self.training and torch.is_grad_enabled() and not is_fx_proxy(x):
            if not fused_available():
                return self._checkpointed_forward(x)
            out = self._fused_forward(x)
            if out is not None:
                return out
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)

    def _fused_forward(self, x: torch.Tensor, tail: nn.Module | None = None) -> torch.Tensor | None:
        """This block, and ``tail`` after it (a transition or the final BatchNorm, whose hooks then do not run),
        as the memory-efficient operator, or None where their own modules must run instead."""
        layers = list(self.values())
        if not (layers and all(type(layer) is DenseLayer for layer in layers)):
            return None
        parts = [DenseLayerParts(layer.norm1, layer.conv1, layer.norm2, layer.conv2,
                                 layer.drop_rate if layer.training else 0.0) for layer in layers]
        if tail is None:
            return dense_block(x, parts, replaces=layers)
        tail_parts = _as_tail(tail)
        return None if tail_parts is None else dense_block(x, parts, tail_parts, replaces=[self, tail])

    def _checkpointed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Where the fused operator cannot run on this PyTorch: each layer keeps only its inputs and runs again
        in backward (a list of its own, since ``features`` grows after the layer has read it)."""
        features = [x]
        for layer in self.values():
            features.append(checkpoint_modules([layer], list(features)))  # type: ignore[arg-type]
        return torch.cat(features, 1)


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
        if self.memory_efficient and self.training and torch.is_grad_enabled() and not is_fx_proxy(x):
            if not fused_available():
                return checkpoint_modules(list(self), x)
            tail = _as_tail(self)
            out = None if tail is None else dense_block(x, (), tail, replaces=list(self))
            if out is not None:
                return out
        return super().forward(x)


def _as_tail(module: nn.Module) -> Tail | None:
    """``module`` as the part after a dense block that the memory-efficient operator can take in: a transition
    (BN-ReLU-Conv-AvgPool) or the final BatchNorm."""
    if type(module) is Transition and len(module) == 4:
        return Tail(module.norm, module.conv, module.pool)
    return Tail(module) if type(module) is nn.BatchNorm2d else None


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
        super().__init__(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)
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
        # stages: the stem, then each dense block with the transition after it (the last with the final
        # BatchNorm); the ImageNet stem reduces by 4, each transition's 2x2 average pool by 2 more
        stage_channels, reduction = [stem_channels], 4 if stem == "imagenet" else 1
        stage_reductions = [reduction]
        channels = stem_channels
        for i, num_layers in enumerate(block_config, start=1):
            block = DenseBlock(num_layers, channels, growth_rate, bottleneck_size, drop_rate, self.memory_efficient)
            self.features.add_module(f"denseblock{i}", block)
            channels += num_layers * growth_rate
            if i != len(block_config):
                reduced = math.floor(compression * channels)
                self.features.add_module(f"transition{i}", Transition(channels, reduced, self.memory_efficient))
                channels, reduction = reduced, reduction * 2
            stage_channels.append(channels)
            stage_reductions.append(reduction)
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        starts = {"conv0": "stem", **{f"denseblock{i}": f"denseblock{i}" for i in range(1, len(block_config) + 1)}}
        self.stage_specs = sequential_stages("features", self.features, starts, stage_channels, stage_reductions)
        self.num_features = channels
        self.classifier = self.class_layer(channels)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if self.num_classes:
            self.init_head_layer(self.classifier)
        self._finish_init()

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Turn the memory-efficient path on (or back to what ``memory_efficient`` asked for at construction)."""
        super().set_grad_checkpointing(enable)
        for module in self.features.modules():
            if isinstance(module, (DenseBlock, Transition)):
                module.memory_efficient = self.memory_efficient or self.grad_checkpointing

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        features = self.features
        # traced by torch.fx, the plain path: the memory-efficient operators are not graph nodes
        if ((self.memory_efficient or self.grad_checkpointing) and self.training and torch.is_grad_enabled()
                and not is_fx_proxy(x) and fused_available() and hook_free([features], recurse=False)):
            x = self._memory_efficient_features(x)
        else:
            x = features(x)
        return F.relu(x)  # not in place: the map may be a hooked stage output (forward_intermediates)

    def _memory_efficient_features(self, x: torch.Tensor) -> torch.Tensor:
        """The features, with the stem's BN-ReLU-MaxPool as one operator that keeps only its input, and each dense
        block fused with the transition (or final BatchNorm) after it, so that the block owns the gradient of
        its storage and the transition reuses its batch statistics. A part the operator cannot stand in for
        (a hook on it, say) runs as itself."""
        children = list(self.features.named_children())
        i = 0
        while i < len(children):
            module = children[i][1]
            out, used = None, 1
            if [n for n, _ in children[i : i + 3]] == ["norm0", "relu0", "pool0"]:
                stem = [m for _, m in children[i : i + 3]]
                out, used = dense_block(x, (), Tail(stem[0], None, stem[2]), replaces=stem), 3
            elif isinstance(module, DenseBlock) and i + 1 < len(children):
                out, used = module._fused_forward(x, children[i + 1][1]), 2
            if out is None:
                out, used = module(x), 1
            x = out
            i += used
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        self.check_whole()
        x = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return x if pre_logits else self.classifier(x)

    def init_head_layer(self, layer: nn.Module) -> None:
        nn.init.zeros_(layer.bias)  # torchvision's: PyTorch's default weights, zero bias

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
