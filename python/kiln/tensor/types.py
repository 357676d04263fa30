"""Theano's tensor type constructors: scalar, vector, matrix, row, col, tensor3, tensor4, tensor5,
and the typed families (fscalar, dvector, imatrix, lscalar, ...)."""
from .._core import TensorType
from ..configparser import config

_PATTERNS = {
    "scalar": (),
    "vector": (False,),
    "matrix": (False, False),
    "row": (True, False),
    "col": (False, True),
    "tensor3": (False,) * 3,
    "tensor4": (False,) * 4,
    "tensor5": (False,) * 5,
}

_PREFIXES = {
    "b": "int8", "w": "int16", "i": "int32", "l": "int64",
    "f": "float32", "d": "float64",
}

__all__ = ["tensor", "TensorType"]


def tensor(dtype=None, broadcastable=None, name=None, shape=None):
    """A free tensor variable: ``tensor('float32', (False, True))`` or ``tensor('float32', shape=(None, 1))``."""
    if dtype is None:
        dtype = config.floatX
    if broadcastable is None and shape is None:
        raise TypeError("tensor() needs a broadcastable pattern or a shape")
    return TensorType(dtype, broadcastable=broadcastable, shape=shape)(name)


def _make_constructor(kind, fixed_dtype):
    pattern = _PATTERNS[kind]

    def constructor(name=None, dtype=None, shape=None):
        dt = fixed_dtype or dtype or config.floatX
        if shape is not None:
            if len(shape) != len(pattern):
                raise ValueError(f"{kind}: shape {shape} has {len(shape)} entries, expected {len(pattern)}")
            return TensorType(dt, shape=shape)(name)
        return TensorType(dt, broadcastable=pattern)(name)

    constructor.__name__ = (fixed_dtype and _prefix_of(fixed_dtype) or "") + kind
    constructor.__doc__ = f"A free {kind} variable of dtype {fixed_dtype or 'floatX (or the dtype argument)'}."
    return constructor


def _prefix_of(dtype):
    for p, d in _PREFIXES.items():
        if d == dtype:
            return p
    return ""


def _make_plural(single):
    """Theano's scalars/vectors/matrices...: matrices('a', 'b'), matrices('a, b') or matrices(2)."""
    def plural(*names, dtype=None):
        if len(names) == 1 and isinstance(names[0], int):
            return [single(dtype=dtype) for _ in range(names[0])]
        if len(names) == 1 and isinstance(names[0], str):
            names = names[0].replace(",", " ").split()
        return [single(n, dtype=dtype) for n in names]

    return plural


_PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "row": "rows", "col": "cols",
            "tensor3": "tensor3s", "tensor4": "tensor4s", "tensor5": "tensor5s"}

for _kind in _PATTERNS:
    globals()[_kind] = _make_constructor(_kind, None)
    globals()[_PLURALS[_kind]] = _make_plural(globals()[_kind])
    __all__ += [_kind, _PLURALS[_kind]]
    for _p, _dt in _PREFIXES.items():
        _single = _make_constructor(_kind, _dt)
        globals()[_p + _kind] = _single
        globals()[_p + _PLURALS[_kind]] = _make_plural(_single)
        __all__ += [_p + _kind, _p + _PLURALS[_kind]]
