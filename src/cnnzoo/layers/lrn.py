"""Local Response Normalization (Krizhevsky et al. 2012, section 3.3)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from cnnzoo.ops.lrn import check_lrn_params, check_scale, lrn_checked

__all__ = ["LocalResponseNorm"]


class LocalResponseNorm(nn.Module):
    """Normalise each activation by the energy of its ``size`` neighbouring channels.

    With ``scale="pytorch"`` this equals :class:`torch.nn.LocalResponseNorm`:
    ``b_c = a_c / (k + alpha / n * sum a_j^2) ** beta``. With ``scale="paper"`` it follows the equation of
    section 3.3 of Krizhevsky et al. 2012, where alpha multiplies the sum itself:
    ``b_c = a_c / (k + alpha * sum a_j^2) ** beta`` -- the paper's n=5, k=2, alpha=1e-4, beta=0.75 give
    AlexNet's normalisation only under this scaling.

    It runs :func:`cnnzoo.ops.local_response_norm`, one custom operator (``torch.ops.cnnzoo.lrn``) that
    keeps only its input for backward, where PyTorch's module keeps four times as much.

    Args:
        size: number of neighbouring channels n in the sum.
        alpha: the multiplier of the sum of squares.
        beta: the exponent.
        k: the additive constant.
        scale: ``"pytorch"`` (alpha divided by n) or ``"paper"`` (alpha as written in the paper).

    Raises:
        ValueError: for ``size < 1``, a non-finite alpha, beta or k, or an unknown ``scale``.
    """

    def __init__(
        self,
        size: int,
        alpha: float = 1e-4,
        beta: float = 0.75,
        k: float = 1.0,
        scale: Literal["pytorch", "paper"] = "pytorch",
    ) -> None:
        super().__init__()
        check_lrn_params(size, alpha, beta, k)
        check_scale(scale)
        self.size, self.alpha, self.beta, self.k, self.scale = size, float(alpha), float(beta), float(k), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the parameters were checked at construction; the op checks the input
        return lrn_checked(x, self.size, self.alpha, self.beta, self.k, self.scale)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}, scale={self.scale!r}"
