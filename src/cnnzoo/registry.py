"""The model registry: names to builders, with what each network expects and where it comes from.

A builder is registered with :func:`register_model`; :func:`create` builds any registered network by
name, :func:`list_models` and :func:`model_info` describe them without building real weights.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import inspect
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from cnnzoo import pretrained as pretrained_module
from cnnzoo._meta import count_flops
from cnnzoo.errors import CnnzooValueError, RegistryError, UnknownModelError, WeightsError, check_positive_int
from cnnzoo.pretrained import PretrainedTag
from cnnzoo._cfg import IMAGENET_MEAN, IMAGENET_STD, adapt_mean_std

__all__ = [
    "ModelEntry",
    "ModelInfo",
    "register_model",
    "create",
    "list_models",
    "is_model",
    "model_info",
    "get_entry",
]

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])


@dataclass(frozen=True)
class ModelEntry:
    """One registered network.

    Attributes:
        name: the name :func:`create` takes.
        builder: the registered function (wrapped so its models carry ``default_cfg``).
        family: the architecture family (``"resnet"``, ``"densenet"``, ...).
        paper: the citation of the paper the network comes from.
        cfg: configuration given at registration for models that do not provide their own.
    """

    name: str
    builder: Callable[..., nn.Module]
    family: str
    paper: str
    cfg: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    """What a registered network is, computed on the meta device (no weights are allocated).

    Attributes:
        name: registry name.
        family: architecture family.
        paper: citation of the paper.
        input_size: default input ``(C, H, W)``.
        min_input_size: the smallest ``(C, H, W)`` the network accepts.
        num_classes: default number of classes.
        parameters: number of parameters at the default (or given) configuration.
        gflops: GFLOPs of one forward pass of one image at ``input_size``, counted by
            :mod:`torch.utils.flop_counter` (a multiply-add is two FLOPs).
        mean: per-channel mean of the input normalisation.
        std: per-channel standard deviation of the input normalisation.
        interpolation: resize interpolation for evaluation.
        crop_pct: the centre-crop fraction for evaluation.
        pretrained_tags: the published weights: source, license, the ImageNet accuracy the publisher
            reports, and the input they expect.
        default_tag: the tag ``pretrained=True`` loads, or None when no weights are published.
    """

    name: str
    family: str
    paper: str
    input_size: tuple[int, int, int]
    min_input_size: tuple[int, int, int] | None
    num_classes: int
    parameters: int
    gflops: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str
    crop_pct: float
    pretrained_tags: tuple[PretrainedTag, ...] = ()
    default_tag: str | None = None


_REGISTRY: dict[str, ModelEntry] = {}


def _accepted_keywords(fn: Callable[..., Any]) -> set[str] | None:
    """The keyword names ``fn`` takes, or None when it takes ``**kwargs``."""
    parameters = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def register_model(
    fn: Builder | None = None,
    *,
    name: str | None = None,
    family: str | None = None,
    paper: str = "",
    input_size: tuple[int, int, int] = (3, 224, 224),
    num_classes: int = 1000,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    interpolation: str = "bilinear",
    crop_pct: float = 0.875,
    overwrite: bool = False,
) -> Any:
    """Register a builder function under its name so :func:`create` can build it.

    Works bare (``@register_model``) or with arguments. The builder takes keyword arguments, at least
    ``num_classes`` and ``in_chans`` if it wants to honour them, and returns an ``nn.Module``. cnnzoo's
    own builders return :class:`~cnnzoo.models.ZooModel` subclasses, which describe their own input;
    for other models the ``input_size``, ``mean``, ``std``, ``interpolation`` and ``crop_pct`` given
    here become the model's ``default_cfg``.

    Args:
        fn: the builder (when used bare).
        name: registry name; defaults to the function's name.
        family: architecture family; defaults to the name of the module that defines the builder.
        paper: citation of the paper the network comes from.
        input_size: default ``(C, H, W)`` for models that do not define their own.
        num_classes: default class count for models that do not define their own.
        mean: input normalisation mean for models that do not define their own.
        std: input normalisation std for models that do not define their own.
        interpolation: resize interpolation for models that do not define their own.
        crop_pct: evaluation centre-crop fraction for models that do not define their own.
        overwrite: replace an existing registration of the same name instead of raising.

    Returns:
        The wrapped builder, which attaches ``default_cfg`` to each model it builds.

    Raises:
        RegistryError: if the name is taken and ``overwrite`` is false, or has a ``.`` in it (the dot
            separates a model name from a pretrained tag).

    Example:
        >>> @cnnzoo.register_model(family="mine", input_size=(3, 64, 64), num_classes=10)
        ... def tiny_net(num_classes=10, in_chans=3):
        ...     return torch.nn.Sequential(torch.nn.Conv2d(in_chans, 8, 3), torch.nn.Flatten(),
        ...                                torch.nn.LazyLinear(num_classes))
        >>> model = cnnzoo.create("tiny_net")
    """

    def decorate(builder: Builder) -> Builder:
        model_name = name or builder.__name__
        if "." in model_name:
            raise RegistryError(
                f"Model name {model_name!r} has a '.', which separates a name from a pretrained tag "
                "('resnet50.tv_in1k'). Choose a name without dots."
            )
        if model_name in _REGISTRY and not overwrite:
            raise RegistryError(
                f"A model named {model_name!r} is already registered (by "
                f"{_REGISTRY[model_name].builder.__module__}). Pick another name or pass overwrite=True."
            )
        accepted = _accepted_keywords(builder)
        fallback_cfg = {
            "input_size": tuple(input_size),
            "num_classes": num_classes,
            "mean": tuple(mean),
            "std": tuple(std),
            "interpolation": interpolation,
            "crop_pct": crop_pct,
        }

        @functools.wraps(builder)
        def build(**kwargs: Any) -> nn.Module:
            if accepted is not None:
                unknown = sorted(set(kwargs) - accepted)
                if unknown:
                    raise TypeError(
                        f"{model_name}() got unexpected keyword arguments {unknown}; it takes "
                        f"{sorted(accepted)}."
                    )
            model = builder(**kwargs)
            cfg = getattr(model, "default_cfg", None)
            if not cfg:
                in_chans = kwargs.get("in_chans", fallback_cfg["input_size"][0])
                cfg = {
                    **fallback_cfg,
                    "input_size": (in_chans, *fallback_cfg["input_size"][1:]),
                    "num_classes": kwargs.get("num_classes", num_classes),
                    "mean": adapt_mean_std(fallback_cfg["mean"], in_chans),
                    "std": adapt_mean_std(fallback_cfg["std"], in_chans),
                }
            model.default_cfg = {**cfg, "architecture": model_name}
            # the architecture options, so save_pretrained can record how to rebuild the model
            model.model_args = {k: v for k, v in kwargs.items() if k not in ("num_classes", "in_chans")}
            return model

        _cached_info.cache_clear()  # a re-registered name describes its new builder
        _REGISTRY[model_name] = ModelEntry(
            name=model_name,
            builder=build,
            family=family or builder.__module__.rsplit(".", 1)[-1],
            paper=paper,
            cfg=fallback_cfg,
        )
        return build  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def _natural_key(name: str) -> list[Any]:
    # resnet18 < resnet34 < resnet50 < resnet101, as a reader expects
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_models(
    pattern: str | Iterable[str] | None = None,
    *,
    exclude: str | Iterable[str] | None = None,
    pretrained: bool = False,
) -> list[str]:
    """Names of registered models, sorted naturally (``resnet18`` before ``resnet101``).

    Args:
        pattern: shell-style wildcard(s) the name must match (``"resnet*"``, ``["vgg1?", "*bn"]``).
        exclude: wildcard(s) that remove names from the result.
        pretrained: list ``name.tag`` for every set of published weights instead of bare names; the
            patterns then match either the bare name or ``name.tag``.

    Example:
        >>> cnnzoo.list_models("densenet*")
        ['densenet121', 'densenet161', 'densenet169', 'densenet201', 'densenet264']
        >>> cnnzoo.list_models("resnet50*", pretrained=True)
        ['resnet50.tv_in1k', 'resnet50.tv2_in1k']
    """

    def as_list(value: str | Iterable[str] | None) -> list[str]:
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)

    include, excluded = as_list(pattern), as_list(exclude)

    def matches(candidates: tuple[str, ...], patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns)

    names = [n for n in _REGISTRY if not include or matches((n,), include) or pretrained]
    names = sorted(names, key=_natural_key)
    if not pretrained:
        return [n for n in names if not matches((n,), excluded)]
    # each model's tags in the table's order, its default tag first
    tagged = [(f"{n}.{t}", n) for n in names for t in pretrained_module.tags_of(n)]
    return [c[0] for c in tagged if (not include or matches(c, include)) and not matches(c, excluded)]


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered model, or ``name.tag`` a published set of its weights."""
    if name in _REGISTRY:
        return True
    model_name, _, tag = name.rpartition(".")
    return model_name in _REGISTRY and tag in pretrained_module.tags_of(model_name)


