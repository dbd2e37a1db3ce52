"""Residual networks: ResNet, ResNeXt, Wide ResNet, SE-ResNet, and the CIFAR ResNets.

The ImageNet networks are torchvision's exactly (timm's for SE-ResNet, which torchvision does not
build): the same parameter count, the same weight names in the same order (timm's SE-ResNet adds
``se`` to each block) and the same outputs given the same weights (the test suite checks all three),
so their published weights load unchanged. Like torchvision's and timm's, a bottleneck block that
halves the feature map does so in its 3x3 convolution rather than in its first 1x1 convolution as the
2016 paper does: the variant those weights were trained as, often called "ResNet v1.5". ResNeXt
splits that 3x3 convolution into groups, Wide ResNet doubles its width, and SE-ResNet rescales each
block's output channels with a squeeze-and-excitation module.

The CIFAR ResNets are the paper's networks for 32x32 images (section 4.2), with its parameter-free
shortcuts (option A: subsample, then pad the new channels with zeros), which neither torchvision nor
timm builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnnzoo._cfg import CIFAR_MEAN, CIFAR_STD
from cnnzoo.layers import SqueezeExcite
from cnnzoo.models._base import CheckpointedSequential, Stage, ZooModel
from cnnzoo.registry import register_model
from cnnzoo.weights import PretrainedTag, torchvision_tag as tv

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "CifarResNet",
    "ZeroPadShortcut",
]



def conv3x3(in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut (He et al. 2016, Fig. 5 left)."""

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        cardinality: int = 1,
        bottleneck_width: int = 64,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        if cardinality != 1 or bottleneck_width != 64:
            raise ValueError("BasicBlock has no bottleneck: cardinality must be 1 and bottleneck_width 64.")
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.se = SqueezeExcite(planes, se_reduction) if se_reduction else None
        self.downsample = downsample

    def spatial_layers(self) -> list[nn.Module]:
        return [self.conv1, self.conv2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One operation a statement after the first (whose input x lives on for the shortcut), as
        # torchvision writes it: rebinding ``out`` frees each map as soon as the next operation has read it
        # (a nested call keeps the previous map alive until it returns, one map more at inference). The
        # shortcut is made after the branch and added in place.
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out)
        out = self.bn2(out)
        if self.se is not None:
            out = self.se(out)
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand, with a shortcut (He et al. 2016, Fig. 5 right).

    The 3x3 convolution has ``cardinality`` groups of ``bottleneck_width * planes / 64`` channels each
    (Xie et al. 2017, Fig. 3c); SE-ResNet rescales the expanded output before the addition (Hu et al.
    2018, Fig. 3).
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        cardinality: int = 1,
        bottleneck_width: int = 64,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        width = int(planes * (bottleneck_width / 64.0)) * cardinality
        out_channels = planes * self.expansion
        self.conv1 = conv1x1(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, cardinality)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcite(out_channels, se_reduction) if se_reduction else None
        self.downsample = downsample

    def spatial_layers(self) -> list[nn.Module]:
        return [self.conv1, self.conv2, self.conv3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))  # one operation a statement, as in BasicBlock
        out = self.conv2(out)
        out = self.relu(self.bn2(out))
        out = self.conv3(out)
        out = self.bn3(out)
        if self.se is not None:
            out = self.se(out)
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


def _init_resnet_weights(model: nn.Module, zero_init_residual: bool) -> None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    if zero_init_residual:
        # Goyal et al. 2017: each residual branch starts as zero, so each block starts as identity.
        for module in model.modules():
            if isinstance(module, Bottleneck):
                nn.init.zeros_(module.bn3.weight)
            elif isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)


class _ResidualNetwork(ZooModel):
    """What the ImageNet and CIFAR ResNets share: a stem, residual stages, global average pooling and ``fc``."""

    classifier_name = "fc"
    first_conv_name = "conv1"

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        self.check_whole()
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)


