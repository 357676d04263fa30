"""kiln: Theano rebuilt with a C++ core.

    import kiln as theano
    import kiln.tensor as T
    x = T.matrix('x')
    f = kiln.function([x], T.tanh(x).sum())
"""
import os as _os

# kiln's OpenMP loops and OpenBLAS's threads take turns on the same cores; OpenMP threads that spin
# while waiting slow BLAS calls right after a parallel loop. Sleep instead, unless the user chose.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import _core  # noqa: E402
from .configparser import config  # noqa: E402
from ._core import MissingInputError, UnusedInputError, LinAlgError  # LinAlgError is numpy.linalg's
from .compile import In, OpFromGraph, Param, function, shared
from . import tensor
from . import gradient
from .gradient import grad
from .tensor import TensorType, TensorVariable
from . import printing
from . import sandbox
from . import ifelse
from . import scan_module
from .scan_module import scan
from .printing import pprint as pp

__version__ = "0.1.0"

__all__ = ["config", "function", "shared", "tensor", "gradient", "grad", "printing", "pp", "scan", "scan_module", "TensorType",
           "TensorVariable", "MissingInputError", "UnusedInputError", "LinAlgError", "OpFromGraph"]
