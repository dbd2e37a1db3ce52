"""Drop-in replacements for two builders from popular ResNet/DenseNet fine-tuning tutorials, made correct.

Those tutorials build their transfer-learning models with two functions,
``build_res50(phase, num_classes, pretrained)`` and ``build_dense121(...)``: take torchvision's ImageNet
network, freeze it, put a two-layer head sized by a rule on top. Copied by hand they go wrong in three
ways -- the DenseNet weights loaded with ``strict=False`` under the wrong key names (so it silently
trained from scratch), a ``requires_grad`` loop that leaves BatchNorm statistics drifting, and an
unknown phase that prints a message and returns None. The builders here keep the signature and the head
rule and fix all three:

>>> from cnnzoo.compat import build_res50
>>> model = build_res50("train", num_classes=5, pretrained=False)
>>> # the tutorials' rule: 128 hidden units for 2048 features, 5 classes
>>> model.get_classifier()[0].out_features
128
"""

from __future__ import annotations

from torch import nn

from cnnzoo.errors import CnnzooValueError
from cnnzoo.factory import create
from cnnzoo.transfer import freeze_backbone, replace_head

__all__ = ["PHASES", "build_dense121", "build_res50"]

#: the phases a builder accepts, and whether the model comes back in training mode
PHASES = {"train": True, "val": False, "test": False}

# torchvision's legacy ``pretrained=True`` meant the first ImageNet weights, the ones the tutorials used
_TUTORIAL_TAG = "tv_in1k"


def _build(name: str, phase: str, num_classes: int, pretrained: bool | str) -> nn.Module:
    if phase not in PHASES:
        raise CnnzooValueError(
            f"Unknown phase {phase!r}: use one of {sorted(PHASES)} ('train' returns the model in training mode, "
            "'val' and 'test' in evaluation mode)."
        )
    if pretrained is True:
        pretrained = _TUTORIAL_TAG
    # weights go through cnnzoo's checked, strict loading; the classifier is replaced afterwards
    model = create(name, pretrained=pretrained or False)
    if pretrained:
        freeze_backbone(model)
    replace_head(model, num_classes, hidden="auto")
    return model.train(PHASES[phase])


def build_res50(phase: str, num_classes: int, pretrained: bool | str = False) -> nn.Module:
    """ResNet-50 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016) with the tutorials' MLP head.

    The classifier is Linear(2048, h)-ReLU-Linear(h, num_classes), h given by
    :func:`cnnzoo.auto_hidden_width` (128 for five classes). With ``pretrained`` the ImageNet weights
    are loaded strictly and checked, and the backbone is frozen with :func:`cnnzoo.freeze_backbone`, so
    its BatchNorm statistics hold even in training mode; only the head trains.

    Args:
        phase: ``"train"`` (the model is returned in training mode), ``"val"`` or ``"test"`` (evaluation
            mode). Anything else raises ``ValueError``.
        num_classes: classes of the new head.
        pretrained: True for torchvision's original ImageNet weights (``resnet50.tv_in1k``, what
            ``torchvision.models.resnet50(pretrained=True)`` gave), a tag such as ``"tv2_in1k"``, a
            checkpoint path, or False for random weights (nothing is frozen then).

    Returns:
        The model, a regular cnnzoo model: ``cnnzoo.unfreeze(model)`` to fine-tune everything later.
    """
    return _build("resnet50", phase, num_classes, pretrained)


def build_dense121(phase: str, num_classes: int, pretrained: bool | str = False) -> nn.Module:
    """DenseNet-121 (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017) with the tutorials' MLP head.

    The same as :func:`build_res50` on DenseNet-121: 1024 features, so h = 128 for five classes. Its
    pretrained weights load under torchvision's key names, strictly -- including torchvision's first
    published files, whose ``norm.1``-style keys are renamed, never skipped.

    Args:
        phase: ``"train"``, ``"val"`` or ``"test"``, as for :func:`build_res50`.
        num_classes: classes of the new head.
        pretrained: True for ``densenet121.tv_in1k``, a tag, a checkpoint path, or False.

    Returns:
        The model.
    """
    return _build("densenet121", phase, num_classes, pretrained)