def get_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``.

    Raises:
        UnknownModelError: for an unregistered name, listing the closest registered names.
    """
    if not isinstance(name, str):
        raise UnknownModelError(
            f"A model name is a string such as 'resnet50' (cnnzoo.list_models() lists them); got {name!r} "
            f"({type(name).__name__})."
        )
    try:
        return _REGISTRY[name]
    except KeyError:
        pass
    lowered = name.lower().replace("-", "_")
    if lowered in _REGISTRY:
        close = [lowered]
    else:
        close = difflib.get_close_matches(lowered, list(_REGISTRY), n=5, cutoff=0.6)
        close += [n for n in list_models(f"{lowered}*") if n not in close][: max(0, 5 - len(close))]
    suggestion = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownModelError(
        f"Unknown model {name!r}.{suggestion} cnnzoo.list_models() (or `cnnzoo list`) shows all "
        f"{len(_REGISTRY)} models."
    ) from None


def create(
    name: str | os.PathLike[str],
    *,
    pretrained: bool | str | os.PathLike[str] | None = None,
    num_classes: int | None = None,
    in_chans: int | None = None,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered network by name, with or without pretrained weights.

    Args:
        name: a registered model name (see :func:`list_models`); ``"name.tag"`` for a model with the
            weights of that tag; the path of a directory written by :func:`cnnzoo.save_pretrained` (a
            ``PathLike``, or a string that is absolute, starts with ``./`` or ``~`` or contains a separator:
            a bare word always means a registered model, whatever folders the working directory holds); or
            ``"hf-hub:ORG/REPO"`` for such a directory (or a timm model repository) on the Hugging Face Hub.
        pretrained: ``True`` for the model's default weights (see :func:`model_info`), a tag
            (``"tv2_in1k"``), a path to a ``.safetensors``/``.pth`` file, or ``"hf-hub:ORG/REPO"``. Weights
            load completely or :class:`~cnnzoo.WeightsError` says why not; a different ``num_classes``
            gets a fresh classifier and a different ``in_chans`` an adapted first convolution.
            ``None`` (the default) loads weights only when ``name`` names a tag, a directory or a Hub
            repository; ``False`` never does.
        num_classes: outputs of the classifier; the model's default (1000 for ImageNet networks, 10 for
            LeNet-5 and the CIFAR networks) when None.
        in_chans: input channels; the model's default (3, or 1 for LeNet-5) when None.
        features_only: return a :class:`~cnnzoo.transfer.FeatureExtractor` whose forward gives the feature
            maps at the end of the model's stages, with ``feature_info`` describing them (for a saved
            directory too).
        out_indices: which stages' maps ``features_only`` returns, as a sequence (all when None).
        **kwargs: architecture options of the model's class (``aux_logits=True`` for GoogLeNet,
            ``drop_rate=0.2`` for DenseNet, ...).

    Returns:
        The network, in training mode, with ``default_cfg`` describing its input.

    Raises:
        UnknownModelError: for a name that is not registered (the message lists close matches).
        ValueError: for ``num_classes`` or ``in_chans`` below 1.
        WeightsError: for weights that are not published, cannot be fetched or read, or do not fit.

    Example:
        >>> model = cnnzoo.create("alexnet", num_classes=5)
        >>> model.get_classifier()
        Linear(in_features=4096, out_features=5, bias=True)
        >>> model = cnnzoo.create("resnet50.tv2_in1k", num_classes=37)  # torchvision's V2 weights but fc
    """
    if num_classes is not None:
        kwargs["num_classes"] = check_positive_int("num_classes", num_classes)
    if in_chans is not None:
        kwargs["in_chans"] = check_positive_int("in_chans", in_chans)
    if not isinstance(name, (str, os.PathLike)):
        raise UnknownModelError(
            f"create() takes a model name such as 'resnet50' (cnnzoo.list_models() lists them), a folder path "
            f"written by save_pretrained, or 'hf-hub:ORG/REPO'; got {name!r} ({type(name).__name__})."
        )
    if not isinstance(features_only, bool):
        raise CnnzooValueError(f"features_only must be True or False, got {features_only!r}.")
    if out_indices is not None:
        if not features_only:
            raise CnnzooValueError("out_indices chooses the feature maps of features_only=True; pass features_only=True too.")
        from cnnzoo.transfer import _check_out_indices

        _check_out_indices(out_indices)  # before anything is built or downloaded
    if pretrained_module.is_path(name) or os.fspath(name).startswith(pretrained_module.HF_PREFIX):
        return _create_from_saved(os.fspath(name), pretrained, kwargs, features_only, out_indices)
    name = os.fspath(name)

    model_name, tag = name, None
    if name not in _REGISTRY and "." in name:
        model_name, _, tag = name.rpartition(".")
    entry = _get_entry_or_folder_hint(model_name)
    source: bool | str | None = None
    tag_entry = None
    if tag is not None:
        tag_entry = pretrained_module.get_tag(model_name, tag)
        if isinstance(pretrained, str) and pretrained != tag:
            raise WeightsError(f"{name!r} names the tag {tag!r} but pretrained={pretrained!r}; give one of them.")
        source = False if pretrained is False else tag_entry.tag
    elif pretrained is True:
        tag_entry = pretrained_module.get_tag(model_name)
        source = tag_entry.tag
    elif isinstance(pretrained, os.PathLike):
        source = os.fspath(pretrained)
    elif isinstance(pretrained, str):
        if pretrained in pretrained_module.tags_of(model_name):
            tag_entry = pretrained_module.get_tag(model_name, pretrained)
            source = pretrained
        else:
            source = pretrained
    elif pretrained not in (None, False):
        raise WeightsError(f"pretrained must be True, False, a tag, a path or 'hf-hub:ORG/REPO'; got {pretrained!r}.")
    if tag_entry is not None:
        kwargs = {**tag_entry.model_args, **kwargs}  # what the weights need, unless the user says otherwise
    model = entry.builder(**kwargs)
    if source:
        pretrained_module.load_pretrained(model, source)
    return _features(model, features_only, out_indices)