class ResNet(_ResidualNetwork):
    """ResNet for ImageNet (He et al. 2016, Table 1), with ResNeXt, Wide ResNet and SE options.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks in each of the four stages (``(3, 4, 6, 3)`` for ResNet-50).
        cardinality: groups of the 3x3 convolution (ResNeXt's C).
        bottleneck_width: channels of each group at the first stage (ResNeXt's d; 128 for Wide ResNet-50-2).
        se_reduction: reduction ratio of a Squeeze-and-Excitation module in each block, or None.
        zero_init_residual: start every residual branch at zero.
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: Sequence[int],
        *,
        cardinality: int = 1,
        bottleneck_width: int = 64,
        se_reduction: int | None = None,
        zero_init_residual: bool = False,
        num_classes: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans)
        self._in_channels = 64
        self._block_args = {"cardinality": cardinality, "bottleneck_width": bottleneck_width,
                            "se_reduction": se_reduction}
        self.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_stage(block, 64, layers[0], stride=1)
        self.layer2 = self._make_stage(block, 128, layers[1], stride=2)
        self.layer3 = self._make_stage(block, 256, layers[2], stride=2)
        self.layer4 = self._make_stage(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_features = 512 * block.expansion
        self.fc = self.class_layer(self.num_features)
        del self._in_channels, self._block_args
        _init_resnet_weights(self, zero_init_residual)
        # Table 1: conv1 at 1/2, then conv2_x (after the max-pool) to conv5_x at 1/4 to 1/32
        self.stage_specs = (
            Stage("stem", ("conv1", "bn1", "relu"), 64, 2),
            *(Stage(f"layer{i}", (f"layer{i}",), planes * block.expansion, 2 ** (i + 1))
              for i, planes in enumerate((64, 128, 256, 512), 1)),
        )
        self._finish_init()

    def _make_stage(self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int) -> nn.Sequential:
        out_channels = planes * block.expansion
        downsample = None
        if stride != 1 or self._in_channels != out_channels:
            # projection shortcut (option B of He et al. 2016, section 3.3)
            downsample = nn.Sequential(conv1x1(self._in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
        stage = [block(self._in_channels, planes, stride, downsample, **self._block_args)]
        self._in_channels = out_channels
        stage += [block(out_channels, planes, **self._block_args) for _ in range(1, blocks)]
        return CheckpointedSequential(*stage)

    def spatial_layers(self) -> list[nn.Module]:
        return [self.conv1, self.maxpool, self.layer1, self.layer2, self.layer3, self.layer4]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

class ZeroPadShortcut(nn.Module):
    """The parameter-free shortcut of He et al. 2016, option A: subsample by the stride, pad channels with zeros."""

    def __init__(self, out_channels: int, stride: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        missing = self.out_channels - x.shape[1]
        return torch.cat([x, x.new_zeros(x.shape[0], missing, x.shape[2], x.shape[3])], dim=1)

    def extra_repr(self) -> str:
        return f"out_channels={self.out_channels}, stride={self.stride}"


class CifarResNet(_ResidualNetwork):
    """ResNet for CIFAR-10 at its own 32x32 input (He et al. 2016, section 4.2).

    A 3x3 convolution of 16 channels, three stages of ``blocks_per_stage`` basic blocks at 16, 32 and 64
    channels (feature maps 32, 16 and 8 pixels wide), global average pooling and a fully connected
    layer: ``6 * blocks_per_stage + 2`` weighted layers. Shortcuts are identities, zero-padded where
    the width doubles (option A), so the network has no projection parameters.

    Args:
        blocks_per_stage: n of the paper (3 for ResNet-20, 18 for ResNet-110).
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    default_input_size = (32, 32)
    default_mean = CIFAR_MEAN
    default_std = CIFAR_STD
    default_crop_pct = 1.0
    default_train_augment = "pad_crop"

    def __init__(self, blocks_per_stage: int, *, num_classes: int = 10, in_chans: int = 3) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans)
        self.conv1 = conv3x3(in_chans, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        in_channels = 16
        for index, (channels, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
            shortcut = ZeroPadShortcut(channels, stride) if stride != 1 or in_channels != channels else None
            blocks = [BasicBlock(in_channels, channels, stride, shortcut)]
            blocks += [BasicBlock(channels, channels) for _ in range(1, blocks_per_stage)]
            self.add_module(f"layer{index}", CheckpointedSequential(*blocks))
            in_channels = channels
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_features = 64
        self.fc = self.class_layer(64)
        _init_resnet_weights(self, zero_init_residual=False)
        self.stage_specs = (Stage("stem", ("conv1", "bn1", "relu"), 16, 1), Stage("layer1", ("layer1",), 16, 1),
                            Stage("layer2", ("layer2",), 32, 2), Stage("layer3", ("layer3",), 64, 4))
        self._finish_init()

    def spatial_layers(self) -> list[nn.Module]:
        return [self.conv1, self.layer1, self.layer2, self.layer3]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.relu(self.bn1(self.conv1(x)))
        return self.layer3(self.layer2(self.layer1(x)))


_RESNET = 'He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016. https://arxiv.org/abs/1512.03385'
_RESNEXT = 'Xie, Girshick, Dollar, Tu, He, "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017. https://arxiv.org/abs/1611.05431'
_WIDE = 'Zagoruyko, Komodakis, "Wide Residual Networks", BMVC 2016. https://arxiv.org/abs/1605.07146'
_SE = 'Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018. https://arxiv.org/abs/1709.01507'


@register_model(paper=_RESNET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/resnet18-f37072fd.pth", hub="timm/resnet18.tv_in1k", license="bsd-3-clause", top1=69.758, top5=89.078, resize=256),
])
def resnet18(**kwargs: Any) -> ResNet:
    """ResNet-18 (He et al. 2016, Table 1): basic blocks (2, 2, 2, 2); 11,689,512 parameters."""
    return ResNet(BasicBlock, (2, 2, 2, 2), **kwargs)


@register_model(paper=_RESNET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/resnet34-b627a593.pth", hub="timm/resnet34.tv_in1k", license="bsd-3-clause", top1=73.314, top5=91.42, resize=256),
])
def resnet34(**kwargs: Any) -> ResNet:
    """ResNet-34 (He et al. 2016, Table 1): basic blocks (3, 4, 6, 3); 21,797,672 parameters."""
    return ResNet(BasicBlock, (3, 4, 6, 3), **kwargs)


