"""The interface every cnnzoo network shares.

Every model is a :class:`ZooModel`: ``forward(x) == forward_head(forward_features(x))``, with
``forward_features`` returning the last feature map and ``forward_head(x, pre_logits=True)`` the
``num_features``-wide vector the classifier reads. ``get_classifier()`` is that final layer and
``reset_classifier(n)`` swaps it for a freshly initialised one with ``n`` outputs, and
``set_grad_checkpointing()`` trades compute for activation memory in training. These names follow timm's,
so code written for timm models works on cnnzoo's.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from cnnzoo._cfg import IMAGENET_MEAN, IMAGENET_STD, adapt_mean_std
from cnnzoo._geometry import min_input_side
from cnnzoo.errors import (
    MAX_CHANNELS, CnnzooValueError, InputShapeError, check_class_count, check_out_indices, check_positive_int, check_probability,
)
from cnnzoo.layers.classifier import auto_hidden_width, mlp_head

__all__ = ["ZooModel", "PooledClassifierModel", "CheckpointedSequential", "Stage", "checkpoint_modules", "sequential_stages"]


@dataclass(frozen=True)
class Stage:
    """One stage of a backbone, declared beside the architecture (timm declares ``feature_info`` the same way).

    Attributes:
        name: the stage's name in the paper's words (``"layer1"``, ``"denseblock2"``, ``"inception4"``).
        modules: dotted paths of the modules the stage is made of, in forward order; the last one's output
            is the feature map the stage hands on.
        num_chs: channels of that map.
        reduction: its nominal stride relative to the input (the nearest power of two: AlexNet's 55x55
            map of a 224x224 image is reduction 4).
    """

    name: str
    modules: tuple[str, ...]
    num_chs: int
    reduction: int


@contextlib.contextmanager
def _batchnorm_statistics_kept(modules: Sequence[nn.Module]) -> Iterator[None]:
    """Undo, on leaving, whatever the BatchNorm layers in ``modules`` did to their running statistics."""
    buffers = [buffer for module in modules for sub in module.modules()
               if isinstance(sub, nn.modules.batchnorm._BatchNorm)
               for buffer in (sub.running_mean, sub.running_var, sub.num_batches_tracked) if buffer is not None]
    saved = [buffer.clone() for buffer in buffers]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(buffers, saved):
                buffer.copy_(value)


def checkpoint_modules(modules: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Run ``modules`` one after the other on ``x``, keeping only ``x`` for backward and recomputing the rest there.

    :func:`torch.utils.checkpoint.checkpoint` (non-reentrant, random state preserved, so dropout draws the
    same masks), except that BatchNorm running statistics are updated once, by the forward pass: the
    recomputation in backward leaves them as it found them.
    """

    def run(x: torch.Tensor) -> torch.Tensor:
        for module in modules:
            x = module(x)
        return x

    return checkpoint(run, x, use_reentrant=False,
                      context_fn=lambda: (contextlib.nullcontext(), _batchnorm_statistics_kept(modules)))


def _set_submodule(root: nn.Module, target: str, module: nn.Module) -> None:
    """``root.set_submodule(target, module)``, which torch 2.4 lacks (nn.Module.set_submodule is new in 2.5)."""
    parent, _, name = target.rpartition(".")
    setattr(root.get_submodule(parent), name, module)


def is_fx_proxy(x: object) -> bool:
    """Whether ``x`` is a :class:`torch.fx.Proxy`: the network is being traced symbolically
    (``torch.fx.symbolic_trace``, torchvision's ``create_feature_extractor``), where checks that read a value
    cannot run. ``torch.compile`` and ``torch.export`` pass tensors, so the checks still run under them."""
    return isinstance(x, torch.fx.Proxy)


