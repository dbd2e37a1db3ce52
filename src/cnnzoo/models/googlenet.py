"""GoogLeNet, Inception v1 (Szegedy et al. 2015), laid out as torchvision's so its weights load."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from cnnzoo._cfg import adapt_mean_std
from cnnzoo.models._base import ZooModel
from cnnzoo.registry import register_model

__all__ = ["GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "BasicConv2d"]


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with auxiliary classifiers (torchvision's order)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (eps 1e-3) and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **conv_args: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_args)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def spatial_layers(self) -> list[nn.Module]:
        return [self.conv]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """An Inception module (Figure 2b): 1x1, 1x1-3x3, 1x1-"5x5", and 3x3 max-pool-1x1 branches, concatenated.

    The "5x5" branch uses a 3x3 convolution, as torchvision's does (and its weights were trained with).
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1), BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1), BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True), BasicConv2d(in_channels, pool_proj, kernel_size=1)
        )

    def spatial_layers(self) -> list[nn.Module]:
        # the four branches keep the side length alike; the pooling branch stands for all
        return [self.branch4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """An auxiliary classifier on an intermediate map (section 5): pool to 4x4, 1x1 conv of 128, fc 1024, fc."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = self.dropout(F.relu(self.fc1(torch.flatten(x, 1)), inplace=True))
        return self.fc2(x)


class GoogLeNet(ZooModel):
    """GoogLeNet (Szegedy et al. 2015, Table 1) as torchvision builds it, with BatchNorm after each convolution.

    In training mode with ``aux_logits=True`` the forward pass returns :class:`GoogLeNetOutputs`
    (main and both auxiliary logits); otherwise it returns the main logits.

    Args:
        aux_logits: build the two auxiliary classifiers (after inception4a and inception4d).
        transform_input: re-normalise inputs given with ImageNet mean/std to the (x - 0.5) / 0.5 scaling
            torchvision's pretrained weights were trained with (set by ``pretrained=True``).
        dropout: dropout before the classifier.
        dropout_aux: dropout inside the auxiliary classifiers.
        num_classes: outputs of the classifier.
        in_chans: input channels.
    """

    classifier_name = "fc"
    first_conv_name = "conv1.conv"

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
        super().__init__(num_classes=num_classes, in_chans=in_chans)
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(in_chans, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.aux1: InceptionAux | None = InceptionAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2: InceptionAux | None = InceptionAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.num_features = 1024
        self.fc = nn.Linear(1024, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                self._init_weighted(module)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        self._finish_init()

    @staticmethod
    def _init_weighted(module: nn.Conv2d | nn.Linear) -> None:
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

    def spatial_layers(self) -> list[nn.Module]:
        return [
            self.conv1, self.maxpool1, self.conv2, self.conv3, self.maxpool2, self.inception3a,
            self.inception3b, self.maxpool3, self.inception4a, self.inception4b, self.inception4c,
            self.inception4d, self.inception4e, self.maxpool4, self.inception5a, self.inception5b,
        ]

    @property
    def stages(self) -> dict[str, list[nn.Module]]:
        stages: dict[str, list[nn.Module]] = {
            "stem": [self.conv1, self.conv2, self.conv3],
            "inception3": [self.inception3a, self.inception3b],
            "inception4": [self.inception4a, self.inception4b, self.inception4c, self.inception4d, self.inception4e],
            "inception5": [self.inception5a, self.inception5b],
        }
        # the auxiliary heads first, so each stage's last module is the one whose output the stage hands on
        stages["inception4"][:0] = [aux for aux in (self.aux1, self.aux2) if aux is not None]
        return stages

    def _backbone(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
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
        return self._backbone(x)[0]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:  # type: ignore[override]
        self.check_input(x)
        features, aux1, aux2 = self._backbone(x)
        logits = self.forward_head(features)
        if aux1 is not None and aux2 is not None:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the main classifier and, when present, the auxiliary classifiers' last layers."""
        super().reset_classifier(num_classes)
        for aux in (self.aux1, self.aux2):
            if aux is not None:
                reference = aux.fc2.weight
                aux.fc2 = nn.Linear(aux.fc2.in_features, num_classes).to(reference.device, reference.dtype)
                self._init_weighted(aux.fc2)

    def classifier_keys(self) -> list[str]:
        keys = super().classifier_keys()
        for name in ("aux1", "aux2"):
            if getattr(self, name) is not None:
                keys += [f"{name}.fc2.weight", f"{name}.fc2.bias"]
        return keys

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Drop the auxiliary classifiers' weights when this model was built without them.

        torchvision's GoogLeNet file carries them (untrained for transfer, as its documentation warns).
        """
        if self.aux_logits:
            return state_dict
        return {k: v for k, v in state_dict.items() if not k.startswith(("aux1.", "aux2."))}

    def _new_classifier(self, num_classes: int) -> nn.Module:
        layer = nn.Linear(self.num_features, num_classes)
        self._init_weighted(layer)
        return layer


@register_model(paper='Szegedy et al., "Going Deeper with Convolutions", CVPR 2015. https://arxiv.org/abs/1409.4842')
def googlenet(**kwargs: Any) -> GoogLeNet:
    """GoogLeNet (Szegedy et al. 2015) as torchvision builds it, auxiliary classifiers off; 6,624,904 parameters."""
    return GoogLeNet(**kwargs)
