"""GoogLeNet, Inception v1 (Szegedy et al. 2015): torchvision's, so its weights load, and the paper's own.

``googlenet`` is torchvision's network exactly: the same parameter count, the same weight names in the
same order and the same outputs given the same weights, auxiliary classifiers included (the test suite
checks all of it), so torchvision's ImageNet weights load unchanged. It differs from the paper where
torchvision's weights were trained that way: BatchNorm after every convolution, a 3x3 convolution in
the "5x5" branch.

``googlenet_2014`` is Table 1 and Figure 3 of the paper as the authors' released Caffe model builds it:
no BatchNorm, true 5x5 convolutions, local response normalisation in the stem. The test suite checks
that it computes what a layer-by-layer transcription of Table 1 computes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from cnnzoo._cfg import adapt_mean_std
from cnnzoo._geometry import min_input_side
from cnnzoo.errors import InputShapeError
from cnnzoo.layers import LocalResponseNorm
from cnnzoo.models._base import Stage, ZooModel, is_fx_proxy
from cnnzoo.registry import register_model
from cnnzoo.weights import torchvision_tag as tv

__all__ = ["GoogLeNet", "GoogLeNet2014", "GoogLeNetOutputs", "Inception", "InceptionAux", "BasicConv2d", "ConvReLU"]


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with auxiliary classifiers (torchvision's order)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (eps 1e-3) and ReLU: torchvision's GoogLeNet unit."""

    def __init__(self, in_channels: int, out_channels: int, **conv_args: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_args)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def spatial_layers(self) -> list[nn.Module]:
        return [self.conv]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class ConvReLU(nn.Module):
    """Convolution with bias and ReLU: the paper's unit ("all convolutions ... use rectified linear activation")."""

    def __init__(self, in_channels: int, out_channels: int, **conv_args: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, **conv_args)

    def spatial_layers(self) -> list[nn.Module]:
        return [self.conv]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x), inplace=True)


ConvBlock = Callable[..., nn.Module]


class Inception(nn.Module):
    """An Inception module (Figure 2b): 1x1, 1x1-3x3, 1x1-5x5, and 3x3 max-pool-1x1 branches, concatenated.

    Args:
        in_channels: channels of the input map.
        ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj: the module's columns of Table 1.
        conv_block: the convolution unit (:class:`BasicConv2d` for torchvision's, :class:`ConvReLU` for the paper's).
        large_kernel_size: the "5x5" branch's kernel: 5 in the paper, 3 in torchvision's network (and its weights).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        *,
        conv_block: ConvBlock = BasicConv2d,
        large_kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1), conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1),
            conv_block(ch5x5red, ch5x5, kernel_size=large_kernel_size, padding=large_kernel_size // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True), conv_block(in_channels, pool_proj, kernel_size=1)
        )

    def spatial_layers(self) -> list[nn.Module]:
        # the four branches keep the side length alike; the pooling branch stands for all
        return [self.branch4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """An auxiliary classifier on an intermediate map (section 5): pool to 4x4, 1x1 conv of 128, fc 1024, fc.

    Args:
        in_channels: channels of the map it reads (Inception 4a's or 4d's).
        num_classes: outputs of its classifier.
        dropout: dropout before its classifier (70% in the paper).
        conv_block: the convolution unit of the network it belongs to.
        pool: how the 14x14 map becomes 4x4. torchvision's network pools adaptively; the paper's uses a 5x5
            average pooling of stride 3 (see :class:`GoogLeNet2014`).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        dropout: float = 0.7,
        *,
        conv_block: ConvBlock = BasicConv2d,
        pool: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.pool = pool if pool is not None else nn.AdaptiveAvgPool2d((4, 4))
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes) if num_classes else nn.Identity()
        self.dropout = nn.Dropout(p=dropout)

    def spatial_layers(self) -> list[nn.Module]:
        return [self.pool]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pool(x))
        x = self.dropout(F.relu(self.fc1(torch.flatten(x, 1)), inplace=True))
        return self.fc2(x)


