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
import dataclasses
import functools
import json
import logging
import math
import os
import re
import subprocess
import sys
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

from cnnzoo.errors import CnnzooError, CnnzooValueError, check_positive_int

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
        size: a positive number of bytes, or a string as above.

    Returns:
        The size in bytes, rounded to the nearest byte.

    Raises:
        CnnzooValueError: for anything else, saying which forms are accepted.

    Example:
        >>> parse_bytes("1.5 GiB"), parse_bytes("2GB"), parse_bytes(4096)
        (1610612736, 2000000000, 4096)
    """
    accepted = "Write it as a number with a unit, like '2GiB', '512MiB', '1.5 GiB' or '2GB' (10^9 bytes), or as bytes."
    if isinstance(size, bool) or not isinstance(size, (int, str)):
        raise CnnzooValueError(
            f"Memory size must be an int or a string, got {size!r} ({type(size).__name__}). {accepted}")
    if isinstance(size, int):
        value: float = size
    else:
        match = _SIZE.match(size)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise CnnzooValueError(f"Cannot read {size!r} as a memory size. {accepted}")
        value = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or round(value) < 1:
        raise CnnzooValueError(f"Memory size must be at least one byte, got {size!r}. {accepted}")
    return int(round(value))


def format_bytes(size: int) -> str:
    """A byte count for people: ``"512 B"``, ``"97.5 MiB"``, ``"1.25 GiB"``."""
    if abs(size) < 1024:
        return f"{size} B"
    value = float(size)
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
        return self.total <= parse_bytes(budget)

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
    if isinstance(dtype, str):
        candidate = getattr(torch, dtype.replace("torch.", ""), None)
        if isinstance(candidate, torch.dtype):
            dtype = candidate
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise CnnzooValueError(
            f"dtype must be a floating-point torch.dtype such as torch.float32, torch.bfloat16 or "
            f"torch.float16, got {dtype!r}."
        )
    return dtype


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


def _prepare(model_or_name: nn.Module | str, input_size: Sequence[int] | int | None, dtype: torch.dtype | str,
             create_kwargs: dict[str, Any]) -> _Subject:
    dtype = _as_dtype(dtype)
    if isinstance(model_or_name, nn.Module):
        if create_kwargs:
            raise CnnzooValueError(
                f"Model arguments {sorted(create_kwargs)} apply only when the model is given by name; "
                "build the model with them instead."
            )
        model = model_or_name
        name = (getattr(model, "default_cfg", None) or {}).get("architecture", type(model).__name__)
    elif isinstance(model_or_name, (str, os.PathLike)):
        from cnnzoo.registry import create

        name = os.fspath(model_or_name)
        # the weights do not change the memory: build the architecture only, on the meta device
        with torch.device("meta"):
            model = create(name, **{**create_kwargs, "pretrained": False})
    else:
        raise CnnzooValueError(f"Expected a model or a model name, got {type(model_or_name).__name__}.")
    # a FeatureExtractor keeps its model's configuration on the model it wraps
    cfg = getattr(model, "default_cfg", None) or getattr(getattr(model, "model", None), "default_cfg", None) or {}
    if input_size is None:
        if "input_size" not in cfg:
            raise CnnzooValueError(
                f"{type(model).__name__} does not say what input it takes; pass input_size=(C, H, W)."
            )
        size = tuple(int(s) for s in cfg["input_size"])
    elif isinstance(input_size, int) and not isinstance(input_size, bool):
        channels = cfg.get("input_size", (3,))[0]
        size = (channels, input_size, input_size)
    else:
        size = tuple(input_size) if isinstance(input_size, Sequence) else ()
        if len(size) != 3 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size):
            raise CnnzooValueError(f"input_size must be (C, H, W) of positive ints, got {input_size!r}.")
    state, params, buffers = _meta_state(model, dtype)
    return _Subject(model, state, params, buffers, size, dtype, name)  # type: ignore[arg-type]


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
        except (RuntimeError, NotImplementedError) as exc:
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
            optimizer = make_optimizer(trainable)
            with tracker:
                optimizer.step()  # the first update creates the state
                tracker.restart()
                optimizer.step()  # the second runs as every later one does, with the state in place
            # the step counters stay on the CPU whatever the device, four bytes a parameter: not counted
            state = _storage_bytes(t for s in optimizer.state.values() for t in s.values()
                                   if isinstance(t, torch.Tensor) and t.is_meta)
            step = dataclasses.replace(step, optimizer_state=state, optimizer_temporaries=tracker.peak - tracker.live)
    finally:
        tracker.close()
        for p in params:
            p.grad = None
    return step


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
        batch_size: images per batch.
        input_size: ``(C, H, W)``, or one side for square images; the model's default when None.
        training: a training step (forward, cross-entropy loss, backward, optimizer update) in training
            mode; False for a forward pass in evaluation mode without autograd.
        optimizer: ``"adam"``, ``"adamw"`` (two states per parameter), ``"sgd"`` (with momentum 0.9: one),
            ``"rmsprop"``, ``"adagrad"``, None (no update, no state), or a callable that builds a
            ``torch.optim`` optimizer from a list of parameters (``functools.partial(torch.optim.SGD,
            lr=0.1)`` for SGD without momentum, which keeps no state).
        dtype: the floating-point type of parameters, buffers, inputs and activations alike: pure
            float32, or pure bfloat16/float16 training. Mixed precision (autocast) keeps float32 weights
            and runs most activations in half precision: it lies between the two estimates.
        overhead: bytes (or a size such as ``"300MiB"``) for what the runtime takes beyond tensors;
            :data:`RUNTIME_OVERHEAD` by default.
        **create_kwargs: arguments of :func:`cnnzoo.create` (``num_classes=10``, ``drop_rate=0.2``) when
            the model is given by name.

    Returns:
        A :class:`MemoryEstimate`; ``print`` it for a breakdown.

    Raises:
        CnnzooValueError: for a batch size below 1, an unknown optimizer or dtype, a bad input size.
        UnknownModelError: for an unregistered name.
        InputShapeError: for an input the network cannot take (too small, wrong channels).

    Example:
        >>> estimate = cnnzoo.estimate_memory("resnet50", batch_size=32, optimizer="sgd")
        >>> estimate.fits("8GiB")
        True
    """
    check_positive_int("batch_size", batch_size)
    overhead_bytes = _overhead_bytes(overhead)
    subject = _prepare(model_or_name, input_size, dtype, create_kwargs)
    optimizer_name, make_optimizer = _optimizer_factory(optimizer if training else None)
    step = _trace_step(subject, batch_size, training, make_optimizer)
    return _to_estimate(subject, step, training, optimizer_name, overhead_bytes)


