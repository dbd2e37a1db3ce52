"""What a set of published weights is: the metadata each family declares beside its builders.

A family's builder names its weights at registration, as torchvision's weights enums and timm's
``default_cfgs`` do::

    @register_model(paper=_RESNET, weights=[
        torchvision_tag("tv_in1k", "https://download.pytorch.org/models/resnet50-0676ba61.pth",
                        hub="timm/resnet50.tv_in1k", license="bsd-3-clause", top1=76.13, top5=92.862, resize=256),
    ])
    def resnet50(**kwargs): ...

The registry fills in the model's name, and adds the other weights timm publishes for cnnzoo's own
architectures from :mod:`cnnzoo.weights_timm` (a table generated from timm's pretrained configurations; a
family's own declaration of a tag wins); :mod:`cnnzoo.pretrained` fetches, checks and loads the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.hub import HASH_REGEX

from cnnzoo._cfg import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["HF_PREFIX", "PretrainedTag", "torchvision_tag"]

HF_PREFIX = "hf-hub:"


@dataclass(frozen=True)
class PretrainedTag:
    """One set of published weights for one architecture.

    Attributes:
        tag: the tag, as timm names it (``tv_in1k``: torchvision's first ImageNet weights; ``tv2_in1k``: its
            improved recipe; ``fb_*``: Facebook's weakly and semi-supervised ones; ``gluon_in1k``: GluonCV's;
            other tags: timm's own training, ``a1_in1k`` to ``a3_in1k`` the "ResNet strikes back" recipes).
        hf_hub_id: the Hugging Face repository holding ``model.safetensors``, or None.
        url: the publisher's download URL (with the SHA-256 prefix in its file name), or None.
        publisher: who trained and reports the weights (``torchvision``, ``timm``, ``facebook``, ``gluoncv``).
        license: the license the weights are published under; some are for non-commercial use only
            (``cc-by-nc-4.0``: the ``fb_*`` weights).
        top1: reported ImageNet-1k top-1 accuracy, in percent; None where none is published.
        top5: reported ImageNet-1k top-5 accuracy, in percent, or None.
        accuracy_by: who measured ``top1``/``top5``: None for the publisher, ``"timm"`` for timm's
            published validation results (its results-imagenet.csv), which cover every tag timm hosts.
        resize: evaluation resize of the shorter side, in pixels.
        crop: evaluation centre crop, in pixels: the resolution the weights are reported at (for timm's,
            its ``test_input_size`` where it has one, else its ``input_size``).
        crop_pct: the crop fraction the publisher gives (timm's ``test_crop_pct`` or ``crop_pct``), with
            ``resize = floor(crop / crop_pct)`` as timm's transforms compute it; None: ``crop / resize``.
        train_size: the side the weights were trained at, where it is smaller than ``crop`` (timm's
            ``input_size`` beside a larger ``test_input_size``: fine-tune at this size); None when unknown
            or the same.
        interpolation: resize interpolation.
        mean: normalisation mean.
        std: normalisation standard deviation.
        num_classes: classifier outputs of the checkpoint.
        model_args: architecture options the weights need (GoogLeNet's ``transform_input``).
        sha256: the published SHA-256 of the Hub file, where known: the cached file must have it.
        model: the cnnzoo model name (filled in by :func:`cnnzoo.register_model`).
    """

    tag: str
    hf_hub_id: str | None = None
    url: str | None = None
    publisher: str = "torchvision"
    license: str = "bsd-3-clause"
    top1: float | None = None
    top5: float | None = None
    accuracy_by: str | None = None
    resize: int = 256
    crop: int = 224
    crop_pct: float | None = None
    train_size: int | None = None
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    num_classes: int = 1000
    model_args: Mapping[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    model: str = ""

    @property
    def name(self) -> str:
        """``model.tag``."""
        return f"{self.model}.{self.tag}"

    @property
    def source(self) -> str:
        """Where the file is fetched from: ``hf-hub:ORG/REPO`` or the URL."""
        return f"{HF_PREFIX}{self.hf_hub_id}" if self.hf_hub_id else str(self.url)

    @property
    def sha256_prefix(self) -> str | None:
        """The SHA-256 prefix in the URL's file name (``resnet50-0676ba61.pth``), or None: read with
        ``torch.hub.HASH_REGEX``, as ``torch.hub.load_state_dict_from_url(check_hash=True)`` reads it."""
        if not self.url:
            return None
        match = HASH_REGEX.search(Path(self.url).name)
        return match.group(1) if match and match.group(1) else None

    def cfg(self) -> dict[str, Any]:
        """The input configuration these weights expect, in ``default_cfg`` form."""
        return {
            "input_size": (3, self.crop, self.crop),
            "crop_pct": self.crop_pct if self.crop_pct is not None else self.crop / self.resize,
            "resize": self.resize,
            "interpolation": self.interpolation,
            "mean": tuple(self.mean),
            "std": tuple(self.std),
            "num_classes": self.num_classes,
            "tag": self.tag,
            "source": self.source,
            "license": self.license,
        }


def torchvision_tag(tag: str, url: str, *, hub: str | None, license: str, top1: float, top5: float, resize: int,
                    crop: int = 224, interpolation: str = "bilinear", **model_args: Any) -> PretrainedTag:
    """torchvision's weights: its download URL and, where timm republishes them, the Hub copy.

    URLs, accuracies and licenses as the installed torchvision (weights enums: ``url``, ``meta["_metrics"]``,
    ``transforms()``) and timm (pretrained cfgs: ``hf_hub_id``, ``license``) publish them;
    tests/test_pretrained.py checks each against those packages.
    """
    return PretrainedTag(tag=tag, hf_hub_id=hub, url=url, publisher="torchvision", license=license, top1=top1,
                         top5=top5, resize=resize, crop=crop, interpolation=interpolation, model_args=model_args)
