"""Classifier heads for transfer learning: a Linear layer, or a two-layer MLP whose width a rule picks."""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn

from cnnzoo.errors import check_positive_int

__all__ = ["auto_hidden_width", "mlp_head"]


def auto_hidden_width(num_features: int, num_classes: int) -> int:
    """A hidden width for an MLP head: ``2 ** (floor(log2 F) - floor(log2 floor(sqrt(F / C))))``.

    The rule of a popular ResNet/DenseNet fine-tuning tutorial: 128 for ResNet-50 (F=2048) or DenseNet-121
    (F=1024) with 5 classes. When ``C > F`` the square root is below one and the rule breaks down; the head
    is then ``F`` wide.
    """
    num_features = check_positive_int("num_features", num_features)
    num_classes = check_positive_int("num_classes", num_classes)
    root = math.isqrt(num_features // num_classes) if num_classes <= num_features else 0
    if root < 1:
        return num_features
    return 2 ** (math.floor(math.log2(num_features)) - math.floor(math.log2(root)))


def mlp_head(
    layer: Callable[[int, int], nn.Module], num_features: int, num_classes: int, hidden: int, dropout: float
) -> nn.Sequential:
    """``layer(F, hidden)``-ReLU-Dropout-``layer(hidden, C)``: a hidden layer before the class layer.

    ``layer`` is the kind of layer the architecture classifies with (Linear, or NIN's 1x1 convolution).
    """
    return nn.Sequential(
        layer(num_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout), layer(hidden, num_classes)
    )