@register_model(paper=_RESNET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/resnet50-0676ba61.pth", hub="timm/resnet50.tv_in1k", license="bsd-3-clause", top1=76.13, top5=92.862, resize=256),
    tv("tv2_in1k", "https://download.pytorch.org/models/resnet50-11ad3fa6.pth", hub="timm/resnet50.tv2_in1k", license="bsd-3-clause", top1=80.858, top5=95.434, resize=232),
])
def resnet50(**kwargs: Any) -> ResNet:
    """ResNet-50 (He et al. 2016, Table 1): bottlenecks (3, 4, 6, 3); 25,557,032 parameters."""
    return ResNet(Bottleneck, (3, 4, 6, 3), **kwargs)


@register_model(paper=_RESNET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/resnet101-63fe2227.pth", hub="timm/resnet101.tv_in1k", license="bsd-3-clause", top1=77.374, top5=93.546, resize=256),
    tv("tv2_in1k", "https://download.pytorch.org/models/resnet101-cd907fc2.pth", hub="timm/resnet101.tv2_in1k", license="bsd-3-clause", top1=81.886, top5=95.78, resize=232),
])
def resnet101(**kwargs: Any) -> ResNet:
    """ResNet-101 (He et al. 2016, Table 1): bottlenecks (3, 4, 23, 3); 44,549,160 parameters."""
    return ResNet(Bottleneck, (3, 4, 23, 3), **kwargs)


@register_model(paper=_RESNET, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/resnet152-394f9c45.pth", hub="timm/resnet152.tv_in1k", license="bsd-3-clause", top1=78.312, top5=94.046, resize=256),
    tv("tv2_in1k", "https://download.pytorch.org/models/resnet152-f82ba261.pth", hub="timm/resnet152.tv2_in1k", license="bsd-3-clause", top1=82.284, top5=96.002, resize=232),
])
def resnet152(**kwargs: Any) -> ResNet:
    """ResNet-152 (He et al. 2016, Table 1): bottlenecks (3, 8, 36, 3); 60,192,808 parameters."""
    return ResNet(Bottleneck, (3, 8, 36, 3), **kwargs)


@register_model(family="resnext", paper=_RESNEXT, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth", hub="timm/resnext50_32x4d.tv_in1k", license="bsd-3-clause", top1=77.618, top5=93.698, resize=256),
    tv("tv2_in1k", "https://download.pytorch.org/models/resnext50_32x4d-1a0047aa.pth", hub="timm/resnext50_32x4d.tv2_in1k", license="bsd-3-clause", top1=81.198, top5=95.34, resize=232),
])
def resnext50_32x4d(**kwargs: Any) -> ResNet:
    """ResNeXt-50 32x4d (Xie et al. 2017, Table 1): cardinality 32, width 4; 25,028,904 parameters."""
    return ResNet(Bottleneck, (3, 4, 6, 3), cardinality=32, bottleneck_width=4, **kwargs)


@register_model(family="resnext", paper=_RESNEXT, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth", hub="timm/resnext101_32x8d.tv_in1k", license="bsd-3-clause", top1=79.312, top5=94.526, resize=256),
    tv("tv2_in1k", "https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth", hub="timm/resnext101_32x8d.tv2_in1k", license="bsd-3-clause", top1=82.834, top5=96.228, resize=232),
])
def resnext101_32x8d(**kwargs: Any) -> ResNet:
    """ResNeXt-101 32x8d (Xie et al. 2017): cardinality 32, width 8; 88,791,336 parameters."""
    return ResNet(Bottleneck, (3, 4, 23, 3), cardinality=32, bottleneck_width=8, **kwargs)


