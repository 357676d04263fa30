"""kiln.tensor.nnet (T.nnet): neural-network functions with Theano's names."""
from .._core import (binary_crossentropy, categorical_crossentropy, hard_sigmoid, log_softmax, relu, sigmoid,
                     softmax, softplus)

logsoftmax = log_softmax
# Theano's fast approximations: kiln's sigmoid is already vectorised and exact to 1 ulp.
ultra_fast_sigmoid = sigmoid

__all__ = ["sigmoid", "softplus", "softmax", "log_softmax", "logsoftmax", "relu", "categorical_crossentropy",
           "binary_crossentropy", "hard_sigmoid", "ultra_fast_sigmoid"]
