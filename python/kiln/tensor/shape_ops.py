"""Shape operations: reshape, flatten, alloc, zeros/ones, arange, eye, concatenate, stack, split.

The ops live in the C++ core; this module gives them Theano's Python signatures (the variadic
``alloc(value, *shape)`` and ``join(axis, *tensors)``, the old ``stack(a, b, c)`` form) and adds the
``reshape`` and ``flatten`` methods of tensor variables.
"""
from .. import _core
from .._core import TensorVariable, zeros, ones, zeros_like, ones_like, fill, arange, eye, split

__all__ = ["reshape", "flatten", "alloc", "zeros", "ones", "zeros_like", "ones_like", "fill", "second", "arange",
           "eye", "concatenate", "join", "stack", "split"]

second = fill  # Theano's name of the elementwise op behind fill


def reshape(x, newshape, ndim=None):
    """``x`` reshaped to ``newshape`` (ints and/or integer scalars, or an integer vector); one size
    may be -1. ``ndim`` is needed when the length of a symbolic ``newshape`` is not static."""
    return _core.reshape(x, newshape, ndim)


def flatten(x, ndim=1, outdim=None):
    """Keep the first ``ndim - 1`` axes of ``x`` and collapse the others (``outdim`` is Theano's
    older name of ``ndim``)."""
    if outdim is not None:
        ndim = outdim
    return _core.flatten(x, ndim)


def alloc(value, *shape):
    """``value`` broadcast to ``shape`` in a new array of value's dtype."""
    return _core.alloc(value, list(shape))


def join(axis, *tensors_list):
    """The tensors concatenated along ``axis``."""
    return _core.join(axis, list(tensors_list))


def concatenate(tensor_list, axis=0):
    """The tensors of ``tensor_list`` concatenated along ``axis``."""
    if not isinstance(tensor_list, (tuple, list)):
        raise TypeError("concatenate: the tensors must be given as a list or a tuple; make sure you did not "
                        "forget [] around the arguments of concatenate")
    return _core.concatenate(list(tensor_list), axis)


def stack(*tensors, **kwargs):
    """``stack(tensors, axis=0)``: the tensors stacked along a new axis. Theano's older form
    ``stack(a, b, c)`` (axis 0) is accepted too."""
    axis = kwargs.pop("axis", 0)
    if kwargs:
        raise TypeError(f"stack: unexpected keyword arguments {sorted(kwargs)}")
    if len(tensors) == 0:
        raise ValueError("stack: needs at least one tensor")
    if isinstance(tensors[0], (list, tuple)):
        if len(tensors) > 2:
            raise TypeError("stack: takes a list of tensors and an axis")
        if len(tensors) == 2:
            axis = tensors[1]
        tensors = tensors[0]
    return _core.stack(list(tensors), axis)


def _reshape_method(self, shape, ndim=None):
    return _core.reshape(self, shape, ndim)


def _flatten_method(self, ndim=1, outdim=None):
    return flatten(self, ndim, outdim)


setattr(TensorVariable, "reshape", _reshape_method)
setattr(TensorVariable, "flatten", _flatten_method)
