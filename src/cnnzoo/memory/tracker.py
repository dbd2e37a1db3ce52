"""Counting the bytes of live tensor storages: :class:`LiveBytes`, and :func:`storage_bytes` of a set of tensors.

:class:`LiveBytes` is a :class:`~torch.utils._python_dispatch.TorchDispatchMode` that sees every tensor
an operator returns and follows its storage from birth to death. On the meta device, where tensors have
shapes but no storage, it is how :func:`~cnnzoo.memory.estimate_memory` finds a step's peak without
allocating it; on real tensors (the benchmarks' CPU memory column) it counts what the step's tensors
take, which is all a step allocates but a kernel's scratch space.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from cnnzoo.errors import CnnzooError, CnnzooValueError

__all__ = ["LiveBytes", "storage_bytes"]


class LiveBytes(TorchDispatchMode):
    """Counts the bytes of the tensor storages alive: now, at their peak, and after every allocation.

    Inside ``with tracker:``, a storage is counted when an operator first returns a tensor on it, in this
    thread, and uncounted when it dies (a storage keeps its Python object as long as it lives, so a weak
    reference sees the death). Views and in-place results share their storage and cost nothing more; a
    storage that grows (``resize_``) counts its new size. The storages of ``resident`` tensors -- weights,
    an input batch, optimizer state: what is held between steps -- exist before and are never counted;
    :func:`storage_bytes` gives their size.

    Leaving the block stops counting new storages, while the deaths of those counted still leave
    :attr:`live`, so a tracker can be entered again for a later phase (see :meth:`restart`). Trackers
    nest: each counts what the block inside it creates. :meth:`close` stops following the deaths, and a
    closed tracker cannot be entered again.

    The tracker sees tensors only: not the memory inside a kernel (a cuDNN or oneDNN workspace), nor the
    allocator's caching and rounding, nor tensors another thread creates.

    Args:
        resident: tensors (strided, on any device) whose storages are not to be counted.

    Attributes:
        live: bytes of the counted storages alive now.
        peak: the most :attr:`live` has been since the tracker was made, or since :meth:`restart`.
        trace: :attr:`live` after every allocation since then, the points where a peak can fall.

    Raises:
        CnnzooValueError: when ``resident`` is not an iterable of strided tensors.

    Example:
        >>> tracker = LiveBytes()
        >>> with tracker:
        ...     a = torch.zeros(1000)  # 4000 bytes
        ...     b = a * 2  # 4000 more
        ...     a += 1  # in place: nothing more
        ...     del a
        >>> tracker.peak, tracker.live
        (8000, 4000)
        >>> tracker.close()
    """

    def __init__(self, resident: Iterable[torch.Tensor] = ()) -> None:
        super().__init__()
        self._resident = set(_storages("resident", resident))
        self._sizes: dict[int, int] = {}
        self._watch: dict[int, weakref.ref] = {}
        self._closed = False
        self.live = 0
        self.peak = 0
        self.trace: list[int] = []

    def restart(self) -> None:
        """Begin a new phase: :attr:`peak` and :attr:`trace` start from what is alive now."""
        self.peak = self.live
        self.trace = []

    def close(self) -> None:
        """Stop following the storages: their deaths no longer call back, and :attr:`live` stays as it is.

        Call it when done reading the tracker (a ``finally`` does); closing twice does nothing more.
        """
        self._closed = True
        self._watch.clear()

    def __enter__(self) -> LiveBytes:
        if self._closed:
            raise CnnzooError("This LiveBytes tracker is closed: it no longer sees storages die, so it cannot count "
                              "again; make a new LiveBytes for the next measurement.")
        return super().__enter__()  # type: ignore[no-any-return]

    def _release(self, key: int, _ref: weakref.ref) -> None:
        self.live -= self._sizes.pop(key, 0)
        self._watch.pop(key, None)

    def _account(self, storage: torch.UntypedStorage) -> None:
        key = storage._cdata
        if key in self._resident:
            return
        size = storage.nbytes()
        before = self._sizes.get(key)
        if before == size:
            return
        if before is None:
            self._watch[key] = weakref.ref(storage, functools.partial(self._release, key))
        self._sizes[key] = size
        self.live += size - (before or 0)
        self.trace.append(self.live)
        self.peak = max(self.peak, self.live)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and leaf.layout == torch.strided:
                self._account(leaf.untyped_storage())
        return out


def storage_bytes(tensors: torch.Tensor | Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages under ``tensors``: a storage shared by views or tied weights counts once.

    Args:
        tensors: a strided tensor, or an iterable (a list, a generator) of them, on any device; a meta
            tensor's storage has the size it would have.

    Returns:
        The sum of the sizes of the storages, each counted once: the whole storage of a view or slice, not
        the part it shows.

    Raises:
        CnnzooValueError: for anything but strided tensors.

    Example:
        >>> weights = torch.zeros(256, 256)
        >>> # one storage of 256 * 256 floats
        >>> storage_bytes([weights, weights.T, weights[0]])
        262144
    """
    return sum(_storages("tensors", tensors).values())


def _storages(name: str, tensors: object) -> dict[int, int]:
    """The storages under the tensors of the argument ``name``, by identity, with their bytes."""
    if isinstance(tensors, torch.Tensor):
        tensors = (tensors,)
    if not isinstance(tensors, Iterable) or isinstance(tensors, (str, bytes)):
        raise CnnzooValueError(
            f"{name} must be a tensor or an iterable of tensors (a list, model.parameters()), got "
            f"{type(tensors).__name__}.")
    sizes: dict[int, int] = {}
    for tensor in tensors:
        if not isinstance(tensor, torch.Tensor) or tensor.layout != torch.strided:
            kind = f"a {tensor.layout} tensor" if isinstance(tensor, torch.Tensor) else repr(tensor)[:80]
            raise CnnzooValueError(
                f"{name} must hold strided tensors only, the kind that has one storage, got {kind} "
                f"({type(tensor).__name__}).")
        storage = tensor.untyped_storage()
        sizes[storage._cdata] = storage.nbytes()
    return sizes
