"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998).

The digit recogniser of section II.B and Figure 2 of the paper, for 32x32 grey images: three
convolutions (C1, C3, C5), two subsampling layers (S2, S4) and two fully connected layers, with tanh
between them. It is built as the paper is commonly read today, because three of the paper's details
have no standard PyTorch layer: the third convolution sees all six maps before it rather than the
subsets of the paper's Table I, subsampling is a plain average rather than one with a learnt weight
and bias for each map, and the last layer is an ordinary linear layer rather than radial basis
function units. The weights start as the paper's Appendix A says.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from cnnzoo._cfg import MNIST_MEAN, MNIST_STD
from cnnzoo.models._base import ZooModel, sequential_stages
from cnnzoo.registry import register_model

__all__ = ["LeNet5"]


class LeNet5(ZooModel):
    """LeNet-5 on 32x32 single-channel images (LeCun et al. 1998, section II.B and Figure 2).

    C1 6@5x5, S2 2x2 subsampling, C3 16@5x5, S4 2x2 subsampling, C5 120@5x5, F6 84, output; tanh
    after each weighted layer but the output. As in the common modern reading of the paper: C3 connects
    to all six S2 maps (the paper's Table I connection scheme is dropped), subsampling is plain average
    pooling (the paper's per-map trainable coefficient and bias are dropped), tanh is unscaled, and the
    output is a linear layer rather than Euclidean RBF units. Weights start uniform in +-2.4 / fan-in
    (Appendix A). An input larger than 32x32 makes C5's map larger than 1x1; it is averaged to one value
    per channel before F6, which changes nothing at 32x32.

    Args:
        num_classes: outputs of the classifier (10 digits in the paper).
        in_chans: input channels (1 in the paper).
    """

    classifier_name = "output"
    first_conv_name = "features.c1"
    default_input_size = (32, 32)
    default_mean = MNIST_MEAN
    default_std = MNIST_STD
    default_crop_pct = 1.0
    default_train_augment = "none"

    def __init__(self, *, num_classes: int = 10, in_chans: int = 1) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans)
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("c1", nn.Conv2d(in_chans, 6, kernel_size=5)),
                    ("act1", nn.Tanh()),
                    ("s2", nn.AvgPool2d(kernel_size=2, stride=2)),
                    ("c3", nn.Conv2d(6, 16, kernel_size=5)),
                    ("act3", nn.Tanh()),
                    ("s4", nn.AvgPool2d(kernel_size=2, stride=2)),
                    ("c5", nn.Conv2d(16, 120, kernel_size=5)),
                    ("act5", nn.Tanh()),
                ]
            )
        )
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.f6 = nn.Linear(120, 84)
        self.act6 = nn.Tanh()
        self.num_features = 84
        self.output = self.class_layer(84)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                self._init_weighted(module)
        # the paper's layer names: C1, C3 and C5, each with what follows it (F6 belongs to the head)
        self.stage_specs = sequential_stages("features", self.features, {"c1": "c1", "c3": "c3", "c5": "c5"},
                                             (6, 16, 120), (2, 4, 4))
        self._finish_init()

    @staticmethod
    def _init_weighted(module: nn.Module) -> None:
        fan_in = module.weight[0].numel()
        nn.init.uniform_(module.weight, -2.4 / fan_in, 2.4 / fan_in)  # Appendix A
        nn.init.zeros_(module.bias)

    def init_head_layer(self, layer: nn.Module) -> None:
        self._init_weighted(layer)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._checkpointed_stages(self.features, x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        self.check_whole()
        x = self.act6(self.f6(torch.flatten(self.pool(x), 1)))
        return x if pre_logits else self.output(x)


@register_model(paper='LeCun, Bottou, Bengio, Haffner, "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 1998. https://doi.org/10.1109/5.726791')
def lenet5(**kwargs: Any) -> LeNet5:
    """LeNet-5 (LeCun et al. 1998): 1x32x32 input, tanh, fully connected C3, 10 classes; 61,706 parameters."""
    return LeNet5(**kwargs)
