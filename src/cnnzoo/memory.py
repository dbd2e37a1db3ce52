"""How much memory training (or running) a network takes, estimated without allocating it.

:func:`estimate_memory` answers "does ResNet-50 at batch 64 fit on a 16 GiB card?" on a laptop without
that card: it runs one training step -- forward, loss, backward, optimizer update -- on the meta device,
where tensors have shapes but no storage, and follows every storage the step creates from birth to
death under a :class:`~torch.utils._python_dispatch.TorchDispatchMode`. The peak of the live bytes is the
step's working memory: the activations autograd saves for backward (deduplicated by storage, so ReLU's
in-place output, BatchNorm's saved statistics, max-pool indices and dropout masks each count once), the
gradients as backward creates them, and the temporary buffers of every operator that the dispatcher
sees. Parameters that do not require gradients get none, and autograd does not save the inputs of
frozen layers for weight gradients, so a frozen backbone is estimated as it will run. The estimate
follows PyTorch's own code paths for the meta device, which are the CPU's (the single-tensor optimizer
loops, the CPU dropout mask); it cannot see memory inside a kernel (a cuDNN or oneDNN workspace) and
covers that, and the runtime's own first-step allocations, with a fixed :data:`RUNTIME_OVERHEAD`.

:func:`max_batch_size` inverts the estimate for a budget such as ``"2GiB"``, and
:func:`measure_step_peak` measures the real thing for comparison (see ``tests/test_memory.py``).

Example:
    >>> estimate = cnnzoo.estimate_memory("resnet50", batch_size=64)
    >>> print(estimate)  # doctest: +SKIP
    >>> cnnzoo.max_batch_size("resnet50", "16GiB")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import gc
import json
import logging
import math
import operator
import os
import re
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from cnnzoo.errors import CnnzooError, CnnzooValueError, check_positive_float, check_positive_int

__all__ = [
    "MemoryEstimate",
    "estimate_memory",
    "max_batch_size",
    "parse_bytes",
    "format_bytes",
    "measure_step_peak",
    "measure_step_peak_in_subprocess",
    "RUNTIME_OVERHEAD",
    "MEASUREMENT_ENV",
]

logger = logging.getLogger(__name__)

#: Bytes the runtime itself takes in a first training step beyond the tensors the step creates: kernel
#: code paged in, thread pools, oneDNN/BLAS scratch buffers. Measured on the CPU (PyTorch 2.x, Linux)
#: as the first step's resident peak less the tensor peak the meta device traces: 13 to 33 MiB across
#: AlexNet, ResNet-18/50 and DenseNet-121 at batch 1 to 32. On a GPU it stands in for the cuBLAS and
#: cuDNN workspaces; the CUDA context (a few hundred MiB of the card) is not in any estimate.
RUNTIME_OVERHEAD = 24 * 2**20

#: The allocator settings under which a process's resident memory follows its live tensors: every
#: allocation above 64 KiB gets its own mapping, returned to the system when freed, in one arena.
MEASUREMENT_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}

#: The largest memory size cnnzoo takes (a budget, an overhead, an input batch): 1 PiB, 2**50 bytes, the
#: ``cnnzoo memory --budget`` limit too. No one machine has that much (a node of eight H200s has 1.1 TiB of
#: GPU memory, the largest CPU servers a few dozen TiB), so a larger figure is a slip of a unit; and below
#: it a float holds every byte count exactly, and a step whose input batch is within it (its activations
#: are at most a few hundred times the input in these networks) keeps every tensor's size far inside the
#: int64 that torch counts bytes in.
_MAX_BYTES = 2**50

#: The floating-point types a network trains in end to end; the float8 types need scaled matrix products
#: (torchao's), which a plain step does not run.
_DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64)

OptimizerFactory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]
OptimizerSpec = Union[str, OptimizerFactory, None]

# The optimizers known by name, with the hyperparameters that change their state; "sgd" means SGD
# with momentum, as it is trained in every paper of the zoo. Plain SGD keeps no state: optimizer=None
# estimates it, or functools.partial(torch.optim.SGD, lr=0.1).
_OPTIMIZERS: dict[str, OptimizerFactory] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9),
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}

_BINARY = {"": 1, "b": 1, "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30,
           "t": 2**40, "tib": 2**40}
_DECIMAL = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS = {**_BINARY, **_DECIMAL}
_SIZE = re.compile(r"^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_bytes(size: int | str) -> int:
    """Read a memory size: ``"2GiB"``, ``"512 MiB"``, ``"1.5GiB"``, ``"2GB"`` or a number of bytes.

    ``KiB``/``MiB``/``GiB``/``TiB`` are powers of 1024 and ``kB``/``MB``/``GB``/``TB`` powers of 1000; a
    bare ``K``/``M``/``G``/``T`` is binary, as in Slurm's ``--mem=2G``. Case does not matter.

    Args:
        size: a whole number of bytes from 1 to 2**50 (1 PiB: more than any one machine has), as a Python,
            numpy or torch integer, or a string as above.

    Returns:
        The size in bytes, rounded to the nearest byte.

    Raises:
        CnnzooValueError: for anything else, saying which forms are accepted.

    Example:
        >>> parse_bytes("1.5 GiB"), parse_bytes("2GB"), parse_bytes(4096)
        (1610612736, 2000000000, 4096)
    """
    return _size_in_bytes("size", size)


def _size_in_bytes(name: str, size: object, smallest: int = 1) -> int:
    """:func:`parse_bytes` for the argument ``name``, whose messages name it; ``smallest`` is 0 or 1."""
    accepted = "Write it as a number with a unit, like '2GiB', '512MiB', '1.5 GiB' or '2GB' (10^9 bytes), or as bytes."
    if isinstance(size, str):
        match = _SIZE.match(size)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise CnnzooValueError(f"Cannot read {size!r} as a memory size ({name}). {accepted}")
        value: float = float(match.group(1)) * _UNITS[unit]  # inf for "1e999": refused below
    else:
        whole = _integer(size)
        if whole is None:
            raise CnnzooValueError(
                f"{name} must be a whole number of bytes or a string, got {size!r} ({type(size).__name__}). "
                f"{accepted}")
        value = whole
    if value > _MAX_BYTES or (isinstance(value, float) and math.isnan(value)):  # ints of any size compare
        raise CnnzooValueError(
            f"{name} must be at most 1 PiB ({_MAX_BYTES:,} bytes), more memory than any one machine has; got "
            f"{size!r}. Check its unit. {accepted}")
    if round(value) < smallest:
        least = "at least one byte" if smallest else "zero or more bytes"
        raise CnnzooValueError(f"{name} must be {least}, got {size!r}. {accepted}")
    return int(round(value))


def _integer(value: object) -> int | None:
    """``value`` as an int if it is a Python, numpy or torch integer (not a bool), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):  # torch raises these for tensors that are not one integer
        return None


