"""AlexNet: the paper's two-tower network of 2012 and torchvision's single-tower variant of 2014.

``alexnet`` is the network torchvision ships, from Krizhevsky's 2014 paper "One weird trick": one
tower and no local response normalisation. It is torchvision's exactly -- the same parameter count,
the same weight names in the same order and the same outputs given the same weights (the test suite
checks all three) -- so torchvision's ImageNet weights load unchanged.

``alexnet_2012`` is the network of the 2012 paper as its Figure 2 draws it. The paper split it over two
GPUs; here each split layer is a grouped convolution, which computes exactly what the two halves
compute. It keeps the paper's local response normalisation, with the paper's scaling (section 3.3),
and the paper's initialisation (section 5).

``alexnet_half`` is one of the two halves of the 2012 network, as a popular flowers tutorial trains
it; its builder's description lists every way it differs from the paper.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from torch import nn

from cnnzoo.errors import CnnzooValueError, check_positive_int
from cnnzoo.layers import LocalResponseNorm
from cnnzoo.models._base import PooledClassifierModel, Stage, sequential_stages
from cnnzoo.registry import register_model
from cnnzoo.weights import torchvision_tag as tv

__all__ = ["AlexNet", "AlexNet2012"]


def _conv_stages(features: nn.Sequential, channels: Sequence[int]) -> tuple[Stage, ...]:
    """conv1 ... conv5, each with the ReLU, normalisation and pooling after it; maps at 1/8, 1/16 (conv2-4), 1/32."""
    convs = [name for name, module in features.named_children() if isinstance(module, nn.Conv2d)]
    return sequential_stages("features", features, {name: f"conv{i}" for i, name in enumerate(convs, 1)},
                             channels, (8, 16, 16, 16, 32))


class AlexNet(PooledClassifierModel):
    """The single-tower AlexNet of Krizhevsky 2014 ("One weird trick"), laid out as torchvision's.

    Five convolutions of 64, 192, 384, 256 and 256 channels without normalisation, then
    4096-4096-classes fully connected layers with dropout before each hidden one. Keys match
    torchvision's ``alexnet`` (``features.0`` ... ``classifier.6``). Other widths give other single-tower
    AlexNets in the same layout, such as ``alexnet_half``, one tower of the 2012 network.

    Args:
        conv_channels: output channels of conv1 to conv5.
        hidden_features: width of the two hidden fully connected layers.
        dropout: dropout probability before the two hidden fully connected layers.
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    classifier_name = "classifier.6"

    def __init__(
        self,
        *,
        conv_channels: Sequence[int] = (64, 192, 384, 256, 256),
        hidden_features: int = 4096,
        dropout: float = 0.5,
        num_classes: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans, dropout=dropout)
        if isinstance(conv_channels, (str, bytes)) or not isinstance(conv_channels, Sequence) or len(conv_channels) != 5:
            raise CnnzooValueError(f"conv_channels must be five channel counts (conv1 to conv5), got {conv_channels!r}.")
        c1, c2, c3, c4, c5 = (check_positive_int("conv_channels", c) for c in conv_channels)
        check_positive_int("hidden_features", hidden_features)
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, c1, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.num_features = hidden_features
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c5 * 6 * 6, hidden_features),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_features, hidden_features),
            nn.ReLU(inplace=True),
            self.class_layer(hidden_features),
        )
        self.stage_specs = _conv_stages(self.features, (c1, c2, c3, c4, c5))
        self._finish_init()


