"""kiln.tensor.slinalg (T.slinalg): scipy.linalg on symbolic matrices, with Theano's and
PyTensor's names.

Solvers take ``b`` as a vector or a matrix of right-hand sides. The structured ones (``assume_a``
'sym'/'her'/'pos', ``solve_triangular``, ``cholesky``) read only the triangle ``lower`` names, as
LAPACK does. Singular or non-positive-definite matrices raise ``numpy.linalg.LinAlgError``.
"""
from .._core import cholesky, eigvalsh, expm, kron
from .. import _core

_TRANS = {0: 0, 1: 1, 2: 1, "N": 0, "T": 1, "C": 1}  # real matrices: conjugate transpose is transpose


def solve(a, b, assume_a="gen", lower=False, check_finite=True, b_ndim=None, transposed=False):
    """x with ``a @ x = b`` (``a.T @ x = b`` when ``transposed``). ``assume_a``: 'gen' (LU), 'sym'
    or 'her' (symmetric, Bunch-Kaufman), 'pos' (positive definite, Cholesky). ``check_finite`` and
    ``b_ndim`` are accepted for compatibility: b's rank decides."""
    del check_finite, b_ndim
    if transposed:
        a, lower = _core.transpose(a), not lower
    return _core.solve(a, b, assume_a, lower)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, check_finite=True, b_ndim=None):
    """x with ``op(a) @ x = b`` for triangular ``a``: ``trans`` 0/'N' (a) or 1/'T' (a.T)."""
    del check_finite, b_ndim
    if trans not in _TRANS:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    return _core.solve_triangular(a, b, _TRANS[trans], lower, unit_diagonal)


def cho_solve(c_and_lower, b, check_finite=True, b_ndim=None):
    """x with ``a @ x = b`` given ``(c, lower)``, the Cholesky factor of ``a`` (scipy.linalg.cho_solve)."""
    del check_finite, b_ndim
    c, lower = c_and_lower
    return _core.cho_solve(c, bool(lower), b)


def solve_lower_triangular(a, b):
    """Theano's name: solve_triangular(a, b, lower=True)."""
    return solve_triangular(a, b, lower=True)


def solve_upper_triangular(a, b):
    """Theano's name: solve_triangular(a, b, lower=False)."""
    return solve_triangular(a, b, lower=False)


def solve_symmetric(a, b):
    """Theano's name: solve(a, b, assume_a='sym')."""
    return solve(a, b, assume_a="sym")


__all__ = ["cholesky", "expm", "solve", "solve_triangular", "cho_solve", "solve_lower_triangular", "solve_upper_triangular",
           "solve_symmetric", "eigvalsh", "kron"]