class CheckpointedSequential(nn.Sequential):
    """A ``Sequential`` of blocks (a ResNet stage) that checkpoints each block when ``grad_checkpointing`` is set.

    State_dict keys and the plain forward are ``nn.Sequential``'s; :meth:`ZooModel.set_grad_checkpointing`
    sets the flag.
    """

    grad_checkpointing: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.grad_checkpointing and torch.is_grad_enabled()):
            return super().forward(x)
        for module in self:
            x = checkpoint_modules([module], x)
        return x


#: The entries of ``default_cfg`` that weights bring: what input they were trained and evaluated with.
_WEIGHTS_CFG_KEYS = ("input_size", "crop_pct", "resize", "interpolation", "mean", "std", "tag", "source", "license")


def sequential_stages(path: str, sequential: nn.Sequential, starts: Mapping[str, str], num_chs: Sequence[int],
                      reductions: Sequence[int]) -> tuple[Stage, ...]:
    """Stages cut from ``sequential`` (at ``path`` in the model), for families whose backbone is one Sequential.

    Each stage begins at a child named in ``starts`` (child name -> stage name) and runs to the next start;
    ``num_chs`` and ``reductions`` describe the stages' maps in order.
    """
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for child in sequential._modules:
        if child in starts:
            current = stages.setdefault(starts[child], [])
        if current is None:
            raise ValueError(f"{path}.{child} comes before the first stage starts")
        current.append(f"{path}.{child}")
    if len(stages) != len(num_chs) or len(stages) != len(reductions):
        raise ValueError(f"{len(stages)} stages but {len(num_chs)} channel counts and {len(reductions)} reductions")
    return tuple(Stage(name, tuple(modules), chs, reduction)
                 for (name, modules), chs, reduction in zip(stages.items(), num_chs, reductions))


class _StopForward(Exception):
    """Raised by forward_intermediates' hook to end a forward pass early (stop_early)."""


