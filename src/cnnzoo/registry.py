"""The model registry: names to builders, and the weights each family declares beside its builders.

A builder is registered with :func:`register_model`, with the metadata of its published weights
(:class:`~cnnzoo.weights.PretrainedTag`); :func:`list_models` and :func:`model_info` describe the networks
without building real weights. Building from a name, a folder or the Hub is :mod:`cnnzoo.factory`'s job,
fetching and loading weights :mod:`cnnzoo.pretrained`'s: both read this module, which reads neither.
"""

from __future__ import annotations

import difflib
import fnmatch
import dataclasses
import functools
import inspect
import re
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn

from cnnzoo._meta import count_flops
from cnnzoo.errors import CnnzooTypeError, CnnzooValueError, RegistryError, UnknownModelError, WeightsError, check_positive_int
from cnnzoo.weights import PretrainedTag
from cnnzoo.weights_timm import TIMM_TAGS
from cnnzoo._cfg import IMAGENET_MEAN, IMAGENET_STD, adapt_mean_std

__all__ = [
    "ModelEntry",
    "ModelInfo",
    "register_model",
    "list_models",
    "is_model",
    "model_info",
    "get_entry",
    "PRETRAINED",
    "DEFAULT_TAGS",
    "tags_of",
    "get_tag",
]

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])

#: ``{model: {tag: PretrainedTag}}``: every published set of weights: those the families declare beside their
#: builders, then the other tags timm publishes for cnnzoo's own architectures (:mod:`cnnzoo.weights_timm`).
PRETRAINED: dict[str, dict[str, PretrainedTag]] = {}
#: The tag ``pretrained=True`` loads: torchvision's original ImageNet weights, which the classic fine-tuning
#: tutorials' ``pretrained=True`` meant, where they exist; else the first declared.
DEFAULT_TAGS: dict[str, str] = {}


@dataclass(frozen=True)
class ModelEntry:
    """One registered network.

    Attributes:
        name: the name :func:`create` takes.
        builder: the registered function (wrapped so its models carry ``default_cfg``).
        family: the architecture family (``"resnet"``, ``"densenet"``, ...).
        paper: the citation of the paper the network comes from.
    """

    name: str
    builder: Callable[..., nn.Module]
    family: str
    paper: str


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
        default_tag: the tag ``pretrained=True`` loads for the bare name, or None when no weights are
            published.
        tag: the weights this describes, for a ``name.tag``: then ``input_size``, ``mean``, ``std``,
            ``interpolation``, ``crop_pct`` and ``gflops`` are those weights' input, as
            ``create("name.tag").default_cfg`` has them. None for a bare name, which describes the architecture.
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
    tag: str | None = None


_REGISTRY: dict[str, ModelEntry] = {}


