"""Elementwise ops against numpy/scipy over every dtype class, with broadcasting, 0-d and 0-size."""
import warnings
import zlib

import numpy as np
import pytest

import kiln
import kiln.tensor as T
from op_table import (ALL_DTYPES, BINARY_ANY, BITWISE, COMPARISONS, FLOAT_DTYPES, INT_DTYPES, UNARY_ANY,
                      UNARY_FLOAT, tolerance)

SHAPES = [(), (0,), (7,), (3, 4)]


def run1(op, value):
    x = T.tensor(value.dtype.name, shape=(None,) * value.ndim)
    return kiln.function([x], op(x))(value)


def run2(op, a, b):
    x = T.tensor(a.dtype.name, shape=(None,) * a.ndim)
    y = T.tensor(b.dtype.name, shape=(None,) * b.ndim)
    return kiln.function([x, y], op(x, y))(a, b)


@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_float_ops_match_reference(name, dtype, shape):
    op, ref, domain = UNARY_FLOAT[name]
    rng = np.random.default_rng(zlib.crc32(repr((name, dtype, shape)).encode()))
    value = np.asarray(domain(rng, shape)).astype(dtype)
    out = run1(op, value)
    expected = ref(value.astype("float64")).astype(dtype)
    assert out.dtype == np.dtype(dtype)
    assert out.shape == value.shape
    np.testing.assert_allclose(out, expected, **tolerance(dtype))


@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
@pytest.mark.parametrize("dtype,expected_dtype", [("int8", "float32"), ("uint16", "float32"), ("int32", "float64"),
                                                  ("int64", "float64"), ("bool", "float32")])
def test_unary_float_ops_upgrade_integers(name, dtype, expected_dtype):
    op, ref, domain = UNARY_FLOAT[name]
    if name.startswith("round"):
        with pytest.raises(TypeError, match="only float inputs"):
            op(T.tensor(dtype, shape=(None,)))
        return
    rng = np.random.default_rng(1)
    value = np.clip(np.round(domain(rng, (6,))), 0 if dtype in ("uint16", "bool") else -3, 3).astype(dtype)
    with np.errstate(all="ignore"):
        expected = ref(value.astype(expected_dtype))
    out = run1(op, value)
    assert out.dtype == np.dtype(expected_dtype)
    np.testing.assert_allclose(out, expected, **tolerance(expected_dtype))


def sample(dtype, rng, shape, domain):
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.startswith("uint"):
        return rng.integers(0, 50, size=shape).astype(dtype)
    if dtype.startswith("int"):
        return rng.integers(-50, 50, size=shape).astype(dtype)
    return np.asarray(domain(rng, shape)).astype(dtype)


@pytest.mark.parametrize("name", sorted(UNARY_ANY))
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_unary_numeric_ops(name, dtype):
    op, ref, domain = UNARY_ANY[name]
    x = T.tensor(dtype, shape=(None,))
    if dtype == "bool" and name in ("neg", "sgn"):
        with pytest.raises(TypeError, match="bool"):
            op(x)
        return
    value = sample(dtype, np.random.default_rng(2), (9,), domain)
    out = run1(op, value)
    with np.errstate(all="ignore"):
        expected = ref(value)
    if dtype == "bool":
        expected = expected.astype(bool)  # Theano's same_out: sqr/abs of bool stay bool (numpy gives int8)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("name", sorted(BINARY_ANY))
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_binary_numeric_ops_same_dtype(name, dtype):
    op, ref, domain = BINARY_ANY[name]
    if dtype == "bool" and name == "sub":
        with pytest.raises(TypeError, match="bool"):
            op(T.tensor(dtype, shape=(None,)), T.tensor(dtype, shape=(None,)))
        return
    rng = np.random.default_rng(3)
    a, b = sample(dtype, rng, (3, 5), domain), sample(dtype, rng, (3, 5), domain)
    if name in ("int_div", "mod") and dtype != "bool":
        b[b == 0] = 3  # division by zero is tested separately
    out = run2(op, a, b)
    with np.errstate(all="ignore"):
        expected = ref(a, b)
    if dtype == "bool" and name in ("int_div", "mod"):
        expected = expected.astype(bool)  # numpy promotes bool // bool to int8; Theano keeps bool
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.astype("float64"), expected.astype("float64"), **tolerance(dtype if dtype in FLOAT_DTYPES else "float64"))


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_division_by_zero_gives_zero(dtype):
    a = np.array([7, 0, 5], dtype=dtype)
    b = np.zeros(3, dtype=dtype)
    np.testing.assert_array_equal(run2(T.int_div, a, b), np.zeros(3, dtype))
    np.testing.assert_array_equal(run2(T.mod, a, b), np.zeros(3, dtype))