class ZooModel(nn.Module):
    """Base class of cnnzoo's networks: argument checks, input checks and the classifier interface.

    Subclasses call ``super().__init__(num_classes=..., in_chans=...)`` first, build their layers, set
    ``num_features`` and ``classifier_name``, implement ``forward_features`` and ``forward_head``, and
    call ``self._finish_init()`` last.

    Attributes:
        num_classes: outputs of the classifier.
        in_chans: channels of the input image.
        num_features: width of the vector the classifier reads (``forward_head(x, pre_logits=True)``).
        min_input_size: the smallest height and width the network accepts.
        default_cfg: input size, mean, std, interpolation and crop fraction the network expects.
    """

    #: Dotted path of the final classifier layer inside the model (``"fc"``, ``"classifier.6"``).
    classifier_name: str = "fc"
    #: Dotted path of the first convolution (adapted when weights for another ``in_chans`` load).
    first_conv_name: str = "features.0"
    #: Spatial input size the architecture was designed for.
    default_input_size: tuple[int, int] = (224, 224)
    default_mean: tuple[float, ...] = IMAGENET_MEAN
    default_std: tuple[float, ...] = IMAGENET_STD
    default_interpolation: str = "bilinear"
    #: Fraction of the resized image kept by the evaluation centre crop.
    default_crop_pct: float = 0.875
    #: Training augmentation of the paper's recipe: ``"random_resized_crop"`` (ImageNet: random crop of
    #: random size and aspect, flip), ``"pad_crop"`` (CIFAR: pad 4, random crop, flip) or ``"none"``.
    default_train_augment: str = "random_resized_crop"
    #: Whether the backbone recomputes activations in backward instead of keeping them (set_grad_checkpointing).
    grad_checkpointing: bool = False

    def __init__(self, *, num_classes: int, in_chans: int, **probabilities: float) -> None:
        """Check the arguments every network takes: ``num_classes``, ``in_chans`` and, by name, its dropout
        probabilities (each in [0, 1))."""
        super().__init__()
        self.num_classes = check_class_count(num_classes)
        self.in_chans = check_positive_int("in_chans", in_chans, MAX_CHANNELS)
        for name, value in probabilities.items():
            check_probability(name, value)
        self.num_features = 0
        self.min_input_size: int | None = None
        self.default_cfg: dict[str, Any] = {}
        #: The hidden width and dropout :meth:`replace_head` gave the head, or None for the architecture's own.
        self.head_config: dict[str, Any] | None = None

    # -- construction ----------------------------------------------------------------------------
    def _finish_init(self) -> None:
        """Record the smallest accepted input and the default configuration; call at the end of __init__."""
        self.min_input_size = min_input_side(self)
        self.default_cfg = {
            "architecture": type(self).__name__.lower(),
            "input_size": (self.in_chans, *self.default_input_size),
            "min_input_size": (self.in_chans, self.min_input_size, self.min_input_size),
            "num_classes": self.num_classes,
            "mean": adapt_mean_std(self.default_mean, self.in_chans),
            "std": adapt_mean_std(self.default_std, self.in_chans),
            "interpolation": self.default_interpolation,
            "crop_pct": self.default_crop_pct,
            "train_augment": self.default_train_augment,
            "classifier": self.classifier_name,
            "first_conv": self.first_conv_name,
        }

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """timm's name for :attr:`default_cfg`: the input the network (and its weights) expects."""
        return self.default_cfg

    def apply_pretrained_cfg(self, cfg: Mapping[str, Any]) -> None:
        """Take the input configuration of weights just loaded into the model.

        Size, crop, resize, interpolation, mean and std, tag, source and license come from ``cfg``; the
        size's channels and the mean and std follow the model's ``in_chans`` (averaged for one channel,
        cycled for more, as the first convolution was adapted), and the architecture and class count stay
        the model's own.
        """
        taken = {key: cfg[key] for key in _WEIGHTS_CFG_KEYS if cfg.get(key) is not None}
        if "input_size" in taken:
            taken["input_size"] = (self.in_chans, *tuple(taken["input_size"])[1:])
        for key in ("mean", "std"):
            if key in taken:
                taken[key] = adapt_mean_std(tuple(taken[key]), self.in_chans)
        self.default_cfg = {**self.default_cfg, **taken}

    def spatial_layers(self) -> list[nn.Module]:
        """The modules an input passes through in order, for computing the smallest input.

        The default is the declared stages' modules in order, which covers networks whose stages hold
        every size-changing layer; families with pooling between their stages (ResNet, GoogLeNet) list
        their own.
        """
        return [module for modules in self.stages.values() for module in modules]

    #: The backbone's stages in forward order, declared by each family in ``__init__`` (head modules excluded).
    stage_specs: tuple[Stage, ...] = ()
    #: Whether :meth:`prune_intermediate_layers` removed the stages after the last one kept.
    _stages_pruned: bool = False

    @property
    def stages(self) -> dict[str, list[nn.Module]]:
        """The backbone's stages in forward order, named as the paper names them; no head module is in one.

        ``cnnzoo.freeze(model, up_to=NAME)`` freezes every stage up to and including ``NAME``; the modules
        come from the family's declared :attr:`stage_specs`.
        """
        if not self.stage_specs:
            raise NotImplementedError(f"{type(self).__name__} declares no stages")
        return {stage.name: [self.get_submodule(path) for path in stage.modules] for stage in self.stage_specs}

    @property
    def feature_info(self) -> list[dict[str, Any]]:
        """The feature map at the end of each stage, as timm describes them: ``stage``, ``module`` (whose output
        it is), ``num_chs``, ``reduction`` and ``index``; read from the declared :attr:`stage_specs`."""
        return [{"stage": stage.name, "module": stage.modules[-1], "num_chs": stage.num_chs,
                 "reduction": stage.reduction, "index": index} for index, stage in enumerate(self.stage_specs)]

    # -- the forward pass ------------------------------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Keep fewer activations for backward and recompute them there: less memory in training, more time.

        Each block of the backbone (ResNet's residual blocks, GoogLeNet's inception modules, the stages of
        VGG, AlexNet, NIN and LeNet-5) keeps only its input and is run again in backward (see
        :func:`checkpoint_modules`); DenseNet switches to its memory-efficient path. Outputs and gradients
        are the plain model's, BatchNorm running statistics are updated once per forward pass, and under
        ``torch.no_grad`` nothing changes. timm's method, with timm's meaning.

        Example:
            >>> model = cnnzoo.create("resnet50")
            >>> model.set_grad_checkpointing()
            >>> # keeps a third of the bytes for backward
            >>> model(torch.randn(8, 3, 224, 224)).sum().backward()
        """
        self.grad_checkpointing = bool(enable)
        for module in self.modules():
            if isinstance(module, CheckpointedSequential):
                module.grad_checkpointing = self.grad_checkpointing

    def _checkpointed(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``module(x)``, through :func:`checkpoint_modules` when gradient checkpointing is on."""
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint_modules([module], x)
        return module(x)

    def _checkpointed_stages(self, sequential: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        """``sequential(x)``; with gradient checkpointing on, each stage's run of children (as :attr:`stages`
        groups them) is one checkpointed segment."""
        if not (self.grad_checkpointing and torch.is_grad_enabled()) or sequential._forward_hooks or \
                sequential._forward_pre_hooks:
            return sequential(x)
        stage_of = {id(module): name for name, modules in self.stages.items() for module in modules}
        segments: list[list[nn.Module]] = []
        previous: object = None
        for module in sequential:
            stage = stage_of.get(id(module))
            if segments and stage == previous:
                segments[-1].append(module)
            else:
                segments.append([module])
            previous = stage
        for segment in segments:
            x = checkpoint_modules(segment, x)
        return x

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`~cnnzoo.InputShapeError` unless ``x`` is a batch this network can take.

        Skipped while torch.fx traces the network (:func:`is_fx_proxy`): a traced graph has no Python
        checks, while the eager model keeps them."""
        if is_fx_proxy(x):
            return
        if not isinstance(x, torch.Tensor):
            raise InputShapeError(f"{type(self).__name__} expects a torch.Tensor, got {type(x).__name__}.")
        if x.dim() != 4:
            hint = " Add a batch dimension with x.unsqueeze(0)." if x.dim() == 3 else ""
            raise InputShapeError(
                f"{type(self).__name__} expects a batch of images shaped (N, C, H, W); got a "
                f"{x.dim()}-d tensor of shape {tuple(x.shape)}.{hint}"
            )
        if not x.is_floating_point():
            raise InputShapeError(
                f"{type(self).__name__} expects floating-point images, got {x.dtype}. Convert them as a "
                "training pipeline does: torchvision.transforms.ToTensor() (or v2.ToDtype(torch.float32, "
                "scale=True)) scales uint8 pixels to [0, 1], then Normalize(mean, std) from "
                "cnnzoo.transforms_for(model)."
            )
        if x.shape[1] != self.in_chans:
            raise InputShapeError(
                f"{type(self).__name__} was built for {self.in_chans}-channel input but got {x.shape[1]} "
                f"channels (input shape {tuple(x.shape)}). Build it with in_chans={x.shape[1]} "
                f"(cnnzoo.create(name, in_chans={x.shape[1]})) or convert the images."
            )
        smallest = self.min_input_size
        if smallest is not None and (x.shape[2] < smallest or x.shape[3] < smallest):
            raise InputShapeError(
                f"{type(self).__name__} needs inputs of at least {smallest}x{smallest} pixels; got "
                f"{x.shape[2]}x{x.shape[3]}. Resize the images (it was designed for "
                f"{self.default_input_size[0]}x{self.default_input_size[1]})."
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map of the backbone, before pooling and classifier.

        Implementations start with ``self.check_input(x)``, so a wrong input fails here with a named error.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement forward_features")

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pooling and classifier on a feature map; ``pre_logits=True`` stops before the classifier."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward_head")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # forward_features checks the input first
        self.check_whole()
        return self.forward_head(self.forward_features(x))

    def check_whole(self) -> None:
        """Raise :class:`~cnnzoo.CnnzooValueError` if :meth:`prune_intermediate_layers` removed stages.

        A pruned network's head no longer fits its last map, so ``forward`` and ``forward_head`` refuse
        (a named error instead of a shape mismatch deep inside); :meth:`forward_intermediates` and
        ``forward_features`` (the last kept stage's map) are the ways to use it."""
        if self._stages_pruned:
            kept = ", ".join(stage.name for stage in self.stage_specs)
            raise CnnzooValueError(
                f"this {type(self).__name__} was pruned by prune_intermediate_layers to its stages {kept}: its head "
                "no longer fits. Use model.forward_intermediates(x, intermediates_only=True) or "
                "model.forward_features(x); build a new model to classify."
            )

    # -- timm's feature API ----------------------------------------------------------------------
    def _feature_indices(self, indices: int | Sequence[int] | None) -> list[int]:
        """timm's ``indices``: None for every stage, an int n for the last n, or stage indices (negative from the end)."""
        count = len(self.stage_specs)
        if indices is None:
            return list(range(count))
        if isinstance(indices, bool):
            raise CnnzooValueError(f"indices must be None, a number of last stages or stage indices; got {indices!r}.")
        if isinstance(indices, int):
            if not 1 <= indices <= count:
                raise CnnzooValueError(f"indices={indices} asks for the last {indices} stages; "
                                       f"{type(self).__name__} has {count} ({', '.join(self.stages)}).")
            return list(range(count - indices, count))
        chosen = check_out_indices(indices) or []
        for index in chosen:
            if not -count <= index < count:
                raise CnnzooValueError(f"indices {tuple(chosen)} out of range: {type(self).__name__} has {count} "
                                       f"stages ({', '.join(self.stages)}), indices 0..{count - 1}.")
        return sorted({index % count for index in chosen})

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | Sequence[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's feature API: the maps at the end of the chosen stages, and the last feature map.

        The stages are those of :attr:`feature_info` (the last one's map is what ``forward_features``
        returns); ``indices`` is None for all, an int n for the last n, or stage indices. With
        ``intermediates_only`` only the list comes back, and ``stop_early`` then stops the forward pass at
        the last stage asked for. ``norm`` is accepted for timm's signature: no cnnzoo network has a final
        normalisation outside its stages. ``output_fmt`` must be ``"NCHW"``.

        Example:
            >>> model = cnnzoo.create("resnet50")
            >>> x = torch.randn(1, 3, 224, 224)
            >>> final, maps = model.forward_intermediates(x, indices=2)
            >>> # layer3 and layer4
            >>> [m.shape[1] for m in maps]
            [1024, 2048]
        """
        if output_fmt != "NCHW":
            raise CnnzooValueError(f"output_fmt={output_fmt!r}: cnnzoo's networks give NCHW maps only.")
        take = self._feature_indices(indices)
        last = len(self.stage_specs) - 1
        # the last declared stage's map is forward_features' output, unless later stages were pruned away
        from_output = last if not self._stages_pruned else None
        captured: dict[int, torch.Tensor] = {}
        stop_at = max(take) if stop_early and intermediates_only else None

        def keep(index: int, _module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            captured[index] = output
            if index == stop_at:
                raise _StopForward

        handles = [self.get_submodule(self.stage_specs[i].modules[-1]).register_forward_hook(functools.partial(keep, i))
                   for i in take if i != from_output]
        final = None
        try:
            final = self.forward_features(x)
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
        if from_output is not None and final is not None:
            captured[from_output] = final
        intermediates = [captured[i] for i in take]
        return intermediates if intermediates_only else (final, intermediates)

    def prune_intermediate_layers(self, indices: int | Sequence[int] = 1, prune_norm: bool = False,
                                  prune_head: bool = True) -> list[int]:
        """timm's counterpart of :meth:`forward_intermediates`: drop the stages after the last one asked for.

        Their modules become ``nn.Identity`` and :attr:`feature_info` lists the stages kept; with
        ``prune_head`` the classifier goes too (``reset_classifier(0)``). Returns the stage indices
        :meth:`forward_intermediates` then takes. Once stages are gone, ``forward_intermediates`` and
        ``forward_features`` are the way to use the network: ``forward`` and ``forward_head`` raise a
        :class:`~cnnzoo.CnnzooValueError` (see :meth:`check_whole`), where timm's networks would fail on
        a shape mismatch or return an unpooled map. ``prune_norm`` is accepted for timm's signature (no
        final norm to prune). Arguments are checked before anything changes.
        """
        take = self._feature_indices(indices)
        for flag, value in (("prune_norm", prune_norm), ("prune_head", prune_head)):
            if not isinstance(value, bool):
                raise CnnzooValueError(f"{flag} must be True or False, got {value!r}.")
        keep = max(take) + 1
        if keep < len(self.stage_specs):
            for stage in self.stage_specs[keep:]:
                for path in stage.modules:
                    _set_submodule(self, path, nn.Identity())
            self.stage_specs = self.stage_specs[:keep]
            self._stages_pruned = True
        if prune_head:
            self.reset_classifier(0)
        return take

    # -- the classifier --------------------------------------------------------------------------
    def get_classifier(self) -> nn.Module:
        """The final classification layer (the one :meth:`reset_classifier` replaces)."""
        return self.get_submodule(self.classifier_name)

    def replace_head(self, num_classes: int, hidden: int | Literal["auto"] | None = None, dropout: float = 0.0) -> None:
        """Give the model a fresh classifier head of ``num_classes`` outputs: one layer, or a two-layer MLP.

        Every head the model has follows (GoogLeNet's auxiliary classifiers too), and ``num_classes``,
        ``head_config`` and ``default_cfg`` say what the model now is, which is what
        :func:`cnnzoo.save_pretrained` records. Arguments are checked before anything changes: a call that
        raises leaves the model as it was.

        Args:
            num_classes: outputs of the new head.
            hidden: width of a hidden layer (layer-ReLU-Dropout-layer), ``"auto"`` for
                :func:`cnnzoo.auto_hidden_width`, or None for the architecture's own single class layer.
            dropout: dropout before the class layer, in [0, 1).

        Example:
            >>> model = cnnzoo.create("resnet50")
            >>> # Linear(2048, 128)-ReLU-Dropout-Linear(128, 5)
            >>> model.replace_head(5, hidden="auto", dropout=0.2)
        """
        num_classes = check_class_count(num_classes)
        dropout = check_probability("dropout", dropout)
        if num_classes == 0 and (hidden is not None or dropout):
            raise CnnzooValueError(
                f"num_classes=0 removes the classifier (the model returns its pooled features), so there is no "
                f"head for hidden={hidden!r} or dropout={dropout!r}; give num_classes >= 1 or leave them out."
            )
        if isinstance(hidden, str) and hidden == "auto":
            hidden = auto_hidden_width(self.num_features, num_classes)
        elif hidden is not None:
            hidden = check_positive_int("hidden", hidden)
        if hidden is not None:
            head = mlp_head(self.head_layer, self.num_features, num_classes, hidden, dropout)
        elif dropout:
            head = nn.Sequential(nn.Dropout(dropout), self._new_classifier(num_classes))
        else:
            head = self._new_classifier(num_classes)
        replacements = {self.classifier_name: head, **self._new_auxiliary_classifiers(num_classes)}
        # everything is built: only now does the model change
        for name, module in replacements.items():
            reference = next(self.get_submodule(name).parameters(), None)
            if reference is not None:
                module = module.to(device=reference.device, dtype=reference.dtype)
            _set_submodule(self, name, module)
        self.num_classes = num_classes
        self.head_config = None if hidden is None and not dropout else {"hidden": hidden, "dropout": dropout}
        self.default_cfg = {**self.default_cfg, "num_classes": num_classes}

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the classifier with a freshly initialised one of ``num_classes`` outputs.

        A head given by :meth:`replace_head` keeps its shape (hidden width and dropout) with fresh weights;
        every other head the model has follows, as in :meth:`replace_head`. ``num_classes=0`` removes the
        classifier (``get_classifier()`` is ``nn.Identity``, ``forward`` returns the pooled features), as in
        timm. ``global_pool`` is timm's argument: None or ``"avg"`` keep the architecture's own pooling,
        the only one cnnzoo's networks have; another value is a ValueError.

        Example:
            >>> model = cnnzoo.create("resnet18")
            >>> model.reset_classifier(5)
            >>> model.get_classifier()
            Linear(in_features=512, out_features=5, bias=True)
        """
        if global_pool not in (None, "avg"):
            raise CnnzooValueError(
                f"global_pool={global_pool!r}: cnnzoo's networks pool as their papers do (global average pooling, "
                "or AlexNet's and VGG's fixed map before fc6); pass None or 'avg'."
            )
        check_class_count(num_classes)
        self.replace_head(num_classes, **((self.head_config or {}) if num_classes else {}))

    def classifier_keys(self) -> list[str]:
        """state_dict keys of the class layers: the layers whose first dimension is ``num_classes``.

        The last layer of the classifier (of an MLP head, its class layer, not its hidden one) and of every
        auxiliary classifier. A checkpoint may differ from the model in these keys' first dimension only;
        :func:`cnnzoo.load_pretrained` then keeps them freshly initialised.
        """
        keys = []
        for prefix in self.class_layer_names():
            head = self.get_submodule(prefix)
            if isinstance(head, nn.Sequential):
                index = max(i for i, layer in enumerate(head) if next(layer.parameters(), None) is not None)
                head, prefix = head[index], f"{prefix}.{index}"
            keys += [f"{prefix}.{name}" for name, _ in head.named_parameters()]
        return keys

    def _new_auxiliary_classifiers(self, num_classes: int) -> dict[str, nn.Module]:
        """Fresh class layers for the model's other heads, by submodule path; none by default."""
        return {}

    def checkpoint_filter(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Turn a checkpoint in another library's layout into this model's; the identity by default.

        Families whose published weights use other key names or shapes (timm's VGG, torchvision's old
        DenseNet files) override it, so every remap lives beside the architecture it serves.
        """
        return state_dict

    def head_layer(self, in_features: int, out_features: int) -> nn.Module:
        """The kind of layer this architecture classifies with: Linear, or a 1x1 convolution for NIN."""
        return nn.Linear(in_features, out_features)

    def init_head_layer(self, layer: nn.Module) -> None:
        """Initialise a fresh class layer as the architecture's recipe does; PyTorch's default by default."""

    def class_layer(self, in_features: int) -> nn.Module:
        """The class layer a constructor builds: ``head_layer(in_features, num_classes)``, or ``nn.Identity``
        for ``num_classes=0``."""
        return self.head_layer(in_features, self.num_classes) if self.num_classes else nn.Identity()

    def class_layer_names(self) -> list[str]:
        """Dotted paths of the class layers: the classifier and every auxiliary classifier's last layer."""
        return [self.classifier_name]

    def _new_classifier(self, num_classes: int) -> nn.Module:
        """A classifier layer of ``num_classes`` outputs, initialised as the architecture's own."""
        if num_classes == 0:
            return nn.Identity()
        layer = self.head_layer(self.num_features, num_classes)
        self.init_head_layer(layer)
        return layer


class PooledClassifierModel(ZooModel):
    """A network laid out as torchvision's AlexNet and VGG: ``features``, ``avgpool``, then a ``classifier``
    Sequential whose last layer is the class layer and whose other layers are the hidden ones."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self._checkpointed_stages(self.features, x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        self.check_whole()
        x = torch.flatten(self.avgpool(x), 1)
        # the hidden layers one by one: a slice is a new Sequential, which torch.fx cannot find in the model
        for layer in self.classifier[:-1]:
            x = layer(x)
        return x if pre_logits else self.classifier[-1](x)