def _overhead_bytes(overhead: int | str) -> int:
    return 0 if overhead == 0 else parse_bytes(overhead)


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
        budget: the memory available, as bytes or a size such as ``"2GiB"`` or ``"512MiB"``.
        input_size: ``(C, H, W)``, or one side; the model's default when None.
        training: a training step rather than inference.
        optimizer: as for :func:`estimate_memory`.
        dtype: as for :func:`estimate_memory`.
        overhead: as for :func:`estimate_memory`.
        **create_kwargs: arguments of :func:`cnnzoo.create` when the model is given by name.

    Returns:
        The largest batch size ``N`` with ``estimate_memory(..., N).total <= budget``.

    Raises:
        CnnzooValueError: for a budget that cannot be read, or one that not even a batch of one fits
            (the message says how much one image needs, and what would shrink it).

    Example:
        >>> cnnzoo.max_batch_size("resnet18", "2GiB")  # doctest: +SKIP
        88
    """
    budget_bytes = parse_bytes(budget)
    overhead_bytes = _overhead_bytes(overhead)
    subject = _prepare(model_or_name, input_size, dtype, create_kwargs)
    optimizer_name, make_optimizer = _optimizer_factory(optimizer if training else None)
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
        from cnnzoo.registry import create

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

def _read_status(*keys: str) -> dict[str, int]:
    values: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in keys:
                values[key] = int(value.split()[0]) * 1024  # reported in kB
    return values


def measure_step_peak(model: nn.Module, batch_size: int, input_size: Sequence[int] | None = None,
                      training: bool = True) -> int:
    """Measure the peak memory one real step adds over what was resident before it, in bytes.

    The step is what :func:`estimate_memory` traces with ``optimizer=None``: forward, cross-entropy
    loss and backward in training mode (the gradients are set to None first, so the step creates them),
    or a forward pass without autograd in evaluation mode. The model and the input batch are in memory
    before the step begins; the model's mode is restored afterwards.

    On a CUDA model it reads the caching allocator's peak (``torch.cuda.max_memory_allocated``). On the
    CPU it needs Linux: the kernel's high-water mark of resident memory (``VmHWM``), reset just before
    the step through ``/proc/self/clear_refs``, less the resident memory (``VmRSS``) before it. Resident
    memory follows the tensors only if the process started with :data:`MEASUREMENT_ENV` in its
    environment (glibc reads it at start-up): use :func:`measure_step_peak_in_subprocess`, or start
    Python with those variables. A first step in a process also pages in the kernels it runs, which
    later steps do not.

    Args:
        model: the model, on the device to measure.
        batch_size: images per batch.
        input_size: ``(C, H, W)``; the model's default when None.
        training: a training step rather than an inference forward.

    Returns:
        The peak the step adds, in bytes.

    Raises:
        CnnzooError: on a CPU without ``/proc/self/clear_refs`` (not Linux).
    """
    check_positive_int("batch_size", batch_size)
    if input_size is None:
        input_size = (getattr(model, "default_cfg", None) or {}).get("input_size")
        if input_size is None:
            raise CnnzooValueError(
                f"{type(model).__name__} does not say what input it takes; pass input_size=(C, H, W).")
    reference = next(chain(model.parameters(), model.buffers()), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else torch.float32
    cuda = device.type == "cuda"
    if not cuda and not os.path.exists("/proc/self/clear_refs"):
        raise CnnzooError("Measuring the CPU's peak memory needs Linux (/proc/self/clear_refs); "
                          "use a CUDA model, or compare with estimate_memory alone.")
    if not cuda and any(os.environ.get(k) != v for k, v in MEASUREMENT_ENV.items()):
        logger.warning("measuring without %s: freed memory may stay resident and inflate the peak", MEASUREMENT_ENV)
    x = torch.randn((batch_size, *input_size), dtype=dtype, device=device)
    targets = torch.randint(0, 2, (batch_size,), device=device)
    model.zero_grad(set_to_none=True)
    with _mode(model, training):
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
        else:
            before = _read_status("VmRSS")["VmRSS"]
            with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
                clear.write("5")  # reset the high-water mark to the current resident size
        if training:
            _loss(model(x), targets).backward()
        else:
            with torch.no_grad():
                model(x)
        if cuda:
            torch.cuda.synchronize(device)
            return torch.cuda.max_memory_allocated(device) - before
        return _read_status("VmHWM")["VmHWM"] - before


def measure_step_peak_in_subprocess(name: str, batch_size: int, input_size: Sequence[int] | None = None,
                                    training: bool = True, *, threads: int | None = None, timeout: float = 600,
                                    **create_kwargs: Any) -> int:
    """:func:`measure_step_peak` on the CPU in a fresh Python process started with :data:`MEASUREMENT_ENV`.

    The process builds ``cnnzoo.create(name, pretrained=False, **create_kwargs)`` with real (random)
    weights, measures one step, and exits; so nothing else this process did is in the figure. Linux only.

    Args:
        name: a registered model name.
        batch_size: images per batch.
        input_size: ``(C, H, W)``; the model's default when None.
        training: a training step rather than an inference forward.
        threads: intra-op threads of the process (``torch.set_num_threads``); PyTorch's default when None.
            Each thread keeps some memory of its own: one thread measures a few MiB less than several.
        timeout: seconds to wait for the process.
        **create_kwargs: JSON-serialisable arguments of :func:`cnnzoo.create`.

    Returns:
        The peak the step adds, in bytes.

    Example:
        >>> measure_step_peak_in_subprocess("resnet18", 8) / 2**20  # doctest: +SKIP
        222.2
    """
    spec = {"name": name, "batch_size": batch_size, "input_size": list(input_size) if input_size else None,
            "training": training, "threads": threads, "create_kwargs": create_kwargs}
    code = "import sys, cnnzoo.memory as m; m._measure_main(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, **MEASUREMENT_ENV}, check=False)
    if result.returncode != 0:
        raise CnnzooError(f"Measuring {name} at batch {batch_size} failed:\n{result.stderr.strip()[-2000:]}")
    return int(result.stdout.split()[-1])


def _measure_main(spec_json: str) -> None:
    """Entry point of the measuring process: prints the bytes the step added."""
    from cnnzoo.registry import create

    spec = json.loads(spec_json)
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    model = create(spec["name"], pretrained=False, **spec["create_kwargs"])
    peak = measure_step_peak(model, spec["batch_size"], spec["input_size"], spec["training"])
    print(peak)