def test_python_style_floor_division_and_modulo_on_negatives():
    a = np.array([-7, 7, -7, 7, -8], dtype="int32")
    b = np.array([2, -2, -2, 2, 3], dtype="int32")
    np.testing.assert_array_equal(run2(T.int_div, a, b), np.floor_divide(a, b))
    np.testing.assert_array_equal(run2(T.mod, a, b), np.mod(a, b))
    af, bf = a.astype("float64") + 0.5, b.astype("float64")
    np.testing.assert_allclose(run2(T.int_div, af, bf), np.floor_divide(af, bf))
    np.testing.assert_allclose(run2(T.mod, af, bf), np.mod(af, bf))


@pytest.mark.parametrize("name", sorted(COMPARISONS))
@pytest.mark.parametrize("dtypes", [("float64", "float64"), ("int32", "float32"), ("uint8", "int8"), ("bool", "bool")])
def test_comparisons_return_bool(name, dtypes):
    op, ref = COMPARISONS[name]
    rng = np.random.default_rng(4)
    a = sample(dtypes[0], rng, (4, 3), lambda r, s: np.round(r.uniform(-2, 2, s)))
    b = sample(dtypes[1], rng, (4, 3), lambda r, s: np.round(r.uniform(-2, 2, s)))
    out = run2(op, a, b)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, ref(a, b))


@pytest.mark.parametrize("name", sorted(BITWISE))
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int64"])
def test_bitwise_ops(name, dtype):
    op, ref = BITWISE[name]
    rng = np.random.default_rng(5)
    a, b = sample(dtype, rng, (10,), None), sample(dtype, rng, (10,), None)
    np.testing.assert_array_equal(run2(op, a, b), ref(a, b))
    np.testing.assert_array_equal(run1(T.invert, a), np.invert(a))


def test_bitwise_ops_reject_floats_and_mixed_bool():
    with pytest.raises(TypeError, match="integers or all be bool"):
        T.and_(T.fvector(), T.fvector())
    with pytest.raises(TypeError, match="integers or all be bool"):
        T.or_(T.tensor("bool", shape=(None,)), T.ivector())


def test_python_operators_build_the_same_ops():
    x, y = T.dvector("x"), T.dvector("y")
    a, b = np.array([1.5, -2.0, 3.0]), np.array([0.5, 4.0, -1.0])
    exprs = [x + y, x - y, x * y, x / y, x // y, x % y, x ** 2, -x, abs(x), x < y, x <= y, x > y, x >= y,
             2 + x, 2 - x, 2 * x, 2 / x, 2 ** x, +x]
    refs = [a + b, a - b, a * b, a / b, a // b, a % b, a ** 2, -a, abs(a), a < b, a <= b, a > b, a >= b,
            2 + a, 2 - a, 2 * a, 2 / a, 2 ** a, a]
    f = kiln.function([x, y], exprs, on_unused_input="ignore")
    for out, ref in zip(f(a, b), refs):
        np.testing.assert_allclose(out, ref)
    i, j = T.ivector(), T.ivector()
    ia, ja = np.array([3, 5, 12], "int32"), np.array([6, 3, 10], "int32")
    g = kiln.function([i, j], [i & j, i | j, i ^ j, ~i])
    for out, ref in zip(g(ia, ja), [ia & ja, ia | ja, ia ^ ja, ~ia]):
        np.testing.assert_array_equal(out, ref)


def test_broadcasting_row_col_and_rank_padding():
    r, c, v, m, s = T.drow(), T.dcol(), T.dvector(), T.dmatrix(), T.dscalar()
    rv, cv = np.arange(4.0).reshape(1, 4), np.arange(3.0).reshape(3, 1)
    vv, mv, sv = np.arange(4.0), np.ones((3, 4)), np.array(2.0)
    f = kiln.function([r, c, v, m, s], [r + c, m * v, m + s, v + s])
    outs = f(rv, cv, vv, mv, sv)
    for out, ref in zip(outs, [rv + cv, mv * vv, mv + sv, vv + sv]):
        np.testing.assert_allclose(out, ref)
        assert out.shape == ref.shape


def test_zero_size_and_zero_d_inputs():
    m = T.dmatrix()
    f = kiln.function([m], [T.exp(m) + 1, m * m])
    for out in f(np.zeros((0, 3))):
        assert out.shape == (0, 3)
    s = T.fscalar()
    out = kiln.function([s], T.tanh(s) * 2)(np.float32(0.5))
    assert out.shape == () and out.dtype == np.float32
    np.testing.assert_allclose(out, 2 * np.tanh(np.float32(0.5)), rtol=1e-6)


