"""The shape ops against numpy: reshape, flatten, alloc, zeros/ones(_like), fill, arange, eye,
concatenate/join, stack, split. Every value check also compiles the op's infer_shape graph and
compares it with the shape of the computed value."""
import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln import _core

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"]


def data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    low = 0 if dtype.startswith("u") else -50
    return rng.uniform(low, 50, size=shape).astype(dtype)


def var(ndim, dtype="float64", name=None):
    return T.tensor(dtype, (False,) * ndim, name=name)


def check_infer_shape(inputs, outputs, args, values):
    """Each output's infer_shape graph gives the shape of its computed value."""
    for out, value in zip(outputs, values):
        dims = _core.infer_shape(out)
        assert dims is not None, f"infer_shape of {out} is unknown"
        assert len(dims) == value.ndim
        if dims:
            f = kiln.function(inputs, list(dims), on_unused_input="ignore")
            assert tuple(int(d) for d in f(*args)) == value.shape


def evaluate(inputs, outputs, args, infer_shape=True):
    """Compile, run, check the static types and infer_shape, return the values."""
    single = not isinstance(outputs, (list, tuple))
    outs = [outputs] if single else list(outputs)
    values = kiln.function(inputs, outs, on_unused_input="ignore")(*args)
    for out, value in zip(outs, values):
        assert value.dtype == np.dtype(out.dtype)
        assert value.ndim == out.ndim
        for static, actual in zip(out.type.shape, value.shape):
            assert static is None or static == actual, (out.type, value.shape)
    if infer_shape:
        check_infer_shape(inputs, outs, args, values)
    return values[0] if single else values


def assert_same(actual, expected):
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(actual, expected)


# ---------------------------------------------------------------- reshape / flatten


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("newshape", [(6, 4), (-1,), (2, -1, 3), (4, 3, 2, 1), (1, -1)])
def test_reshape_matches_numpy(dtype, newshape):
    x = var(3, dtype, "x")
    a = data((2, 3, 4), dtype)
    assert_same(evaluate([x], T.reshape(x, newshape), [a]), a.reshape(newshape))
    assert_same(evaluate([x], x.reshape(newshape), [a]), a.reshape(newshape))


@pytest.mark.parametrize("view", ["reversed", "transposed", "strided"])
def test_reshape_non_contiguous_inputs(view):
    a = data((4, 6), "float32")
    b = {"reversed": a[::-1], "transposed": a.T, "strided": a[:, ::2]}[view]
    x = var(2, "float32")
    assert_same(evaluate([x], x.reshape((-1,)), [b]), b.reshape(-1))
    assert_same(evaluate([x], x.reshape((2, -1)), [b]), b.reshape(2, -1))


def test_reshape_result_does_not_alias_input():
    x = T.dmatrix("x")
    a = np.zeros((2, 3))
    r = kiln.function([x], x.reshape((-1,)))(a)
    r[:] = 1
    assert not a.any()


def test_reshape_zero_d_and_zero_size():
    s = T.dscalar("s")
    assert_same(evaluate([s], s.reshape((1, 1)), [np.array(3.0)]), np.array([[3.0]]))
    v = T.dvector("v")
    assert_same(evaluate([v], v.reshape(()), [np.array([2.5])]), np.array(2.5))
    assert_same(evaluate([v], v.reshape([]), [np.array([2.5])]), np.array(2.5))
    m = T.dmatrix("m")
    z = np.zeros((0, 4))
    assert_same(evaluate([m], m.reshape((2, 0, 5)), [z]), z.reshape(2, 0, 5))
    assert_same(evaluate([m], m.reshape((4, -1)), [z]), z.reshape(4, -1))


