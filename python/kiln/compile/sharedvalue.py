"""kiln.shared: variables whose value persists across function calls."""
from .. import _core


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False, broadcastable=None, shape=None):
    """Create a shared variable holding ``value`` (a copy unless ``borrow=True``).

    As in Theano, every dimension has unknown static size unless ``broadcastable`` or ``shape``
    says otherwise, so ``set_value`` may later change the shape.
    """
    del strict, allow_downcast  # the value's dtype is kept exactly, as with strict=True
    return _core.shared(value, name=name, borrow=borrow, shape=shape, broadcastable=broadcastable)