@register_model(family="resnext", paper=_RESNEXT, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth", hub="timm/resnext101_64x4d.tv_in1k", license="bsd-3-clause", top1=83.246, top5=96.454, resize=232),
])
def resnext101_64x4d(**kwargs: Any) -> ResNet:
    """ResNeXt-101 64x4d (Xie et al. 2017, Table 5): cardinality 64, width 4; 83,455,272 parameters."""
    return ResNet(Bottleneck, (3, 4, 23, 3), cardinality=64, bottleneck_width=4, **kwargs)


@register_model(family="wide_resnet", paper=_WIDE, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth", hub="timm/wide_resnet50_2.tv_in1k", license="bsd-3-clause", top1=78.468, top5=94.086, resize=256),
    tv("tv2_in1k", "https://download.pytorch.org/models/wide_resnet50_2-9ba9bcbe.pth", hub="timm/wide_resnet50_2.tv2_in1k", license="bsd-3-clause", top1=81.602, top5=95.758, resize=232),
])
def wide_resnet50_2(**kwargs: Any) -> ResNet:
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): ResNet-50 with bottlenecks twice as wide; 68,883,240 parameters."""
    return ResNet(Bottleneck, (3, 4, 6, 3), bottleneck_width=128, **kwargs)


@register_model(family="wide_resnet", paper=_WIDE, weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth", hub="timm/wide_resnet101_2.tv_in1k", license="bsd-3-clause", top1=78.848, top5=94.284, resize=256),
    tv("tv2_in1k", "https://download.pytorch.org/models/wide_resnet101_2-d733dc28.pth", hub="timm/wide_resnet101_2.tv2_in1k", license="bsd-3-clause", top1=82.51, top5=96.02, resize=232),
])
def wide_resnet101_2(**kwargs: Any) -> ResNet:
    """Wide ResNet-101-2 (Zagoruyko & Komodakis 2016): ResNet-101 with bottlenecks twice as wide; 126,886,696 parameters."""
    return ResNet(Bottleneck, (3, 4, 23, 3), bottleneck_width=128, **kwargs)


@register_model(family="seresnet", paper=_SE, weights=[
    PretrainedTag("ra2_in1k", hf_hub_id="timm/seresnet50.ra2_in1k", url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet50_ra_224-8efdb4bb.pth", publisher="timm", license="apache-2.0", top1=81.284, top5=95.652, resize=303, crop=288, interpolation="bicubic"),
])
def seresnet50(**kwargs: Any) -> ResNet:
    """SE-ResNet-50 (Hu et al. 2018, Table 1): ResNet-50 with an SE module (r=16) in each bottleneck; 28,088,024 parameters."""
    return ResNet(Bottleneck, (3, 4, 6, 3), se_reduction=16, **kwargs)


@register_model(family="seresnet", paper=_SE)
def seresnet101(**kwargs: Any) -> ResNet:
    """SE-ResNet-101 (Hu et al. 2018): ResNet-101 with an SE module (r=16) in each bottleneck; 49,326,872 parameters."""
    return ResNet(Bottleneck, (3, 4, 23, 3), se_reduction=16, **kwargs)


@register_model(family="seresnet", paper=_SE)
def seresnet152(**kwargs: Any) -> ResNet:
    """SE-ResNet-152 (Hu et al. 2018): ResNet-152 with an SE module (r=16) in each bottleneck; 66,821,848 parameters."""
    return ResNet(Bottleneck, (3, 8, 36, 3), se_reduction=16, **kwargs)


def _cifar_builder(blocks_per_stage: int) -> Any:
    depth = 6 * blocks_per_stage + 2

    def build(**kwargs: Any) -> CifarResNet:
        return CifarResNet(blocks_per_stage, **kwargs)

    build.__name__ = build.__qualname__ = f"cifar_resnet{depth}"
    build.__doc__ = (
        f"ResNet-{depth} for CIFAR-10 (He et al. 2016, section 4.2): n={blocks_per_stage}, 32x32 input, "
        "10 classes, zero-padded identity shortcuts."
    )
    return register_model(build, family="cifar_resnet", paper=_RESNET)


cifar_resnet20 = _cifar_builder(3)
cifar_resnet32 = _cifar_builder(5)
cifar_resnet44 = _cifar_builder(7)
cifar_resnet56 = _cifar_builder(9)
cifar_resnet110 = _cifar_builder(18)