def test_runtime_broadcast_mismatch_names_op_shapes_and_line():
    x, y = T.dvector("x"), T.dvector("y")
    z = x + y  # this line is reported
    f = kiln.function([x, y], z)
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    message = str(info.value)
    assert "Elemwise{add}" in message and "(3,)" in message and "(4,)" in message
    assert "test_elemwise.py" in message


def test_static_shape_mismatch_raises_at_build_time():
    with pytest.raises(ValueError, match="cannot be broadcast"):
        T.tensor("float64", shape=(3,)) + T.tensor("float64", shape=(4,))


def test_nan_and_inf_pass_through():
    x = T.dvector()
    value = np.array([np.nan, np.inf, -np.inf, 0.0])
    f = kiln.function([x], [T.exp(x), T.isnan(x), T.isinf(x), T.maximum(x, 0), T.minimum(x, 0), T.sgn(x)])
    with np.errstate(all="ignore"):
        refs = [np.exp(value), np.isnan(value), np.isinf(value), np.maximum(value, 0), np.minimum(value, 0),
                np.sign(value)]
    for out, ref in zip(f(value), refs):
        np.testing.assert_array_equal(out, ref)


def test_switch_clip_cast_round():
    c, a, b = T.dvector(), T.dvector(), T.ivector()
    cv, av, bv = np.array([1.0, 0.0, 0.5, np.nan]), np.array([1.5, 2.5, -0.5, 3.5]), np.array([1, 2, 3, 4], "int32")
    f = kiln.function([c, a, b], [T.switch(c, a, b), T.clip(a, 0, 2), T.cast(a, "int32"), T.round(a),
                                  T.round(a, "half_away_from_zero"), a.astype("float32")])
    sw, cl, ca, r1, r2, f32 = f(cv, av, bv)
    np.testing.assert_array_equal(sw, np.where(cv, av, bv))
    assert sw.dtype == np.float64
    np.testing.assert_array_equal(cl, np.clip(av, 0, 2))
    np.testing.assert_array_equal(ca, av.astype("int32"))
    np.testing.assert_array_equal(r1, np.round(av))
    np.testing.assert_array_equal(r2, np.array([2.0, 3.0, -1.0, 4.0]))
    assert f32.dtype == np.float32


@pytest.mark.parametrize("expr,dtype", [
    (lambda: T.fvector() + 1.5, "float32"),
    (lambda: T.fvector() * 1.1, "float32"),   # Python scalars never upcast a float tensor
    (lambda: T.fvector() * 2, "float32"),
    (lambda: T.fvector() * 100000, "float32"),
    (lambda: T.ivector() + 1.5, "float64"),
    (lambda: T.bvector() + 1000, "int16"),
    (lambda: T.bvector() + 1, "int8"),
    (lambda: T.ivector() + T.fvector(), "float64"),
    (lambda: T.bvector() + T.fvector(), "float32"),
    (lambda: T.ivector() / T.ivector(), kiln.config.floatX),
    (lambda: T.bvector() / T.bvector(), kiln.config.floatX),
    (lambda: T.ivector() / T.fvector(), "float64"),
    (lambda: T.ivector() // T.ivector(), "int32"),
    (lambda: T.exp(T.bvector()), "float32"),
    (lambda: T.exp(T.ivector()), "float64"),
    (lambda: T.floor(T.ivector()), "float64"),
    (lambda: T.tensor("bool", shape=(None,)) ** T.tensor("bool", shape=(None,)), "int8"),
    (lambda: T.fvector() < T.dvector(), "bool"),
    (lambda: T.switch(T.dvector(), T.ivector(), T.fvector()), "float64"),
])
def test_output_dtypes_follow_theano(expr, dtype):
    assert expr().dtype == dtype


def test_non_contiguous_and_negative_stride_inputs():
    x, y = T.dmatrix(), T.dmatrix()
    f = kiln.function([x, y], T.exp(x) * y)
    base = np.random.default_rng(0).standard_normal((6, 8))
    cases = [(base[::2, ::-1], base[1::2, :]),       # reversed columns, strided rows
             (base.T[::-1, :3], base.T[:, 2:5]),       # transposed and reversed
             (base[:, :1], base[:, 3:4])]              # column slices
    for a, b in cases:
        np.testing.assert_allclose(f(a, b), np.exp(a) * b)


def test_large_arrays_use_the_parallel_path_correctly():
    x = T.fvector()
    value = np.random.default_rng(0).standard_normal(300_001).astype("float32")
    np.testing.assert_allclose(kiln.function([x], T.tanh(x) * 2 + x)(value), np.tanh(value) * 2 + value, rtol=1e-6)
    m = T.fmatrix()
    mv = np.random.default_rng(1).standard_normal((1000, 301)).astype("float32")[:, ::2]
    np.testing.assert_allclose(kiln.function([m], T.exp(m))(mv), np.exp(mv), rtol=1e-6)
