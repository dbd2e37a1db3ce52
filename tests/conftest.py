"""Shared test setup: nothing may reach the network, and caches live in temporary folders."""

from __future__ import annotations

import socket

import pytest
import torch


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


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
