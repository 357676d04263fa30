"""kiln: Theano rebuilt with a C++ core.

    import kiln as theano
    import kiln.tensor as T
    x = T.matrix('x')
    f = kiln.function([x], T.tanh(x).sum())
"""
from . import _core
from .configparser import config
from ._core import MissingInputError, UnusedInputError
from .compile import function, shared
from . import tensor
from . import gradient
from .gradient import grad
from .tensor import TensorType, TensorVariable

__version__ = "0.1.0"

__all__ = ["config", "function", "shared", "tensor", "gradient", "grad", "TensorType", "TensorVariable", "MissingInputError",
           "UnusedInputError"]
