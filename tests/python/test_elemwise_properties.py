"""Property tests: random broadcastable shapes, dtypes and strided views against numpy."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import kiln
import kiln.tensor as T

DTYPES = ["bool", "int8", "int32", "uint16", "int64", "float32", "float64"]
OPS = [("add", T.add, np.add), ("mul", T.mul, np.multiply), ("maximum", T.maximum, np.maximum),
       ("lt", T.lt, np.less), ("eq", T.eq, np.equal)]


def small_arrays(dtype, shape):
    if dtype == "bool":
        return hnp.arrays(dtype, shape)
    low = 0 if dtype.startswith("uint") else -100
    return hnp.arrays(dtype, shape, elements=hnp.from_dtype(np.dtype(dtype), min_value=low, max_value=100,
                                                             allow_nan=False, allow_infinity=False))


def typed_for(value):
    # Size-1 axes of the value are declared broadcastable, as T.row/T.col do.
    return T.tensor(value.dtype.name, shape=tuple(1 if d == 1 else None for d in value.shape))


@settings(max_examples=60, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
       op=st.sampled_from(OPS), data=st.data())
def test_binary_broadcasting_matches_numpy(shapes, dtypes, op, data):
    name, kop, nop = op
    a = data.draw(small_arrays(dtypes[0], shapes.input_shapes[0]))
    b = data.draw(small_arrays(dtypes[1], shapes.input_shapes[1]))
    x, y = typed_for(a), typed_for(b)
    out = kiln.function([x, y], kop(x, y))(a, b)
    with np.errstate(all="ignore"):
        expected = nop(a, b)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    if name in ("lt", "eq"):
        np.testing.assert_array_equal(out, expected)
    else:
        np.testing.assert_allclose(out.astype("float64"), expected.astype(out.dtype).astype("float64"), rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(value=hnp.arrays("float64", hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                        elements=st.floats(-10, 10)),
       step=st.sampled_from([1, -1, 2, -2]), transpose=st.booleans())
def test_strided_views_match_numpy(value, step, transpose):
    view = value[::step]
    if transpose:
        view = view.T
    x = T.tensor("float64", shape=(None,) * view.ndim)
    f = kiln.function([x], [T.tanh(x) * 2 + x, x.sum(axis=0), x.max(axis=-1)])
    t, s, m = f(view)
    np.testing.assert_allclose(t, np.tanh(view) * 2 + view, rtol=1e-12)
    np.testing.assert_allclose(s, view.sum(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m, view.max(axis=-1))
