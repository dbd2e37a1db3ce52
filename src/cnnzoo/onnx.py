"""Exporting cnnzoo's networks to ONNX, custom operators included.

``torch.onnx.export(model, (x,), dynamo=True)`` translates every ATen operator but not cnnzoo's own:
``torch.ops.cnnzoo.lrn``, the local response normalisation of AlexNet-2012 and GoogLeNet-2014, has its
translation in :mod:`cnnzoo.ops._lrn_onnx`. Two ways bring it to the exporter:

* :func:`export_onnx` passes it in ``custom_translation_table``, the exporter's documented mechanism;
* importing cnnzoo registers it with the exporter's own registry, so that a plain
  ``torch.onnx.export(model, (x,), dynamo=True)`` exports these networks too. torch has no public API for
  a registration that outlives one call, so this one appends to the registry torch builds each export
  from, once torch imports it; ``import cnnzoo`` itself imports neither onnx nor onnxscript. Should torch
  move its registry, the registration is skipped (logged at debug level) and :func:`export_onnx` still
  works.

Exporting needs the ``onnx`` extra: ``pip install "cnnzoo[onnx]"`` (onnx, onnxscript and onnxruntime).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import inspect
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from cnnzoo.errors import CnnzooError, CnnzooTypeError, CnnzooValueError

__all__ = ["OnnxDependencyError", "export_onnx", "translation_table"]

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "cnnzoo[onnx]"'

# torch's registry of translations (ONNXRegistry.from_torchlib reads this module's list at every export)
# and the module of the entries it holds; they import each other, so either may finish loading last
_TORCHLIB_REGISTRY = "torch.onnx._internal.exporter._torchlib._torchlib_registry"
_REGISTRATION = "torch.onnx._internal.exporter._registration"


class OnnxDependencyError(CnnzooError, ImportError):
    """An ONNX export without the packages it needs (the ``onnx`` extra)."""


def _require_onnx() -> None:
    for module in ("onnx", "onnxscript"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise OnnxDependencyError(
                f"Exporting to ONNX needs {module}, which cannot be imported ({exc}); install the ONNX "
                f"packages with: {INSTALL_HINT}"
            ) from exc


def translation_table() -> dict[torch._ops.OpOverload, Callable[..., Any]]:
    """cnnzoo's operators and their ONNX translations, as ``torch.onnx.export``'s ``custom_translation_table``.

    Raises:
        OnnxDependencyError: onnx or onnxscript is not installed.
    """
    _require_onnx()
    from cnnzoo.ops import _lrn_onnx

    return {torch.ops.cnnzoo.lrn.default: _lrn_onnx.lrn}


def export_onnx(
    model: nn.Module,
    example_input: torch.Tensor | Sequence[torch.Tensor],
    path: str | os.PathLike[str] | None = None,
    *,
    verbose: bool = False,
    **kwargs: Any,
) -> torch.onnx.ONNXProgram:
    """Export a network to ONNX with torch's dynamo exporter, cnnzoo's operators translated.

    The model is exported as it is: call ``model.eval()`` first for inference (dropout off, BatchNorm's
    running statistics). The batch size of ``example_input`` is fixed in the graph unless
    ``dynamic_shapes`` says otherwise.

    Args:
        model: the network.
        example_input: an input tensor (N, C, H, W), or a tuple of the forward's positional arguments.
        path: where to write the ``.onnx`` file (weights included; in a ``.data`` file beside it only for
            models over 2 GB); nothing is written when None.
        verbose: print torch's progress messages.
        **kwargs: more options of :func:`torch.onnx.export` (``dynamic_shapes``, ``opset_version``,
            ``input_names``, ...); a ``custom_translation_table`` is merged with cnnzoo's.

    Returns:
        The :class:`torch.onnx.ONNXProgram`; ``program.model_proto`` is the ONNX model.

    Raises:
        OnnxDependencyError: the ONNX packages are missing (``pip install "cnnzoo[onnx]"``).
        TypeError: ``model`` is not a module, or ``example_input`` not a tensor or tuple of tensors.
        ValueError: ``dynamo=False`` (the TorchScript exporter cannot translate cnnzoo's operators), or
            ``path``'s folder does not exist.

    Example:
        >>> model = cnnzoo.create("alexnet_2012").eval()
        >>> x = torch.randn(1, 3, 224, 224)
        >>> program = cnnzoo.export_onnx(model, x, "alexnet_2012.onnx")
    """
    if not isinstance(model, nn.Module):
        raise CnnzooTypeError(f"export_onnx takes a torch.nn.Module, got {type(model).__name__}.")
    args = (example_input,) if isinstance(example_input, torch.Tensor) else example_input
    if not isinstance(args, (tuple, list)) or not all(isinstance(a, torch.Tensor) for a in args):
        raise CnnzooTypeError(
            f"export_onnx takes an example input tensor or a tuple of tensors, got {type(example_input).__name__}."
        )
    if kwargs.pop("dynamo", True) is not True:
        raise CnnzooValueError(
            "export_onnx uses torch's dynamo exporter (dynamo=True); the TorchScript exporter cannot translate "
            "cnnzoo's LRN operator."
        )
    if path is not None and not Path(path).expanduser().parent.is_dir():
        raise CnnzooValueError(
            f"Cannot write {os.fspath(path)!r}: the folder {str(Path(path).parent)!r} does not exist."
        )
    if "custom_translation_table" not in inspect.signature(torch.onnx.export).parameters:
        raise CnnzooError(
            f"torch {torch.__version__} cannot translate custom operators to ONNX; export_onnx needs torch 2.6 "
            "or newer."
        )
    table = {**translation_table(), **(kwargs.pop("custom_translation_table", None) or {})}
    program = torch.onnx.export(
        model, tuple(args), dynamo=True, custom_translation_table=table, verbose=verbose, **kwargs
    )
    if path is not None:
        program.save(Path(path).expanduser())
    return program


def _register(torchlib_registry: ModuleType, registration: ModuleType) -> None:
    """Append cnnzoo's translations to the list torch builds every export's registry from, once."""
    from cnnzoo.ops import _lrn_onnx

    entries = torchlib_registry._registry
    for target, function in ((torch.ops.cnnzoo.lrn.default, _lrn_onnx.lrn),):
        if any(entry.fx_target == target for entry in entries):
            continue
        # is_custom: the exporter treats it as it treats an entry of custom_translation_table
        entries.append(
            registration.OnnxDecompMeta(onnx_function=function, fx_target=target, signature=None, is_custom=True)
        )


def _register_if_loaded() -> None:
    """Register cnnzoo's translations if torch's registry and its entries' module are both loaded."""
    torchlib_registry, registration = sys.modules.get(_TORCHLIB_REGISTRY), sys.modules.get(_REGISTRATION)
    loaded = isinstance(getattr(torchlib_registry, "_registry", None), list) and hasattr(registration, "OnnxDecompMeta")
    if not loaded:  # not yet, or still loading: the later of the two modules calls again once it has loaded
        return
    try:
        _register(torchlib_registry, registration)  # type: ignore[arg-type]
    except Exception as exc:  # torch changed its internals: export_onnx passes the table instead
        log.debug("cnnzoo could not register its ONNX translations with torch's exporter: %r", exc)


class _RegisterAfterLoading(importlib.abc.Loader):
    """A module's own loader, then :func:`_register_if_loaded`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _register_if_loaded()

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ...: the module's own loader's
        if name == "_loader":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self._loader, name)


class _TorchRegistryWatcher(importlib.abc.MetaPathFinder):
    """Finds torch's registry modules as the path finder does, with a loader that registers after loading."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname not in (_TORCHLIB_REGISTRY, _REGISTRATION):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _RegisterAfterLoading(spec.loader)
        return spec


def _install() -> None:
    """Register now if torch's exporter has loaded its registry, and in any case when it (re)loads it."""
    if not any(isinstance(finder, _TorchRegistryWatcher) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TorchRegistryWatcher())
    _register_if_loaded()


_install()
