"""Building a network: from a registered name, a folder written by save_pretrained, or the Hugging Face Hub.

A source is explicit: a registered name (``"resnet50"``, ``"resnet50.tv2_in1k"``) always means the
registered network; a folder is a path (:func:`cnnzoo.pretrained.is_path`); ``hf-hub:ORG/REPO`` names a
Hub repository. The registry says what each name is; :mod:`cnnzoo.pretrained` fetches and loads weights.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from cnnzoo import pretrained as pretrained_module
from cnnzoo.errors import (
    MAX_CHANNELS, CnnzooValueError, UnknownModelError, WeightsError, check_class_count, check_out_indices, check_positive_int,
)
from cnnzoo.registry import ModelEntry, get_entry, get_tag, split_name, tags_of

__all__ = ["create"]


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
        >>> # torchvision's V2 weights, all but the classifier (fc)
        >>> model = cnnzoo.create("resnet50.tv2_in1k", num_classes=37)
    """
    if num_classes is not None:
        kwargs["num_classes"] = check_class_count(num_classes)
    if in_chans is not None:
        kwargs["in_chans"] = check_positive_int("in_chans", in_chans, MAX_CHANNELS)
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
        check_out_indices(out_indices)  # before anything is built or downloaded
    if pretrained_module.is_path(name) or os.fspath(name).startswith(pretrained_module.HF_PREFIX):
        return _create_from_saved(os.fspath(name), pretrained, kwargs, features_only, out_indices)
    name = os.fspath(name)

    model_name, tag = split_name(name)
    entry = _get_entry_or_folder_hint(model_name)
    source: bool | str | None = None
    tag_entry = None
    if tag is not None:
        tag_entry = get_tag(model_name, tag)
        if isinstance(pretrained, str) and pretrained != tag:
            raise WeightsError(f"{name!r} names the tag {tag!r} but pretrained={pretrained!r}; give one of them.")
        source = False if pretrained is False else tag_entry.tag
    elif pretrained is True:
        tag_entry = get_tag(model_name)
        source = tag_entry.tag
    elif isinstance(pretrained, os.PathLike):
        source = os.fspath(pretrained)
    elif isinstance(pretrained, str):
        if pretrained in tags_of(model_name):
            tag_entry = get_tag(model_name, pretrained)
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


def _is_folder(path: str) -> bool:
    try:
        return Path(path).expanduser().is_dir()
    except (OSError, RuntimeError):  # too long, or ~user of an unknown user
        return False


def _get_entry_or_folder_hint(name: str) -> ModelEntry:
    """get_entry, naming the way to a saved model when a folder of that name exists and the name is not registered."""
    try:
        return get_entry(name)
    except UnknownModelError:
        try:
            saved = pretrained_module.is_saved_directory(Path(name))
        except (OSError, RuntimeError):  # a name too long for a path, say: then it is no folder
            saved = False
        if not saved:
            raise
    raise UnknownModelError(
        f"{name!r} is not a registered model, but a folder of that name holds a saved model. A bare name "
        f"always means a registered network; to load the folder, pass its path: cnnzoo.create('./{name}')."
    )


def _create_from_saved(name: str, pretrained: bool | str | None, kwargs: dict[str, Any], features_only: bool,
                       out_indices: Sequence[int] | None) -> nn.Module:
    """Rebuild a model from a save_pretrained directory or Hub repository, and load its weights."""
    if pretrained not in (None, True, False):
        raise WeightsError(f"{name!r} brings its own weights; leave pretrained unset (or False for none).")
    if not name.startswith(pretrained_module.HF_PREFIX) and not _is_folder(name):
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
        pretrained_module.apply_pretrained_cfg(model, saved_cfg)
    return _features(model, features_only, out_indices)
