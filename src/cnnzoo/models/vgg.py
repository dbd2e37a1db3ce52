"""VGG networks (Simonyan & Zisserman 2015), configurations A, B, D and E, with and without BatchNorm.

The layers follow the paper's Table 1, and every network is torchvision's exactly: the same parameter
count, the same weight names in the same order (``features.0.weight`` ... ``classifier.6.weight``) and
the same outputs given the same weights (the test suite checks all three), so torchvision's ImageNet
weights load unchanged. The ``_bn`` networks add BatchNorm after each convolution, which the paper
predates; torchvision published weights for both kinds. As in torchvision, the last feature map is
pooled to 7x7, the size the paper's 224x224 input gives it, before the fully connected layers, so
other input sizes work too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnnzoo.models._base import PooledClassifierModel, sequential_stages
from cnnzoo.registry import register_model
from cnnzoo.weights import torchvision_tag as tv

__all__ = ["VGG", "VGG_CONFIGS", "make_vgg_features"]

#: Table 1 of the paper: the output channels of each 3x3 convolution, "M" for a 2x2 max-pool.
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


def make_vgg_features(config: Sequence[int | str], in_chans: int, batch_norm: bool) -> nn.Sequential:
    """The convolutional part of a VGG configuration: 3x3 convolutions (padding 1) with ReLU, 2x2 max-pools."""
    layers: list[nn.Module] = []
    channels = in_chans
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(channels, int(item), kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(item)))
        layers.append(nn.ReLU(inplace=True))
        channels = int(item)
    return nn.Sequential(*layers)


class VGG(PooledClassifierModel):
    """VGG: stacks of 3x3 convolutions, then 4096-4096-classes fully connected layers with dropout.

    Args:
        config: a column of Table 1 as a channel list (see :data:`VGG_CONFIGS`).
        batch_norm: BatchNorm after each convolution (not in the paper; torchvision's ``_bn`` variants).
        dropout: dropout probability after each of the two hidden fully connected layers.
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    classifier_name = "classifier.6"

    def __init__(
        self,
        config: Sequence[int | str],
        *,
        batch_norm: bool = False,
        dropout: float = 0.5,
        num_classes: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans, dropout=dropout)
        self.features = make_vgg_features(config, in_chans, batch_norm)
        # the paper's five blocks (its "conv1" .. "conv5"): each starts at the first convolution after a
        # max-pool and ends with the next max-pool, which halves the map
        block_starts: dict[str, str] = {}
        block_channels: list[int] = []
        after_pool = True
        convs = (name for name, module in self.features.named_children() if isinstance(module, nn.Conv2d))
        for item in config:
            if item == "M":
                after_pool = True
                continue
            if after_pool:
                block_starts[next(convs)] = f"block{len(block_channels) + 1}"
                block_channels.append(int(item))
            else:
                next(convs)
                block_channels[-1] = int(item)
            after_pool = False
        self.stage_specs = sequential_stages("features", self.features, block_starts, block_channels,
                                             [2 ** i for i in range(1, len(block_channels) + 1)])
        # The paper feeds fc6 a 7x7 map; pooling to 7x7 lets other input sizes through unchanged at 224.
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.num_features = 4096
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            self.class_layer(4096),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                self._init_linear(module)
        self._finish_init()

    @staticmethod
    def _init_linear(layer: nn.Module) -> None:
        nn.init.normal_(layer.weight, 0, 0.01)
        nn.init.zeros_(layer.bias)

    def init_head_layer(self, layer: nn.Module) -> None:
        self._init_linear(layer)

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Accept timm's VGG layout, which keeps fc6 and fc7 as 7x7 and 1x1 convolutions.

        timm's ``pre_logits.fc1`` (4096x512x7x7), ``pre_logits.fc2`` (4096x4096x1x1) and ``head.fc`` are
        torchvision's ``classifier.0``, ``.3`` and ``.6``: a convolution over the whole 7x7 map is the
        fully connected layer over the flattened map, channel-major like ``torch.flatten``.
        """
        renames = {"pre_logits.fc1": "classifier.0", "pre_logits.fc2": "classifier.3", "head.fc": "classifier.6"}
        if "pre_logits.fc1.weight" not in state_dict:
            return state_dict
        converted = {}
        for key, value in state_dict.items():
            module, _, name = key.rpartition(".")
            if module in renames:
                key = f"{renames[module]}.{name}"
                if name == "weight":
                    value = value.reshape(value.shape[0], -1)
            converted[key] = value
        return converted


_VGG = 'Simonyan, Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015. https://arxiv.org/abs/1409.1556'


@register_model(paper=_VGG, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/vgg11-8a719046.pth", hub="timm/vgg11.tv_in1k", license="bsd-3-clause", top1=69.02, top5=88.628, resize=256),
])
def vgg11(**kwargs: Any) -> VGG:
    """VGG-11, configuration A of Simonyan & Zisserman 2015 (Table 1); 132,863,336 parameters."""
    return VGG(VGG_CONFIGS["A"], **kwargs)


@register_model(paper=_VGG, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/vgg11_bn-6002323d.pth", hub="timm/vgg11_bn.tv_in1k", license="bsd-3-clause", top1=70.37, top5=89.81, resize=256),
])
def vgg11_bn(**kwargs: Any) -> VGG:
    """VGG-11 (configuration A, Simonyan & Zisserman 2015) with BatchNorm; 132,868,840 parameters."""
    return VGG(VGG_CONFIGS["A"], batch_norm=True, **kwargs)


@register_model(paper=_VGG, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/vgg13-19584684.pth", hub="timm/vgg13.tv_in1k", license="bsd-3-clause", top1=69.928, top5=89.246, resize=256),
])
def vgg13(**kwargs: Any) -> VGG:
    """VGG-13, configuration B of Simonyan & Zisserman 2015 (Table 1); 133,047,848 parameters."""
    return VGG(VGG_CONFIGS["B"], **kwargs)


@register_model(paper=_VGG, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/vgg13_bn-abd245e5.pth", hub="timm/vgg13_bn.tv_in1k", license="bsd-3-clause", top1=71.586, top5=90.374, resize=256),
])
def vgg13_bn(**kwargs: Any) -> VGG:
    """VGG-13 (configuration B, Simonyan & Zisserman 2015) with BatchNorm; 133,053,736 parameters."""
    return VGG(VGG_CONFIGS["B"], batch_norm=True, **kwargs)


@register_model(paper=_VGG, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/vgg16-397923af.pth", hub="timm/vgg16.tv_in1k", license="bsd-3-clause", top1=71.592, top5=90.382, resize=256),
])
def vgg16(**kwargs: Any) -> VGG:
    """VGG-16, configuration D of Simonyan & Zisserman 2015 (Table 1); 138,357,544 parameters."""
    return VGG(VGG_CONFIGS["D"], **kwargs)


@register_model(paper=_VGG, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth", hub="timm/vgg16_bn.tv_in1k", license="bsd-3-clause", top1=73.36, top5=91.516, resize=256),
])
def vgg16_bn(**kwargs: Any) -> VGG:
    """VGG-16 (configuration D, Simonyan & Zisserman 2015) with BatchNorm; 138,365,992 parameters."""
    return VGG(VGG_CONFIGS["D"], batch_norm=True, **kwargs)


@register_model(paper=_VGG, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", hub="timm/vgg19.tv_in1k", license="bsd-3-clause", top1=72.376, top5=90.876, resize=256),
])
def vgg19(**kwargs: Any) -> VGG:
    """VGG-19, configuration E of Simonyan & Zisserman 2015 (Table 1); 143,667,240 parameters."""
    return VGG(VGG_CONFIGS["E"], **kwargs)


@register_model(paper=_VGG, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth", hub="timm/vgg19_bn.tv_in1k", license="bsd-3-clause", top1=74.218, top5=91.842, resize=256),
])
def vgg19_bn(**kwargs: Any) -> VGG:
    """VGG-19 (configuration E, Simonyan & Zisserman 2015) with BatchNorm; 143,678,248 parameters."""
    return VGG(VGG_CONFIGS["E"], batch_norm=True, **kwargs)
