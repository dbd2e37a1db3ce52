"""Building blocks shared by several families."""

from cnnzoo.layers.lrn import LocalResponseNorm
from cnnzoo.layers.squeeze_excite import SqueezeExcite

__all__ = ["LocalResponseNorm", "SqueezeExcite"]