def format_bytes(size: int) -> str:
    """A byte count for people: ``"512 B"``, ``"97.5 MiB"``, ``"1.25 GiB"``.

    Args:
        size: a whole number of bytes (negative for a shortfall), as a Python, numpy or torch integer,
            within +-2**63 (torch counts bytes in int64).

    Raises:
        CnnzooValueError: for anything else.
    """
    count = _integer(size)
    if count is None:
        raise CnnzooValueError(f"size must be a whole number of bytes, got {size!r} ({type(size).__name__}).")
    if abs(count) >= 2**63:
        raise CnnzooValueError(f"size must be within +-2**63 bytes (torch's int64 byte counts), got {count}.")
    if abs(count) < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if abs(value) < 1024 or unit == "TiB":
            break
    return f"{value:.2f} {unit}" if unit in ("GiB", "TiB") else f"{value:.1f} {unit}"


@dataclass(frozen=True)
class MemoryEstimate:
    """The memory one training (or inference) step takes, in bytes, as :func:`estimate_memory` found it.

    ``total = params + buffers + grads + optimizer_state + max(activations, optimizer_temporaries) +
    inputs + overhead``: the optimizer updates the weights after backward has freed the activations, so
    its temporaries and the activations are never alive together.

    Attributes:
        params: the parameters.
        buffers: the buffers (BatchNorm's running statistics).
        grads: the gradients of the parameters that require them.
        optimizer_state: the optimizer's per-parameter state (Adam: two tensors per parameter; SGD with
            momentum: one).
        activations: the working memory of forward and backward at their peak beyond the gradients:
            the tensors saved for backward, the intermediate maps and gradients of the maps, and the
            temporary buffers of the operators.
        optimizer_temporaries: the temporary buffers of one optimizer update.
        inputs: the input batch and, in training, its integer targets.
        overhead: :data:`RUNTIME_OVERHEAD`, or what ``overhead=`` said.
        total: the peak of the step.
        batch_size: images per batch.
        input_size: ``(C, H, W)`` of one image.
        dtype: the type of parameters, inputs and activations.
        training: a training step (forward, backward, update) rather than an inference forward.
        optimizer: the optimizer's name (None for none).
        model: the model's name, or its class name.
    """

    params: int
    buffers: int
    grads: int
    optimizer_state: int
    activations: int
    optimizer_temporaries: int
    inputs: int
    overhead: int
    batch_size: int
    input_size: tuple[int, int, int]
    dtype: torch.dtype
    training: bool
    optimizer: str | None
    model: str = ""
    total: int = field(init=False)

    def __post_init__(self) -> None:
        total = (self.params + self.buffers + self.grads + self.optimizer_state
                 + max(self.activations, self.optimizer_temporaries) + self.inputs + self.overhead)
        object.__setattr__(self, "total", total)

    def fits(self, budget: int | str) -> bool:
        """Whether the step's peak stays within ``budget`` (bytes, or a size such as ``"2GiB"``)."""
        return self.total <= _size_in_bytes("budget", budget)

    def __str__(self) -> str:
        mode = f"training with {self.optimizer or 'no optimizer'}" if self.training else "inference"
        size = "x".join(str(s) for s in self.input_size)
        element = self.dtype.itemsize
        rows = [
            ("parameters", self.params, f"{self.params // element:,} x {element} bytes"),
            ("buffers", self.buffers, ""),
            ("gradients", self.grads, ""),
            ("optimizer state", self.optimizer_state, self.optimizer or ""),
            ("activations", self.activations,
             "peak of forward and backward beyond the gradients" if self.training else "peak of the forward pass"),
            ("optimizer temporaries", self.optimizer_temporaries, "after backward, not alongside activations"),
            ("input batch", self.inputs, ""),
            ("runtime overhead", self.overhead, "kernels, threads, library workspaces"),
            ("total", self.total, ""),
        ]
        if not self.training:
            rows = [row for row in rows if row[0] not in ("gradients", "optimizer state", "optimizer temporaries")]
        name = f"{self.model}: " if self.model else ""
        lines = [f"{name}batch {self.batch_size} of {size}, {str(self.dtype).replace('torch.', '')}, {mode}"]
        for label, value, note in rows:
            lines.append(f"  {label:<22}{format_bytes(value):>12}" + (f"   ({note})" if note else ""))
        return "\n".join(lines)


class _LiveBytes(TorchDispatchMode):
    """Follows the storages operators create: the bytes alive now, their peak, and a trace of both.

    A storage is counted when an operator first returns a tensor on it and uncounted when it dies
    (storages keep their Python object as long as they live, so a weak reference sees the death).
    Views and in-place results share a storage and cost nothing more; ``resident`` storages -- the
    weights and the input -- exist before the step and are never counted.
    """

    def __init__(self, resident: Iterable[torch.Tensor]) -> None:
        super().__init__()
        self._resident = {t.untyped_storage()._cdata for t in resident}
        self._sizes: dict[int, int] = {}
        self._watch: dict[int, weakref.ref] = {}
        self.live = 0
        self.peak = 0
        #: live bytes after every allocation, the points where a peak can fall
        self.trace: list[int] = []

    def restart(self) -> None:
        """Begin a new phase: the peak and the trace start from what is alive now."""
        self.peak = self.live
        self.trace = []

    def close(self) -> None:
        """Stop following the storages (their deaths no longer call back)."""
        self._watch.clear()

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
        self._sizes[key] = size  # a storage that grows (resize_) counts its new size
        self.live += size - (before or 0)
        self.trace.append(self.live)
        self.peak = max(self.peak, self.live)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and leaf.layout == torch.strided:
                self._account(leaf.untyped_storage())
        return out