def _features(model: nn.Module, features_only: bool, out_indices: Sequence[int] | None) -> nn.Module:
    if not features_only:
        return model
    from cnnzoo.transfer import FeatureExtractor

    return FeatureExtractor(model, out_indices)


def _get_entry_or_folder_hint(name: str) -> ModelEntry:
    """get_entry, naming the way to a saved model when a folder of that name exists and the name is not registered."""
    if name not in _REGISTRY and (Path(name) / pretrained_module.CONFIG_NAME).is_file():
        raise UnknownModelError(
            f"{name!r} is not a registered model, but a folder of that name holds a saved model. A bare name "
            f"always means a registered network; to load the folder, pass its path: cnnzoo.create('./{name}')."
        )
    return get_entry(name)


def _create_from_saved(name: str, pretrained: bool | str | None, kwargs: dict[str, Any], features_only: bool,
                       out_indices: Sequence[int] | None) -> nn.Module:
    """Rebuild a model from a save_pretrained directory or Hub repository, and load its weights."""
    if pretrained not in (None, True, False):
        raise WeightsError(f"{name!r} brings its own weights; leave pretrained unset (or False for none).")
    if not name.startswith(pretrained_module.HF_PREFIX) and not Path(name).expanduser().is_dir():
        raise WeightsError(
            f"{name} is not a folder. create() takes a folder written by cnnzoo.save_pretrained; load a single "
            f"weights file into a named model with cnnzoo.create(NAME, pretrained={name!r})."
        )
    config, weights = pretrained_module.read_config(name)
    saved_cfg = config.get("pretrained_cfg") or {}
    model_args = dict(config.get("model_args") or {})
    model_args.setdefault("num_classes", config.get("num_classes", saved_cfg.get("num_classes")))
    in_chans = config.get("in_chans") or (saved_cfg.get("input_size") or [None])[0]
    if in_chans is not None:
        model_args.setdefault("in_chans", in_chans)
    model_args = {k: v for k, v in model_args.items() if v is not None}
    model = create(config["architecture"], pretrained=False, **{**model_args, **kwargs})
    head = config.get("head")
    if head:
        # the saved head; a new num_classes keeps its hidden layer and gets a fresh last layer
        model.replace_head(model.num_classes, hidden=head.get("hidden"), dropout=head.get("dropout", 0.0))
    if pretrained is not False:
        pretrained_module.load_pretrained(model, weights)
        keep = {k: tuple(v) if isinstance(v, list) else v for k, v in saved_cfg.items()
                if k in ("mean", "std", "interpolation", "crop_pct", "tag", "source", "license")}
        if model.default_cfg.get("input_size", (None,))[0] == in_chans:
            model.default_cfg = {**model.default_cfg, **keep}
    return _features(model, features_only, out_indices)


