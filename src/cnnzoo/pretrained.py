"""Pretrained weights: where they come from, how they are checked, remapped and loaded -- completely or not at all.

Sources, declared beside each family's builders (:mod:`cnnzoo.weights`; :data:`PRETRAINED` collects them):
the safetensors copies timm publishes on the Hugging Face Hub
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
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from cnnzoo.errors import MAX_CHANNELS, MAX_CLASSES, WeightsError
from cnnzoo.registry import DEFAULT_TAGS, PRETRAINED, get_tag, is_model, tags_of
from cnnzoo.weights import HF_PREFIX, PretrainedTag

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

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


# -- fetching ------------------------------------------------------------------------------------------


def is_offline() -> bool:
    """Whether downloads are off: ``HF_HUB_OFFLINE=1`` (huggingface_hub's switch) or ``CNNZOO_OFFLINE=1``."""
    from huggingface_hub import constants

    flag = os.environ.get("CNNZOO_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    # huggingface_hub 0.23 has no is_offline_mode(), only the constant it returns
    is_offline_mode = getattr(constants, "is_offline_mode", lambda: constants.HF_HUB_OFFLINE)
    return flag or bool(is_offline_mode())


def _hf_download(repo_id: str, filename: str, *, what: str, pinned_sha256: str | None = None) -> Path:
    # the errors from huggingface_hub.utils, not .errors: huggingface_hub 0.23 defines them only there
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

    try:
        # the cache named and checked here, read when called: huggingface_hub 0.23 fixes its default at import
        path = Path(hf_hub_download(repo_id=repo_id, filename=filename, cache_dir=constants.HF_HUB_CACHE))
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
    digest: str | None = None  # the blob's SHA-256 once known, so a large file is hashed once
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
            digest = blob.name
        elif _GIT_SHA1_NAME.fullmatch(blob.name):
            actual = _git_blob_sha1(blob.read_bytes())  # the cache names small files by their git blob SHA-1
            if actual != blob.name:
                raise WeightsError(f"{path} fails its hash check: its blob is named {blob.name} but hashes to {actual}. {repair}")
        else:
            raise WeightsError(f"{path} links to {blob.name}, which is not named by its hash as cache blobs are. {repair}")
    if pinned_sha256 is not None:
        digest = digest or sha256_of(blob)
        if digest != pinned_sha256:
            raise WeightsError(
                f"{path} is not the published file: its SHA-256 is {digest}, the publisher's is {pinned_sha256}. "
                f"{repair}"
            )


def _git_blob_sha1(data: bytes) -> str:
    """The git blob SHA-1 of ``data`` (``git hash-object``): huggingface_hub's ``git_hash``, computed here
    where huggingface_hub is older than 0.24, which has none."""
    try:
        from huggingface_hub.utils.sha import git_hash
    except ImportError:
        return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    return git_hash(data)


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in blocks (huggingface_hub's ``sha_fileobj``)."""
    from huggingface_hub.utils.sha import sha_fileobj

    with path.open("rb") as handle:
        return sha_fileobj(handle).hex()


def verify_hash_prefix(path: Path, expected_prefix: str, *, shown: Path | None = None) -> None:
    """Refuse a file whose SHA-256 does not start with ``expected_prefix``."""
    actual = sha256_of(path)
    if not actual.startswith(expected_prefix):
        raise WeightsError(
            f"{shown or path} fails its hash check: its name promises a SHA-256 starting with {expected_prefix}, but "
            f"the file's SHA-256 is {actual}. The file is corrupt, truncated or not the published one; "
            f"delete it and download it again."
        )


#: How torch.hub.download_url_to_file reports a download whose SHA-256 does not start with ``hash_prefix``.
_TORCH_HASH_MISMATCH = re.compile(r'invalid hash value \(expected "(?P<expected>[0-9a-f]*)", got "(?P<actual>[0-9a-f]+)"\)')


def _url_download(entry: PretrainedTag) -> Path:
    """A torchvision URL's file in torch.hub's cache (``torch.hub.get_dir()/checkpoints``), downloaded if absent.

    ``torch.hub.download_url_to_file`` writes under a temporary name beside the target, checks the SHA-256
    prefix the file name carries as ``load_state_dict_from_url(check_hash=True)`` does, and renames only a
    file that passes: a failed download leaves nothing in the cache. A file already there (torchvision's
    own download, say) is checked against the same prefix, which torch.hub does not do.
    """
    assert entry.url is not None
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(entry.url).name
    if target.exists():
        if entry.sha256_prefix:
            verify_hash_prefix(target, entry.sha256_prefix)
        return target
    if is_offline():
        raise WeightsError(
            f"{entry.name}: {target} does not exist and downloads are off. Put the file there (torchvision "
            f"keeps it in the same place), or download it on a machine with a network: "
            f"python -c \"import torch; torch.hub.download_url_to_file('{entry.url}', '{target}')\""
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(entry.url, str(target), hash_prefix=entry.sha256_prefix, progress=True)
    except Exception as exc:
        mismatch = _TORCH_HASH_MISMATCH.search(str(exc)) if isinstance(exc, RuntimeError) else None
        if mismatch:
            raise WeightsError(
                f"{entry.name}: the download of {entry.url} fails its hash check: its name {target.name} promises "
                f"a SHA-256 starting with {mismatch['expected']}, but the file's SHA-256 is {mismatch['actual']}. "
                f"It was corrupted or truncated on the way, or is not the published file; nothing was kept in "
                f"{target.parent}. Try again, or download it yourself to {target}."
            ) from exc
        raise WeightsError(
            f"{entry.name}: downloading {entry.url} failed ({exc}). Download it yourself to {target}, "
            f"or set CNNZOO_OFFLINE=1 and pass pretrained=PATH."
        ) from exc
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
        dropped: checkpoint keys of a class layer the model does not have (built with ``num_classes=0``).
    """

    source: str
    tag: str | None = None
    loaded: list[str] = field(default_factory=list)
    reinitialized: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


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
        >>> # all but fc, which stays a fresh 5-way layer
        >>> report = cnnzoo.load_pretrained(model, "tv_in1k")
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
    # a model built with num_classes=0 has no class layer: the checkpoint's is left out, as timm does
    names = getattr(model, "class_layer_names", None)
    removed = [f"{name}." for name in (names() if callable(names) else [])
               if next(model.get_submodule(name).parameters(), None) is None]
    for key in [k for k in state if k.startswith(tuple(removed))] if removed else []:
        del state[key]
        report.dropped.append(key)
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
    if entry is not None:
        apply_pretrained_cfg(model, entry.cfg())
    logger.info("Loaded %d tensors from %s.", len(report.loaded), path)
    return report


def apply_pretrained_cfg(model: nn.Module, cfg: Mapping[str, Any]) -> None:
    """The model records the input its new weights expect: through its own method where it has one."""
    apply = getattr(model, "apply_pretrained_cfg", None)
    if callable(apply):
        apply(cfg)
    elif isinstance(getattr(model, "default_cfg", None), dict):  # a user's registered nn.Module
        model.default_cfg = {**model.default_cfg, **{k: v for k, v in cfg.items() if k != "num_classes"}}


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


def is_saved_directory(source: str | os.PathLike[str]) -> bool:
    """Whether :func:`cnnzoo.create` reads ``source`` as a folder written by :func:`save_pretrained`: a path
    (:func:`is_path`) to a folder holding ``config.json``.

    Raises:
        OSError: for a path the file system will not look up (a name too long for a file name, say).
        RuntimeError: for ``~user/...`` of an unknown user.
    """
    return is_path(source) and (Path(source).expanduser() / CONFIG_NAME).is_file()


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


#: The fields of timm's ``PretrainedCfg`` (timm 1.0) that describe a model's input, classes and layers.
#: ``timm.create_model("local-dir:DIR")`` builds a ``PretrainedCfg`` from config.json's ``pretrained_cfg`` and
#: refuses any key it does not have; where the weights are (``url``, ``file``, ``hf_hub_id``, ``source``) it
#: sets itself from the folder. tests/test_interop.py checks these against the installed timm.
TIMM_CFG_KEYS = frozenset({
    "architecture", "tag", "input_size", "test_input_size", "min_input_size", "fixed_input_size", "interpolation",
    "crop_pct", "test_crop_pct", "crop_mode", "mean", "std", "num_classes", "label_offset", "label_names",
    "label_descriptions", "pool_size", "test_pool_size", "first_conv", "classifier", "license", "description",
    "origin_url", "paper_name", "paper_ids", "notes",
})
#: The key of config.json under which cnnzoo keeps what only it reads (timm ignores other top-level keys).
OWN_CONFIG_KEY = "cnnzoo"


def _config_json(description: dict[str, Any], cfg: Mapping[str, Any]) -> dict[str, Any]:
    """config.json for a model: timm's fields at the top, what only cnnzoo reads under ``"cnnzoo"``.

    timm builds ``architecture`` with ``num_classes`` and the top-level ``model_args`` as keyword arguments
    (so they hold ``in_chans`` alone: cnnzoo's architecture options are not named as timm's) and takes
    ``pretrained_cfg`` as its ``PretrainedCfg`` (so it holds :data:`TIMM_CFG_KEYS` alone). The architecture
    options, the head and the rest of ``default_cfg`` (``train_augment``, ``resize``, the weights' ``source``)
    go under ``"cnnzoo"``.
    """
    cfg = _jsonable(cfg)
    in_chans = description["in_chans"]
    return {
        "architecture": description["architecture"],
        "num_classes": description["num_classes"],
        "model_args": {} if in_chans is None else {"in_chans": in_chans},
        "pretrained_cfg": {k: v for k, v in cfg.items() if k in TIMM_CFG_KEYS},
        OWN_CONFIG_KEY: {
            "model_args": description["model_args"],
            "head": description["head"],
            "pretrained_cfg": {k: v for k, v in cfg.items() if k not in TIMM_CFG_KEYS},
        },
    }


def _description_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a config.json says the model is, in :func:`_describe_model`'s form plus the whole ``pretrained_cfg``.

    Reads both layouts: this one (:func:`_config_json`, told by its ``"cnnzoo"`` object) and the earlier one,
    which timm's own configs share (``in_chans``, ``model_args`` and ``head`` at the top, ``default_cfg`` whole
    in ``pretrained_cfg``). Fields are not checked here: :func:`read_config` checks them.
    """
    own = config.get(OWN_CONFIG_KEY)
    if not isinstance(own, Mapping):
        return {key: config.get(key) for key in ("architecture", "num_classes", "in_chans", "model_args", "head",
                                                 "pretrained_cfg")}
    timm_args = config.get("model_args")
    cfgs = [cfg for cfg in (config.get("pretrained_cfg"), own.get("pretrained_cfg")) if cfg is not None]
    return {
        "architecture": config.get("architecture"),
        "num_classes": config.get("num_classes"),
        "in_chans": timm_args.get("in_chans") if isinstance(timm_args, Mapping) else None,
        "model_args": own.get("model_args"),
        "head": own.get("head"),
        # timm's fields and cnnzoo's own, one default_cfg again; a part that is no object is read_config's to name
        "pretrained_cfg": ({k: v for cfg in cfgs for k, v in cfg.items()}
                           if all(isinstance(cfg, Mapping) for cfg in cfgs) else config.get("pretrained_cfg")),
    }


def save_pretrained(model: nn.Module, directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``model.safetensors`` and ``config.json`` so ``cnnzoo.create(directory)`` rebuilds the model.

    ``config.json`` holds the architecture name, ``num_classes``, ``in_chans``, the architecture options
    the model was built with, the head :meth:`~cnnzoo.models.ZooModel.replace_head` gave it (if any) and
    its ``default_cfg``, laid out as timm's own configs are: ``timm.create_model("local-dir:" + directory,
    pretrained=True)`` loads the model too, for the architectures timm has under the same name and the same
    weights (ResNet, ResNeXt, Wide ResNet, SE-ResNet, DenseNet, VGG) with their own heads. What only cnnzoo
    reads is kept under the ``"cnnzoo"`` key. Each file is written under a temporary name and then renamed,
    so an interrupted save leaves the folder as it was.

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

    cfg = dict(getattr(model, "default_cfg", None) or {})
    architecture = cfg.get("architecture")
    if not isinstance(architecture, str) or not is_model(architecture):
        raise WeightsError(
            "save_pretrained needs a model built by cnnzoo.create (or a registered builder), so that "
            "create(directory) knows which architecture to build; this one has no registered architecture "
            f"({architecture!r})."
        )
    if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
        raise WeightsError(f"save_pretrained writes to a folder path (a str or Path); got {directory!r}.")
    directory = Path(directory).expanduser()
    description = _describe_model(model, architecture)
    if directory.exists() and not directory.is_dir():
        raise WeightsError(f"{directory} is a file, not a folder; save_pretrained writes a folder. Pick another path.")
    if not overwrite:
        _refuse_another_model(directory, description)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    directory.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Path]] = []
    try:
        for name in (WEIGHTS_NAME, CONFIG_NAME):
            handle, scratch = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=directory)
            os.close(handle)
            written.append((Path(scratch), directory / name))
        save_file(tensors, str(written[0][0]), metadata={"format": "pt", "architecture": architecture})
        written[1][0].write_text(json.dumps(_config_json(description, cfg), indent=2) + "\n")
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
    saved = _description_of(saved)
    saved["model_args"] = {} if saved["model_args"] is None else saved["model_args"]
    differs = [key for key in ("architecture", "num_classes", "in_chans", "model_args", "head")
               if saved[key] != config[key]]
    if differs:
        what = ", ".join(f"{key} {saved.get(key)!r} (this model: {config[key]!r})" for key in differs)
        raise WeightsError(f"{directory} already holds another model: {what}. {hint}")


def read_config(source: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """The ``config.json`` of a directory or ``hf-hub:ORG/REPO``, checked, and where its weights are.

    Only the configuration is fetched; the weights' source (the directory, or ``hf-hub:ORG/REPO``) goes to
    :func:`load_pretrained` when they are wanted. The configuration comes back in one form whichever layout
    the file has (:func:`save_pretrained`'s, its earlier one, or a timm model's): ``architecture``,
    ``num_classes``, ``in_chans``, ``model_args`` (cnnzoo's architecture options), ``head`` and the whole
    ``pretrained_cfg``.

    Raises:
        WeightsError: for a missing or unreadable file, or one whose fields do not describe a model (each
            field's type is checked; the architecture must be registered).
    """
    text = os.fspath(source)
    if text.startswith(HF_PREFIX):
        config_path = _hf_download(text[len(HF_PREFIX):], CONFIG_NAME, what=text)
    else:
        config_path = Path(text).expanduser() / CONFIG_NAME
        if not config_path.is_file():
            raise WeightsError(f"{text} has no {CONFIG_NAME}; write one with cnnzoo.save_pretrained(model, directory).")
    try:
        config = json.loads(Path(config_path).read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{config_path} is not readable JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise WeightsError(f"{config_path} holds {type(config).__name__}, not a JSON object describing a model.")
    raw = config
    own = raw.get(OWN_CONFIG_KEY)
    # where each field is in the file, to name it in an error
    where = {"in_chans": "model_args.in_chans", "model_args": f"{OWN_CONFIG_KEY}.model_args",
             "head": f"{OWN_CONFIG_KEY}.head"} if isinstance(own, dict) else {}

    def bad(key: str, expected: str) -> WeightsError:
        return WeightsError(f"{config_path}: {where.get(key, key)} must be {expected}, got {config.get(key)!r}. "
                            "Save the model again with cnnzoo.save_pretrained, or correct the file.")

    # the parts of this layout that _description_of takes apart: objects, or absent
    parts = {OWN_CONFIG_KEY: own} if not isinstance(own, dict) else {
        "model_args": raw.get("model_args"), f"{OWN_CONFIG_KEY}.pretrained_cfg": own.get("pretrained_cfg")}
    for name, value in parts.items():
        if value is not None and not isinstance(value, dict):
            raise WeightsError(f"{config_path}: {name} must be a JSON object, or absent, got {value!r}. Save the "
                               "model again with cnnzoo.save_pretrained, or correct the file.")
    config = _description_of(raw)

    architecture = config.get("architecture")
    if not isinstance(architecture, str) or not architecture:
        raise bad("architecture", "a registered model name such as 'resnet50'")
    if not is_model(architecture):
        raise WeightsError(f"{config_path} names the architecture {architecture!r}, which is not registered "
                           "(cnnzoo.list_models() shows those that are; register your own with @cnnzoo.register_model).")
    for key, minimum, maximum in (("num_classes", 0, MAX_CLASSES), ("in_chans", 1, MAX_CHANNELS)):
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum):
            raise bad(key, f"a whole number from {minimum} to {maximum:,}, or absent")
    for key in ("model_args", "pretrained_cfg"):
        if config.get(key) is not None and not isinstance(config.get(key), dict):
            raise bad(key, "a JSON object, or absent")
    head = config.get("head")
    if head is not None and (not isinstance(head, dict) or not set(head) <= {"num_classes", "hidden", "dropout"}):
        raise bad("head", "null or an object with hidden and dropout")
    return config, text


def push_to_hub(model: nn.Module, repo_id: str, *, private: bool = False, commit_message: str = "Upload cnnzoo model",
                token: str | None = None) -> str:
    """Save the model with :func:`save_pretrained` and upload it to the Hugging Face Hub.

    ``cnnzoo.create("hf-hub:" + repo_id)`` then rebuilds it anywhere.

    Returns:
        The URL of the commit.

    Raises:
        WeightsError: for a ``repo_id`` that is not ``ORG/NAME`` as the Hub spells names
            (``huggingface_hub.utils.validate_repo_id``), checked before anything is saved, and for a model
            :func:`save_pretrained` refuses.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    expected = f"repo_id names a Hub repository as 'ORG/NAME' (or 'USER/NAME'); got {repo_id!r}"
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise WeightsError(f"{expected}.")
    try:
        validate_repo_id(repo_id)  # the Hub's own rules for the characters of a name, checked before saving
    except HFValidationError as exc:
        raise WeightsError(f"{expected}: {exc}") from None
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as scratch:
        save_pretrained(model, scratch)
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=scratch, commit_message=commit_message)
    return str(getattr(commit, "commit_url", commit))

