"""A layer-by-layer table of any model: the table tutorials print with torchsummary, without its dependency.

The forward pass runs on the meta device, so the table of VGG-19 costs no memory and no arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnzoo._meta import count_flops, meta_forward
from cnnzoo.errors import CnnzooValueError, check_positive_int

__all__ = ["LayerRow", "ModelSummary", "summary"]


@dataclass(frozen=True)
class LayerRow:
    """One executed leaf module.

    Attributes:
        name: qualified module name (``layer1.0.conv1``).
        type: class name of the module.
        output_shape: shape of its output (of the first output if it returns several).
        parameters: parameters the module owns.
        trainable: ``"yes"``, ``"no"``, ``"partly"``, or ``"-"`` for a module without parameters.
    """

    name: str
    type: str
    output_shape: tuple[int, ...]
    parameters: int
    trainable: str


@dataclass(frozen=True)
class ModelSummary:
    """The result of :func:`summary`; ``str()`` renders it as a table.

    Attributes:
        rows: one row per call of a leaf module, in execution order.
        input_size: the ``(N, C, H, W)`` the table was computed for.
        total_params: every parameter of the model.
        trainable_params: parameters with ``requires_grad``.
        flops: FLOPs of the forward pass (a multiply-add counts two).
    """

    rows: tuple[LayerRow, ...]
    input_size: tuple[int, ...]
    total_params: int
    trainable_params: int
    flops: int

    @property
    def frozen_params(self) -> int:
        """Parameters without ``requires_grad``."""
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        header = ("Layer", "Type", "Output shape", "Params", "Trainable")
        body = [
            (r.name, r.type, str(list(r.output_shape)), f"{r.parameters:,}", r.trainable) for r in self.rows
        ]
        widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]

        def render(line: Sequence[str]) -> str:
            cells = [str(cell).ljust(w) if i < 3 else str(cell).rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
            return "  ".join(cells).rstrip()

        rule = "-" * len(render(header))
        lines = [rule, render(header), rule, *(render(line) for line in body), rule]
        lines += [
            f"Input size: {list(self.input_size)}",
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Frozen params: {self.frozen_params:,}",
            f"FLOPs per forward pass: {self.flops / 1e9:.3f} G",
            rule,
        ]
        return "\n".join(lines)


def _trainable(params: Sequence[nn.Parameter]) -> str:
    if not params:
        return "-"
    flags = {p.requires_grad for p in params}
    return "partly" if len(flags) > 1 else ("yes" if flags.pop() else "no")


def _first_shape(output: object) -> tuple[int, ...]:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)) and output:
        return _first_shape(output[0])
    return ()


def summary(model: nn.Module, input_size: Sequence[int] | None = None, batch_size: int = 1) -> ModelSummary:
    """Tabulate every leaf module the forward pass runs: output shape, parameters, trainable or frozen.

    Args:
        model: any ``nn.Module`` taking one image batch.
        input_size: ``(C, H, W)``; the model's ``default_cfg["input_size"]`` when None.
        batch_size: the N of the input shape.

    Returns:
        A :class:`ModelSummary`; ``print()`` it for the table.

    Example:
        >>> print(cnnzoo.summary(cnnzoo.create("lenet5")))  # doctest: +SKIP
    """
    if input_size is None:
        cfg = getattr(model, "default_cfg", None) or {}
        if "input_size" not in cfg:
            raise CnnzooValueError(
                f"{type(model).__name__} has no default_cfg['input_size']; pass input_size=(C, H, W)."
            )
        input_size = cfg["input_size"]
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence) or len(input_size) != 3:
        raise CnnzooValueError(f"input_size must be (C, H, W), three whole numbers; got {input_size!r}.")
    input_size = tuple(check_positive_int("input_size", side) for side in input_size)
    batch_size = check_positive_int("batch_size", batch_size)
    shape = (batch_size, *input_size)
    rows: list[LayerRow] = []
    names = {module: name for name, module in model.named_modules()}

    # Read parameters before the forward pass: during it they are replaced by meta stand-ins.
    owned = {module: list(module.parameters(recurse=False)) for module in model.modules()}

    def record(module: nn.Module, _inputs: object, output: object) -> None:
        params = owned[module]
        rows.append(
            LayerRow(
                name=names.get(module, "?"),
                type=type(module).__name__,
                output_shape=_first_shape(output),
                parameters=sum(p.numel() for p in params),
                trainable=_trainable(params),
            )
        )

    leaves = [m for m in model.modules() if not list(m.children()) or owned[m]]
    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        meta_forward(model, shape)
    finally:
        for handle in handles:
            handle.remove()
    all_params = list(model.parameters())
    return ModelSummary(
        rows=tuple(rows),
        input_size=shape,
        total_params=sum(p.numel() for p in all_params),
        trainable_params=sum(p.numel() for p in all_params if p.requires_grad),
        flops=count_flops(model, shape),
    )
