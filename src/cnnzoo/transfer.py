"""Transfer learning in one call each: freezing that holds BatchNorm, new heads, discriminative learning rates.

Fine-tuning tutorials (PyTorch's own among them) freeze with a ``requires_grad`` loop, which leaves the frozen BatchNorm layers
updating their running statistics whenever the model is in training mode: the "frozen" backbone drifts.
Here a frozen BatchNorm layer runs as in evaluation (running statistics used, never updated) whatever
mode the model is in, until :func:`unfreeze`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
from torch import nn

from cnnzoo.errors import CnnzooValueError, check_non_negative_float, check_out_indices, check_positive_float
from cnnzoo.layers.classifier import auto_hidden_width

__all__ = [
    "freeze_backbone", "freeze", "unfreeze", "replace_head", "param_groups", "auto_hidden_width", "FeatureExtractor",
    "extract_features",
]

_STATE = "_cnnzoo_frozen"  # attribute holding what unfreeze restores


def _hold_statistics(module: nn.Module, _inputs: Any) -> None:
    # runs before every forward pass of a frozen BatchNorm layer: behave as in eval, whatever model.train() said
    module.training = False


def _not_a_zoo_model(model: nn.Module, helper: str, needs: str) -> CnnzooValueError:
    """The error of a helper given a model without the interface of cnnzoo's networks: what it needs, and how
    a network of one's own gets it."""
    return CnnzooValueError(
        f"{helper} needs a cnnzoo network, a subclass of cnnzoo.models.ZooModel, which {needs}; "
        f"{type(model).__name__} is not one (cnnzoo.create returns whatever a registered builder returns, a plain "
        "nn.Module too). Build the network on cnnzoo.models.ZooModel and register its builder with "
        "cnnzoo.register_model: the docs page 'Adding your own network' shows how."
    )


def _classifier(model: nn.Module, helper: str) -> nn.Module:
    get = getattr(model, "get_classifier", None)
    if not callable(get):
        raise _not_a_zoo_model(model, helper, "says where its classifier is (get_classifier())")
    return get()


def _freeze_modules(model: nn.Module, modules: Iterable[nn.Module], train_bn: bool) -> nn.Module:
    state = getattr(model, _STATE, None)
    if state is None:
        # remember the trainable state of before the first freeze, so unfreeze restores exactly it
        state = {"requires_grad": {name: p.requires_grad for name, p in model.named_parameters()}, "hooks": {}}
        object.__setattr__(model, _STATE, state)
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
        for sub in module.modules():
            if isinstance(sub, nn.modules.batchnorm._BatchNorm):
                if train_bn:
                    for parameter in sub.parameters():
                        parameter.requires_grad_(True)
                elif id(sub) not in state["hooks"]:
                    state["hooks"][id(sub)] = (sub, sub.register_forward_pre_hook(_hold_statistics))
    return model


def freeze_backbone(model: nn.Module, train_bn: bool = False) -> nn.Module:
    """Freeze every parameter but the classifier's; frozen BatchNorm layers keep their running statistics.

    Args:
        model: a cnnzoo model (anything with ``get_classifier()``).
        train_bn: keep the backbone's BatchNorm layers training (affine parameters trainable, statistics
            updated in training mode) instead of holding them.

    Returns:
        The model, so ``model = cnnzoo.freeze_backbone(cnnzoo.create(...))`` reads naturally. Calling it
        twice changes nothing more.

    Example:
        >>> model = cnnzoo.freeze_backbone(cnnzoo.create("resnet50", num_classes=5))
        >>> [n for n, p in model.named_parameters() if p.requires_grad]
        ['fc.weight', 'fc.bias']
    """
    head = list(_classifier(model, "freeze_backbone").parameters())  # checked before anything is frozen
    _freeze_modules(model, list(model.children()), train_bn)
    for parameter in head:
        parameter.requires_grad_(True)
    return model


