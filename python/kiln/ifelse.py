"""Theano's lazy ``ifelse``: the then branch when a scalar condition is non-zero, else the else
branch, computing only the branch taken (``T.switch`` is elementwise and computes both).

    from kiln.ifelse import ifelse
    z = ifelse(T.lt(a, b), T.mean(x), T.mean(y))
"""
import numpy as np

from . import _core
from .tensor import TensorVariable, as_tensor_variable

__all__ = ["ifelse"]


def _as_branch(value, other):
    """A branch element as a variable; a Python or numpy value takes the dtype of its partner in
    the other branch when that is a variable (``ifelse(c, x, 0)``)."""
    if isinstance(value, TensorVariable):
        return value
    if isinstance(other, TensorVariable):
        return as_tensor_variable(np.asarray(value, dtype=other.dtype))
    return as_tensor_variable(value)


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if ``condition`` (a 0-d tensor of any numeric dtype) is non-zero, else
    ``else_branch``; only the branch taken is computed when the function runs.

    The branches are each a variable or a list (tuple) of variables, paired up position by
    position: the same number of them (ValueError otherwise) and pairwise the same dtype and ndim
    (TypeError otherwise). Returns a variable for a variable, else a list or tuple like
    ``then_branch``.
    """
    result_type = type(then_branch) if isinstance(then_branch, (list, tuple)) else None
    then_list = list(then_branch) if result_type else [then_branch]
    else_list = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(then_list) != len(else_list):
        raise ValueError("ifelse: the then branch has %d variables but the else branch has %d; both branches "
                         "must have as many" % (len(then_list), len(else_list)))
    then_vars = [_as_branch(t, e) for t, e in zip(then_list, else_list)]
    else_vars = [_as_branch(e, t) for t, e in zip(then_list, else_list)]
    outputs = _core.ifelse(condition, then_vars, else_vars, name or "")
    if result_type is None:
        return outputs[0]
    return result_type(outputs)
