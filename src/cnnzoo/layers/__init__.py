"""Building blocks shared by several families."""

from cnnzoo.layers.classifier import auto_hidden_width, mlp_head
from cnnzoo.layers.lrn import LocalResponseNorm
from cnnzoo.layers.squeeze_excite import SqueezeExcite

__all__ = ["LocalResponseNorm", "SqueezeExcite", "auto_hidden_width", "mlp_head"]