def test_reshape_symbolic_sizes():
    x = T.dmatrix("x")
    n, k = T.lscalar("n"), T.iscalar("k")
    a = data((4, 6), "float64")
    out = x.reshape((n, k))
    assert_same(evaluate([x, n, k], out, [a, 3, 8]), a.reshape(3, 8))
    assert_same(evaluate([x, n, k], out, [a, -1, 2]), a.reshape(-1, 2))
    assert_same(evaluate([x, n, k], out, [a, 12, -1]), a.reshape(12, -1))
    assert_same(evaluate([x, n], x.reshape((n, 2, -1)), [a, 4]), a.reshape(4, 2, -1))
    assert_same(evaluate([x, n], x.reshape(n), [a, 24]), a.reshape(24))
    y = T.dtensor3("y")
    b = np.zeros((3, 2, 4))
    assert_same(evaluate([x, y], x.reshape(y.shape), [a, b]), a.reshape(3, 2, 4))


def test_reshape_symbolic_vector_needs_ndim():
    x = T.dmatrix("x")
    s = T.lvector("s")
    with pytest.raises(ValueError, match="pass ndim"):
        x.reshape(s)
    out = x.reshape(s, ndim=3)
    assert out.ndim == 3
    a = data((4, 6), "float64")
    value = kiln.function([x, s], out)(a, np.array([2, -1, 4]))
    assert_same(value, a.reshape(2, -1, 4))


def test_reshape_static_shape():
    x = T.tensor("float32", shape=(2, 3, 4))
    assert x.reshape((6, -1)).type.shape == (6, 4)
    assert x.reshape((1, -1)).broadcastable == (True, False)
    y = T.tensor("float32", shape=(None, 3, 4))
    assert y.reshape((T.shape_i(y, 0), -1)).type.shape == (None, 12)
    assert y.flatten(2).type.shape == (None, 12)


def test_reshape_errors():
    x = T.dmatrix("x")
    f = kiln.function([x], x.reshape((5, -1)))
    with pytest.raises(ValueError, match=r"Reshape\{2\}: cannot reshape an array of shape \(3, 4\) .*into shape \(5, -1\)"):
        f(np.zeros((3, 4)))
    g = kiln.function([x], x.reshape((2, 2)))
    with pytest.raises(ValueError, match=r"shape \(3, 4\) \(size 12\) into shape \(2, 2\)"):
        g(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="more than one -1"):
        x.reshape((-1, -1))
    with pytest.raises(ValueError, match="sizes must be >= 0"):
        x.reshape((-3, 4))
    with pytest.raises(TypeError, match="must be an integer scalar"):
        x.reshape((T.dscalar("f"), 2))
    with pytest.raises(TypeError, match="must be an integer vector"):
        x.reshape(T.dvector("fv"), ndim=2)
    with pytest.raises(ValueError, match="does not match"):
        x.reshape((2, 3), ndim=3)
    st = T.tensor("float64", shape=(2, 3))
    with pytest.raises(ValueError, match=r"static shape \(2, 3\)"):
        st.reshape((4, 2))


