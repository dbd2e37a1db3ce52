"""Custom operators: Local Response Normalization as ``torch.ops.cnnzoo.lrn`` with its own backward, and the
memory-efficient dense block (:mod:`cnnzoo.ops.dense_block`), one autograd operator per dense block."""

from cnnzoo.ops.lrn import local_response_norm

__all__ = ["local_response_norm"]