def _storage_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages under ``tensors``."""
    sizes = {t.untyped_storage()._cdata: t.untyped_storage().nbytes() for t in tensors}
    return sum(sizes.values())


def _meta_state(model: nn.Module,
                dtype: torch.dtype) -> tuple[dict[str, torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """Meta stand-ins for the model's parameters and buffers, keeping ``requires_grad`` and tied weights.

    Returns the name -> tensor mapping for :func:`torch.func.functional_call`, and the distinct parameters
    and buffers.
    """
    copies: dict[int, torch.Tensor] = {}
    state: dict[str, torch.Tensor] = {}
    params: list[torch.Tensor] = []
    buffers: list[torch.Tensor] = []
    named = chain(((n, t, True) for n, t in model.named_parameters(remove_duplicate=False)),
                  ((n, t, False) for n, t in model.named_buffers(remove_duplicate=False)))
    for name, tensor, is_param in named:
        if id(tensor) not in copies:
            meta = torch.empty_like(tensor, device="meta", dtype=dtype if tensor.is_floating_point() else tensor.dtype)
            if is_param:
                meta.requires_grad_(tensor.requires_grad)
            copies[id(tensor)] = meta
            (params if is_param else buffers).append(meta)
        state[name] = copies[id(tensor)]
    return state, params, buffers


@contextlib.contextmanager
def _mode(model: nn.Module, training: bool) -> Iterator[None]:
    """Put the model in training or evaluation mode, and every module back as it was afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield
    finally:
        for module, was_training in modes:
            module.training = was_training