@pytest.mark.parametrize("dtype", ["bool", "int16", "uint32", "float32"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_flatten_matches_numpy(dtype, ndim):
    x = var(3, dtype)
    a = data((2, 3, 4), dtype)
    expected = a.reshape(a.shape[:ndim - 1] + (-1,))
    assert_same(evaluate([x], T.flatten(x, ndim), [a]), expected)
    assert_same(evaluate([x], x.flatten(ndim), [a[::-1, :, ::-1]]), a[::-1, :, ::-1].reshape(expected.shape))
    assert_same(evaluate([x], T.flatten(x, outdim=ndim), [a]), expected)


def test_flatten_zero_d_and_errors():
    s = T.dscalar("s")
    assert_same(evaluate([s], s.flatten(), [np.array(4.0)]), np.array([4.0]))
    m = T.dmatrix("m")
    with pytest.raises(ValueError, match=r"out of range \[1, 2\]"):
        m.flatten(3)
    with pytest.raises(ValueError, match="out of range"):
        T.flatten(m, 0)


# ---------------------------------------------------------------- alloc and friends


@pytest.mark.parametrize("dtype", DTYPES)
def test_alloc_broadcasts_value(dtype):
    v = var(1, dtype, "v")
    n = T.lscalar("n")
    out = T.alloc(v, n, 1, 3)
    assert out.dtype == dtype
    assert out.broadcastable == (False, True, False)
    a = data((3,), dtype)
    assert_same(evaluate([v, n], out, [a, 2]), np.broadcast_to(a, (2, 1, 3)).copy())
    assert_same(evaluate([v, n], out, [a, 0]), np.zeros((0, 1, 3), dtype))


def test_alloc_non_contiguous_and_scalar_values():
    m = T.dmatrix("m")
    a = data((3, 2), "float64")
    out = T.alloc(m, 2, T.shape_i(m, 0), T.shape_i(m, 1))
    assert_same(evaluate([m], out, [a.T]), np.broadcast_to(a.T, (2, 2, 3)).copy())
    assert_same(evaluate([m], out, [a[::-1]]), np.broadcast_to(a[::-1], (2, 3, 2)).copy())
    assert_same(evaluate([], T.alloc(np.float32(1.5), 2, 2), []), np.full((2, 2), 1.5, np.float32))
    s = T.dscalar("s")
    assert_same(evaluate([s], T.alloc(s), [np.array(2.0)]), np.array(2.0))


def test_alloc_errors():
    v = T.dvector("v")
    n, k = T.lscalar("n"), T.lscalar("k")
    f = kiln.function([v, n, k], T.alloc(v, n, k))
    with pytest.raises(ValueError, match=r"Alloc: cannot broadcast a value of shape \(3,\) to shape \(2, 4\)"):
        f(np.zeros(3), 2, 4)
    with pytest.raises(ValueError, match="Alloc: size 0 is -1"):
        f(np.zeros(1), -1, 4)
    with pytest.raises(TypeError, match="more than the 1 sizes"):
        T.alloc(T.dmatrix("m"), 3)
    with pytest.raises(TypeError, match="must be an integer scalar"):
        T.alloc(v, 2.5)
    with pytest.raises(ValueError, match="cannot be broadcast to size 4"):
        T.alloc(np.zeros(3), 4)


@pytest.mark.parametrize("fn,value", [(T.zeros, 0), (T.ones, 1)])
def test_zeros_ones(fn, value):
    assert_same(evaluate([], fn((2, 3)), []), np.full((2, 3), value, kiln.config.floatX))
    assert_same(evaluate([], fn(4, dtype="int8"), []), np.full(4, value, np.int8))
    assert_same(evaluate([], fn([2, 1], dtype="bool"), []), np.full((2, 1), value, bool))
    assert fn([2, 1]).broadcastable == (False, True)
    x = T.dtensor3("x")
    n = T.iscalar("n")
    a = np.zeros((2, 0, 3))
    assert_same(evaluate([x], fn(x.shape, dtype="uint16"), [a]), np.full((2, 0, 3), value, np.uint16))
    assert_same(evaluate([n], fn((n, 2), dtype="float32"), [3]), np.full((3, 2), value, np.float32))
    assert_same(evaluate([], fn(()), []), np.array(value, kiln.config.floatX))
    with pytest.raises(ValueError, match="cannot read the sizes"):
        fn(T.lvector("s"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zeros_like_ones_like(dtype):
    x = var(2, dtype, "x")
    a = data((3, 2), dtype)
    assert_same(evaluate([x], T.zeros_like(x), [a]), np.zeros_like(a))
    assert_same(evaluate([x], T.ones_like(x), [a.T]), np.ones_like(a.T))
    assert_same(evaluate([x], T.ones_like(x, dtype="float32"), [a]), np.ones_like(a, dtype=np.float32))
    r = T.tensor(dtype, (True, False))
    assert T.zeros_like(r).broadcastable == (True, False)


def test_fill():
    x = T.fmatrix("x")
    v = T.ivector("v")
    out = T.fill(x, v)
    assert out.dtype == "int32"  # Theano's fill (Elemwise second) keeps the value's dtype
    a = np.zeros((2, 3), np.float32)
    b = np.arange(3, dtype=np.int32)
    assert_same(evaluate([x, v], out, [a, b]), np.broadcast_to(b, (2, 3)).copy())
    assert_same(evaluate([x], T.fill(x, np.float32(7)), [a]), np.full((2, 3), 7, np.float32))
    r = T.tensor("float64", (True, False))
    c = T.dcol("c")
    assert_same(evaluate([r, c], T.second(r, c), [np.zeros((1, 3)), np.ones((2, 1))]), np.ones((2, 3)))
    f = kiln.function([x, v], out)
    with pytest.raises(ValueError, match="Alloc: cannot broadcast"):
        f(a, np.arange(4, dtype=np.int32))


# ---------------------------------------------------------------- arange


@pytest.mark.parametrize("args,dtype", [
    ((10,), "int64"),
    ((0.5, 3), "float32"),
    ((0, 1, 0.1), "float64"),
    ((2, 11, 3), "int64"),
    ((5, -3, -2), "int64"),
    ((5, 1), "int64"),
    ((np.uint8(3), np.uint8(9)), "int64"),  # the default step 1 is int8
    ((np.uint8(3), np.uint8(9), np.uint8(2)), "uint64"),
    ((np.float32(1), np.float32(2.5), np.float32(0.25)), "float32"),
])
def test_arange_constants(args, dtype):
    if kiln.config.floatX == "float32" and dtype == "float64":
        dtype = "float32"
    out = T.arange(*args)
    assert out.dtype == dtype
    value = evaluate([], out, [])
    expected = np.arange(*[np.asarray(a).item() for a in args], dtype=dtype)
    assert value.shape == expected.shape
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    assert out.type.shape == expected.shape  # constant arguments give a static length


@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != "bool"])
def test_arange_explicit_dtype(dtype):
    start, stop = T.iscalar("start"), T.dscalar("stop")
    out = T.arange(start, stop, 2, dtype=dtype)
    assert out.dtype == dtype
    assert_same(evaluate([start, stop], out, [1, 9.5]), np.arange(1, 9.5, 2, dtype=dtype))
    assert_same(evaluate([start, stop], out, [5, 1.0]), np.arange(5, 1.0, 2, dtype=dtype))


@pytest.mark.parametrize("start,stop,step", [(0, 10, 3), (10, 0, -3), (0, 10, -1), (-7, 7, 4), (3, 3, 1), (0, 0, 5)])
def test_arange_symbolic_ints(start, stop, step):
    a, b, c = T.lscalar("a"), T.lscalar("b"), T.lscalar("c")
    out = T.arange(a, b, c)
    assert out.dtype == "int64"
    assert_same(evaluate([a, b, c], out, [start, stop, step]), np.arange(start, stop, step))


@pytest.mark.parametrize("start,stop,step", [(0.0, 1.0, 0.1), (1.5, -2.0, -0.5), (0.0, 1.0, 0.3), (2.0, 1.0, 0.5)])
def test_arange_symbolic_floats(start, stop, step):
    a, b, c = T.dscalars("a, b, c")
    out = T.arange(a, b, c)
    assert out.dtype == "float64"
    value = evaluate([a, b, c], out, [start, stop, step])
    expected = np.arange(start, stop, step)
    assert value.shape == expected.shape
    np.testing.assert_allclose(value, expected)
    x = T.fscalar("x")
    assert T.arange(x).dtype == "float32"
    assert T.arange(T.bscalar("b8"), 4).dtype == "int64"


def test_arange_errors():
    with pytest.raises(ValueError, match="step is 0"):
        T.arange(0, 5, 0)
    s = T.lscalar("s")
    f = kiln.function([s], T.arange(0, 5, s))
    with pytest.raises(ValueError, match=r"ARange\{dtype=int64\}: step is 0"):
        f(0)
    with pytest.raises(TypeError, match="must be a scalar"):
        T.arange(T.dvector("v"))
    with pytest.raises(TypeError, match="bool"):
        T.arange(3, dtype="bool")


# ---------------------------------------------------------------- eye


@pytest.mark.parametrize("n,m,k", [(3, None, 0), (2, 4, 1), (4, 2, -1), (3, 3, 5), (0, 3, 0), (3, 5, -2)])
@pytest.mark.parametrize("dtype", ["bool", "int32", "uint8", "float32", "float64"])
def test_eye_matches_numpy(n, m, k, dtype):
    out = T.eye(n, m, k, dtype=dtype)
    assert_same(evaluate([], out, []), np.eye(n, m, k, dtype=dtype))
    assert out.type.shape == np.eye(n, m, k).shape


def test_eye_symbolic_and_default_dtype():
    assert T.eye(2).dtype == kiln.config.floatX
    n, k = T.iscalar("n"), T.lscalar("k")
    out = T.eye(n, k=k)
    assert out.type.shape == (None, None)
    for nv, kv in [(3, 0), (4, -1), (2, 1), (0, 0)]:
        assert_same(evaluate([n, k], out, [nv, kv]), np.eye(nv, k=kv, dtype=kiln.config.floatX))
    f = kiln.function([n, k], out)
    with pytest.raises(ValueError, match="sizes must be >= 0"):
        f(-1, 0)
    with pytest.raises(TypeError, match="must be an integer scalar"):
        T.eye(T.dscalar("f"))


# ---------------------------------------------------------------- concatenate / join / stack


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_concatenate_matches_numpy(dtype, axis):
    x, y = var(3, dtype, "x"), var(3, dtype, "y")
    a = data((2, 3, 4), dtype, 1)
    shape = list(a.shape)
    shape[axis] = 1
    b = data(tuple(shape), dtype, 2)
    expected = np.concatenate([a, b, a], axis=axis)
    assert_same(evaluate([x, y], T.concatenate([x, y, x], axis=axis), [a, b]), expected)
    assert_same(evaluate([x, y], T.join(axis, x, y, x), [a, b]), expected)


def test_concatenate_promotes_dtypes():
    x, y = T.bvector("x"), T.fvector("y")
    out = T.concatenate([x, y])
    assert out.dtype == "float32"
    a, b = np.array([1, 2], np.int8), np.array([0.5], np.float32)
    assert_same(evaluate([x, y], out, [a, b]), np.concatenate([a, b]))
    u, i = T.TensorType("uint32", (False,))("u"), T.ivector("i")
    assert T.concatenate([u, i]).dtype == "int64"
    z = T.dvector("z")
    assert_same(evaluate([z], T.concatenate([z, np.array([1.0, 2.0])]), [np.array([0.0])]), np.array([0.0, 1.0, 2.0]))


def test_concatenate_non_contiguous_and_empty():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    a = data((3, 4), "float64")
    out = T.concatenate([x, y], axis=1)
    assert_same(evaluate([x, y], out, [a[::-1], a[:, ::2]]), np.concatenate([a[::-1], a[:, ::2]], axis=1))
    assert_same(evaluate([x, y], out, [a.T[:, :0], a.T]), np.concatenate([a.T[:, :0], a.T], axis=1))
    assert T.concatenate([x]) is x


def test_concatenate_static_shape():
    x = T.tensor("float64", shape=(2, None))
    y = T.tensor("float64", shape=(None, 3))
    assert T.concatenate([x, y]).type.shape == (None, 3)
    z = T.tensor("float64", shape=(2, 3))
    assert T.concatenate([z, z, z], axis=1).type.shape == (2, 9)


def test_concatenate_errors():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    with pytest.raises(TypeError, match="has 1 dimensions but input 0"):
        T.concatenate([x, T.dvector("v")])
    with pytest.raises(TypeError, match="0-d"):
        T.concatenate([T.dscalar("a"), T.dscalar("b")])
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        T.concatenate([x, y], axis=2)
    with pytest.raises(TypeError, match="list or a tuple"):
        T.concatenate(x, y)
    f = kiln.function([x, y], T.concatenate([x, y]))
    with pytest.raises(ValueError, match=r"Join\{axis=0\}: input 1 has shape \(2, 4\) but input 0 has shape \(2, 3\)"):
        f(np.zeros((2, 3)), np.zeros((2, 4)))
    s1, s2 = T.tensor("float64", shape=(2, 3)), T.tensor("float64", shape=(2, 4))
    with pytest.raises(ValueError, match="has size 4 on axis 1"):
        T.concatenate([s1, s2])


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint64", "float32"])
def test_stack_matches_numpy(axis, dtype):
    x, y = var(2, dtype, "x"), var(2, dtype, "y")
    a, b = data((2, 3), dtype, 1), data((2, 3), dtype, 2)
    assert_same(evaluate([x, y], T.stack([x, y, x], axis=axis), [a, b]), np.stack([a, b, a], axis=axis))
    assert_same(evaluate([x, y], T.stack([x, y], axis), [a.T.T, b[::-1]]), np.stack([a, b[::-1]], axis=axis))


def test_stack_scalars_and_old_form():
    a, b = T.wscalar("a"), T.fscalar("b")
    out = T.stack([a, b])
    assert out.dtype == "float32"
    assert out.type.shape == (2,)
    assert_same(evaluate([a, b], out, [4, 1.5]), np.array([4, 1.5], np.float32))
    x, y = T.dvector("x"), T.dvector("y")
    va, vb = np.arange(3.0), np.ones(3)
    assert_same(evaluate([x, y], T.stack(x, y), [va, vb]), np.stack([va, vb]))
    assert_same(evaluate([x, y], T.stack([x, y], 1), [va, vb]), np.stack([va, vb], axis=1))
    with pytest.raises(ValueError, match=r"out of range \[-2, 1\]"):
        T.stack([x, y], axis=2)
    with pytest.raises(TypeError, match="same number of dimensions"):
        T.stack([x, T.dmatrix("m")])


# ---------------------------------------------------------------- split


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_split_matches_numpy(dtype, axis):
    x = var(2, dtype, "x")
    a = data((5, 6), dtype)
    length = a.shape[axis]
    sizes = [1, 0, length - 1]
    outs = T.split(x, sizes, 3, axis=axis)
    assert len(outs) == 3
    values = evaluate([x], outs, [a])
    for value, expected in zip(values, np.split(a, np.cumsum(sizes)[:-1], axis=axis)):
        assert_same(value, expected)


def test_split_symbolic_sizes_and_views():
    x = T.dvector("x")
    s = T.ivector("s")
    outs = T.split(x, s, 2)
    a = np.arange(7.0)
    first, second = kiln.function([x, s], outs)(a[::-1], np.array([3, 4], np.int32))
    assert_same(first, a[::-1][:3])
    assert_same(second, a[::-1][3:])
    first[:] = -1  # results never alias the input
    np.testing.assert_array_equal(a, np.arange(7.0))
    n = T.lscalar("n")
    outs = T.split(x, T.stack([n, T.constant(2, dtype="int64")]), 2)
    assert_same(evaluate([x, n], outs[0], [np.arange(5.0), 3]), np.arange(3.0))


def test_split_errors():
    x = T.dmatrix("x")
    f = kiln.function([x], T.split(x, [1, 2], 2))
    with pytest.raises(ValueError, match=r"cannot split axis 0 of an array of shape \(4, 2\) into pieces of sizes \(1, 2\)"):
        f(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="2 split sizes given for 3 splits"):
        T.split(x, [1, 2], 3)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        T.split(x, [1, 2], 2, axis=2)
    with pytest.raises(TypeError, match="must be an integer vector"):
        T.split(x, T.dvector("f"), 2)
    st = T.tensor("float64", shape=(4,))
    with pytest.raises(ValueError, match="sum to 3 but axis 0"):
        T.split(st, [1, 2], 2)
    s = T.lvector("s")
    g = kiln.function([x, s], T.split(x, s, 2))
    with pytest.raises(ValueError, match="got 3 split sizes, expected 2"):
        g(np.zeros((3, 2)), np.array([1, 1, 1]))


def test_exports():
    import kiln.tensor.shape_ops as shape_ops
    for name in shape_ops.__all__:
        assert getattr(T, name) is getattr(shape_ops, name)
