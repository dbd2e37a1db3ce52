"""Shared test setup: nothing may reach the network, and caches live in temporary folders."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
import torch


if os.environ.get("PYTEST_XDIST_WORKER"):
    # one torch thread per pytest-xdist worker: two workers on two cores, each with a pool of two threads,
    # fight for the cores and run several times slower than one thread each
    torch.set_num_threads(1)


class NetworkAccessError(RuntimeError):
    """Raised when a test tries to open a network connection."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise NetworkAccessError(f"tests must not use the network (attempted connection to {args[1:]!r})")


_connect = socket.socket.connect


def _connect_locally_only(sock: socket.socket, address: object) -> None:
    """Connect a local (Unix domain) socket, refuse any other: multiprocessing's workers, as DataLoader's
    ``num_workers`` starts them, hand tensors back over local sockets, which reach no network."""
    if getattr(socket, "AF_UNIX", None) is not None and sock.family == socket.AF_UNIX:
        return _connect(sock, address)
    _refuse(sock, address)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail loudly on any connection attempt; point torch.hub and the Hugging Face cache at empty folders,
    removed after the test (weights published there run to hundreds of MB a test)."""
    monkeypatch.setattr(socket.socket, "connect", _connect_locally_only)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: _refuse(None, *a))
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads its environment once, at import: set its constants too
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hf" / "hub"))
    yield
    shutil.rmtree(home, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def smallest_of_each_family() -> list[str]:
    """The registered network with the fewest parameters of each architecture: one model for each family and
    model class (``alexnet_half`` and ``alexnet_2012`` both stand for AlexNet, ``googlenet`` and
    ``googlenet_2014`` for GoogLeNet), by name."""
    import cnnzoo

    chosen: dict[tuple[str, type], tuple[int, str]] = {}
    for name in cnnzoo.list_models():
        with torch.device("meta"):  # shapes only: no weights allocated, no FLOPs counted
            model = cnnzoo.create(name)
        architecture = (cnnzoo.registry.get_entry(name).family, type(model))
        parameters = sum(p.numel() for p in model.parameters())
        if architecture not in chosen or parameters < chosen[architecture][0]:
            chosen[architecture] = (parameters, name)
    return sorted(name for _, name in chosen.values())


def skip_unless_torch_exports_custom_ops_to_onnx() -> None:
    """Skip an ONNX export test where torch.onnx.export takes no ``custom_translation_table`` (torch before
    2.6): cnnzoo.export_onnx refuses to run there, naming the torch it needs."""
    if "custom_translation_table" not in inspect.signature(torch.onnx.export).parameters:
        pytest.skip(f"exporting cnnzoo's networks to ONNX needs torch 2.6 or newer, this is torch {torch.__version__}")


#: The networks the fast tier (README's test command, ``-m "not slow"``) runs its heavier checks on: a cheap
#: network of each kind of block (LeNet's, AlexNet 2012's towers and LRN, NIN's, the CIFAR ResNet's option-A
#: shortcut, ResNet's basic block, GoogLeNet's inception module, DenseNet-BC's dense block). The slow tier
#: (``-m slow``) runs the same checks on every other network; every network is still built and checked
#: once in the fast tier (tests/test_models.py).
FAST_MODELS = frozenset({"lenet5", "alexnet_2012", "nin", "cifar_resnet20", "resnet18", "googlenet", "cifar_densenet_bc100"})


def tiered(names: Iterable[str], fast: Iterable[str] = FAST_MODELS) -> list[object]:
    """``names`` as pytest parameters, those outside ``fast`` marked ``slow``."""
    fast = set(fast)
    return [name if name in fast else pytest.param(name, marks=pytest.mark.slow) for name in names]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def hf_cache() -> Callable[..., Path]:
    """Lay out files in the Hugging Face cache that conftest.py points huggingface_hub at."""
    from huggingface_hub import constants

    def put(repo_id: str, files: dict[str, bytes | Path]) -> Path:
        repo = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
        revision = hashlib.sha1(repo_id.encode()).hexdigest()
        snapshot = repo / "snapshots" / revision
        (repo / "blobs").mkdir(parents=True, exist_ok=True)
        snapshot.mkdir(parents=True, exist_ok=True)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        for name, content in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            # large files are stored as blobs named by their SHA-256, as the real cache does
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            (snapshot / name).symlink_to(Path("../../blobs") / blob.name)
        return snapshot

    return put


# -- published weights, made offline -----------------------------------------------------------------------

#: Arguments torchvision's builder needs to make a file shaped like the one torchvision publishes at a tag's
#: URL: torchvision's GoogLeNet file holds its auxiliary classifiers.
TORCHVISION_FILE_ARGS: dict[str, dict[str, object]] = {"googlenet": {"aux_logits": True, "init_weights": True}}


def pretrained_entry(name: str):
    """The table's entry for ``model.tag`` (as ``cnnzoo.list_models(pretrained=True)`` names it); fails the
    test, suggesting close names, for a name the table does not hold."""
    import difflib

    import cnnzoo
    from cnnzoo.pretrained import PRETRAINED

    model, _, tag = name.partition(".")
    entry = PRETRAINED.get(model, {}).get(tag)
    if entry is None:
        close = difflib.get_close_matches(name, cnnzoo.list_models(pretrained=True), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        pytest.fail(f"{name!r} is not a published weights tag: cnnzoo.list_models(pretrained=True) lists "
                    f"them as model.tag{hint}", pytrace=False)
    return entry


def hub_copy_of_timm(name: str, hf_cache: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> torch.nn.Module:
    """timm's model for the Hub tag ``name`` (``model.tag``) with random weights, published to the fake
    Hugging Face cache as timm publishes the tag: its ``model.safetensors`` in timm's layout (VGG's too,
    which cnnzoo remaps). Where the table pins the published file's SHA-256, the pin becomes this copy's."""
    import dataclasses

    import timm
    from safetensors.torch import save

    from cnnzoo.pretrained import PRETRAINED

    entry = pretrained_entry(name)
    assert entry.hf_hub_id, f"{name} is published at a URL, not on the Hugging Face Hub: use with_real_hash"
    reference = timm.create_model(entry.model, pretrained=False, num_classes=entry.num_classes).eval()
    data = save({key: value.contiguous() for key, value in reference.state_dict().items()})
    hf_cache(entry.hf_hub_id, {"model.safetensors": data})
    if entry.sha256:
        pinned = dataclasses.replace(entry, sha256=hashlib.sha256(data).hexdigest())
        monkeypatch.setitem(PRETRAINED[entry.model], entry.tag, pinned)
    return reference


def with_real_hash(entry, file: Path | bytes, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put ``file`` in torch.hub's cache under the name a genuine download of ``entry``'s URL would have,
    its own SHA-256 prefix in it (``alexnet-<prefix>.pth``), and point the table at that URL."""
    import dataclasses

    from cnnzoo.pretrained import PRETRAINED

    data = file.read_bytes() if isinstance(file, Path) else file
    prefix = hashlib.sha256(data).hexdigest()[:8]
    stem = Path(entry.url).name.rsplit("-", 1)[0]
    url = f"https://download.pytorch.org/models/{stem}-{prefix}.pth"
    monkeypatch.setitem(PRETRAINED[entry.model], entry.tag, dataclasses.replace(entry, url=url))
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def url_copy_of_torchvision(name: str, monkeypatch: pytest.MonkeyPatch) -> torch.nn.Module:
    """torchvision's model for the URL tag ``name`` (``alexnet.tv_in1k``) with random weights, saved where
    cnnzoo looks for the tag's download offline (torch.hub's checkpoints folder, hash prefix matching)."""
    import io

    import torchvision

    entry = pretrained_entry(name)
    assert entry.url and not entry.hf_hub_id, f"{name} is on the Hugging Face Hub: use hub_copy_of_timm"
    arguments = {**entry.model_args, **TORCHVISION_FILE_ARGS.get(entry.model, {})}
    reference = torchvision.models.get_model(entry.model, weights=None, num_classes=entry.num_classes, **arguments)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)
    with_real_hash(entry, buffer.getvalue(), monkeypatch)
    return reference.eval()


