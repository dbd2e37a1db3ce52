"""Densely connected networks (Huang et al. 2017), for ImageNet and for CIFAR.

State_dict keys follow torchvision's (``features.denseblock1.denselayer1.conv1.weight``), so its
checkpoints load unchanged -- strictly, not with ``strict=False`` under other names.
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
from cnnzoo.models._base import ZooModel
from cnnzoo.registry import register_model

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
    """``num_layers`` dense layers, each fed the block input and every earlier layer's output (equation 2)."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bottleneck_size: int, drop_rate: float) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bottleneck_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-Conv(1x1)-AvgPool(2x2) between dense blocks, shrinking channels by the compression factor."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(ZooModel):
    """DenseNet-BC (Huang et al. 2017, Table 1 for ImageNet, section 4 for CIFAR).

    Args:
        block_config: dense layers in each block (``(6, 12, 24, 16)`` for DenseNet-121).
        growth_rate: k, channels each dense layer adds.
        stem_channels: channels of the first convolution (2k in the paper).
        bottleneck_size: width of each 1x1 bottleneck in multiples of k (4 in the paper).
        compression: theta, the fraction of channels a transition keeps (0.5 for DenseNet-BC).
        drop_rate: dropout after each dense layer (0 for ImageNet; 0.2 on CIFAR without augmentation).
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
        stem: Literal["imagenet", "cifar"] = "imagenet",
        num_classes: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans)
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
        self.features = nn.Sequential(OrderedDict(layers))
        channels = stem_channels
        for i, num_layers in enumerate(block_config, start=1):
            block = DenseBlock(num_layers, channels, growth_rate, bottleneck_size, drop_rate)
            self.features.add_module(f"denseblock{i}", block)
            channels += num_layers * growth_rate
            if i != len(block_config):
                reduced = math.floor(compression * channels)
                self.features.add_module(f"transition{i}", Transition(channels, reduced))
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

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.features(x), inplace=True)

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


@register_model(paper=_DENSENET)
def densenet121(**kwargs: Any) -> DenseNet:
    """DenseNet-121 (Huang et al. 2017, Table 1): k=32, blocks (6, 12, 24, 16); 7,978,856 parameters."""
    return DenseNet((6, 12, 24, 16), growth_rate=32, stem_channels=64, **kwargs)


@register_model(paper=_DENSENET)
def densenet161(**kwargs: Any) -> DenseNet:
    """DenseNet-161 (Huang et al. 2017, Table 1): k=48, blocks (6, 12, 36, 24); 28,681,000 parameters."""
    return DenseNet((6, 12, 36, 24), growth_rate=48, stem_channels=96, **kwargs)


@register_model(paper=_DENSENET)
def densenet169(**kwargs: Any) -> DenseNet:
    """DenseNet-169 (Huang et al. 2017, Table 1): k=32, blocks (6, 12, 32, 32); 14,149,480 parameters."""
    return DenseNet((6, 12, 32, 32), growth_rate=32, stem_channels=64, **kwargs)


@register_model(paper=_DENSENET)
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
