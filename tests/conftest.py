"""Shared test setup: nothing may reach the network, and caches live in temporary folders."""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import socket
from collections.abc import Callable, Iterable
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


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fail loudly on any connection attempt; point torch.hub and the Hugging Face cache at empty folders."""
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: _refuse(None, *a))
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads its environment once, at import: set its constants too
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hf" / "hub"))


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