class _InceptionV1(ZooModel):
    """What both GoogLeNets share: the Inception stages of Table 1, the auxiliary classifiers and the head.

    A subclass builds ``conv1`` ... ``conv3`` and the pools of its stem, the Inception modules under
    torchvision's names, ``aux1``/``aux2`` (or None), ``avgpool``, ``dropout`` and ``fc``, and writes
    :meth:`_stem`.
    """

    classifier_name = "fc"
    first_conv_name = "conv1.conv"
    aux1: InceptionAux | None
    aux2: InceptionAux | None

    def _build_inception_stages(self, conv_block: ConvBlock, large_kernel_size: int) -> None:
        """Inception 3a to 5b with the max-pools between them (Table 1)."""

        def inception(*columns: int) -> Inception:
            return Inception(*columns, conv_block=conv_block, large_kernel_size=large_kernel_size)

        self.inception3a = inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception(528, 256, 160, 320, 32, 128, 128)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _stem_layers(self) -> list[nn.Module]:
        raise NotImplementedError

    def spatial_layers(self) -> list[nn.Module]:
        return [
            *self._stem_layers(), self.inception3a, self.inception3b, self.maxpool3, self.inception4a,
            self.inception4b, self.inception4c, self.inception4d, self.inception4e, self.maxpool4,
            self.inception5a, self.inception5b,
        ]

    @staticmethod
    def _inception_stages(stem: tuple[str, ...]) -> tuple[Stage, ...]:
        """The stem's layers up to conv3, then Inception 3, 4 and 5 (Table 1), each from the max pool that
        halves the map before it: a stage's map is its last module's output, and pruning a stage
        (``prune_intermediate_layers``) removes its pool with it."""
        return (
            Stage("stem", stem, 192, 4),
            Stage("inception3", ("maxpool2", "inception3a", "inception3b"), 480, 8),
            Stage("inception4", ("maxpool3", *(f"inception4{i}" for i in "abcde")), 832, 16),
            Stage("inception5", ("maxpool4", "inception5a", "inception5b"), 1024, 32),
        )

    def _backbone(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        x = self._stem(x)
        # each inception module through activation checkpointing when set_grad_checkpointing is on
        block = self._checkpointed
        x = self.maxpool3(block(self.inception3b, block(self.inception3a, x)))
        x = block(self.inception4a, x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = block(self.inception4d, block(self.inception4c, block(self.inception4b, x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(block(self.inception4e, x))
        return block(self.inception5b, block(self.inception5a, x)), aux1, aux2

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._backbone(x)[0]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        self.check_whole()
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:  # type: ignore[override]
        self.check_input(x)
        self.check_whole()
        features, aux1, aux2 = self._backbone(x)
        logits = self.forward_head(features)
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits

    def _init_weighted(self, module: nn.Conv2d | nn.Linear) -> None:
        """Initialise a convolution or hidden fully connected layer as the architecture's recipe does."""
        raise NotImplementedError

    def init_head_layer(self, layer: nn.Module) -> None:
        """Initialise a classifier layer (the main one or an auxiliary head's last) as the recipe does."""
        self._init_weighted(layer)

    def _new_auxiliary_classifiers(self, num_classes: int) -> dict[str, nn.Module]:
        # the auxiliary classifiers' last layers follow the main classifier's class count
        layers: dict[str, nn.Module] = {}
        for name in ("aux1", "aux2"):
            aux = getattr(self, name)
            if aux is not None:
                layers[f"{name}.fc2"] = nn.Linear(1024, num_classes) if num_classes else nn.Identity()
                if num_classes:
                    self.init_head_layer(layers[f"{name}.fc2"])
        return layers

    def class_layer_names(self) -> list[str]:
        return [self.classifier_name, *(f"{name}.fc2" for name in ("aux1", "aux2") if getattr(self, name) is not None)]

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Drop the auxiliary classifiers' weights when this model was built without them.

        torchvision's GoogLeNet file carries them (untrained for transfer, as its documentation warns).
        """
        if self.aux1 is not None:
            return state_dict
        return {k: v for k, v in state_dict.items() if not k.startswith(("aux1.", "aux2."))}


class GoogLeNet(_InceptionV1):
    """GoogLeNet (Szegedy et al. 2015, Table 1) as torchvision builds it, with BatchNorm after each convolution.

    Where the paper differs (no BatchNorm, 5x5 convolutions, LRN in the stem, 3x3 pooling after
    Inception 4e, dropout 0.4) see :class:`GoogLeNet2014`; this network is the one torchvision's weights
    were trained as. In training mode with ``aux_logits=True`` the forward pass returns
    :class:`GoogLeNetOutputs` (main and both auxiliary logits); otherwise it returns the main logits.

    Args:
        aux_logits: build the two auxiliary classifiers (after inception4a and inception4d).
        transform_input: re-normalise inputs given with ImageNet mean/std to the (x - 0.5) / 0.5 scaling
            torchvision's pretrained weights were trained with (set by ``pretrained=True``).
        dropout: dropout before the classifier.
        dropout_aux: dropout inside the auxiliary classifiers.
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    def __init__(
        self,
        *,
        aux_logits: bool = False,
        transform_input: bool = False,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
        num_classes: int = 1000,
        in_chans: int = 3,
    ) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans, dropout=dropout, dropout_aux=dropout_aux)
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(in_chans, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self._build_inception_stages(BasicConv2d, large_kernel_size=3)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.aux1: InceptionAux | None = InceptionAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2: InceptionAux | None = InceptionAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.num_features = 1024
        self.fc = self.class_layer(1024)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                self._init_weighted(module)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        self.stage_specs = self._inception_stages(stem=("conv1", "conv2", "conv3"))
        self._finish_init()

    def _init_weighted(self, module: nn.Conv2d | nn.Linear) -> None:
        nn.init.trunc_normal_(module.weight, mean=0.0, std=0.01, a=-2, b=2)
        if module.bias is not None:
            nn.init.zeros_(module.bias)

    def _transform_input(self, x: torch.Tensor) -> torch.Tensor:
        if not self.transform_input:
            return x
        # from (x - mean) / std, as ImageNet pipelines normalise, to (x - 0.5) / 0.5, as the weights were trained
        mean = adapt_mean_std(self.default_mean, self.in_chans)
        std = adapt_mean_std(self.default_std, self.in_chans)
        channels = [x[:, i : i + 1] * (s / 0.5) + (m - 0.5) / 0.5 for i, (m, s) in enumerate(zip(mean, std))]
        return torch.cat(channels, 1)

    def _stem_layers(self) -> list[nn.Module]:
        return [self.conv1, self.maxpool1, self.conv2, self.conv3, self.maxpool2]

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool1(self.conv1(self._transform_input(x)))
        return self.maxpool2(self.conv3(self.conv2(x)))


class GoogLeNet2014(_InceptionV1):
    """GoogLeNet as the paper builds it (Szegedy et al. 2015, Table 1, Figure 3 and section 5).

    Every convolution has a bias and a ReLU and no BatchNorm (the network predates it). The stem is
    conv 7x7/2 of 64, max-pool 3x3/2, local response normalisation, conv 1x1 of 64, conv 3x3 of 192,
    local response normalisation, max-pool 3x3/2 (Figure 3); every Inception module has a true 5x5
    convolution in its third branch; a 3x3/2 max-pool follows Inception 4e; then 7x7 average pooling,
    40% dropout and the classifier. With ``aux_logits=True`` the two auxiliary classifiers of section 5
    sit on Inception 4a and 4d: 5x5/3 average pooling (14x14 to 4x4), a 1x1 convolution to 128 with
    ReLU, a fully connected layer of 1024 with ReLU, 70% dropout and a classifier. They run in training
    mode only, where the forward pass returns :class:`GoogLeNetOutputs` (the paper weights their losses
    by 0.3); in evaluation mode it returns the main logits.

    The LRN uses the parameters of the authors' released Caffe model (``bvlc_googlenet``): local size 5,
    alpha 1e-4, beta 0.75, k 1, with Caffe's scaling (alpha divided by the size, as
    ``torch.nn.LocalResponseNorm`` does), computed by ``torch.ops.cnnzoo.lrn``. Weights are initialised
    as that model's definition does: Caffe's "xavier" filler (uniform, variance 1 / fan-in) and biases
    of 0.2, except 0 for the classifiers. 6,998,552 parameters at 1000 classes, 13,378,280 with the
    auxiliary classifiers. No pretrained weights: torchvision's and timm's are for :class:`GoogLeNet`.

    At the paper's 224x224 input the last map is 7x7 and the 4a/4d maps are 14x14, where the pooling
    here is exactly the paper's. Other sizes work too (the tutorials train on 96x96 Fashion-MNIST
    images): the final pooling averages whatever map arrives, as a 7x7 pooling does at 7x7, and the
    auxiliary heads bring their 5x5/3-pooled map to 4x4 with an adaptive average pooling, which is the
    identity at 224x224. The auxiliary heads need the 4a map to be at least 5x5: in training with
    ``aux_logits=True`` the input must be 79x79 or larger (``min_aux_input_size``).

    Args:
        aux_logits: build the two auxiliary classifiers (after inception4a and inception4d).
        dropout: dropout before the classifier (40% in the paper).
        dropout_aux: dropout inside the auxiliary classifiers (70% in the paper).
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    def __init__(self, *, aux_logits: bool = False, dropout: float = 0.4, dropout_aux: float = 0.7,
                 num_classes: int = 1000, in_chans: int = 3) -> None:
        super().__init__(num_classes=num_classes, in_chans=in_chans, dropout=dropout, dropout_aux=dropout_aux)
        self.aux_logits = aux_logits

        def lrn() -> LocalResponseNorm:
            return LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=1.0, scale="pytorch")

        def aux(in_channels: int) -> InceptionAux:
            pool = nn.Sequential(nn.AvgPool2d(5, stride=3), nn.AdaptiveAvgPool2d((4, 4)))
            return InceptionAux(in_channels, num_classes, dropout_aux, conv_block=ConvReLU, pool=pool)

        self.conv1 = ConvReLU(in_chans, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.norm1 = lrn()
        self.conv2 = ConvReLU(64, 64, kernel_size=1)
        self.conv3 = ConvReLU(64, 192, kernel_size=3, padding=1)
        self.norm2 = lrn()
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self._build_inception_stages(ConvReLU, large_kernel_size=5)
        self.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128, conv_block=ConvReLU, large_kernel_size=5)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128, conv_block=ConvReLU, large_kernel_size=5)
        self.aux1: InceptionAux | None = aux(512) if aux_logits else None
        self.aux2: InceptionAux | None = aux(528) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.num_features = 1024
        self.fc = self.class_layer(1024)
        classifiers = [self.fc, *(aux.fc2 for aux in (self.aux1, self.aux2) if aux is not None)]
        for module in self.modules():
            if isinstance(module, nn.Identity):
                continue  # num_classes=0: no class layer
            if any(module is layer for layer in classifiers):
                self.init_head_layer(module)
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                self._init_weighted(module)
        self.stage_specs = self._inception_stages(stem=("conv1", "norm1", "conv2", "conv3", "norm2"))
        self._finish_init()
        # the auxiliary heads' 5x5 pooling needs a larger input than the main path: checked in training
        self.min_aux_input_size: int | None = None
        if self.aux1 is not None:
            path = [*self._stem_layers(), self.inception3a, self.inception3b, self.maxpool3, self.inception4a, self.aux1]
            self.min_aux_input_size = min_input_side(nn.Sequential(*path))

    def _init_weighted(self, module: nn.Conv2d | nn.Linear) -> None:
        # Caffe's "xavier" filler: U(-a, a) with a = sqrt(3 / fan_in), which is kaiming_uniform_ with gain 1
        nn.init.kaiming_uniform_(module.weight, a=1.0)
        nn.init.constant_(module.bias, 0.2)

    def init_head_layer(self, layer: nn.Module) -> None:
        nn.init.kaiming_uniform_(layer.weight, a=1.0)
        nn.init.zeros_(layer.bias)

    def _stem_layers(self) -> list[nn.Module]:
        return [self.conv1, self.maxpool1, self.norm1, self.conv2, self.conv3, self.norm2, self.maxpool2]

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(self.maxpool1(self.conv1(x)))
        return self.maxpool2(self.norm2(self.conv3(self.conv2(x))))

    def check_input(self, x: torch.Tensor) -> None:
        super().check_input(x)
        if is_fx_proxy(x):
            return  # traced: the graph holds no checks (see ZooModel.check_input)
        smallest = self.min_aux_input_size
        if self.training and smallest is not None and (x.shape[2] < smallest or x.shape[3] < smallest):
            raise InputShapeError(
                f"GoogLeNet2014's auxiliary classifiers need inputs of at least {smallest}x{smallest} pixels "
                f"in training; got {x.shape[2]}x{x.shape[3]}. Resize the images, or build the model with "
                "aux_logits=False."
            )


@register_model(paper='Szegedy et al., "Going Deeper with Convolutions", CVPR 2015. https://arxiv.org/abs/1409.4842', weights=[
    tv("tv_in1k", "https://download.pytorch.org/models/googlenet-1378be20.pth", hub=None, license="bsd-3-clause", top1=69.778, top5=89.53, resize=256, transform_input=True),
])
def googlenet(**kwargs: Any) -> GoogLeNet:
    """GoogLeNet (Szegedy et al. 2015) as torchvision builds it, auxiliary classifiers off; 6,624,904 parameters."""
    return GoogLeNet(**kwargs)


@register_model(family="googlenet", paper='Szegedy et al., "Going Deeper with Convolutions", CVPR 2015. https://arxiv.org/abs/1409.4842')
def googlenet_2014(**kwargs: Any) -> GoogLeNet2014:
    """GoogLeNet as published (Szegedy et al. 2015, Table 1): no BatchNorm, 5x5 convolutions, LRN; 6,998,552 parameters.

    ``aux_logits=True`` adds the two auxiliary classifiers of section 5 (13,378,280 parameters in all).
    """
    return GoogLeNet2014(**kwargs)