@pytest.fixture
def publish_weights(
    hf_cache: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., dict[str, torch.nn.Module]]:
    """Publish random-weight copies of tags (``model.tag``) where cnnzoo's loader finds them offline: Hub tags
    in the fake Hugging Face cache, torchvision URL tags in torch.hub's cache. Returns each tag's reference
    model (timm's or torchvision's, holding the published weights); an unknown tag fails the test."""

    def publish(names: Iterable[str]) -> dict[str, torch.nn.Module]:
        names = list(dict.fromkeys(names))
        entries = [pretrained_entry(name) for name in names]  # every name checked before anything is written
        return {
            name: hub_copy_of_timm(name, hf_cache, monkeypatch)
            if entry.hf_hub_id
            else url_copy_of_torchvision(name, monkeypatch)
            for name, entry in zip(names, entries)
        }

    return publish


# -- a small flowers folder --------------------------------------------------------------------------------

#: The class folders of TensorFlow's flower_photos data set, which the docs fine-tune on.
FLOWER_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def make_flower_photos(root: Path, images_per_class: int = 6, size: tuple[int, int] = (80, 60), seed: int = 0) -> Path:
    """A folder laid out as flower_photos (one folder of RGB JPEGs per class, ``ImageFolder`` reads it),
    with small random images, the same for the same seed."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = size
    for name in FLOWER_CLASSES:
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(images_per_class):
            pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{name}_{index}.jpg", quality=90)
    return root


@pytest.fixture
def flower_photos(tmp_path: Path) -> Path:
    """``tmp_path/flower_photos``: five class folders of six 80x60 RGB JPEGs (see make_flower_photos)."""
    return make_flower_photos(tmp_path / "flower_photos")


# -- the registry, put back after a test registers models --------------------------------------------------


@contextlib.contextmanager
def registry_restored() -> Iterator[None]:
    """Undo, on exit, the models and tags registered inside: the registry's tables hold what they held on
    entry, in place (the same dictionaries, so monkeypatch's own undo of an entry still lands)."""
    from cnnzoo import registry

    tables = (registry._REGISTRY, registry.PRETRAINED, registry.DEFAULT_TAGS)
    saved = [dict(table) for table in tables]
    tags = {model: dict(by_tag) for model, by_tag in registry.PRETRAINED.items()}
    try:
        yield
    finally:
        for table, before in zip(tables, saved):
            table.clear()
            table.update(before)
        for model, by_tag in tags.items():
            registry.PRETRAINED[model].clear()
            registry.PRETRAINED[model].update(by_tag)
        registry._cached_info.cache_clear()