def freeze(model: nn.Module, up_to: str, train_bn: bool = False) -> nn.Module:
    """Freeze the stages of ``model.stages`` from the first up to and including ``up_to``.

    Args:
        model: a cnnzoo model.
        up_to: a stage name (``"layer2"`` for ResNet, ``"denseblock3"`` for DenseNet, ``"block4"`` for VGG).
        train_bn: keep the frozen stages' BatchNorm layers training.

    Raises:
        ValueError: for a stage name the model does not have (the message lists its stages).
    """
    stages = getattr(model, "stages", None)
    if not isinstance(stages, dict):
        raise _not_a_zoo_model(model, "freeze", "declares the stages of its backbone (model.stages)")
    if not isinstance(up_to, str) or up_to not in stages:
        raise CnnzooValueError(f"{type(model).__name__} has no stage {up_to!r}; its stages are: {', '.join(stages)}.")
    chosen: list[nn.Module] = []
    for name, modules in stages.items():
        chosen += modules
        if name == up_to:
            break
    return _freeze_modules(model, chosen, train_bn)


def unfreeze(model: nn.Module) -> nn.Module:
    """Undo :func:`freeze_backbone` and :func:`freeze`: the trainable flags and BatchNorm behaviour of before.

    A model that was never frozen is left as it is.
    """
    state = getattr(model, _STATE, None)
    if state is None:
        return model
    for _, handle in state["hooks"].values():
        handle.remove()
    flags = state["requires_grad"]
    for name, parameter in model.named_parameters():
        # parameters created after freezing (a new head) keep what they have
        if name in flags:
            parameter.requires_grad_(flags[name])
    object.__delattr__(model, _STATE)
    # BatchNorm layers held during a forward pass follow the model's mode again
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.training = model.training
    return model


def replace_head(
    model: nn.Module,
    num_classes: int,
    hidden: int | Literal["auto"] | None = None,
    dropout: float = 0.0,
) -> nn.Module:
    """Replace the classifier by a Linear layer, or by a two-layer MLP head: ``model.replace_head`` as a function.

    Args:
        model: a cnnzoo model.
        num_classes: outputs of the new head.
        hidden: width of a hidden layer (Linear-ReLU-Dropout-Linear), ``"auto"`` for
            :func:`auto_hidden_width`, or None for a single Linear layer.
        dropout: dropout before the last layer.

    Returns:
        The model; ``model.get_classifier()`` is the new head, freshly initialised and trainable, and every
        other head (GoogLeNet's auxiliary classifiers) has ``num_classes`` outputs too. See
        :meth:`cnnzoo.models.ZooModel.replace_head`.
    """
    method = getattr(model, "replace_head", None)
    if not callable(method):
        raise _not_a_zoo_model(model, "replace_head", "has the methods replace_head() and get_classifier()")
    method(num_classes, hidden=hidden, dropout=dropout)
    return model


def param_groups(model: nn.Module, lr: float, head_lr_mult: float = 10.0, weight_decay: float | None = None) -> list[dict[str, Any]]:
    """Optimizer parameter groups: the backbone at ``lr``, the classifier at ``lr * head_lr_mult``.

    Frozen parameters are left out, so the groups can go straight to an optimizer.

    Example:
        >>> groups = cnnzoo.param_groups(model, lr=1e-3)
        >>> optimizer = torch.optim.SGD(groups, momentum=0.9)
    """
    lr = check_positive_float("lr", lr)
    head_lr_mult = check_positive_float("head_lr_mult", head_lr_mult)
    if weight_decay is not None:
        weight_decay = check_non_negative_float("weight_decay", weight_decay)
    head = {id(p) for p in _classifier(model, "param_groups").parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if id(p) not in head], "lr": lr, "name": "backbone"},
        {"params": [p for p in trainable if id(p) in head], "lr": lr * head_lr_mult, "name": "head"},
    ]
    if weight_decay is not None:
        for group in groups:
            group["weight_decay"] = weight_decay
    return [g for g in groups if g["params"]]


