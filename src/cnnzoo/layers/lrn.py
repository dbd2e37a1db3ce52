"""Local Response Normalization (Krizhevsky et al. 2012, section 3.3)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from cnnzoo.errors import CnnzooValueError

__all__ = ["LocalResponseNorm"]


class LocalResponseNorm(nn.Module):
    """Normalise each activation by the energy of its ``size`` neighbouring channels.

    With ``scale="pytorch"`` this equals :class:`torch.nn.LocalResponseNorm`:
    ``b_c = a_c / (k + alpha / n * sum a_j^2) ** beta``. With ``scale="paper"`` it follows equation
    (section 3.3) of Krizhevsky et al. 2012, where alpha multiplies the sum itself:
    ``b_c = a_c / (k + alpha * sum a_j^2) ** beta`` -- the paper's n=5, k=2, alpha=1e-4, beta=0.75 give
    AlexNet's normalisation only under this scaling.

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
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise CnnzooValueError(f"LocalResponseNorm size must be an int >= 1, got {size!r}.")
        for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise CnnzooValueError(f"LocalResponseNorm {name} must be a finite number, got {value!r}.")
        if scale not in ("pytorch", "paper"):
            raise CnnzooValueError(f"LocalResponseNorm scale must be 'pytorch' or 'paper', got {scale!r}.")
        self.size, self.alpha, self.beta, self.k, self.scale = size, float(alpha), float(beta), float(k), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.local_response_norm divides alpha by size; pre-multiplying gives the paper's equation.
        alpha = self.alpha * self.size if self.scale == "paper" else self.alpha
        return F.local_response_norm(x, self.size, alpha=alpha, beta=self.beta, k=self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}, scale={self.scale!r}"