def _accepted_keywords(fn: Callable[..., Any]) -> set[str] | None:
    """The keyword arguments ``fn`` takes; for a ``**kwargs`` builder, those of the class it returns
    (its return annotation), so a misspelt option fails at the call; None when that cannot be known."""
    parameters = inspect.signature(fn).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    try:
        returned = typing.get_type_hints(fn).get("return")
    except Exception:  # an annotation that does not resolve: no check rather than a wrong one
        return None
    if not (isinstance(returned, type) and issubclass(returned, nn.Module)):
        return None
    init = inspect.signature(returned.__init__).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in init):
        return None
    return {p.name for p in init if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}


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
    weights: Sequence[PretrainedTag] = (),
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
        weights: the published weights of this network, one :class:`~cnnzoo.weights.PretrainedTag` a tag
            (the model name is filled in here). cnnzoo's own families also get the other tags timm publishes
            for the name (:mod:`cnnzoo.weights_timm`); a tag declared here wins over timm's of that name.
        overwrite: replace an existing registration of the same name instead of raising.

    Returns:
        The wrapped builder, which attaches ``default_cfg`` to each model it builds.

    Raises:
        RegistryError: if the name is taken and ``overwrite`` is false, or has a ``.`` in it (the dot
            separates a model name from a pretrained tag).

    Example:
        >>> @cnnzoo.register_model(family="mine", input_size=(3, 64, 64),
        ...                        num_classes=10)
        ... def tiny_net(num_classes=10, in_chans=3):
        ...     return torch.nn.Sequential(torch.nn.Conv2d(in_chans, 8, 3),
        ...                                torch.nn.Flatten(),
        ...                                torch.nn.LazyLinear(num_classes))
        >>> model = cnnzoo.create("tiny_net")
    """

    def decorate(builder: Builder) -> Builder:
        model_name = name or builder.__name__
        if not isinstance(model_name, str) or not model_name or any(c.isspace() or c in "/\\" for c in model_name) \
                or model_name.startswith(("~", "hf-hub:")):
            raise RegistryError(
                f"A model name is a word such as 'my_net', without spaces or path separators, so that "
                f"cnnzoo.create never reads it as a path; got {model_name!r}."
            )
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
                    raise CnnzooTypeError(
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
        tags = {tag.tag: dataclasses.replace(tag, model=model_name) for tag in weights}
        if builder.__module__.startswith("cnnzoo.models."):
            # timm's weights were checked against cnnzoo's architecture of that name, not a user's own "resnet50"
            for tag in TIMM_TAGS.get(model_name, ()):
                tags.setdefault(tag.tag, dataclasses.replace(tag, model=model_name))
        PRETRAINED.pop(model_name, None)
        DEFAULT_TAGS.pop(model_name, None)
        if tags:
            PRETRAINED[model_name] = tags
            DEFAULT_TAGS[model_name] = "tv_in1k" if "tv_in1k" in tags else next(iter(tags))
        _REGISTRY[model_name] = ModelEntry(
            name=model_name,
            builder=build,
            family=family or builder.__module__.rsplit(".", 1)[-1],
            paper=paper,
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
    license: str | Iterable[str] | None = None,
) -> list[str]:
    """Names of registered models, sorted naturally (``resnet18`` before ``resnet101``).

    Args:
        pattern: shell-style wildcard(s) the name must match (``"resnet*"``, ``["vgg1?", "*bn"]``).
        exclude: wildcard(s) that remove names from the result.
        pretrained: list ``name.tag`` for every set of published weights instead of bare names; the
            patterns then match either the bare name or ``name.tag``.
        license: with ``pretrained=True``, only weights whose license matches these wildcard(s)
            (``"apache-2.0"``, ``["bsd-*", "apache-*"]``); ``get_tag(name, tag).license`` gives a tag's.

    Raises:
        CnnzooValueError: for a pattern that is not a string, or ``license`` without ``pretrained=True``.

    Example:
        >>> cnnzoo.list_models("densenet*")
        ['densenet121', 'densenet161', 'densenet169', 'densenet201', 'densenet264']
        >>> cnnzoo.list_models("resnet50*", pretrained=True)[:3]
        ['resnet50.tv_in1k', 'resnet50.tv2_in1k', 'resnet50.a1_in1k']
        >>> # the weights published for non-commercial use only
        >>> for name in cnnzoo.list_models("resnext101_32x8d", pretrained=True,
        ...                                license="cc-by-nc-*"):
        ...     print(name)
        resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k
        resnext101_32x8d.fb_swsl_ig1b_ft_in1k
        resnext101_32x8d.fb_wsl_ig1b_ft_in1k
    """

    def as_list(value: str | Iterable[str] | None) -> list[str]:
        if value is None:
            return []
        patterns = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
        if not all(isinstance(p, str) for p in patterns):
            raise CnnzooValueError(f"Patterns are strings such as 'resnet*' (or a list of them); got {value!r}.")
        return patterns

    include, excluded, licenses = as_list(pattern), as_list(exclude), as_list(license)
    if licenses and not pretrained:
        raise CnnzooValueError(f"license={license!r} selects published weights; pass pretrained=True with it.")

    def matches(candidates: tuple[str, ...], patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns)

    names = [n for n in _REGISTRY if not include or matches((n,), include) or pretrained]
    names = sorted(names, key=_natural_key)
    if not pretrained:
        return [n for n in names if not matches((n,), excluded)]
    # each model's tags in the table's order, its default tag first
    tagged = [(f"{n}.{t}", n) for n in names for t in tags_of(n)
              if not licenses or matches((PRETRAINED[n][t].license,), licenses)]
    return [c[0] for c in tagged if (not include or matches(c, include)) and not matches(c, excluded)]


def tags_of(model_name: str) -> list[str]:
    """The pretrained tags published for ``model_name`` (empty when there are none)."""
    return list(PRETRAINED.get(model_name, {}))


def get_tag(model_name: str, tag: str | None = None) -> PretrainedTag:
    """The table entry of ``model_name.tag`` (``tag=None``: the default tag).

    Raises:
        WeightsError: when the model has no published weights or no tag of that name.
    """
    tags = PRETRAINED.get(model_name)
    if not tags:
        with_weights = ", ".join(sorted(PRETRAINED))
        raise WeightsError(
            f"No pretrained weights are published for {model_name!r}. Train it from scratch "
            f"(pretrained=False), load your own file with pretrained=PATH, or pick a model that has "
            f"weights: {with_weights}."
        )
    tag = tag or DEFAULT_TAGS[model_name]
    if tag not in tags:
        raise WeightsError(
            f"{model_name!r} has no pretrained tag {tag!r}; its tags are: {', '.join(tags)} "
            f"(default {DEFAULT_TAGS[model_name]!r})."
        )
    return tags[tag]


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered model, or ``name.tag`` a published set of its weights."""
    if not isinstance(name, str):
        return False
    if name in _REGISTRY:
        return True
    model_name, _, tag = name.rpartition(".")
    return model_name in _REGISTRY and tag in tags_of(model_name)


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