class FeatureExtractor(nn.Module):
    """A backbone that returns the feature map at the end of chosen stages (``features_only=True``).

    The stages are the ones the model's family declares (``model.feature_info``, read, never probed); the
    last one's map is what ``forward_features`` returns. ``feature_info`` gives each chosen map's stage,
    module, channels and reduction (the stride of the map relative to the input).

    Args:
        model: a cnnzoo model.
        out_indices: indices into the feature stages (negative counts from the end); all when None.

    Example:
        >>> backbone = cnnzoo.create("resnet50", features_only=True,
        ...                          out_indices=(1, 2, 3, 4))
        >>> [info["num_chs"] for info in backbone.feature_info]
        [256, 512, 1024, 2048]
    """

    def __init__(self, model: nn.Module, out_indices: Sequence[int] | None = None) -> None:
        super().__init__()
        requested = check_out_indices(out_indices)
        try:
            declared = list(model.feature_info) if callable(getattr(model, "forward_features", None)) else []
        except (AttributeError, NotImplementedError, TypeError):
            declared = []
        if not declared:
            raise _not_a_zoo_model(model, "features_only=True (FeatureExtractor)",
                                   "has forward_features() and declares its stages (feature_info)")
        count = len(declared)
        indices = list(range(count)) if requested is None else requested
        for index in indices:
            if not -count <= index < count:
                names = ", ".join(info["stage"] for info in declared)
                raise CnnzooValueError(
                    f"out_indices {tuple(indices)} out of range: {type(model).__name__} has {count} feature "
                    f"stages ({names}), indices 0..{count - 1}."
                )
        self.model = model
        self.out_indices = tuple(i % count for i in indices)
        self.feature_info = [dict(declared[i]) for i in self.out_indices]
        # the maps before the last are taken from the declared modules by hooks registered once, which keep
        # what they see only while this extractor's forward runs; the last map is forward_features' output
        self._last = count - 1
        self._captured: dict[int, torch.Tensor] | None = None
        self._hooks = [
            model.get_submodule(declared[i]["module"]).register_forward_hook(functools.partial(self._capture, i))
            for i in sorted(set(self.out_indices) - {self._last})
        ]

    def _capture(self, index: int, _module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        if self._captured is not None:
            self._captured[index] = output

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self._captured = captured = {}
        try:
            captured[self._last] = self.model.forward_features(x)
        finally:
            self._captured = None
        return [captured[i] for i in self.out_indices]


@torch.no_grad()
def extract_features(
    model: nn.Module, loader: Iterable[Sequence[torch.Tensor]], device: torch.device | str | None = None
) -> torch.utils.data.TensorDataset:
    """Run the backbone once over a data set and keep what the classifier would read.

    For training a head on precomputed features: each image becomes its ``num_features``-wide vector
    (``forward_head(forward_features(x), pre_logits=True)``: pooled, and through VGG's and AlexNet's hidden
    fully connected layers), computed in evaluation mode; the model's mode is restored afterwards.

    Args:
        model: a cnnzoo model.
        loader: batches of ``(images, labels, ...)``, e.g. a ``DataLoader`` over an ``ImageFolder``.
        device: where to run the model (its parameters' device when None); features come back on the CPU.

    Returns:
        ``TensorDataset(features, labels)`` in the loader's order.
    """
    if not (callable(getattr(model, "forward_features", None)) and callable(getattr(model, "forward_head", None))):
        raise _not_a_zoo_model(model, "extract_features",
                               "has forward_features() and forward_head(pre_logits=True), the backbone and the pooling")
    if not isinstance(loader, Iterable):
        raise CnnzooValueError(f"loader must yield batches of (images, labels), e.g. a DataLoader; got {type(loader).__name__}.")
    if device is None:
        reference = next(model.parameters(), None)
        device = reference.device if reference is not None else "cpu"
    was_training = model.training
    model.eval()
    features: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    try:
        for batch in loader:
            if isinstance(batch, (str, bytes)) or not isinstance(batch, Sequence) or len(batch) < 2:
                raise CnnzooValueError(
                    f"extract_features reads batches of (images, labels, ...), as a DataLoader over an ImageFolder "
                    f"yields them; got a {type(batch).__name__}."
                )
            images, targets = batch[0], batch[1]
            output = model.forward_head(model.forward_features(images.to(device)), pre_logits=True)
            features.append(output.cpu())
            labels.append(torch.as_tensor(targets).cpu())
    finally:
        model.train(was_training)
    if not features:
        raise CnnzooValueError("The loader yielded no batches.")
    return torch.utils.data.TensorDataset(torch.cat(features), torch.cat(labels))