class AlexNet2012(PooledClassifierModel):
    """The network of Krizhevsky, Sutskever & Hinton 2012 (Figure 2), the paper's two GPUs as groups.

    conv1: 96 kernels of 11x11 at stride 4, ReLU, local response normalisation, overlapping 3x3
    max-pool at stride 2; conv2: 256 kernels of 5x5 in two groups (each tower sees only its own 48
    maps), ReLU, LRN, pool; conv3: 384 of 3x3 across both towers; conv4: 384 of 3x3 and conv5: 256 of
    3x3, both in two groups; pool; fc6 and fc7 of 4096 with ReLU and dropout; fc8. A convolution with ``groups=2`` computes exactly what the paper's two towers compute
    with their cross-GPU connections only at conv3 and the fully connected layers.

    The LRN uses the paper's n=5, k=2, alpha=1e-4, beta=0.75 under the paper's scaling (alpha not
    divided by n; section 3.3). Weights are initialised as in section 5: N(0, 0.01), biases 1 in conv2,
    conv4, conv5 and the hidden fully connected layers fc6 and fc7, 0 elsewhere. The input is 224x224 with conv1 padded by
    2, which gives the paper's 55x55 first maps (an unpadded 227x227 input gives the same).

    Args:
        dropout: dropout probability after fc6 and fc7 (0.5 in the paper).
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    classifier_name = "classifier.fc8"
    first_conv_name = "features.conv1"

    def __init__(self, *, dropout: float = 0.5, num_classes: int = 1000, in_chans: int = 3) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans, dropout=dropout)

        def lrn() -> LocalResponseNorm:
            return LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0, scale="paper")

        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv1", nn.Conv2d(in_chans, 96, kernel_size=11, stride=4, padding=2)),
                    ("relu1", nn.ReLU(inplace=True)),
                    ("norm1", lrn()),
                    ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
                    ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2)),
                    ("relu2", nn.ReLU(inplace=True)),
                    ("norm2", lrn()),
                    ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
                    ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
                    ("relu3", nn.ReLU(inplace=True)),
                    ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2)),
                    ("relu4", nn.ReLU(inplace=True)),
                    ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2)),
                    ("relu5", nn.ReLU(inplace=True)),
                    ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
                ]
            )
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.num_features = 4096
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("fc6", nn.Linear(256 * 6 * 6, 4096)),
                    ("relu6", nn.ReLU(inplace=True)),
                    ("drop6", nn.Dropout(p=dropout)),
                    ("fc7", nn.Linear(4096, 4096)),
                    ("relu7", nn.ReLU(inplace=True)),
                    ("drop7", nn.Dropout(p=dropout)),
                    ("fc8", self.class_layer(4096)),
                ]
            )
        )
        for name, module in self.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight, 0.0, 0.01)
                one = name.rsplit(".", 1)[-1] in ("conv2", "conv4", "conv5", "fc6", "fc7")
                nn.init.constant_(module.bias, 1.0 if one else 0.0)
        self.stage_specs = _conv_stages(self.features, (96, 256, 384, 384, 256))
        self._finish_init()

    def init_head_layer(self, layer: nn.Module) -> None:
        nn.init.normal_(layer.weight, 0.0, 0.01)  # section 5, with fc8's bias 0
        nn.init.zeros_(layer.bias)


@register_model(paper='Krizhevsky, "One weird trick for parallelizing convolutional neural networks", arXiv 2014. https://arxiv.org/abs/1404.5997', weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", hub=None, license="bsd-3-clause", top1=56.522, top5=79.066, resize=256),
])
def alexnet(**kwargs: Any) -> AlexNet:
    """AlexNet as torchvision ships it: the single-tower variant of Krizhevsky 2014; 61,100,840 parameters."""
    return AlexNet(**kwargs)


@register_model(family="alexnet", paper='Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural Networks", NeurIPS 2012. https://papers.nips.cc/paper/4824')
def alexnet_2012(**kwargs: Any) -> AlexNet2012:
    """AlexNet as published (Krizhevsky et al. 2012): two towers as grouped convolutions, LRN; 60,965,224 parameters."""
    return AlexNet2012(**kwargs)


@register_model(family="alexnet", paper='Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural Networks", NeurIPS 2012. https://papers.nips.cc/paper/4824')
def alexnet_half(**kwargs: Any) -> AlexNet:
    """One tower of the 2012 AlexNet (Krizhevsky et al. 2012, Figure 2), without LRN; 16,630,440 parameters.

    The network a popular flowers fine-tuning tutorial trains: convolutions of 48 kernels of 11x11 at
    stride 4 (padding 2), 128 of 5x5 (padding 2), then 192, 192 and 128 of 3x3, each followed by ReLU,
    3x3 max-pooling at stride 2 after the first, second and fifth; then dropout 0.5, 4608->2048, ReLU, dropout 0.5, 2048->2048, ReLU,
    2048->classes (14,591,685 parameters at 5 classes). Laid out as torchvision's ``alexnet``
    (``features.0`` ... ``classifier.6``).

    Where it differs from the paper's two-tower network (``alexnet_2012``): it is one tower, so every
    convolution has half the paper's channels and conv3 sees only its own tower's 128 maps instead of
    both towers' 256; the hidden fully connected layers are 2048 wide, not 4096; there is no local
    response normalisation; dropout comes before fc6 and fc7 (torchvision's order) rather than after;
    and the weights start from PyTorch's default initialisation instead of section 5's.
    """
    return AlexNet(**{"conv_channels": (48, 128, 192, 192, 128), "hidden_features": 2048, **kwargs})
