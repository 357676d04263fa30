"""kiln.tensor.nnet: neural-network functions (T.nnet.sigmoid, ...)."""
from .._core import sigmoid, softplus

__all__ = ["sigmoid", "softplus"]
