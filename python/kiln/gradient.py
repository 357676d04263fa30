"""kiln.gradient: symbolic differentiation with Theano's interface.

grad, Lop and Rop build graphs (they can be compiled, rewritten and differentiated again);
verify_grad checks a symbolic gradient against finite differences.
"""
import warnings

import numpy as np

from . import _core

__all__ = ["grad", "Lop", "Rop", "jacobian", "hessian", "consider_constant", "zero_grad", "disconnected_grad",
           "grad_clip", "grad_scale", "verify_grad", "GradientError", "numeric_grad"]


def _as_list(x):
    return (list(x), True) if isinstance(x, (list, tuple)) else ([x], False)


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True, known_grads=None,
         return_disconnected="zero", null_gradients="raise"):
    """Gradients of the scalar ``cost`` with respect to ``wrt`` (a variable or a list)."""
    del add_names
    wrt_list, is_list = _as_list(wrt)
    if consider_constant is not None and not isinstance(consider_constant, (list, tuple)):
        raise TypeError("consider_constant must be a list of variables")
    if return_disconnected not in ("zero", "None", "Disconnected"):
        raise ValueError(f"grad: invalid return_disconnected {return_disconnected!r}")
    grads, messages = _core.grad(cost, wrt_list, consider_constant, disconnected_inputs, known_grads,
                                 "None" if return_disconnected == "Disconnected" else return_disconnected,
                                 null_gradients)
    for message in messages:
        warnings.warn(message, stacklevel=2)
    return grads if is_list else grads[0]


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """The vector-Jacobian product ``eval_points^T d f / d wrt``."""
    del consider_constant
    wrt_list, is_list = _as_list(wrt)
    f_list, _ = _as_list(f)
    ev_list, _ = _as_list(eval_points)
    out = _core.Lop(f_list, wrt_list, ev_list, disconnected_inputs)
    return out if is_list else out[0]


def Rop(f, wrt, eval_points, disconnected_outputs="raise", return_disconnected="zero"):
    """The Jacobian-vector product ``d f / d wrt . eval_points`` (forward mode)."""
    del disconnected_outputs, return_disconnected
    f_list, is_list = _as_list(f)
    wrt_list, _ = _as_list(wrt)
    ev_list, _ = _as_list(eval_points)
    out = _core.Rop(f_list, wrt_list, ev_list)
    return out if is_list else out[0]


def zero_grad(x):
    """``x`` in the forward pass; its gradient is zero."""
    return _core.zero_grad(x)


def disconnected_grad(x):
    """``x`` in the forward pass; no gradient flows through it."""
    return _core.disconnected_grad(x)


consider_constant = zero_grad


def grad_clip(x, lower_bound, upper_bound):
    """``x`` in the forward pass; its gradient is clipped to [lower_bound, upper_bound]."""
    return _core.grad_clip(x, float(lower_bound), float(upper_bound))


def grad_scale(x, multiplier):
    """``x`` in the forward pass; its gradient is multiplied by ``multiplier``."""
    return _core.grad_scale(x, float(multiplier))
