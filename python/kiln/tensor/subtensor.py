"""Indexing: x[...] on tensor variables, set_subtensor, inc_subtensor, advanced integer indexing.

``x[key]`` follows numpy: integers (negative allowed), slices with symbolic or literal bounds,
``None``/``np.newaxis`` and ``Ellipsis`` give a view (Theano's Subtensor); an integer vector (or
numpy array / list) on the first axis gives AdvancedSubtensor1, and integer arrays on the leading
axes, e.g. ``p[T.arange(n), y]``, give AdvancedSubtensor. The key is parsed in C++
(``kiln._core.getitem``).

``set_subtensor`` / ``inc_subtensor`` return a new array and never modify x. The value is cast
to x's dtype and broadcast to the indexed region as elementwise ops broadcast: it may have fewer
dimensions, and only dimensions of static size 1 stretch (a run-time size mismatch is a
ValueError). With integer arrays, repeated indices accumulate for inc (as ``numpy.add.at``) and
the last write wins for set.
"""
from .. import _core
from .._core import (TensorVariable, advanced_subtensor1, advanced_subtensor, advanced_inc_subtensor1,
                     advanced_set_subtensor1, advanced_inc_subtensor, advanced_set_subtensor)

__all__ = ["set_subtensor", "inc_subtensor", "take", "advanced_subtensor1", "advanced_subtensor",
           "advanced_inc_subtensor1", "advanced_set_subtensor1", "advanced_inc_subtensor",
           "advanced_set_subtensor"]


def set_subtensor(x, y, inplace=False, tolerate_inplace_aliasing=False):
    """Return x with the region ``x`` indexes replaced by y: ``set_subtensor(a[1:3], 0)``.

    ``x`` must be the result of indexing (``a[...]``). ``inplace`` and
    ``tolerate_inplace_aliasing`` are accepted for Theano compatibility; the result is always new.
    """
    return _core.set_subtensor(x, y)


def inc_subtensor(x, y, inplace=False, set_instead_of_inc=False, tolerate_inplace_aliasing=False):
    """Return x with y added to the region ``x`` indexes: ``inc_subtensor(a[idx], 1)``.

    Repeated integer-array indices accumulate. See set_subtensor for the other arguments.
    """
    return _core.inc_subtensor(x, y, set_instead_of_inc)


def take(a, indices, axis=None, mode="raise"):
    """numpy.take: the elements of a at ``indices`` along ``axis`` (flattened when axis is None)."""
    if mode != "raise":
        raise NotImplementedError(f"take: mode={mode!r} is not supported; only 'raise' is")
    a = _core.as_tensor_variable(a)
    if axis is None and a.ndim != 1:
        flatten = getattr(a, "flatten", None)
        if flatten is None:
            raise NotImplementedError("take: axis=None on a tensor of more than one dimension needs flatten, "
                                      "which is not available yet; pass an axis")
        a = flatten()
    return _core.take(a, indices, axis=0 if axis is None else axis)


def _getitem(self, key):
    return _core.getitem(self, key)


def _setitem(self, key, value):
    raise TypeError("kiln variables are immutable: use T.set_subtensor(x[key], value) or "
                    "T.inc_subtensor(x[key], value), which return the updated tensor")


def _iter(self):
    # Without this, Python would iterate through __getitem__ and never stop on a symbolic length.
    if self.ndim == 0:
        raise TypeError(f"iteration over a 0-d tensor ({self})")
    length = self.type.shape[0]
    if length is None:
        raise TypeError(f"cannot iterate over {self}: its length is not known statically; index it with x[i]")
    for i in range(length):
        yield self[i]


TensorVariable.__getitem__ = _getitem
TensorVariable.__setitem__ = _setitem
TensorVariable.__iter__ = _iter
TensorVariable.take = lambda self, indices, axis=None, mode="raise": take(self, indices, axis, mode)
