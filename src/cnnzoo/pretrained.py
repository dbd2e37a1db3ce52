"""Pretrained weights: where they come from, how they are checked, remapped and loaded -- completely or not at all.

Sources, in one table (:data:`PRETRAINED`): the safetensors copies timm publishes on the Hugging Face Hub
(``timm/<model>.<tag>``; the ``tv_in1k``/``tv2_in1k`` tags hold torchvision's ImageNet weights), fetched
with huggingface_hub and its cache; and torchvision's download URLs for networks not on the Hub
(AlexNet, GoogLeNet), kept in torch.hub's cache folder so files torchvision already downloaded are
reused, each checked against the SHA-256 prefix in its file name.

What is checked, and against what (the threat model): files that changed after download -- corrupted,
truncated, or replaced by hand or by another program. A torchvision URL's file must match the SHA-256
prefix in its name. A Hugging Face cache file must be the cache's own link to a blob that hashes to its
name (a plain file in its place, a link out of the cache or a blob changed in place is refused) and, where
the table pins the publisher's SHA-256 (``PretrainedTag.sha256``), have that digest: only a pinned digest
tells a foreign file, renamed to its own hash and relinked, from the published one. Local files are the
user's own and are only read strictly.

Loading never drops a key silently. Weights pass through the model's ``checkpoint_filter`` (which turns
other libraries' layouts into ours), a class layer of another class count (differing in its first
dimension alone) is replaced by a fresh one (logged), a first convolution for another channel count is
adapted (logged), and everything else must match exactly -- names, shapes, floating point or not -- or
:class:`~cnnzoo.WeightsError` lists the missing, unexpected, mis-shaped and mis-typed keys and the model
is left untouched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import pickle
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from cnnzoo._cfg import IMAGENET_MEAN, IMAGENET_STD
from cnnzoo.errors import WeightsError

__all__ = [
    "PretrainedTag",
    "PRETRAINED",
    "DEFAULT_TAGS",
    "LoadReport",
    "tags_of",
    "get_tag",
    "load_pretrained",
    "save_pretrained",
    "push_to_hub",
    "read_config",
    "is_offline",
]

logger = logging.getLogger(__name__)

HF_PREFIX = "hf-hub:"
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.")


@dataclass(frozen=True)
class PretrainedTag:
    """One set of published weights for one architecture.

    Attributes:
        model: the cnnzoo model name.
        tag: the tag (``tv_in1k``: torchvision's first ImageNet weights; ``tv2_in1k``: its improved
            recipe; other tags: timm's own training).
        hf_hub_id: the Hugging Face repository holding ``model.safetensors``, or None.
        url: the publisher's download URL (with the SHA-256 prefix in its file name), or None.
        publisher: who trained and reports the weights.
        license: the license the weights are published under.
        top1: ImageNet-1k top-1 accuracy the publisher reports, in percent.
        top5: ImageNet-1k top-5 accuracy the publisher reports, in percent.
        resize: evaluation resize of the shorter side, in pixels.
        crop: evaluation centre crop, in pixels (also the training input size).
        interpolation: resize interpolation.
        mean: normalisation mean.
        std: normalisation standard deviation.
        num_classes: classifier outputs of the checkpoint.
        model_args: architecture options the weights need (GoogLeNet's ``transform_input``).
        sha256: the published SHA-256 of the Hub file, where known: the cached file must have it.
    """

    model: str
    tag: str
    hf_hub_id: str | None = None
    url: str | None = None
    publisher: str = "torchvision"
    license: str = "bsd-3-clause"
    top1: float | None = None
    top5: float | None = None
    resize: int = 256
    crop: int = 224
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    num_classes: int = 1000
    model_args: Mapping[str, Any] = field(default_factory=dict)
    sha256: str | None = None

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
        """The hash prefix in the URL's file name (torchvision's convention), or None."""
        if not self.url:
            return None
        match = _HASH_IN_NAME.search(Path(self.url).name)
        return match.group(1) if match else None

    def cfg(self) -> dict[str, Any]:
        """The input configuration these weights expect, in ``default_cfg`` form."""
        return {
            "input_size": (3, self.crop, self.crop),
            "crop_pct": self.crop / self.resize,
            "resize": self.resize,
            "interpolation": self.interpolation,
            "mean": tuple(self.mean),
            "std": tuple(self.std),
            "num_classes": self.num_classes,
            "tag": self.tag,
            "source": self.source,
            "license": self.license,
        }


def _tv(model: str, tag: str, url: str, *, hub: str | None, license: str, top1: float, top5: float,
        resize: int, crop: int = 224, interpolation: str = "bilinear", **model_args: Any) -> PretrainedTag:
    return PretrainedTag(model=model, tag=tag, hf_hub_id=hub, url=url, publisher="torchvision", license=license,
                         top1=top1, top5=top5, resize=resize, crop=crop, interpolation=interpolation,
                         model_args=model_args)


# Repository ids, URLs, licenses and accuracies as the installed torchvision (weights enums: url,
# meta["_metrics"], transforms()) and timm (pretrained cfgs: hf_hub_id, license; results-imagenet.csv for
# timm's own weights) publish them; tests/test_pretrained.py checks each against those packages.
_TABLE: tuple[PretrainedTag, ...] = (
    _tv("alexnet", "tv_in1k", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", hub=None, license="bsd-3-clause", top1=56.522, top5=79.066, resize=256),
    _tv("densenet121", "tv_in1k", "https://download.pytorch.org/models/densenet121-a639ec97.pth", hub="timm/densenet121.tv_in1k", license="apache-2.0", top1=74.434, top5=91.972, resize=256),
    _tv("densenet161", "tv_in1k", "https://download.pytorch.org/models/densenet161-8d451a50.pth", hub="timm/densenet161.tv_in1k", license="apache-2.0", top1=77.138, top5=93.56, resize=256),
    _tv("densenet169", "tv_in1k", "https://download.pytorch.org/models/densenet169-b2777c0a.pth", hub="timm/densenet169.tv_in1k", license="apache-2.0", top1=75.6, top5=92.806, resize=256),
    _tv("densenet201", "tv_in1k", "https://download.pytorch.org/models/densenet201-c1103571.pth", hub="timm/densenet201.tv_in1k", license="apache-2.0", top1=76.896, top5=93.37, resize=256),
    _tv("googlenet", "tv_in1k", "https://download.pytorch.org/models/googlenet-1378be20.pth", hub=None, license="bsd-3-clause", top1=69.778, top5=89.53, resize=256, transform_input=True),
    _tv("resnet18", "tv_in1k", "https://download.pytorch.org/models/resnet18-f37072fd.pth", hub="timm/resnet18.tv_in1k", license="bsd-3-clause", top1=69.758, top5=89.078, resize=256),
    _tv("resnet34", "tv_in1k", "https://download.pytorch.org/models/resnet34-b627a593.pth", hub="timm/resnet34.tv_in1k", license="bsd-3-clause", top1=73.314, top5=91.42, resize=256),
    _tv("resnet50", "tv_in1k", "https://download.pytorch.org/models/resnet50-0676ba61.pth", hub="timm/resnet50.tv_in1k", license="bsd-3-clause", top1=76.13, top5=92.862, resize=256),
    _tv("resnet50", "tv2_in1k", "https://download.pytorch.org/models/resnet50-11ad3fa6.pth", hub="timm/resnet50.tv2_in1k", license="bsd-3-clause", top1=80.858, top5=95.434, resize=232),
    _tv("resnet101", "tv_in1k", "https://download.pytorch.org/models/resnet101-63fe2227.pth", hub="timm/resnet101.tv_in1k", license="bsd-3-clause", top1=77.374, top5=93.546, resize=256),
    _tv("resnet101", "tv2_in1k", "https://download.pytorch.org/models/resnet101-cd907fc2.pth", hub="timm/resnet101.tv2_in1k", license="bsd-3-clause", top1=81.886, top5=95.78, resize=232),
    _tv("resnet152", "tv_in1k", "https://download.pytorch.org/models/resnet152-394f9c45.pth", hub="timm/resnet152.tv_in1k", license="bsd-3-clause", top1=78.312, top5=94.046, resize=256),
    _tv("resnet152", "tv2_in1k", "https://download.pytorch.org/models/resnet152-f82ba261.pth", hub="timm/resnet152.tv2_in1k", license="bsd-3-clause", top1=82.284, top5=96.002, resize=232),
    _tv("resnext50_32x4d", "tv_in1k", "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth", hub="timm/resnext50_32x4d.tv_in1k", license="bsd-3-clause", top1=77.618, top5=93.698, resize=256),
    _tv("resnext50_32x4d", "tv2_in1k", "https://download.pytorch.org/models/resnext50_32x4d-1a0047aa.pth", hub="timm/resnext50_32x4d.tv2_in1k", license="bsd-3-clause", top1=81.198, top5=95.34, resize=232),
    _tv("resnext101_32x8d", "tv_in1k", "https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth", hub="timm/resnext101_32x8d.tv_in1k", license="bsd-3-clause", top1=79.312, top5=94.526, resize=256),
    _tv("resnext101_32x8d", "tv2_in1k", "https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth", hub="timm/resnext101_32x8d.tv2_in1k", license="bsd-3-clause", top1=82.834, top5=96.228, resize=232),
    _tv("resnext101_64x4d", "tv_in1k", "https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth", hub="timm/resnext101_64x4d.tv_in1k", license="bsd-3-clause", top1=83.246, top5=96.454, resize=232),
    _tv("vgg11", "tv_in1k", "https://download.pytorch.org/models/vgg11-8a719046.pth", hub="timm/vgg11.tv_in1k", license="bsd-3-clause", top1=69.02, top5=88.628, resize=256),
    _tv("vgg11_bn", "tv_in1k", "https://download.pytorch.org/models/vgg11_bn-6002323d.pth", hub="timm/vgg11_bn.tv_in1k", license="bsd-3-clause", top1=70.37, top5=89.81, resize=256),
    _tv("vgg13", "tv_in1k", "https://download.pytorch.org/models/vgg13-19584684.pth", hub="timm/vgg13.tv_in1k", license="bsd-3-clause", top1=69.928, top5=89.246, resize=256),
    _tv("vgg13_bn", "tv_in1k", "https://download.pytorch.org/models/vgg13_bn-abd245e5.pth", hub="timm/vgg13_bn.tv_in1k", license="bsd-3-clause", top1=71.586, top5=90.374, resize=256),
    _tv("vgg16", "tv_in1k", "https://download.pytorch.org/models/vgg16-397923af.pth", hub="timm/vgg16.tv_in1k", license="bsd-3-clause", top1=71.592, top5=90.382, resize=256),
    _tv("vgg16_bn", "tv_in1k", "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth", hub="timm/vgg16_bn.tv_in1k", license="bsd-3-clause", top1=73.36, top5=91.516, resize=256),
    _tv("vgg19", "tv_in1k", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", hub="timm/vgg19.tv_in1k", license="bsd-3-clause", top1=72.376, top5=90.876, resize=256),
    _tv("vgg19_bn", "tv_in1k", "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth", hub="timm/vgg19_bn.tv_in1k", license="bsd-3-clause", top1=74.218, top5=91.842, resize=256),
    _tv("wide_resnet50_2", "tv_in1k", "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth", hub="timm/wide_resnet50_2.tv_in1k", license="bsd-3-clause", top1=78.468, top5=94.086, resize=256),
    _tv("wide_resnet50_2", "tv2_in1k", "https://download.pytorch.org/models/wide_resnet50_2-9ba9bcbe.pth", hub="timm/wide_resnet50_2.tv2_in1k", license="bsd-3-clause", top1=81.602, top5=95.758, resize=232),
    _tv("wide_resnet101_2", "tv_in1k", "https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth", hub="timm/wide_resnet101_2.tv_in1k", license="bsd-3-clause", top1=78.848, top5=94.284, resize=256),
    _tv("wide_resnet101_2", "tv2_in1k", "https://download.pytorch.org/models/wide_resnet101_2-d733dc28.pth", hub="timm/wide_resnet101_2.tv2_in1k", license="bsd-3-clause", top1=82.51, top5=96.02, resize=232),
    # timm's own SE-ResNet-50 (RandAugment recipe); accuracy as timm's results table reports it, at 288px
    PretrainedTag("seresnet50", "ra2_in1k", hf_hub_id="timm/seresnet50.ra2_in1k",
                  url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet50_ra_224-8efdb4bb.pth",
                  publisher="timm", license="apache-2.0", top1=81.284, top5=95.652, resize=303, crop=288,
                  interpolation="bicubic"),
)

#: ``{model: {tag: PretrainedTag}}`` for every published set of weights.
PRETRAINED: dict[str, dict[str, PretrainedTag]] = {}
for _entry in _TABLE:
    PRETRAINED.setdefault(_entry.model, {})[_entry.tag] = _entry

#: The tag ``pretrained=True`` loads: torchvision's original ImageNet weights, which the classic
#: tutorials' ``pretrained=True`` meant, where they exist.
DEFAULT_TAGS: dict[str, str] = {
    model: ("tv_in1k" if "tv_in1k" in tags else next(iter(tags))) for model, tags in PRETRAINED.items()
}


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


# -- fetching ------------------------------------------------------------------------------------------


def is_offline() -> bool:
    """Whether downloads are off: ``HF_HUB_OFFLINE=1`` (huggingface_hub's switch) or ``CNNZOO_OFFLINE=1``."""
    from huggingface_hub import constants

    flag = os.environ.get("CNNZOO_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return flag or bool(constants.is_offline_mode())


def _hf_download(repo_id: str, filename: str, *, what: str, pinned_sha256: str | None = None) -> Path:
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        path = Path(hf_hub_download(repo_id=repo_id, filename=filename))
    except LocalEntryNotFoundError as exc:
        raise WeightsError(
            f"{what}: {filename} of {repo_id} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
            f"{'downloads are off (HF_HUB_OFFLINE=1)' if is_offline() else 'it could not be downloaded'}. "
            f"On a machine with a network, run `hf download {repo_id} {filename}` (it fills the same cache; "
            f"copy the cache over), or pass pretrained=PATH to a local copy of the file."
        ) from exc
    except EntryNotFoundError as exc:
        raise WeightsError(f"{what}: the repository {repo_id} has no file {filename}.") from exc
    except Exception as exc:  # network, authentication, missing repository
        raise WeightsError(f"{what}: downloading {filename} from {repo_id} failed: {exc}") from exc
    _verify_hub_blob(path, pinned_sha256)
    return path


_SHA256_NAME = re.compile(r"[0-9a-f]{64}")
_GIT_SHA1_NAME = re.compile(r"[0-9a-f]{40}")


def _verify_hub_blob(path: Path, pinned_sha256: str | None = None) -> None:
    """Check a file huggingface_hub returned from its cache before anything reads it.

    The threat model: files in the cache that changed after download -- corrupted, truncated, or replaced
    by hand or by another program. The cache keeps each file once, as ``blobs/<hash>`` (SHA-256 for large
    files, the git blob SHA-1 for small ones), and links ``snapshots/<revision>/<name>`` to it. So:

    - a snapshot entry must be a link into the repository's ``blobs/`` folder (where the file system has
      links; huggingface_hub copies files where it has none), not a plain file put in its place;
    - the blob must hash to its own name, so a file changed in place is refused;
    - where the published digest is known (``pinned_sha256``), the blob must have it. Without one, a foreign
      file renamed to its own hash and linked in its place cannot be told from the real one: that takes a
      pinned digest, which the table records where the publisher gives one.
    """
    from huggingface_hub import constants
    from huggingface_hub.file_download import are_symlinks_supported

    repair = f"Delete {path.parent.parent.parent} and download the repository again."
    if not path.is_symlink():
        if are_symlinks_supported(constants.HF_HUB_CACHE):
            raise WeightsError(
                f"{path} is a plain file where the Hugging Face cache keeps a link to a verified blob: it was "
                f"replaced after download, and cnnzoo does not load it. {repair}"
            )
        blob = path
    else:
        blob = path.resolve()
        if blob.parent.name != "blobs" or blob.parent.parent != path.parent.parent.parent.resolve() or not blob.is_file():
            raise WeightsError(f"{path} links to {blob}, outside the cache's blobs of its repository. {repair}")
        if _SHA256_NAME.fullmatch(blob.name):
            verify_hash_prefix(blob, blob.name, shown=path)
        elif _GIT_SHA1_NAME.fullmatch(blob.name):
            data = blob.read_bytes()
            actual = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            if actual != blob.name:
                raise WeightsError(f"{path} fails its hash check: its blob is named {blob.name} but hashes to {actual}. {repair}")
        else:
            raise WeightsError(f"{path} links to {blob.name}, which is not named by its hash as cache blobs are. {repair}")
    if pinned_sha256 is not None and sha256_of(blob) != pinned_sha256:
        raise WeightsError(
            f"{path} is not the published file: its SHA-256 is {sha256_of(blob)}, the publisher's is {pinned_sha256}. "
            f"{repair}"
        )


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_hash_prefix(path: Path, expected_prefix: str, *, shown: Path | None = None) -> None:
    """Refuse a file whose SHA-256 does not start with ``expected_prefix``."""
    actual = sha256_of(path)
    if not actual.startswith(expected_prefix):
        raise WeightsError(
            f"{shown or path} fails its hash check: its name promises a SHA-256 starting with {expected_prefix}, but "
            f"the file's SHA-256 is {actual}. The file is corrupt, truncated or not the published one; "
            f"delete it and download it again."
        )


def _url_download(entry: PretrainedTag) -> Path:
    assert entry.url is not None
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(entry.url).name
    if not target.exists():
        if is_offline():
            raise WeightsError(
                f"{entry.name}: {target} does not exist and downloads are off. Put the file there (torchvision "
                f"keeps it in the same place), or download it on a machine with a network: "
                f"python -c \"import torch; torch.hub.download_url_to_file('{entry.url}', '{target}')\""
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            partial = Path(scratch) / target.name
            try:
                torch.hub.download_url_to_file(entry.url, str(partial), progress=True)
            except Exception as exc:
                raise WeightsError(
                    f"{entry.name}: downloading {entry.url} failed ({exc}). Download it yourself to {target}, "
                    f"or set CNNZOO_OFFLINE=1 and pass pretrained=PATH."
                ) from exc
            if entry.sha256_prefix:
                verify_hash_prefix(partial, entry.sha256_prefix)
            shutil.move(str(partial), target)
        return target
    if entry.sha256_prefix:
        verify_hash_prefix(target, entry.sha256_prefix)
    return target


def _fetch_tag(entry: PretrainedTag) -> Path:
    if entry.hf_hub_id:
        return _hf_download(entry.hf_hub_id, WEIGHTS_NAME, what=entry.name, pinned_sha256=entry.sha256)
    return _url_download(entry)


# -- reading -------------------------------------------------------------------------------------------


#: Suffixes read as torch.save checkpoints (weights_only); ``.safetensors`` is read with safetensors.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")
#: Keys under which training loops (PyTorch Lightning, the PyTorch examples) nest a state_dict.
_WRAPPERS = ("state_dict", "model_state_dict", "model")
#: Prefixes that wrappers add to every key: DistributedDataParallel's and torch.compile's.
_PREFIXES = ("module.", "_orig_mod.")
_LIGHTNING_PREFIX = "model."


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` checkpoint, or a ``torch.save`` one, into a flat state_dict on the CPU.

    Files ending in ``.safetensors`` are read with safetensors; any other file (``.pt``, ``.pth``, ``.bin``,
    ``.ckpt``, ``.tar``) with ``torch.load(weights_only=True)``. A checkpoint dict holding ``state_dict``,
    ``model_state_dict`` or ``model`` (PyTorch Lightning's and the PyTorch examples' layouts) is unwrapped,
    and DistributedDataParallel's ``module.`` and torch.compile's ``_orig_mod.`` prefixes are removed.

    Raises:
        WeightsError: for a missing, truncated, corrupt, foreign or unreadable file, naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Checkpoint {path} does not exist (or is not a file).")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(path), device="cpu")
        except Exception as exc:
            raise WeightsError(
                f"{path} is not a readable safetensors file ({type(exc).__name__}: {exc}); it is truncated or "
                f"corrupt, or not a checkpoint at all. Delete it and download or save it again."
            ) from exc
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling a foreign file raises anything from KeyError to UnicodeDecodeError
            raise WeightsError(
                f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc}); it is truncated, "
                f"corrupt, not a checkpoint at all, or holds more than tensors (only weights_only=True files are "
                f"loaded). Save one with torch.save(model.state_dict(), PATH) or cnnzoo.save_pretrained."
            ) from exc
    for wrapper in _WRAPPERS:
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
            break
    if not isinstance(state, Mapping) or not state or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise WeightsError(
            f"{path} holds no state_dict (a mapping of parameter names to tensors, or one under "
            f"{', '.join(repr(w) for w in _WRAPPERS)})."
        )
    return _strip_prefixes(dict(state), _PREFIXES)


def _strip_prefixes(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Remove each of ``prefixes`` that every key carries, as often as they nest ("module._orig_mod.")."""
    stripped = True
    while stripped and state:
        stripped = False
        for prefix in prefixes:
            if all(k.startswith(prefix) for k in state):
                consume_prefix_in_state_dict_if_present(state, prefix)
                stripped = True
    return state


# -- adapting and loading ------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did.

    Attributes:
        source: the file the weights came from.
        tag: the pretrained tag, if the weights came from the table.
        loaded: keys loaded from the checkpoint.
        reinitialized: classifier keys freshly initialised because the class count differs.
        adapted: keys adapted to another shape (the first convolution for another ``in_chans``).
        missing: model keys the checkpoint lacks (only ever non-empty with ``strict=False``).
    """

    source: str
    tag: str | None = None
    loaded: list[str] = field(default_factory=list)
    reinitialized: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def adapt_input_conv(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Adapt a first-convolution weight trained on RGB to ``in_chans`` channels.

    One channel: the sum over the RGB filters (a grey image then gives what its RGB copy gave). More
    channels: the RGB filters repeated and scaled by ``3 / in_chans`` so activations keep their scale.
    """
    trained = weight.shape[1]
    if in_chans == trained:
        return weight
    if in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(in_chans / trained)
    return weight.repeat(1, repeats, 1, 1)[:, :in_chans] * (trained / in_chans)


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_pretrained(
    model: nn.Module,
    source: str | os.PathLike[str] | bool = True,
    *,
    strict: bool = True,
) -> LoadReport:
    """Load weights into ``model`` completely, or raise.

    Args:
        model: a cnnzoo model (or any ``nn.Module``; then only files and hub repositories apply).
        source: ``True`` for the model's default tag; a tag (``"tv_in1k"``) or ``"model.tag"``; a path to a
            ``.safetensors``/``.pth`` file or to a directory written by :func:`save_pretrained`; or
            ``"hf-hub:ORG/REPO"``.
        strict: with ``False``, keys the checkpoint lacks are left as initialised and listed in the log
            and in the report instead of raising; unexpected and mis-shaped keys still raise.

    Returns:
        A :class:`LoadReport`.

    Raises:
        WeightsError: for weights that cannot be found, read or verified, or that do not fit the model.

    Example:
        >>> model = cnnzoo.create("resnet50", num_classes=5)
        >>> report = cnnzoo.load_pretrained(model, "tv_in1k")   # all but fc; fc stays a fresh 5-way layer
    """
    path, entry = _resolve(model, source)
    state = read_state_dict(path)
    report = LoadReport(source=str(path), tag=entry.tag if entry else None)
    own = model.state_dict()
    # a LightningModule that holds the network as self.model saves every key under "model."
    if not any(k.startswith(_LIGHTNING_PREFIX) for k in own):
        state = _strip_prefixes(state, (_LIGHTNING_PREFIX, *_PREFIXES))
    filter_fn = getattr(model, "checkpoint_filter", None)
    if callable(filter_fn):
        state = filter_fn(state)
    first_conv = (getattr(model, "default_cfg", None) or {}).get("first_conv")
    key = f"{first_conv}.weight" if first_conv else None
    if key in state and key in own and state[key].dim() == 4 and state[key].shape[1] != own[key].shape[1]:
        trained = state[key].shape[1]
        if state[key].shape[0] == own[key].shape[0] and state[key].shape[2:] == own[key].shape[2:]:
            state[key] = adapt_input_conv(state[key], own[key].shape[1])
            report.adapted.append(key)
            logger.info("Adapted %s from %d to %d input channels.", key, trained, own[key].shape[1])

    classifier_keys = set(_classifier_keys(model))
    unexpected = [k for k in state if k not in own]
    missing = [k for k in own if k not in state]
    # a class layer may differ in its class dimension (the first) alone; every other shape must be equal
    mismatched = [k for k in state if k in own and state[k].shape != own[k].shape
                  and not (k in classifier_keys and state[k].shape[1:] == own[k].shape[1:])]
    retyped = [k for k in state if k in own and state[k].is_floating_point() != own[k].is_floating_point()]
    if unexpected or mismatched or retyped or (missing and strict):
        raise WeightsError(_mismatch_message(model, path, own, state, missing, unexpected, mismatched, retyped))

    for k in sorted(classifier_keys & set(state)):
        if state[k].shape != own[k].shape:
            del state[k]
            report.reinitialized.append(k)
    if report.reinitialized:
        logger.info(
            "%s: the checkpoint's classifier has another class count; %s keep their fresh initialisation.",
            type(model).__name__, ", ".join(report.reinitialized),
        )
    model.load_state_dict(state, strict=False)
    report.loaded = sorted(state)
    report.missing = missing
    if missing:
        logger.warning("strict=False: %d keys were not in %s and keep their initialisation: %s",
                       len(missing), path, _describe(missing))
    if entry is not None and hasattr(model, "default_cfg"):
        model.default_cfg = {**model.default_cfg, **{k: v for k, v in entry.cfg().items() if k != "num_classes"},
                             "input_size": (getattr(model, "in_chans", 3), entry.crop, entry.crop)}
    logger.info("Loaded %d tensors from %s.", len(report.loaded), path)
    return report


def _classifier_keys(model: nn.Module) -> list[str]:
    keys_fn = getattr(model, "classifier_keys", None)
    return list(keys_fn()) if callable(keys_fn) else []


def _mismatch_message(model: nn.Module, path: Path, own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor],
                      missing: list[str], unexpected: list[str], mismatched: list[str], retyped: list[str]) -> str:
    architecture = (getattr(model, "default_cfg", None) or {}).get("architecture", type(model).__name__)
    common = len(set(own) & set(state))
    lines = [
        f"{path} does not fit {architecture}: of the checkpoint's {len(state)} tensors, {common} have a name "
        f"the model has (the model has {len(own)})."
    ]
    if missing:
        lines.append(f"Missing from the checkpoint: {_describe(missing)}.")
    if unexpected:
        lines.append(f"Not in the model: {_describe(unexpected)}.")
    if mismatched:
        lines.append("Shape differs: " + _describe([f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in mismatched]) + ".")
    if retyped:
        lines.append("Type differs: " + _describe([f"{k} {state[k].dtype} vs {own[k].dtype}" for k in retyped]) + ".")
    lines.append(
        "Is it a checkpoint of another architecture, or another variant (depth, width, BatchNorm)? Load it into "
        "the model it was saved from; nothing was loaded."
    )
    return " ".join(lines)


def is_path(text: str | os.PathLike[str]) -> bool:
    """Whether a source names a file or folder rather than a model, tag or repository.

    A path is a ``PathLike``, or a string that is absolute, starts with ``./``, ``../`` or ``~``, contains a
    path separator, or ends in a checkpoint suffix (``.safetensors``, ``.pth``, ...). A bare word
    (``"resnet50"``, ``"tv_in1k"``, ``"flowers"``) never is, whatever folders the working directory holds.
    """
    if isinstance(text, os.PathLike):
        return True
    if not isinstance(text, str) or text.startswith(HF_PREFIX):
        return False
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return (
        any(sep in text for sep in separators)
        or text.startswith("~")
        or os.path.isabs(text)
        or Path(text).suffix in (".safetensors", *CHECKPOINT_SUFFIXES)
    )


def _resolve(model: nn.Module, source: str | os.PathLike[str] | bool) -> tuple[Path, PretrainedTag | None]:
    """The file to load and, when it comes from the table, its entry."""
    architecture = (getattr(model, "default_cfg", None) or {}).get("architecture")
    if source is True:
        if not architecture:
            raise WeightsError("This model was not built by cnnzoo.create; pass a file or hf-hub:ORG/REPO.")
        entry = get_tag(architecture)
        return _fetch_tag(entry), entry
    if not isinstance(source, (str, os.PathLike)) or isinstance(source, bool):
        raise WeightsError(f"pretrained must be True, a tag, a path or 'hf-hub:ORG/REPO'; got {source!r}.")
    text = os.fspath(source)
    if text.startswith(HF_PREFIX):
        return _hf_download(text[len(HF_PREFIX):], WEIGHTS_NAME, what=text), None
    if is_path(source):
        candidate = Path(text).expanduser()
        return (candidate / WEIGHTS_NAME if candidate.is_dir() else candidate), None
    model_name, _, tag = text.rpartition(".")
    if model_name and model_name != architecture:
        raise WeightsError(f"Weights {text!r} are for {model_name!r}, not for this {architecture!r} model.")
    if not architecture:
        raise WeightsError(f"{text!r} is neither a path nor hf-hub:ORG/REPO, and the model has no architecture name.")
    if tag not in tags_of(architecture) and Path(text).exists():
        raise WeightsError(
            f"{text!r} is not a pretrained tag of {architecture!r} (its tags: {', '.join(tags_of(architecture)) or 'none'}); "
            f"to load the file or folder of that name, pass it as a path: './{text}'."
        )
    entry = get_tag(architecture, tag)
    return _fetch_tag(entry), entry


# -- saving and sharing --------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _describe_model(model: nn.Module, architecture: str) -> dict[str, Any]:
    """What a saved config says the model is: architecture, classes, channels, options, head."""
    cfg = getattr(model, "default_cfg", None) or {}
    return {
        "architecture": architecture,
        "num_classes": getattr(model, "num_classes", cfg.get("num_classes")),
        "in_chans": getattr(model, "in_chans", (cfg.get("input_size") or [3])[0]),
        "model_args": _jsonable(getattr(model, "model_args", {})),
        "head": _jsonable(getattr(model, "head_config", None)),
    }


def save_pretrained(model: nn.Module, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``model.safetensors`` and ``config.json`` so ``cnnzoo.create(directory)`` rebuilds the model.

    ``config.json`` holds the architecture name, ``num_classes``, ``in_chans``, the architecture options
    the model was built with, the head :meth:`~cnnzoo.models.ZooModel.replace_head` gave it (if any) and
    its ``default_cfg``; timm reads the same fields. Each file is written under a temporary name and then
    renamed, so an interrupted save leaves the folder as it was.

    Args:
        model: a model built by :func:`cnnzoo.create`.
        directory: the folder (created if needed).
        overwrite: replace a saved model of another architecture, class count, channel count, options or
            head. Without it such a folder is refused; a folder holding this same model (an earlier save
            during training, say) is updated.

    Returns:
        The directory.

    Raises:
        WeightsError: for a model not built with :func:`cnnzoo.create` (its architecture is unknown), or a
            folder that holds another model (without ``overwrite=True``) or is a file.
    """
    from safetensors.torch import save_file

    from cnnzoo import registry

    cfg = dict(getattr(model, "default_cfg", None) or {})
    architecture = cfg.get("architecture")
    if not isinstance(architecture, str) or not registry.is_model(architecture):
        raise WeightsError(
            "save_pretrained needs a model built by cnnzoo.create (or a registered builder), so that "
            "create(directory) knows which architecture to build; this one has no registered architecture "
            f"({architecture!r})."
        )
    directory = Path(directory).expanduser()
    config = {**_describe_model(model, architecture), "pretrained_cfg": _jsonable(cfg)}
    if directory.exists() and not directory.is_dir():
        raise WeightsError(f"{directory} is a file, not a folder; save_pretrained writes a folder. Pick another path.")
    if not overwrite:
        _refuse_another_model(directory, config)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    directory.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Path]] = []
    try:
        for name in (WEIGHTS_NAME, CONFIG_NAME):
            handle, scratch = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=directory)
            os.close(handle)
            written.append((Path(scratch), directory / name))
        save_file(tensors, str(written[0][0]), metadata={"format": "pt", "architecture": architecture})
        written[1][0].write_text(json.dumps(config, indent=2) + "\n")
        for scratch, target in written:
            os.replace(scratch, target)
    finally:
        for scratch, _ in written:
            scratch.unlink(missing_ok=True)
    return directory


def _refuse_another_model(directory: Path, config: dict[str, Any]) -> None:
    """Raise unless ``directory`` is free for ``config``'s model: absent, without a saved model, or this model's."""
    if not directory.is_dir() or not any((directory / n).exists() for n in (WEIGHTS_NAME, CONFIG_NAME)):
        return
    hint = "Save to another folder, or pass overwrite=True to replace it."
    try:
        saved = json.loads((directory / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        raise WeightsError(f"{directory} already holds a model whose {CONFIG_NAME} is missing or unreadable. {hint}") from None
    if not isinstance(saved, dict):
        raise WeightsError(f"{directory} holds a {CONFIG_NAME} that describes no model. {hint}")
    differs = [key for key in ("architecture", "num_classes", "in_chans", "model_args", "head")
               if saved.get(key, {} if key == "model_args" else None) != config[key]]
    if differs:
        what = ", ".join(f"{key} {saved.get(key)!r} (this model: {config[key]!r})" for key in differs)
        raise WeightsError(f"{directory} already holds another model: {what}. {hint}")


def read_config(source: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    """The ``config.json`` of a directory or ``hf-hub:ORG/REPO``, checked, and the path of its weights file.

    Raises:
        WeightsError: for a missing or unreadable file, or one whose fields do not describe a model (each
            field's type is checked; the architecture must be registered).
    """
    from cnnzoo import registry

    text = os.fspath(source)
    if text.startswith(HF_PREFIX):
        repo = text[len(HF_PREFIX):]
        config_path = _hf_download(repo, CONFIG_NAME, what=text)
        weights = _hf_download(repo, WEIGHTS_NAME, what=text)
    else:
        config_path = Path(text).expanduser() / CONFIG_NAME
        weights = Path(text).expanduser() / WEIGHTS_NAME
        if not config_path.is_file():
            raise WeightsError(f"{text} has no {CONFIG_NAME}; write one with cnnzoo.save_pretrained(model, directory).")
    try:
        config = json.loads(Path(config_path).read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{config_path} is not readable JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise WeightsError(f"{config_path} holds {type(config).__name__}, not a JSON object describing a model.")

    def bad(field: str, expected: str) -> WeightsError:
        return WeightsError(f"{config_path}: {field} must be {expected}, got {config.get(field)!r}. Save the model "
                            "again with cnnzoo.save_pretrained, or correct the file.")

    architecture = config.get("architecture")
    if not isinstance(architecture, str) or not architecture:
        raise bad("architecture", "a registered model name such as 'resnet50'")
    if not registry.is_model(architecture):
        raise WeightsError(f"{config_path} names the architecture {architecture!r}, which is not registered "
                           "(cnnzoo.list_models() shows those that are; register your own with @cnnzoo.register_model).")
    for field in ("num_classes", "in_chans"):
        value = config.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**7):
            raise bad(field, "a whole number from 1 to 10,000,000, or absent")
    for field in ("model_args", "pretrained_cfg"):
        if config.get(field) is not None and not isinstance(config.get(field), dict):
            raise bad(field, "a JSON object, or absent")
    head = config.get("head")
    if head is not None and (not isinstance(head, dict) or not set(head) <= {"num_classes", "hidden", "dropout"}):
        raise bad("head", "null or an object with hidden and dropout")
    return config, Path(weights)


def push_to_hub(model: nn.Module, repo_id: str, *, private: bool = False, commit_message: str = "Upload cnnzoo model",
                token: str | None = None) -> str:
    """Save the model with :func:`save_pretrained` and upload it to the Hugging Face Hub.

    ``cnnzoo.create("hf-hub:" + repo_id)`` then rebuilds it anywhere.

    Returns:
        The URL of the commit.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as scratch:
        save_pretrained(model, scratch)
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=scratch, commit_message=commit_message)
    return str(getattr(commit, "commit_url", commit))

