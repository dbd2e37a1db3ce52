"""How much memory training (or running) a network takes, estimated without allocating it.

:func:`estimate_memory` answers "does ResNet-50 at batch 64 fit on a 16 GiB card?" on a laptop without
that card: it runs one training step -- forward, loss, backward, optimizer update -- on the meta device,
where tensors have shapes but no storage, and follows every storage the step creates from birth to
death with a :class:`~cnnzoo.memory.LiveBytes` tracker. The peak of the live bytes is the step's working
memory: the activations autograd saves for backward (deduplicated by storage, so ReLU's in-place output,
BatchNorm's saved statistics, max-pool indices and dropout masks each count once), the gradients as
backward creates them, and the temporary buffers of every operator that the dispatcher sees. Parameters
that do not require gradients get none, and autograd does not save the inputs of frozen layers for
weight gradients, so a frozen backbone is estimated as it will run. So is a model after
``set_grad_checkpointing()`` (or any :func:`torch.utils.checkpoint.checkpoint`): a checkpointed segment
keeps only its input, and backward runs it again, which the trace follows too. The estimate follows
PyTorch's own code paths for the meta device, which are the CPU's (the single-tensor optimizer loops, the
CPU dropout mask); it cannot see memory inside a kernel (a cuDNN or oneDNN workspace) and covers that,
and the runtime's own first-step allocations, with a fixed :data:`RUNTIME_OVERHEAD`.

:func:`max_batch_size` inverts the estimate for a budget such as ``"2GiB"``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import torch
from torch import nn

from cnnzoo._meta import meta_state
from cnnzoo.errors import CnnzooError, CnnzooValueError, check_positive_int
from cnnzoo.memory.step import (
    _check_batch_bytes,
    _check_flag,
    _check_image_bytes,
    _check_input_size,
    _loss,
    _meta_model,
    _mode,
    _resolve_input_size,
)
from cnnzoo.memory.tracker import LiveBytes, storage_bytes
from cnnzoo.memory.units import _size_in_bytes, format_bytes

__all__ = ["MemoryEstimate", "estimate_memory", "max_batch_size", "RUNTIME_OVERHEAD"]

logger = logging.getLogger(__name__)

#: Bytes the runtime itself takes in a first training step beyond the tensors the step creates: kernel
#: code paged in, thread pools, oneDNN/BLAS scratch buffers. Measured on the CPU (PyTorch 2.x, Linux)
#: as the first step's resident peak less the tensor peak the meta device traces: 13 to 33 MiB across
#: AlexNet, ResNet-18/50 and DenseNet-121 at batch 1 to 32. On a GPU it stands in for the cuBLAS and
#: cuDNN workspaces; the CUDA context (a few hundred MiB of the card) is not in any estimate.
RUNTIME_OVERHEAD = 24 * 2**20

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
    state = meta_state(model, dtype)
    # the stand-ins of the distinct tensors, by the first name of each (tied weights share one stand-in)
    params = [state[key] for key, _ in model.named_parameters()]
    shared = {id(p) for p in params}
    buffers = [state[key] for key, _ in model.named_buffers() if id(state[key]) not in shared]
    return _Subject(model, state, params, buffers, size, dtype, name)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _StepArguments:
    """What :func:`estimate_memory` and :func:`max_batch_size` were asked, checked."""

    subject: _Subject
    training: bool
    optimizer_name: str | None
    make_optimizer: OptimizerFactory | None
    overhead: int

    def trace(self, batch_size: int, update: bool = True) -> _Step:
        """Trace a step at ``batch_size``; with ``update=False``, forward and backward without the update."""
        return _trace_step(self.subject, batch_size, self.training, self.make_optimizer if update else None)

    def estimate(self, step: _Step) -> MemoryEstimate:
        """The estimate a traced ``step`` gives."""
        subject = self.subject
        return MemoryEstimate(
            params=storage_bytes(subject.params),
            buffers=storage_bytes(subject.buffers),
            grads=step.grads,
            optimizer_state=step.optimizer_state,
            activations=step.activations_peak - step.grads,
            optimizer_temporaries=step.optimizer_temporaries,
            inputs=step.inputs,
            overhead=self.overhead,
            batch_size=step.batch_size,
            input_size=subject.input_size,
            dtype=subject.dtype,
            training=self.training,
            optimizer=self.optimizer_name,
            model=subject.name,
        )


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
    tracker = LiveBytes(resident=[*subject.state.values(), x, targets])
    params = subject.params
    try:
        try:
            with _mode(subject.model, training), tracker, torch.set_grad_enabled(training):
                # backward runs inside the call too: activation checkpointing (set_grad_checkpointing) runs
                # the model's blocks again there, which must find the stand-ins, not the model's own weights
                state = {f"model.{key}": value for key, value in subject.state.items()}
                torch.func.functional_call(_ForwardBackward(subject.model), state, (x, targets if training else None),
                                           tie_weights=False, strict=False)
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
                     grads=storage_bytes(p.grad for p in params if p.grad is not None))
        trainable = [p for p in params if p.requires_grad]
        if training and make_optimizer is not None and trainable:
            optimizer = _build_optimizer(make_optimizer, trainable)
            with tracker:
                _update(optimizer)  # the first update creates the state
                tracker.restart()
                _update(optimizer)  # the second runs as every later one does, with the state in place
            # the step counters stay on the CPU whatever the device, four bytes a parameter: not counted
            state = storage_bytes(t for s in optimizer.state.values() for t in s.values()
                                   if isinstance(t, torch.Tensor) and t.is_meta)
            step = dataclasses.replace(step, optimizer_state=state, optimizer_temporaries=tracker.peak - tracker.live)
    finally:
        tracker.close()
        for p in params:
            p.grad = None
    return step


class _ForwardBackward(nn.Module):
    """Forward, and in training the loss and backward, of ``model`` as one call.

    :func:`torch.func.functional_call` puts the meta stand-ins in place of the model's tensors for the
    length of one call; a checkpointed block (:func:`torch.utils.checkpoint.checkpoint`) is run again in
    backward, and finds the stand-ins only if backward runs inside that call.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None) -> None:
        output = self.model(x)
        if targets is None:
            return
        loss = _loss(output, targets)
        del output
        if loss.requires_grad:  # a model frozen throughout has nothing to differentiate
            loss.backward()


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


