"""Reductions against numpy: axis None/int/tuple/negative, keepdims, dtypes, empty inputs."""
import numpy as np
import pytest

import kiln
import kiln.tensor as T

AXES = [None, 0, 1, -1, (0, 2), (0, 1, 2), ()]


def compile1(expr_fn, value):
    x = T.tensor(value.dtype.name, shape=(None,) * value.ndim)
    return kiln.function([x], expr_fn(x))(value)


@pytest.fixture
def data():
    return np.random.default_rng(0).standard_normal((3, 4, 5))


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std"])
def test_float_reductions(data, name, axis, keepdims):
    out = compile1(lambda x: getattr(T, name)(x, axis=axis, keepdims=keepdims), data)
    expected = getattr(np, name)(data, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_argmax_argmin_and_max_and_argmax(axis):
    value = np.random.default_rng(1).standard_normal((4, 6))
    outs = compile1(lambda x: [T.argmax(x, axis=axis), T.argmin(x, axis=axis), *T.max_and_argmax(x, axis=axis)],
                    value)
    flat_axis = axis if not isinstance(axis, tuple) else None
    np.testing.assert_array_equal(outs[0], np.argmax(value, axis=flat_axis))
    np.testing.assert_array_equal(outs[1], np.argmin(value, axis=flat_axis))
    np.testing.assert_array_equal(outs[2], np.max(value, axis=axis))
    np.testing.assert_array_equal(outs[3], np.argmax(value, axis=flat_axis))
    assert outs[0].dtype == np.int64


@pytest.mark.parametrize("dtype,sum_dtype,mean_dtype", [
    ("bool", "int64", "float64"), ("int8", "int64", "float64"), ("int32", "int64", "float64"),
    ("uint8", "uint64", "float64"), ("uint32", "uint64", "float64"), ("float32", "float32", "float32"),
    ("float64", "float64", "float64")])
def test_accumulation_dtypes_follow_theano(dtype, sum_dtype, mean_dtype):
    x = T.tensor(dtype, shape=(None, None))
    assert T.sum(x).dtype == sum_dtype
    assert T.prod(x, axis=0).dtype == sum_dtype
    assert T.mean(x).dtype == mean_dtype
    assert T.max(x).dtype == dtype
    assert T.any(x).dtype == "bool"
    value = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    s, m, p = kiln.function([x], [T.sum(x, axis=1), T.mean(x, axis=0), T.prod(x, axis=0)])(value)
    np.testing.assert_array_equal(s, value.sum(axis=1, dtype=sum_dtype))
    np.testing.assert_allclose(m, value.mean(axis=0, dtype="float64").astype(mean_dtype), rtol=1e-6)
    np.testing.assert_array_equal(p, value.prod(axis=0, dtype=sum_dtype))


def test_int8_sum_does_not_overflow():
    value = np.full(1000, 100, dtype="int8")
    assert compile1(lambda x: x.sum(), value) == 100_000


def test_float32_sum_accumulates_in_float64():
    value = np.full(10_000_001, 0.1, dtype="float32")
    out = compile1(lambda x: x.sum(), value)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, value.astype("float64").sum(), rtol=1e-7)


def test_any_all_on_numbers_and_bools():
    value = np.array([[0, 2, 0], [0, 0, 0]], dtype="int16")
    a0, a1, b0 = compile1(lambda x: [T.any(x, axis=1), T.all(x, axis=0), T.all(x)], value)
    np.testing.assert_array_equal(a0, value.any(axis=1))
    np.testing.assert_array_equal(a1, value.all(axis=0))
    assert b0 == value.all()


def test_empty_reductions():
    value = np.zeros((0, 3))
    s, p, m = compile1(lambda x: [T.sum(x, axis=0), T.prod(x, axis=0), T.mean(x, axis=1)], value)
    np.testing.assert_array_equal(s, np.zeros(3))
    np.testing.assert_array_equal(p, np.ones(3))
    assert m.shape == (0,)
    with pytest.raises(ValueError, match="zero-size"):
        compile1(lambda x: T.max(x, axis=0), value)
    with pytest.raises(ValueError, match="empty"):
        compile1(lambda x: T.argmax(x, axis=0), value)


def test_nan_propagates_in_max_and_argmax_finds_first_nan():
    value = np.array([1.0, np.nan, 3.0, np.nan])
    mx, am, mn = compile1(lambda x: [T.max(x), T.argmax(x), T.min(x)], value)
    assert np.isnan(mx) and np.isnan(mn) and am == 1


def test_bad_axes_raise_value_error():
    x = T.dmatrix()
    with pytest.raises(ValueError, match="out of range"):
        T.sum(x, axis=2)
    with pytest.raises(ValueError, match="repeated"):
        T.sum(x, axis=(0, -2))


def test_var_with_ddof_and_methods():
    value = np.random.default_rng(2).standard_normal((5, 4))
    outs = compile1(lambda x: [x.var(axis=0, ddof=1), x.std(), x.mean(axis=-1, keepdims=True), x.max(axis=0)], value)
    np.testing.assert_allclose(outs[0], value.var(axis=0, ddof=1))
    np.testing.assert_allclose(outs[1], value.std())
    np.testing.assert_allclose(outs[2], value.mean(axis=-1, keepdims=True))
    np.testing.assert_allclose(outs[3], value.max(axis=0))


def test_strided_input_reductions():
    base = np.random.default_rng(3).standard_normal((8, 9))
    view = base[::-2, 1::3].T
    outs = compile1(lambda x: [x.sum(axis=0), x.sum(axis=1), x.max(), x.argmax(axis=1)], view)
    np.testing.assert_allclose(outs[0], view.sum(axis=0))
    np.testing.assert_allclose(outs[1], view.sum(axis=1))
    np.testing.assert_allclose(outs[2], view.max())
    np.testing.assert_array_equal(outs[3], view.argmax(axis=1))