def split_name(name: str) -> tuple[str, str | None]:
    """``"resnet50.tv2_in1k"`` as ``("resnet50", "tv2_in1k")``, ``"resnet50"`` as ``("resnet50", None)``, as
    :func:`cnnzoo.create` reads a name (a '.' is never part of a registered name: it separates the tag);
    raises :class:`~cnnzoo.UnknownModelError` for a name ending in '.', starting with one, or holding two.
    Neither part is looked up."""
    if "." not in name:
        return name, None
    model_name, _, tag = name.rpartition(".")
    if not model_name or "." in model_name:
        raise UnknownModelError(
            f"{name!r} is neither NAME nor NAME.TAG: a model's name has no '.', and one '.' joins it to a tag, "
            f"as in 'resnet50.tv2_in1k' (cnnzoo.list_models(pretrained=True) lists them). A saved model's "
            f"folder is passed as a path: './{name}'.")
    if not tag:
        raise UnknownModelError(f"{name!r} ends in a '.' with no tag after it; write {model_name!r} or "
                                f"'{model_name}.TAG' (cnnzoo.list_models(pretrained=True) lists the tags).")
    return model_name, tag


def _split_tag(name: str) -> tuple[str, str | None]:
    """:func:`split_name`, raising as :func:`cnnzoo.create` does for a model that is not registered or a tag
    it has not published."""
    if not isinstance(name, str):
        get_entry(name)  # the error for a name that is not a string
    model_name, tag = split_name(name)
    get_entry(model_name)
    if tag is not None:
        get_tag(model_name, tag)  # a WeightsError lists the model's tags
    return model_name, tag


def _with_weights_cfg(model: nn.Module, weights_cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``default_cfg`` the model has once weights of ``weights_cfg`` are loaded into it, as
    :func:`cnnzoo.pretrained.apply_pretrained_cfg` sets it: the model's own method where it has one (which
    adapts the channels to its ``in_chans``), else the weights' entries over a registered plain module's
    description, its class count kept."""
    apply = getattr(model, "apply_pretrained_cfg", None)
    if callable(apply):
        apply(weights_cfg)
        return dict(model.default_cfg)
    return {**model.default_cfg, **{k: v for k, v in weights_cfg.items() if k != "num_classes"}}


@functools.lru_cache(maxsize=None)
def _cached_info(name: str, tag: str | None, frozen_kwargs: tuple[tuple[str, Any], ...]) -> ModelInfo:
    entry = get_entry(name)
    kwargs = dict(frozen_kwargs)
    weights = get_tag(name, tag) if tag is not None else None
    if weights is not None:
        kwargs = {**weights.model_args, **kwargs}  # what the weights need, unless the caller says otherwise
    with torch.device("meta"):
        model = entry.builder(**kwargs)
    cfg = model.default_cfg
    if weights is not None:
        cfg = _with_weights_cfg(model, weights.cfg())
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
        pretrained_tags=tuple(PRETRAINED.get(entry.name, {}).values()),
        default_tag=DEFAULT_TAGS.get(entry.name),
        tag=tag,
    )


def model_info(name: str, **kwargs: Any) -> ModelInfo:
    """Describe a registered network without allocating its weights.

    Args:
        name: registered model name; ``"name.tag"`` for the model with those weights, as
            :func:`create` builds it: the input size, normalisation, interpolation and crop are then the
            weights' (``ModelInfo.tag`` says which), and the FLOPs are counted at their input size.
        **kwargs: arguments of :func:`create` (``num_classes=5``, ``in_chans=1``) to describe that
            configuration instead of the default.

    Raises:
        UnknownModelError: for a name that is not registered (the message lists close matches).
        WeightsError: for a tag the model has not published (the message lists its tags).

    Example:
        >>> cnnzoo.model_info("resnet50").parameters
        25557032
        >>> info = cnnzoo.model_info("resnet50.a1_in1k")
        >>> info.input_size, info.interpolation
        ((3, 288, 288), 'bicubic')
    """
    model_name, tag = _split_tag(name)
    for key in ("num_classes", "in_chans"):
        if kwargs.get(key) is not None:
            check_positive_int(key, kwargs[key])
    frozen = tuple(sorted((k, v) for k, v in kwargs.items() if v is not None))
    return _cached_info(model_name, tag, frozen)
