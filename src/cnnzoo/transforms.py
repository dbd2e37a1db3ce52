"""The image transforms that match a network's weights: resize, crop and normalisation as their publisher evaluated."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from torchvision.transforms import v2

__all__ = ["transforms_for"]


def transforms_for(model_or_name: nn.Module | str, train: bool = False) -> v2.Compose:
    """torchvision transforms from a PIL image (or uint8 tensor) to the normalised tensor the model expects.

    For evaluation: resize the shorter side to ``crop / crop_pct`` pixels, centre-crop ``crop`` pixels,
    scale to [0, 1] and normalise with the weights' mean and std -- torchvision's own evaluation recipe
    for its weights (resize 256, crop 224 for ``tv_in1k``; 232 and 224 for ``tv2_in1k``). For training,
    the augmentation of the network's paper (``default_cfg["train_augment"]``): a random resized crop and
    a horizontal flip for ImageNet networks, 4-pixel padding with a random crop and a flip for the CIFAR
    networks, none for LeNet-5's digits; then the same normalisation. Single-channel models get a
    greyscale conversion first.

    Args:
        model_or_name: a model (its ``default_cfg``, updated by the weights it loaded) or a name such as
            ``"resnet50"`` or ``"resnet50.tv2_in1k"``.
        train: the training transforms instead of the evaluation ones.

    Example:
        >>> preprocess = cnnzoo.transforms_for("resnet50.tv2_in1k")
        >>> batch = preprocess(pil_image).unsqueeze(0)   # doctest: +SKIP
    """
    # imported here: torchvision's transforms take seconds to import, and `import cnnzoo` need not pay
    from torchvision.transforms import InterpolationMode, v2

    cfg = _cfg_of(model_or_name)
    channels, height, width = cfg["input_size"]
    interpolation = InterpolationMode(cfg.get("interpolation", "bilinear"))
    # Geometry first, so a PIL image is resized by PIL exactly as torchvision's own weight transforms do.
    steps: list[nn.Module] = []
    if channels == 1:
        steps.append(v2.Grayscale(num_output_channels=1))
    augment = cfg.get("train_augment", "random_resized_crop")
    if train and augment == "random_resized_crop":
        steps += [v2.RandomResizedCrop((height, width), interpolation=interpolation, antialias=True),
                  v2.RandomHorizontalFlip()]
    elif train and augment == "pad_crop":
        # He et al. 2016, section 4.2: pad 4 pixels on each side, crop 32x32 at random, flip
        steps += [v2.Resize((height, width), interpolation=interpolation, antialias=True),
                  v2.RandomCrop((height, width), padding=4), v2.RandomHorizontalFlip()]
    elif train:
        steps += [v2.Resize((height, width), interpolation=interpolation, antialias=True)]
    else:
        resize = cfg.get("resize") or math.floor(min(height, width) / cfg.get("crop_pct", 1.0))
        steps += [v2.Resize(resize, interpolation=interpolation, antialias=True), v2.CenterCrop((height, width))]
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
              v2.Normalize(mean=list(cfg["mean"]), std=list(cfg["std"]))]
    return v2.Compose(steps)


def _cfg_of(model_or_name: nn.Module | str) -> dict:
    if isinstance(model_or_name, nn.Module):
        cfg = getattr(model_or_name, "default_cfg", None)
        if not cfg:
            from cnnzoo.errors import CnnzooValueError

            raise CnnzooValueError(f"{type(model_or_name).__name__} has no default_cfg, which says the input it expects "
                                   "(size, mean, std, crop): pass a registered name, or a model cnnzoo.create built "
                                   "from one (cnnzoo.register_model describes a plain module's input).")
        return dict(cfg)
    if not isinstance(model_or_name, str):
        from cnnzoo.errors import CnnzooValueError

        raise CnnzooValueError(
            f"transforms_for takes a model or a model name such as 'resnet50.tv2_in1k'; got {type(model_or_name).__name__}."
        )
    from cnnzoo import factory, registry

    with torch.device("meta"):
        cfg = dict(factory.create(model_or_name.rpartition(".")[0] if "." in model_or_name else model_or_name,
                                   pretrained=False).default_cfg)
    if "." in model_or_name:
        model_name, _, tag = model_or_name.rpartition(".")
        cfg.update(registry.get_tag(model_name, tag).cfg())
    return cfg