def _loss(output: Any, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of every (N, classes) output (GoogLeNet's auxiliary heads too); the mean of others."""
    leaves = [t for t in tree_leaves(output) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not leaves:
        raise CnnzooValueError(
            f"The model returned {type(output).__name__}, with no floating-point tensor to train on.")
    losses = [F.cross_entropy(t, targets) if t.dim() == 2 and t.shape[0] == targets.shape[0] else t.mean()
              for t in leaves]
    return functools.reduce(torch.add, losses)


def _optimizer_factory(optimizer: OptimizerSpec) -> tuple[str | None, OptimizerFactory | None]:
    if optimizer is None:
        return None, None
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key == "none":
            return None, None
        if key not in _OPTIMIZERS:
            raise CnnzooValueError(
                f"Unknown optimizer {optimizer!r}; give one of {sorted(_OPTIMIZERS)} or None, or a function "
                "that builds a torch.optim optimizer from a parameter list, e.g. "
                "functools.partial(torch.optim.SGD, lr=0.1) for SGD without momentum."
            )
        return key, _OPTIMIZERS[key]
    if callable(optimizer):
        name = getattr(optimizer, "__name__", None) or getattr(getattr(optimizer, "func", None), "__name__", None)
        return (name or type(optimizer).__name__).lower(), optimizer
    raise CnnzooValueError(f"optimizer must be a name, None or a callable, got {optimizer!r}.")


def _as_dtype(dtype: torch.dtype | str) -> torch.dtype:
    candidate = dtype
    if isinstance(dtype, str):
        candidate = getattr(torch, dtype.strip().replace("torch.", ""), None) if dtype.strip() else None
    if candidate not in _DTYPES:
        names = ", ".join(str(d) for d in _DTYPES)
        raise CnnzooValueError(
            f"dtype must be one of {names} (or its name, such as 'bfloat16'), the types a network trains in "
            f"end to end; got {dtype!r}."
        )
    return candidate  # type: ignore[return-value]


def _check_flag(name: str, value: object) -> bool:
    """``value`` if it is True or False (a numpy bool too), else a CnnzooValueError naming ``name``."""
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    raise CnnzooValueError(f"{name} must be True or False, got {value!r} ({type(value).__name__}).")


def _check_input_size(input_size: object) -> int | tuple[int, int, int] | None:
    """``input_size`` as None, one side, or ``(C, H, W)``, each a whole number >= 1; else a CnnzooValueError."""
    if input_size is None:
        return None
    expected = "input_size must be (C, H, W) or one side, in whole numbers >= 1 (the model's default when None)"
    if isinstance(input_size, Sequence) and not isinstance(input_size, (str, bytes)):
        if len(input_size) != 3:
            raise CnnzooValueError(f"{expected}; got {input_size!r}, of {len(input_size)} numbers.")
        sides = []
        for side in input_size:
            try:
                sides.append(check_positive_int("input_size", side))
            except CnnzooValueError:
                raise CnnzooValueError(f"{expected}; got {input_size!r}.") from None
        return (sides[0], sides[1], sides[2])
    try:
        return check_positive_int("input_size", input_size)
    except CnnzooValueError:
        raise CnnzooValueError(f"{expected}; got {input_size!r} ({type(input_size).__name__}).") from None


def _resolve_input_size(model: nn.Module, input_size: int | tuple[int, int, int] | None) -> tuple[int, int, int]:
    """The ``(C, H, W)`` a checked ``input_size`` means for ``model``, from its ``default_cfg`` where needed."""
    # a FeatureExtractor keeps its model's configuration on the model it wraps
    cfg = getattr(model, "default_cfg", None) or getattr(getattr(model, "model", None), "default_cfg", None) or {}
    if isinstance(input_size, tuple):
        return input_size
    if input_size is not None:  # one side: the model's channels, or an RGB image's
        return (int(cfg.get("input_size", (3,))[0]), input_size, input_size)
    if "input_size" not in cfg:
        raise CnnzooValueError(f"{type(model).__name__} does not say what input it takes; pass input_size=(C, H, W).")
    channels, height, width = (int(s) for s in cfg["input_size"])
    return (channels, height, width)


def _check_image_bytes(input_size: tuple[int, int, int], dtype: torch.dtype) -> int:
    """The bytes of one image; a CnnzooValueError naming input_size if that is more than :data:`_MAX_BYTES`."""
    image = math.prod(input_size) * dtype.itemsize
    if image > _MAX_BYTES:
        raise CnnzooValueError(
            f"input_size {'x'.join(map(str, input_size))} is {image:,} bytes an image, more than 1 PiB "
            f"({_MAX_BYTES:,} bytes), which no machine has; pass a smaller input_size."
        )
    return image


def _check_batch_bytes(batch_size: int, input_size: tuple[int, int, int], dtype: torch.dtype) -> None:
    """Refuse a batch whose input alone is more than :data:`_MAX_BYTES`, naming the argument to shrink."""
    image = _check_image_bytes(input_size, dtype)
    size = "x".join(map(str, input_size))
    if batch_size * image > _MAX_BYTES:
        raise CnnzooValueError(
            f"batch_size {batch_size:,} of {size} images is {batch_size * image:,} bytes of input alone, more than "
            f"1 PiB ({_MAX_BYTES:,} bytes), which no machine has; pass a batch_size of at most "
            f"{_MAX_BYTES // image:,}, or max_batch_size() for the largest that fits a budget."
        )


@dataclass
class _Subject:
    """A model ready to be stepped on the meta device."""

    model: nn.Module
    state: dict[str, torch.Tensor]
    params: list[torch.Tensor]
    buffers: list[torch.Tensor]
    input_size: tuple[int, int, int]
    dtype: torch.dtype
    name: str


def _prepare(model_or_name: nn.Module | str, input_size: int | tuple[int, int, int] | None, dtype: torch.dtype,
             create_kwargs: dict[str, Any]) -> _Subject:
    if isinstance(model_or_name, nn.Module):
        if create_kwargs:
            raise CnnzooValueError(
                f"Model arguments {sorted(create_kwargs)} apply only when the model is given by name; "
                "build the model with them instead."
            )
        model = model_or_name
        name = (getattr(model, "default_cfg", None) or {}).get("architecture", type(model).__name__)
    elif isinstance(model_or_name, (str, os.PathLike)):
        name = os.fspath(model_or_name)
        model = _meta_model(name, create_kwargs)
    else:
        raise CnnzooValueError(
            f"model_or_name must be a model or a model name such as 'resnet50', got {type(model_or_name).__name__}.")
    size = _resolve_input_size(model, input_size)
    state, params, buffers = _meta_state(model, dtype)
    return _Subject(model, state, params, buffers, size, dtype, name)  # type: ignore[arg-type]


def _meta_model(name: str, create_kwargs: dict[str, Any]) -> nn.Module:
    """The architecture ``name`` names, on the meta device: the weights do not change the memory."""
    from cnnzoo.factory import create

    try:
        with torch.device("meta"):
            return create(name, **{**create_kwargs, "pretrained": False})
    except TypeError as exc:  # an argument the model's class does not take
        raise CnnzooValueError(f"{exc} (the extra keyword arguments go to cnnzoo.create).") from exc


@dataclass(frozen=True)
class _StepArguments:
    """What :func:`estimate_memory` and :func:`max_batch_size` were asked, checked."""

    subject: _Subject
    training: bool
    optimizer_name: str | None
    make_optimizer: OptimizerFactory | None
    overhead: int


def _check_step_arguments(model_or_name: nn.Module | str, input_size: object, training: object, optimizer: object,
                          dtype: object, overhead: object, create_kwargs: dict[str, Any]) -> _StepArguments:
    """The arguments :func:`estimate_memory` and :func:`max_batch_size` share, checked the same way for both.

    The cheap checks come first; the model (on the meta device) is built last.
    """
    size = _check_input_size(input_size)
    is_training = _check_flag("training", training)
    dtype = _as_dtype(dtype)  # type: ignore[arg-type]
    overhead_bytes = _size_in_bytes("overhead", overhead, smallest=0)
    optimizer_name, make_optimizer = _optimizer_factory(optimizer)  # type: ignore[arg-type]
    if not is_training:  # a forward pass updates nothing
        optimizer_name, make_optimizer = None, None
    subject = _prepare(model_or_name, size, dtype, create_kwargs)
    _check_image_bytes(subject.input_size, dtype)
    return _StepArguments(subject, is_training, optimizer_name, make_optimizer, overhead_bytes)


@dataclass(frozen=True)
class _Step:
    """What one traced step found."""

    batch_size: int
    activations_peak: int  # peak live bytes of forward and backward, gradients included
    trace: tuple[int, ...]  # live bytes after each allocation of forward and backward
    grads: int
    inputs: int
    optimizer_state: int = 0
    optimizer_temporaries: int = 0


def _trace_step(subject: _Subject, batch_size: int, training: bool,
                make_optimizer: OptimizerFactory | None) -> _Step:
    """Run one step on the meta device and follow its memory."""
    x = torch.empty((batch_size, *subject.input_size), dtype=subject.dtype, device="meta")
    targets = torch.zeros(batch_size, dtype=torch.long, device="meta")
    inputs = x.nbytes + (targets.nbytes if training else 0)
    tracker = _LiveBytes(resident=[*subject.state.values(), x, targets])
    params = subject.params
    try:
        try:
            with _mode(subject.model, training), tracker, torch.set_grad_enabled(training):
                output = torch.func.functional_call(subject.model, subject.state, (x,), tie_weights=False, strict=False)
                if training:
                    loss = _loss(output, targets)
                    del output
                    if loss.requires_grad:  # a model frozen throughout has nothing to differentiate
                        loss.backward()
                    del loss
                else:
                    del output
        except ValueError as exc:
            if "more than 1 value per channel" not in str(exc):
                raise
            # BatchNorm in training normalises with batch statistics, which one value per channel cannot give
            raise CnnzooValueError(
                f"{subject.name} cannot train at batch_size {batch_size} on {'x'.join(map(str, subject.input_size))} "
                f"inputs: its BatchNorm layers see one value per channel there ({exc}). Pass a larger input_size, "
                f"a batch_size of 2 or more, or training=False."
            ) from exc
        except (RuntimeError, NotImplementedError) as exc:
            if "overflow" in str(exc).lower():  # a tensor over 2**63 bytes: the input bound keeps clear of it
                raise CnnzooValueError(
                    f"{subject.name} at batch_size {batch_size} of {'x'.join(map(str, subject.input_size))} makes "
                    f"a tensor too large to describe ({exc}); pass a smaller batch_size or input_size."
                ) from exc
            if "meta" not in str(exc).lower():
                raise
            raise CnnzooError(
                f"{subject.name} cannot run on the meta device, which estimate_memory traces it on: {exc}. The "
                "estimate needs a forward pass whose operators depend on tensor shapes only, not on values."
            ) from exc
        step = _Step(batch_size, tracker.peak, tuple(tracker.trace), inputs=inputs,
                     grads=_storage_bytes(p.grad for p in params if p.grad is not None))
        trainable = [p for p in params if p.requires_grad]
        if training and make_optimizer is not None and trainable:
            optimizer = _build_optimizer(make_optimizer, trainable)
            with tracker:
                _update(optimizer)  # the first update creates the state
                tracker.restart()
                _update(optimizer)  # the second runs as every later one does, with the state in place
            # the step counters stay on the CPU whatever the device, four bytes a parameter: not counted
            state = _storage_bytes(t for s in optimizer.state.values() for t in s.values()
                                   if isinstance(t, torch.Tensor) and t.is_meta)
            step = dataclasses.replace(step, optimizer_state=state, optimizer_temporaries=tracker.peak - tracker.live)
    finally:
        tracker.close()
        for p in params:
            p.grad = None
    return step


def _build_optimizer(make_optimizer: OptimizerFactory, params: list[torch.Tensor]) -> torch.optim.Optimizer:
    """The optimizer a callable ``optimizer=`` builds, or a CnnzooValueError saying what it should be."""
    expected = ("optimizer must build a torch.optim optimizer from a list of parameters, like "
                "functools.partial(torch.optim.SGD, lr=0.1)")
    try:
        optimizer = make_optimizer(params)
    except (TypeError, ValueError) as exc:
        raise CnnzooValueError(f"{expected}; {make_optimizer!r} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise CnnzooValueError(f"{expected}; {make_optimizer!r} returned {type(optimizer).__name__}.")
    return optimizer


def _update(optimizer: torch.optim.Optimizer) -> None:
    try:
        optimizer.step()
    except TypeError as exc:  # LBFGS's step needs a closure that recomputes the loss
        raise CnnzooValueError(
            f"optimizer {type(optimizer).__name__} cannot step without arguments ({exc}); the estimate calls "
            "optimizer.step() as a plain training loop does: give an optimizer whose step takes none, or None."
        ) from exc


def _to_estimate(subject: _Subject, step: _Step, training: bool, optimizer_name: str | None,
                 overhead: int) -> MemoryEstimate:
    return MemoryEstimate(
        params=_storage_bytes(subject.params),
        buffers=_storage_bytes(subject.buffers),
        grads=step.grads,
        optimizer_state=step.optimizer_state,
        activations=step.activations_peak - step.grads,
        optimizer_temporaries=step.optimizer_temporaries,
        inputs=step.inputs,
        overhead=overhead,
        batch_size=step.batch_size,
        input_size=subject.input_size,
        dtype=subject.dtype,
        training=training,
        optimizer=optimizer_name,
        model=subject.name,
    )


def estimate_memory(
    model_or_name: nn.Module | str,
    batch_size: int,
    input_size: Sequence[int] | int | None = None,
    training: bool = True,
    optimizer: OptimizerSpec = "adam",
    dtype: torch.dtype | str = torch.float32,
    *,
    overhead: int | str = RUNTIME_OVERHEAD,
    **create_kwargs: Any,
) -> MemoryEstimate:
    """Estimate the memory of a training step (or an inference pass) without allocating any of it.

    The step is traced on the meta device (see the module's description), so the answer costs the same
    for DenseNet-264 at batch 256 as for LeNet-5, and holds for a card you do not have. Compared with
    the resident memory a real first step adds on the CPU, ``total - params - optimizer_state`` (with
    ``optimizer=None``) is within 5% for AlexNet, ResNet-18, ResNet-50 and DenseNet-121 at batch 8.

    Args:
        model_or_name: a registered name (``"resnet50"``, ``"resnet50.tv_in1k"``; weights are not loaded)
            or a model object, whose ``requires_grad`` flags are honoured (a model after
            :func:`cnnzoo.freeze_backbone` gets gradients and optimizer state only for its head). A
            model object is neither copied nor changed: meta stand-ins replace its parameters for the trace.
        batch_size: images per batch, a whole number >= 1 (numpy and torch integers too) whose input batch
            is at most 1 PiB.
        input_size: ``(C, H, W)``, or one side for square images; the model's default when None.
        training: a training step (forward, cross-entropy loss, backward, optimizer update) in training
            mode; False for a forward pass in evaluation mode without autograd.
        optimizer: ``"adam"``, ``"adamw"`` (two states per parameter), ``"sgd"`` (with momentum 0.9: one),
            ``"rmsprop"``, ``"adagrad"``, None (no update, no state), or a callable that builds a
            ``torch.optim`` optimizer from a list of parameters (``functools.partial(torch.optim.SGD,
            lr=0.1)`` for SGD without momentum, which keeps no state).
        dtype: the floating-point type of parameters, buffers, inputs and activations alike: pure
            float32, or pure bfloat16/float16 training (float64 too), as a ``torch.dtype`` or its name.
            Mixed precision (autocast) keeps float32 weights and runs most activations in half precision:
            it lies between the two estimates.
        overhead: bytes (or a size such as ``"300MiB"``) for what the runtime takes beyond tensors, from 0
            to 1 PiB; :data:`RUNTIME_OVERHEAD` by default.
        **create_kwargs: arguments of :func:`cnnzoo.create` (``num_classes=10``, ``drop_rate=0.2``) when
            the model is given by name.

    Returns:
        A :class:`MemoryEstimate`; ``print`` it for a breakdown.

    Raises:
        CnnzooValueError: for an argument of the wrong type or out of range (a batch size below 1, or one
            whose input alone is over 1 PiB), an unknown optimizer or dtype, a bad input size; the
            message names the argument. :func:`max_batch_size` checks its arguments the same way.
        UnknownModelError: for an unregistered name.
        InputShapeError: for an input the network cannot take (too small, wrong channels).

    Example:
        >>> estimate = cnnzoo.estimate_memory("resnet50", batch_size=32, optimizer="sgd")
        >>> estimate.fits("8GiB")
        True
    """
    batch = check_positive_int("batch_size", batch_size)
    checked = _check_step_arguments(model_or_name, input_size, training, optimizer, dtype, overhead, create_kwargs)
    subject = checked.subject
    _check_batch_bytes(batch, subject.input_size, subject.dtype)
    step = _trace_step(subject, batch, checked.training, checked.make_optimizer)
    return _to_estimate(subject, step, checked.training, checked.optimizer_name, checked.overhead)


def max_batch_size(
    model_or_name: nn.Module | str,
    budget: int | str,
    input_size: Sequence[int] | int | None = None,
    training: bool = True,
    optimizer: OptimizerSpec = "adam",
    dtype: torch.dtype | str = torch.float32,
    *,
    overhead: int | str = RUNTIME_OVERHEAD,
    **create_kwargs: Any,
) -> int:
    """The largest batch whose estimated step (see :func:`estimate_memory`) fits within ``budget``.

    Every tensor of a step has a size affine in the batch size, and the step runs the same operators in
    the same order at any batch size; so the live bytes after the i-th allocation are ``a_i + b_i * N``,
    and the peak is the highest of these lines. The traces at batch 1 and 2 give every line, which
    gives the answer; a trace at that batch size checks it. (Should the traces not line up, a bisection
    over estimates finds it instead.)

    Args:
        model_or_name: a registered name or a model object, as for :func:`estimate_memory`.
        budget: the memory available, as bytes or a size such as ``"2GiB"`` or ``"512MiB"``, at most 1 PiB.
        input_size: ``(C, H, W)``, or one side; the model's default when None.
        training: a training step rather than inference.
        optimizer: as for :func:`estimate_memory`.
        dtype: as for :func:`estimate_memory`.
        overhead: as for :func:`estimate_memory`.
        **create_kwargs: arguments of :func:`cnnzoo.create` when the model is given by name.

    Returns:
        The largest batch size ``N`` with ``estimate_memory(..., N).total <= budget``.

    Raises:
        CnnzooValueError: for a budget that cannot be read or is over 1 PiB, or one that not even a batch
            of one fits (the message says how much one image needs, and what would shrink it); for the
            other arguments as :func:`estimate_memory` says.

    Example:
        >>> cnnzoo.max_batch_size("resnet18", "2GiB")  # doctest: +SKIP
        88
    """
    budget_bytes = _size_in_bytes("budget", budget)
    checked = _check_step_arguments(model_or_name, input_size, training, optimizer, dtype, overhead, create_kwargs)
    subject, training, overhead_bytes = checked.subject, checked.training, checked.overhead
    optimizer_name, make_optimizer = checked.optimizer_name, checked.make_optimizer
    first = _trace_step(subject, 1, training, make_optimizer)
    one = _to_estimate(subject, first, training, optimizer_name, overhead_bytes)
    if one.total > budget_bytes:
        raise CnnzooValueError(_too_small_message(subject, model_or_name, one, budget_bytes, create_kwargs))

    # the update's state and temporaries do not depend on the batch: trace forward and backward alone
    def step_at(batch: int) -> _Step:
        step = _trace_step(subject, batch, training, None)
        return dataclasses.replace(step, optimizer_state=first.optimizer_state,
                                   optimizer_temporaries=first.optimizer_temporaries)

    def fits(step: _Step) -> bool:
        return _to_estimate(subject, step, training, optimizer_name, overhead_bytes).total <= budget_bytes

    second = step_at(2)
    if not fits(second):
        return 1
    if len(first.trace) == len(second.trace) and first.trace:
        # total(N) = fixed + inputs(N) + max(max_i(a_i + b_i N), grads + optimizer temporaries)
        room = budget_bytes - (one.params + one.buffers + one.optimizer_state + one.overhead)
        per_image = first.inputs  # the input batch is exactly linear in N
        lines = [(low - (high - low), high - low) for low, high in zip(first.trace, second.trace)]
        bounds = [(room - a) // (b + per_image) for a, b in lines]
        bounds.append((room - first.grads - first.optimizer_temporaries) // per_image)
        largest = min(bounds)
        if largest >= 2:
            check = step_at(largest)
            if check.activations_peak == max(a + b * largest for a, b in lines) and fits(check):
                return largest
        logger.debug("the traces of %s do not predict its peak at batch %d; bisecting", subject.name, largest)
    # bisection on the estimates, which grow with the batch
    low, high = 2, 4
    while fits(step_at(high)):
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(step_at(middle)) else (low, middle)
    return low


def _too_small_message(subject: _Subject, model_or_name: nn.Module | str, one: MemoryEstimate, budget: int,
                       create_kwargs: dict[str, Any]) -> str:
    size = "x".join(map(str, subject.input_size))
    fixes = [f"a smaller input (input_size; now {size})"]
    if one.training:
        fixes.append("a frozen backbone (cnnzoo.freeze_backbone(model)), which needs no gradients or "
                     "optimizer state for it")
        if one.optimizer in ("adam", "adamw"):
            fixes.append("optimizer='sgd' (one state per parameter instead of two) or None")
    if subject.dtype == torch.float32:
        fixes.append("dtype=torch.bfloat16 (half the bytes)")
    if one.training and isinstance(model_or_name, (str, os.PathLike)) and not create_kwargs.get("memory_efficient"):
        from cnnzoo.factory import create

        try:  # a model that recomputes in backward what it would otherwise keep says so by accepting this
            with torch.device("meta"):
                create(os.fspath(model_or_name), **{**create_kwargs, "pretrained": False, "memory_efficient": True})
            fixes.append("memory_efficient=True (recomputes cheap layers in backward instead of keeping them)")
        except (TypeError, CnnzooError):
            pass
    mode = f"training with {one.optimizer or 'no optimizer'}" if one.training else "inference"
    return (
        f"{subject.name} needs {format_bytes(one.total)} at batch size 1 ({size}, "
        f"{str(subject.dtype).replace('torch.', '')}, {mode}), more than the budget of {format_bytes(budget)}. "
        "To fit, try " + "; ".join(fixes) + "."
    )


# -- measuring the real thing ----------------------------------------------------------------------

#: One measurement at a time in a process: each resets the process's peak (the kernel's or the CUDA
#: allocator's), which would cut another one short, or take it below its own baseline.
_MEASURING = threading.Lock()

#: The longest :func:`measure_step_peak_in_subprocess` waits: a day, where DenseNet-121 steps at batch 8 in
#: seconds on two cores (and subprocess's waits overflow a little beyond three weeks).
_MAX_TIMEOUT = 24 * 3600.0


def _read_status(*keys: str) -> dict[str, int]:
    values: dict[str, int] = {}
    with open("/proc/self/status", "rb") as status:  # the process name in it need not be ASCII
        for line in status:
            key, _, value = line.partition(b":")
            name = key.decode("ascii", "replace")
            if name in keys:
                values[name] = int(value.split()[0]) * 1024  # reported in kB
    return values


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep Python's cycle collector from running, in any thread, until the block ends.

    A collection frees whatever garbage of the process is due, at any allocation: in the middle of a
    measurement, its memory leaves the resident size under the baseline or is reused by the step unseen.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]  # glibc's; musl and macOS have none
    except (OSError, AttributeError):
        return None


def _release_free_heap() -> None:
    """Return the memory malloc keeps free to the system, so the step cannot reuse it without it showing.

    Without this, a process that freed memory earlier (a test run, a notebook) keeps it resident, and a step
    taking it back adds nothing to the resident size: the measurement falls short of what the step needs.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _reset_resident_peak() -> int:
    """Set the kernel's high-water mark of resident memory (``VmHWM``) to the resident size now; return it.

    The mark only rises from here until the next reset, so a figure read later and less this one is >= 0.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError as exc:
        raise CnnzooError(
            f"Cannot reset this process's peak resident memory through /proc/self/clear_refs ({exc}); measuring "
            "the CPU's peak needs Linux 4.0 or later with /proc writable. Use a CUDA model, or compare with "
            "estimate_memory alone."
        ) from exc
    return _read_status("VmHWM")["VmHWM"]


def measure_step_peak(model: nn.Module, batch_size: int, input_size: Sequence[int] | int | None = None,
                      training: bool = True) -> int:
    """Measure the peak memory one real step adds over what was resident before it, in bytes (never < 0).

    The step is what :func:`estimate_memory` traces with ``optimizer=None``: forward, cross-entropy
    loss and backward in training mode (the gradients are set to None first, so the step creates them),
    or a forward pass without autograd in evaluation mode. The model and the input batch are in memory
    before the step begins; the model's mode is restored afterwards, and its gradients too if the step fails.

    On a CUDA model it reads the caching allocator's peak (``torch.cuda.max_memory_allocated``), reset
    just before the step. On the CPU it needs Linux: the kernel's high-water mark of resident memory
    (``VmHWM``) is reset to the resident size through ``/proc/self/clear_refs`` and read back as the
    baseline, and the figure is the mark after the step less that baseline. Before the reset, the memory
    malloc keeps free goes back to the system (glibc's ``malloc_trim``), so the step cannot reuse it
    unseen; Python's cycle collector is paused until the step ends; and a process runs one measurement at
    a time. The figure is as sharp as the kernel's count: Linux counts resident pages per CPU and adds
    them up in batches, which blurs it by a few hundred KiB on a small machine, some MiB on a large one.

    The figure is the process's, not the step's alone: what other threads allocate during the step counts
    too, and memory they free may be reused by the step unseen (the figure then falls short, down to
    zero). Resident memory follows the tensors only if the process started with :data:`MEASUREMENT_ENV`
    in its environment (glibc reads it at start-up); otherwise freed memory stays resident and is reused
    within the step. For a figure of the step alone, measure in a fresh process that does nothing else:
    :func:`measure_step_peak_in_subprocess`. A first step in a process also pages in the kernels it
    runs, which later steps do not.

    Args:
        model: the model, with its parameters on the CPU or a CUDA device.
        batch_size: images per batch, a whole number >= 1.
        input_size: ``(C, H, W)``, or one side; the model's default when None.
        training: a training step rather than an inference forward.

    Returns:
        The peak the step adds, in bytes: 0 or more.

    Raises:
        CnnzooValueError: for an argument of the wrong type or out of range, naming it.
        CnnzooError: on a CPU without a writable ``/proc/self/clear_refs`` (not Linux), or when the
            device has not the memory for the step.
    """
    if not isinstance(model, nn.Module):
        raise CnnzooValueError(
            f"model must be a torch.nn.Module such as cnnzoo.create('resnet18'), got {type(model).__name__}; "
            "measure_step_peak_in_subprocess takes a name.")
    batch = check_positive_int("batch_size", batch_size)
    checked_size = _check_input_size(input_size)
    is_training = _check_flag("training", training)
    reference = next(chain(model.parameters(), model.buffers()), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else torch.float32
    if device.type not in ("cpu", "cuda"):
        raise CnnzooValueError(
            f"model is on {device}, where measure_step_peak cannot measure; move it to the CPU or a CUDA device "
            "(estimate_memory estimates a model on the meta device).")
    size = _resolve_input_size(model, checked_size)
    _check_batch_bytes(batch, size, dtype)
    cuda = device.type == "cuda"
    if not cuda and not os.path.exists("/proc/self/clear_refs"):
        raise CnnzooError("Measuring the CPU's peak memory needs Linux (/proc/self/clear_refs); "
                          "use a CUDA model, or compare with estimate_memory alone.")
    if not cuda and any(os.environ.get(k) != v for k, v in MEASUREMENT_ENV.items()):
        logger.warning("measuring without %s: freed memory may stay resident and be reused unseen, which makes the "
                       "peak smaller or larger than the step's", MEASUREMENT_ENV)
    gradients = [(p, p.grad) for p in model.parameters()]
    try:
        x = torch.randn((batch, *size), dtype=dtype, device=device)
        targets = torch.randint(0, 2, (batch,), device=device)
        model.zero_grad(set_to_none=True)
        with _MEASURING, _collector_paused(), _mode(model, is_training):
            if cuda:
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                before = torch.cuda.memory_allocated(device)
            else:
                _release_free_heap()
                # the baseline is read after the reset, not before it: memory freed between the two (by
                # another thread, a collection, the kernel) would otherwise take the mark under the baseline
                before = _reset_resident_peak()
            if is_training:
                _loss(model(x), targets).backward()
            else:
                with torch.no_grad():
                    model(x)
            if cuda:
                torch.cuda.synchronize(device)
                peak = torch.cuda.max_memory_allocated(device) - before
            else:
                peak = _read_status("VmHWM")["VmHWM"] - before
    except BaseException as exc:
        for parameter, gradient in gradients:
            parameter.grad = gradient
        if isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in str(exc):
            raise CnnzooError(
                f"A step of {type(model).__name__} at batch_size {batch} of {'x'.join(map(str, size))} needs more "
                f"memory than {device} has free ({str(exc).splitlines()[0]}); measure a smaller batch_size "
                "(estimate_memory says what a batch needs without running it)."
            ) from exc
        raise
    # Both marks only rise from their resets, and the baselines are read after them, so the difference is
    # >= 0 but for the kernel's bookkeeping: it raises the mark from its batched per-CPU count of resident
    # pages, while /proc/self/status may show the exact sum (Linux 6.16 on), and the two can differ by up to
    # a batch a CPU (seen: -292 KiB on 2 CPUs, 2 steps in 300, with another thread allocating). A step adds
    # at least nothing, so within that blur zero is the nearest true figure; so it is too should code outside
    # cnnzoo reset the mark mid-step, which no lock here can prevent.
    return max(peak, 0)


def measure_step_peak_in_subprocess(name: str, batch_size: int, input_size: Sequence[int] | int | None = None,
                                    training: bool = True, *, threads: int | None = None, timeout: float = 600,
                                    **create_kwargs: Any) -> int:
    """:func:`measure_step_peak` on the CPU in a fresh Python process started with :data:`MEASUREMENT_ENV`.

    The process builds ``cnnzoo.create(name, pretrained=False, **create_kwargs)`` with real (random)
    weights, measures one step, and exits; so nothing else this process did is in the figure. Linux only.
    The arguments are checked here, the model's name and arguments too (by building it on the meta
    device), before the process starts.

    Args:
        name: a registered model name.
        batch_size: images per batch, a whole number >= 1.
        input_size: ``(C, H, W)``, or one side; the model's default when None.
        training: a training step rather than an inference forward.
        threads: intra-op threads of the process (``torch.set_num_threads``), from 1 to the machine's CPUs;
            PyTorch's default when None. Each thread keeps some memory of its own: one thread measures a
            few MiB less than several.
        timeout: seconds to wait for the process, more than 0 and at most a day.
        **create_kwargs: JSON-serialisable arguments of :func:`cnnzoo.create`.

    Returns:
        The peak the step adds, in bytes: 0 or more.

    Raises:
        CnnzooValueError: for an argument of the wrong type or out of range, naming it.
        UnknownModelError: for an unregistered name.
        CnnzooError: when the process fails (its error is in the message) or outlasts ``timeout``.

    Example:
        >>> measure_step_peak_in_subprocess("resnet18", 8) / 2**20  # doctest: +SKIP
        222.2
    """
    if not isinstance(name, (str, os.PathLike)):
        raise CnnzooValueError(f"name must be a model name such as 'resnet18', got {name!r} ({type(name).__name__}).")
    name = os.fspath(name)
    batch = check_positive_int("batch_size", batch_size)
    checked_size = _check_input_size(input_size)
    is_training = _check_flag("training", training)
    if threads is not None:
        threads = check_positive_int("threads", threads)
        cpus = os.cpu_count() or 1
        if threads > cpus:
            raise CnnzooValueError(
                f"threads must be at most this machine's {cpus} CPUs, got {threads}: more would measure threads "
                "waiting for a core. None leaves PyTorch's default.")
    try:
        seconds = check_positive_float("timeout", timeout)
    except OverflowError:  # an int beyond any float: far more than a day
        seconds = math.inf
    if seconds > _MAX_TIMEOUT:
        raise CnnzooValueError(f"timeout must be at most a day ({_MAX_TIMEOUT:.0f} s), got {timeout!r}.")
    model = _meta_model(name, create_kwargs)  # an unknown name or model argument fails here, not in the process
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    size = _resolve_input_size(model, checked_size)
    _check_batch_bytes(batch, size, dtype)
    spec = {"name": name, "batch_size": batch, "input_size": list(size), "training": is_training,
            "threads": threads, "create_kwargs": create_kwargs}
    try:
        spec_json = json.dumps(spec, allow_nan=False, default=_plain_number)
    except (TypeError, ValueError) as exc:
        raise CnnzooValueError(
            f"The model arguments {sorted(create_kwargs)} must be JSON-serialisable to reach the measuring process "
            f"({exc}); pass numbers, strings, booleans, lists and dicts.") from exc
    code = "import sys, cnnzoo.memory as m; m._measure_main(sys.argv[1])"
    try:
        result = subprocess.run([sys.executable, "-c", code, spec_json], capture_output=True, text=True,
                                timeout=seconds, env={**os.environ, **MEASUREMENT_ENV}, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CnnzooError(
            f"Measuring {name} at batch {batch} took longer than timeout={seconds:g} s; pass a longer timeout "
            "or a smaller batch_size.") from exc
    if result.returncode != 0:
        raise CnnzooError(f"Measuring {name} at batch {batch} failed:\n{result.stderr.strip()[-2000:]}")
    try:
        return int(result.stdout.split()[-1])
    except (IndexError, ValueError):
        raise CnnzooError(
            f"Measuring {name} at batch {batch} printed no byte count:\n{(result.stdout + result.stderr)[-2000:]}"
        ) from None


def _plain_number(value: object) -> bool | int | float:
    """A numpy or torch number as the Python number JSON can carry (``json.dumps``'s ``default``)."""
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    whole = _integer(value)
    if whole is not None:
        return whole
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{type(value).__name__} {value!r} is not a number, a string, a list or a dict") from None


def _measure_main(spec_json: str) -> None:
    """Entry point of the measuring process: prints the bytes the step added."""
    from cnnzoo.factory import create

    spec = json.loads(spec_json)
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    model = create(spec["name"], pretrained=False, **spec["create_kwargs"])
    peak = measure_step_peak(model, spec["batch_size"], spec["input_size"], spec["training"])
    print(peak)
