"""dot / matmul / outer against numpy for float and integer dtypes and strided operands."""
import numpy as np
import pytest

import kiln
import kiln.tensor as T


def typed(value):
    return T.tensor(value.dtype.name, shape=(None,) * value.ndim)


SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((0, 4), (4, 5)), ((3, 0), (0, 5)),
          ((3, 4), (4, 0))]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8"])
@pytest.mark.parametrize("shapes", SHAPES)
def test_dot_matches_numpy(dtype, shapes):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shapes[0]) * 3).astype(dtype)
    b = (rng.standard_normal(shapes[1]) * 3).astype(dtype)
    x, y = typed(a), typed(b)
    out = kiln.function([x, y], T.dot(x, y))(a, b)
    expected = np.dot(a, b)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == "float32" else 1e-12)


def test_dot_on_transposed_sliced_and_reversed_operands():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((10, 12))
    x, y = T.dmatrix(), T.dmatrix()
    f = kiln.function([x, y], T.dot(x, y))
    for a, b in [(base[:4, :6].T, base[:4, 6:]), (base[::2, ::3], base[:4, ::-1]), (base[::-1, :5].T, base[:10, 1::2])]:
        np.testing.assert_allclose(f(a, b), a @ b)
    v = T.dvector()
    g = kiln.function([x, v], [T.dot(x, v), T.dot(v, x.T)])
    for a, vec in [(base[:, ::2], base[0, :6]), (base.T, base[::-1, 0])]:
        mv, vm = g(a, vec)
        np.testing.assert_allclose(mv, a @ vec)
        np.testing.assert_allclose(vm, vec @ a.T)


def test_mixed_dtypes_and_scalars():
    f32, f64 = T.fmatrix(), T.dmatrix()
    assert T.dot(f32, f64).dtype == "float64"
    assert T.dot(T.imatrix(), T.fmatrix()).dtype == "float64"
    s = T.dscalar()
    out = kiln.function([s, f64], T.dot(s, f64))(np.array(2.0), np.ones((2, 2)))
    np.testing.assert_allclose(out, np.full((2, 2), 2.0))


def test_dot_shape_mismatch_names_op_shapes_and_line():
    x, w = T.dmatrix("x"), T.dmatrix("w")
    y = T.dot(x, w)  # reported line
    f = kiln.function([x, w], y)
    with pytest.raises(ValueError) as info:
        f(np.ones((3, 4)), np.ones((5, 2)))
    message = str(info.value)
    assert "Dot" in message and "(3, 4)" in message and "(5, 2)" in message and "4 != 5" in message
    assert "test_blas.py" in message


def test_outer_and_matmul_and_method():
    a, b = np.arange(3.0), np.arange(4.0)
    x, y = T.dvector(), T.dvector()
    o = kiln.function([x, y], T.outer(x, y))(a, b)
    np.testing.assert_allclose(o, np.outer(a, b))
    m = T.dmatrix()
    mv = np.arange(12.0).reshape(3, 4)
    r1, r2 = kiln.function([m, y], [m @ y, m.dot(y)])(mv, b)
    np.testing.assert_allclose(r1, mv @ b)
    np.testing.assert_allclose(r2, mv @ b)


def test_dot_of_higher_rank_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="more than 2"):
        T.dot(T.tensor3(), T.dmatrix())
