"""kiln.tensor.nlinalg (T.nlinalg): numpy.linalg on symbolic matrices, with Theano's names.

The ops run LAPACK in kiln's C++ core (float32 and float64; integer inputs become float64).
Values a routine has no answer for raise ``numpy.linalg.LinAlgError`` (a ValueError), as numpy
does: inverting a singular matrix, eig of a matrix with complex eigenvalues (kiln has no complex
dtype), NaN/inf given to eig/eigh/svd/pinv. ``det`` of a singular matrix is 0.
"""
from .._core import (alloc_diag, det, diag, eig, eigh, extract_diag, kron, matrix_dot, matrix_inverse,
                     matrix_power, pinv, slogdet, svd, trace)
from .. import _core

# PyTensor's spelling of matrix_inverse (T.inv stays the elementwise reciprocal, as in Theano).
inv = matrix_inverse
diagonal = extract_diag


def qr(a, mode="reduced"):
    """QR decomposition as numpy.linalg.qr: ``(Q, R)`` for mode 'reduced' (Q: m x k, R: k x n,
    k = min(m, n)) or 'complete' (Q: m x m, R: m x n); ``R`` alone for mode 'r'."""
    return _core.qr(a, mode)


def lstsq(a, b, rcond=None):
    """numpy.linalg.lstsq: ``[x, residuals, rank, s]``. Singular values up to ``rcond`` times the
    largest count as zero (None: machine epsilon times max(rows, columns); negative: epsilon);
    ``residuals`` is empty unless a has full column rank and more rows than columns. ``x`` and
    ``residuals`` are differentiable."""
    return list(_core.lstsq(a, b, rcond))


def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm: ``ord`` None, a number (``numpy.inf`` included), 'fro' or 'nuc'; a vector
    norm over one axis, a matrix norm over two (default: the whole vector or matrix)."""
    return _core.norm(x, ord, axis, keepdims)


__all__ = ["matrix_inverse", "inv", "pinv", "det", "slogdet", "eig", "eigh", "svd", "qr", "trace", "diag",
           "diagonal", "extract_diag", "alloc_diag", "matrix_dot", "matrix_power", "norm", "kron", "lstsq"]
