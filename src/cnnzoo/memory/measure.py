"""Measuring the memory of a real step: the peak one step adds to a process (the CPU) or a card (CUDA).

:func:`measure_step_peak` runs the step :func:`~cnnzoo.memory.estimate_memory` traces, for real, and reads
the kernel's high-water mark of resident memory (``VmHWM``, reset through ``/proc/self/clear_refs``) or the
CUDA caching allocator's peak; :func:`measure_step_peak_in_subprocess` does it on the CPU in a fresh process
started with :data:`MEASUREMENT_ENV`, so that nothing else the caller did is in the figure. The tensors
alone, without what the allocator and the runtime add, are :class:`~cnnzoo.memory.LiveBytes`'s to count.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import json
import logging
import math
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from typing import Any

import torch
from torch import nn

from cnnzoo.errors import CnnzooError, CnnzooValueError, check_positive_float, check_positive_int
from cnnzoo.memory.step import (
    _check_batch_bytes,
    _check_flag,
    _check_input_size,
    _loss,
    _meta_model,
    _mode,
    _resolve_input_size,
)
from cnnzoo.memory.units import _integer

__all__ = ["measure_step_peak", "measure_step_peak_in_subprocess", "MEASUREMENT_ENV"]

logger = logging.getLogger(__name__)

#: The allocator settings under which a process's resident memory follows its live tensors: every
#: allocation above 64 KiB gets its own mapping, returned to the system when freed, in one arena.
MEASUREMENT_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}

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
    code = "import sys, cnnzoo.memory.measure as m; m._measure_main(sys.argv[1])"
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
