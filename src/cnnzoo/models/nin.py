"""Network in Network (Lin, Chen & Yan 2014), the released ImageNet model.

The paper replaces each convolution by a small network -- a convolution followed by two 1x1
convolutions, an "mlpconv" layer -- and the fully connected classifier by a 1x1 convolution with one
map a class, averaged over the image. The paper's experiments are on small images; for ImageNet this
is the model its authors released (in the Caffe model zoo): four mlpconv layers, with the released
model's layer names, and pooling that rounds up as Caffe's does.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cnnzoo.models._base import ZooModel, sequential_stages
from cnnzoo.registry import register_model

__all__ = ["NIN"]


def _mlpconv(index: int, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int,
             mlp_names: tuple[str, str]) -> list[tuple[str, nn.Module]]:
    """One mlpconv layer: a convolution followed by two 1x1 convolutions (the "micro network"), ReLU after each."""
    first, second = mlp_names
    return [
        (f"conv{index}", nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)),
        (f"relu{index}", nn.ReLU(inplace=True)),
        (first, nn.Conv2d(out_channels, out_channels, kernel_size=1)),
        (f"relu_{first}", nn.ReLU(inplace=True)),
        (second, nn.Conv2d(out_channels, out_channels, kernel_size=1)),
        (f"relu_{second}", nn.ReLU(inplace=True)),
    ]


class NIN(ZooModel):
    """Network in Network for ImageNet: four mlpconv layers and global average pooling, no fully connected layer.

    Lin et al. 2014 (section 3) replace each convolution by an "mlpconv" -- a convolution followed by
    1x1 convolutions -- and the fully connected classifier by a 1x1 convolution to one map per class,
    averaged over space. This is the ImageNet model its authors released (Caffe model zoo):
    96@11x11/4, 256@5x5 and 384@3x3 mlpconvs each followed by a 3x3/2 max-pool, dropout, then 1024@3x3,
    a 1x1 of 1024 and the 1x1 classifier ``cccp8``; every convolution, the classifier included, is
    followed by ReLU, and pooling rounds up as Caffe's does. Layer names are the released model's.

    Args:
        dropout: dropout probability before the fourth mlpconv layer.
        num_classes: maps of the 1x1 classifier convolution ``cccp8``, one a class, averaged over space.
        in_chans: input channels.
    """

    classifier_name = "cccp8"
    first_conv_name = "features.conv1"

    def __init__(self, *, dropout: float = 0.5, num_classes: int = 1000, in_chans: int = 3) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans, dropout=dropout)
        layers = [
            *_mlpconv(1, in_chans, 96, 11, 4, 0, ("cccp1", "cccp2")),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            *_mlpconv(2, 96, 256, 5, 1, 2, ("cccp3", "cccp4")),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            *_mlpconv(3, 256, 384, 3, 1, 1, ("cccp5", "cccp6")),
            ("pool3", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            ("drop", nn.Dropout(p=dropout)),
            ("conv4", nn.Conv2d(384, 1024, kernel_size=3, padding=1)),
            ("relu4", nn.ReLU(inplace=True)),
            ("cccp7", nn.Conv2d(1024, 1024, kernel_size=1)),
            ("relu_cccp7", nn.ReLU(inplace=True)),
        ]
        self.features = nn.Sequential(OrderedDict(layers))
        self.num_features = 1024
        self.cccp8 = self.class_layer(1024)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                self._init_conv(module)
        # the four mlpconv layers, each starting at its spatial convolution (the fourth at the dropout before it)
        self.stage_specs = sequential_stages(
            "features", self.features, {"conv1": "mlpconv1", "conv2": "mlpconv2", "conv3": "mlpconv3", "drop": "mlpconv4"},
            (96, 256, 384, 1024), (8, 16, 32, 32))
        self._finish_init()

    @staticmethod
    def _init_conv(conv: nn.Module) -> None:
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.zeros_(conv.bias)

    def init_head_layer(self, layer: nn.Module) -> None:
        self._init_conv(layer)  # the classifier cccp8 is a convolution like the others

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._checkpointed_stages(self.features, x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        self.check_whole()
        if pre_logits:
            # the map cccp8 reads, averaged over space: num_features values per image
            return torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        x = self.cccp8(x)
        if self.num_classes:  # without a classifier, x is the ReLU's output already
            x = F.relu(x, inplace=True)
        return torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)

    def head_layer(self, in_features: int, out_features: int) -> nn.Module:
        return nn.Conv2d(in_features, out_features, kernel_size=1)


@register_model(paper='Lin, Chen, Yan, "Network In Network", ICLR 2014. https://arxiv.org/abs/1312.4400')
def nin(**kwargs: Any) -> NIN:
    """Network in Network, the released ImageNet model (Lin et al. 2014); 7,595,176 parameters."""
    return NIN(**kwargs)