def estimate_memory(model_or_name: nn.Module | str, batch_size: int, input_size: Sequence[int] | int | None = None,
                    training: bool = True, optimizer: OptimizerSpec = "adam", dtype: torch.dtype | str = torch.float32,
                    *, overhead: int | str = RUNTIME_OVERHEAD, **create_kwargs: Any) -> MemoryEstimate:
    """Estimate the memory of a training step (or an inference pass) without allocating any of it.

    The step is traced on the meta device (see the module's description), so the answer costs the same
    for DenseNet-264 at batch 256 as for LeNet-5, and holds for a card you do not have. Compared with
    the resident memory a real first step adds on the CPU, ``total - params - optimizer_state`` (with
    ``optimizer=None``) is within 5% for AlexNet, ResNet-18, ResNet-50 and DenseNet-121 at batch 8.

    Args:
        model_or_name: a registered name (``"resnet50"``, ``"resnet50.tv_in1k"``; weights are not loaded)
            or a model object, whose ``requires_grad`` flags are honoured (a model after
            :func:`cnnzoo.freeze_backbone` gets gradients and optimizer state only for its head), as is
            its gradient checkpointing (``model.set_grad_checkpointing()``: less activation memory). A
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
        >>> estimate = cnnzoo.estimate_memory("resnet50", batch_size=32,
        ...                                   optimizer="sgd")
        >>> estimate.fits("8GiB")
        True
    """
    batch = check_positive_int("batch_size", batch_size)
    checked = _check_step_arguments(model_or_name, input_size, training, optimizer, dtype, overhead, create_kwargs)
    _check_batch_bytes(batch, checked.subject.input_size, checked.subject.dtype)
    return checked.estimate(checked.trace(batch))


def max_batch_size(model_or_name: nn.Module | str, budget: int | str, input_size: Sequence[int] | int | None = None,
                   training: bool = True, optimizer: OptimizerSpec = "adam", dtype: torch.dtype | str = torch.float32,
                   *, overhead: int | str = RUNTIME_OVERHEAD, **create_kwargs: Any) -> int:
    """The largest batch whose estimated step (see :func:`estimate_memory`) fits within ``budget``.

    Every tensor of a step has a size affine in the batch size, and the step runs the same operators in
    the same order at any batch size; so the live bytes after the i-th allocation are ``a_i + b_i * N``,
    and the peak is the highest of these lines. The traces at batch 1 and 2 (2 and 3 where a batch of
    one runs other operators) give every line, which gives the answer; a trace at that batch size checks
    it. (Should the traces not line up, a bisection over estimates finds it instead.)

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
    subject = checked.subject
    first = checked.trace(1)
    one = checked.estimate(first)
    if one.total > budget_bytes:
        raise CnnzooValueError(_too_small_message(subject, model_or_name, one, budget_bytes, create_kwargs))

    # the update's state and temporaries do not depend on the batch: trace forward and backward alone
    def step_at(batch: int) -> _Step:
        step = checked.trace(batch, update=False)
        return dataclasses.replace(step, optimizer_state=first.optimizer_state,
                                   optimizer_temporaries=first.optimizer_temporaries)

    def fits(step: _Step) -> bool:
        return checked.estimate(step).total <= budget_bytes

    second = step_at(2)
    if not fits(second):
        return 1
    # the lines through the traces at batches n and n + 1; a batch of one can take paths larger batches
    # do not (the memory-efficient DenseNet's operator does), and then batches 2 and 3 give them
    n, lower, upper = 1, first, second
    if len(lower.trace) != len(upper.trace):
        third = step_at(3)
        if not fits(third):
            return 2
        n, lower, upper = 2, second, third
    if len(lower.trace) == len(upper.trace) and lower.trace:
        # total(N) = fixed + inputs(N) + max(max_i(a_i + b_i N), grads + optimizer temporaries)
        room = budget_bytes - (one.params + one.buffers + one.optimizer_state + one.overhead)
        per_image = first.inputs  # the input batch is exactly linear in N
        lines = [(low - n * (high - low), high - low) for low, high in zip(lower.trace, upper.trace)]
        bounds = [(room - a) // (b + per_image) for a, b in lines]
        bounds.append((room - first.grads - first.optimizer_temporaries) // per_image)
        largest = min(bounds)
        if largest > n:
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