@functools.lru_cache(maxsize=None)
def _cached_info(name: str, frozen_kwargs: tuple[tuple[str, Any], ...]) -> ModelInfo:
    entry = get_entry(name)
    with torch.device("meta"):
        model = entry.builder(**dict(frozen_kwargs))
    cfg = model.default_cfg
    input_size = tuple(cfg["input_size"])
    min_size = cfg.get("min_input_size")
    return ModelInfo(
        name=entry.name,
        family=entry.family,
        paper=entry.paper,
        input_size=input_size,  # type: ignore[arg-type]
        min_input_size=tuple(min_size) if min_size else None,  # type: ignore[arg-type]
        num_classes=cfg["num_classes"],
        parameters=sum(p.numel() for p in model.parameters()),
        gflops=count_flops(model.eval(), (1, *input_size)) / 1e9,
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        interpolation=cfg["interpolation"],
        crop_pct=cfg["crop_pct"],
        pretrained_tags=tuple(pretrained_module.PRETRAINED.get(entry.name, {}).values()),
        default_tag=pretrained_module.DEFAULT_TAGS.get(entry.name),
    )


def model_info(name: str, **kwargs: Any) -> ModelInfo:
    """Describe a registered network without allocating its weights.

    Args:
        name: registered model name.
        **kwargs: arguments of :func:`create` (``num_classes=5``, ``in_chans=1``) to describe that
            configuration instead of the default.

    Example:
        >>> cnnzoo.model_info("resnet50").parameters
        25557032
    """
    entry = get_entry(name)
    for key in ("num_classes", "in_chans"):
        if kwargs.get(key) is not None:
            check_positive_int(key, kwargs[key])
    frozen = tuple(sorted((k, v) for k, v in kwargs.items() if v is not None))
    return _cached_info(entry.name, frozen)
