"""Custom operators: Local Response Normalization as ``torch.ops.cnnzoo.lrn`` with its own backward."""

from cnnzoo.ops.lrn import local_response_norm

__all__ = ["local_response_norm"]
