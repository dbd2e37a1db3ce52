"""Squeeze-and-Excitation (Hu et al. 2018), laid out as timm's ``SEModule`` so its weights load."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SqueezeExcite", "make_divisible"]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never below ``divisor``."""
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


class SqueezeExcite(nn.Module):
    """Channel attention: global average pool, bottleneck of 1x1 convolutions, sigmoid gate.

    Section 3 of Hu et al. 2018 ("Squeeze-and-Excitation Networks", CVPR): squeeze by global average
    pooling, excite by two fully connected layers with reduction ratio r (16 in the paper) and ReLU,
    then rescale the channels by the sigmoid of the result. The fully connected layers are 1x1
    convolutions with bias, named ``fc1``/``fc2`` like timm's so timm's SE-ResNet weights load.

    Args:
        channels: channels of the feature map.
        reduction: the reduction ratio r.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        reduced = make_divisible(channels / reduction)
        self.fc1 = nn.Conv2d(channels, reduced, kernel_size=1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, kernel_size=1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.fc2(self.act(self.fc1(scale)))
        return x * self.gate(scale)
