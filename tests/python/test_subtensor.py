"""Indexing against numpy: basic indexing, set/inc_subtensor, integer-array indexing, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import kiln
import kiln.tensor as T

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"]


def var(dtype, ndim, name="x"):
    return T.TensorType(dtype, shape=(None,) * ndim)(name)


def data(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    return (rng.random(shape) * 100).astype(dtype)


def compute(inputs, outputs, *args):
    return kiln.function(inputs, outputs, on_unused_input="ignore")(*args)


# ---------------------------------------------------------------- basic indexing

BASIC_KEYS = [
    0, -1, 2, (1, 2), (-2, -3, 1), slice(None), slice(1, None), slice(None, -1), slice(None, None, -1),
    slice(3, 0, -2), slice(-100, 100), slice(100, None), slice(None, None, 3), (slice(None), 0),
    (Ellipsis, 1), (Ellipsis, slice(None, None, -1), 0), (None, 0), (0, None, slice(1, 3), None),
    (slice(1, 3), Ellipsis, None), Ellipsis, (), (np.int64(1), np.int32(-1)), (slice(0, 0), 1),
    (slice(2, -5, -1), slice(None), slice(None, None, -2)),
]


@pytest.mark.parametrize("key", BASIC_KEYS, ids=[repr(k) for k in BASIC_KEYS])
def test_basic_indexing_matches_numpy(key):
    x = var("float64", 3)
    a = data("float64", (4, 3, 5))
    out = compute([x], x[key], a)
    np.testing.assert_array_equal(out, a[key])
    assert x[key].ndim == a[key].ndim


@pytest.mark.parametrize("dtype", DTYPES)
def test_basic_indexing_every_dtype(dtype):
    x = var(dtype, 2)
    a = data(dtype, (5, 4))
    keys = [(1, slice(None, None, -1)), (slice(-2, None), None, 2), (slice(None, None, 2), slice(1, 3))]
    outs = compute([x], [x[k] for k in keys], a)
    for k, o in zip(keys, outs):
        assert o.dtype == a.dtype
        np.testing.assert_array_equal(o, a[k])


def test_non_contiguous_inputs():
    x = var("float32", 2)
    base = data("float32", (6, 8))
    for a in [base.T, base[::2, 1::3], base[::-1]]:
        outs = compute([x], [x[1:, ::-2], x[-1], x[None, :, 0]], a)
        np.testing.assert_array_equal(outs[0], a[1:, ::-2])
        np.testing.assert_array_equal(outs[1], a[-1])
        np.testing.assert_array_equal(outs[2], a[None, :, 0])


def test_zero_size_and_zero_dim():
    x = var("int32", 2)
    a = data("int32", (3, 0))
    outs = compute([x], [x[1], x[5:], x[:, ::-1], x[::-1, None]], a)
    for o, k in zip(outs, [1, slice(5, None), (slice(None), slice(None, None, -1)), (slice(None, None, -1), None)]):
        assert o.shape == a[k].shape
    s = var("float64", 0)
    outs = compute([s], [s[()], s[None], s[...], s[None, ..., None]], np.float64(3.5))
    assert [o.shape for o in outs] == [(), (1,), (), (1, 1)]
    assert float(outs[0]) == 3.5


def test_symbolic_bounds_and_indices():
    x = var("float64", 2)
    i, j, k = T.lscalar("i"), T.iscalar("j"), T.bscalar("k")
    exprs = [x[i:j], x[i:j:k], x[::k, k], x[j], x[i:], x[:j, ::-1], x[-j:i:k]]
    f = kiln.function([x, i, j, k], exprs, on_unused_input="ignore")
    a = data("float64", (7, 5))
    for iv, jv, kv in [(0, 3, 1), (-2, 6, -1), (5, -7, -2), (1, 1, 3), (-100, 4, 2), (3, -1, -3)]:
        outs = f(a, iv, jv, kv)
        expected = [a[iv:jv], a[iv:jv:kv], a[::kv, kv], a[jv], a[iv:], a[:jv, ::-1], a[-jv:iv:kv]]
        for o, e in zip(outs, expected):
            np.testing.assert_array_equal(o, e)


@settings(max_examples=150, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=3),
    bounds=st.lists(st.tuples(st.one_of(st.none(), st.integers(-7, 7)), st.one_of(st.none(), st.integers(-7, 7)),
                              st.one_of(st.none(), st.integers(-4, 4).filter(lambda s: s != 0)),
                              st.booleans()), min_size=3, max_size=3),
)
def test_random_slices_literal_and_symbolic(shape, bounds):
    a = np.arange(int(np.prod(shape)), dtype="float64").reshape(shape)
    x = var("float64", len(shape))
    scalars, values, key_sym, key_np = [], [], [], []
    for start, stop, step, symbolic in bounds[: len(shape)]:
        parts = []
        for v in (start, stop, step):
            if v is not None and symbolic:
                s = T.lscalar()
                scalars.append(s)
                values.append(v)
                parts.append(s)
            else:
                parts.append(v)
        key_sym.append(slice(*parts))
        key_np.append(slice(start, stop, step))
    y = x[tuple(key_sym)]
    out = compute([x] + scalars, y, a, *values)
    np.testing.assert_array_equal(out, a[tuple(key_np)])
    static = y.type.shape
    assert all(s is None or s == d for s, d in zip(static, out.shape))


def test_static_shapes():
    x = T.TensorType("float32", shape=(5, None, 3))("x")
    assert x[1:4].type.shape == (3, None, 3)
    assert x[::-2, 0].type.shape == (3, 3)
    assert x[None, ..., 1:2].type.shape == (1, 5, None, 1)
    assert x[T.lscalar():].type.shape == (None, None, 3)


def test_output_is_a_view_but_results_do_not_alias_inputs():
    x = var("float64", 2)
    y = x[1:, ::2]
    assert y.owner.op.name.startswith("Subtensor")
    a = data("float64", (4, 4))
    out = compute([x], y, a)
    out[...] = -1
    assert (a >= 0).all()


def test_shape_indexing():
    x = var("float64", 3)
    n = x.shape[0]
    assert n.ndim == 0 and n.dtype == "int64"
    a, b, c = x.shape  # iteration uses the static length of the shape vector
    outs = compute([x], [n, x.shape[-1], x.shape[1:], c], np.zeros((2, 3, 4)))
    assert [int(outs[0]), int(outs[1]), list(outs[2]), int(outs[3])] == [2, 4, [3, 4], 4]


def test_basic_index_errors():
    x = var("float64", 2)
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        x[::0]
    with pytest.raises(IndexError, match="valid indices"):
        x[1.5]
    with pytest.raises(TypeError, match="slice indices must be integers"):
        x[1.5:]
    with pytest.raises(TypeError, match="indices must be integers"):
        x[T.scalar("f")]
    with pytest.raises(NotImplementedError, match="boolean"):
        x[True]
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 3"):
        T.TensorType("float64", shape=(None, 3))()[:, 3]
    i = T.lscalar("i")
    f = kiln.function([x, i], x[:, i])
    with pytest.raises(IndexError, match=r"Subtensor\{:, int64\}: index -6 is out of bounds for axis 1 with size 5"):
        f(np.zeros((2, 5)), -6)
    s = T.lscalar("s")
    g = kiln.function([x, s], x[::s])
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        g(np.zeros((2, 5)), 0)


def test_item_assignment_and_unknown_length_iteration_raise():
    x = var("float64", 1)
    with pytest.raises(TypeError, match="set_subtensor"):
        x[0] = 1
    with pytest.raises(TypeError, match="not known statically"):
        list(x)


# ---------------------------------------------------------------- set / inc

SET_KEYS = [0, -1, slice(1, 3), (slice(None), 1), (slice(None, None, -2), slice(1, None)), (None, 2),
            (Ellipsis, slice(3, 0, -1)), (slice(5, None),)]


@pytest.mark.parametrize("key", SET_KEYS, ids=[repr(k) for k in SET_KEYS])
@pytest.mark.parametrize("dtype", ["int8", "uint32", "float32", "float64"])
def test_set_and_inc_subtensor_match_numpy(key, dtype):
    x = var(dtype, 2)
    a = data(dtype, (4, 5))
    region_shape = a[key].shape
    y = T.TensorType(dtype, shape=(None,) * len(region_shape))("y")
    b = data(dtype, region_shape, seed=1)
    set_out, inc_out = compute([x, y], [T.set_subtensor(x[key], y), T.inc_subtensor(x[key], y)], a, b)
    expected_set, expected_inc = a.copy(), a.copy()
    expected_set[key] = b
    expected_inc[key] += b
    np.testing.assert_array_equal(set_out, expected_set)
    np.testing.assert_array_equal(inc_out, expected_inc)
    assert set_out.dtype == a.dtype


def test_set_subtensor_broadcasts_casts_and_leaves_x_alone():
    x = var("int32", 3)
    a = data("int32", (3, 4, 5))
    keep = a.copy()
    r = T.row("r", dtype="float64")
    outs = compute([x, r], [T.set_subtensor(x[:, 1:3], r), T.inc_subtensor(x[1], 2.7), T.set_subtensor(x[..., 0], 7),
                            T.inc_subtensor(x[0], r)], a, np.full((1, 5), 1.9))
    e0, e1, e2, e3 = a.copy(), a.copy(), a.copy(), a.copy()
    e0[:, 1:3] = np.full((1, 5), 1.9)
    e1[1] = (e1[1] + np.int32(2.7)).astype("int32")
    e2[..., 0] = 7
    e3[0] += np.int32(1)
    for o, e in zip(outs, [e0, e1, e2, e3]):
        assert o.dtype == np.int32
        np.testing.assert_array_equal(o, e)
    np.testing.assert_array_equal(a, keep)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inc_subtensor_every_dtype(dtype):
    x, y = var(dtype, 2), var(dtype, 1, "y")
    a, b = data(dtype, (3, 4)), data(dtype, (4,), seed=3)
    out = compute([x, y], T.inc_subtensor(x[::-2], y), a, b)
    e = a.copy()
    if dtype == "bool":
        e[::-2] |= b
    else:
        e[::-2] += b
    np.testing.assert_array_equal(out, e)


def test_set_subtensor_with_symbolic_indices_and_non_contiguous_input():
    x = var("float64", 2)
    i, j = T.lscalar("i"), T.lscalar("j")
    f = kiln.function([x, i, j], [T.set_subtensor(x[i:j, j], 0.5), T.inc_subtensor(x[i, ::-1], 1.0)])
    a = data("float64", (5, 6)).T
    o1, o2 = f(a, 1, 3)
    e1, e2 = a.copy(), a.copy()
    e1[1:3, 3] = 0.5
    e2[1, ::-1] += 1.0
    np.testing.assert_array_equal(o1, e1)
    np.testing.assert_array_equal(o2, e2)


def test_set_subtensor_errors():
    x = T.TensorType("float64", shape=(4, None))("x")
    with pytest.raises(TypeError, match="result of indexing"):
        T.set_subtensor(x, 1.0)
    with pytest.raises(TypeError, match="not by indexing"):
        T.set_subtensor(x + 1, 1.0)
    with pytest.raises(ValueError, match="cannot broadcast"):
        T.set_subtensor(x[1:3], T.TensorType("float64", shape=(3, None))())
    with pytest.raises(ValueError, match="cannot store"):
        T.set_subtensor(x[0], T.matrix())
    v = T.vector("v", dtype="float64")
    f = kiln.function([x, v], T.inc_subtensor(x[:2, 0], v))
    with pytest.raises(ValueError, match=r"cannot broadcast a value of shape \(3,\)"):
        f(np.zeros((4, 2)), np.zeros(3))


@settings(max_examples=80, deadline=None)
@given(start=st.one_of(st.none(), st.integers(-6, 6)), stop=st.one_of(st.none(), st.integers(-6, 6)),
       step=st.one_of(st.none(), st.sampled_from([-3, -2, -1, 1, 2, 3])), col=st.integers(-4, 3))
def test_random_set_inc(start, stop, step, col):
    x = var("float64", 2)
    a = np.arange(20.0).reshape(5, 4)
    key = (slice(start, stop, step), col)
    s, i = compute([x], [T.set_subtensor(x[key], -1.0), T.inc_subtensor(x[key], 10.0)], a)
    es, ei = a.copy(), a.copy()
    es[key] = -1.0
    ei[key] += 10.0
    np.testing.assert_array_equal(s, es)
    np.testing.assert_array_equal(i, ei)


# ---------------------------------------------------------------- integer arrays

@pytest.mark.parametrize("dtype", DTYPES)
def test_advanced_subtensor1_every_dtype(dtype):
    x = var(dtype, 2)
    idx = T.lvector("idx")
    a = data(dtype, (4, 3))
    iv = np.array([3, -1, 0, 0, 2])
    y = x[idx]
    assert y.owner.op.name == "AdvancedSubtensor1"
    np.testing.assert_array_equal(compute([x, idx], y, a, iv), a[iv])


def test_integer_array_forms():
    x = var("float32", 3)
    a = data("float32", (4, 3, 2))
    iv = T.ivector("iv")
    ib = T.TensorType("uint8", shape=(None,))("ib")
    imat = T.lmatrix("imat")
    m = np.array([[0, 3], [-1, 1]])
    exprs = [x[[1, 1, 0]], x[np.array([2, -4])], x[iv, :], x[iv, ...], x[iv, ib], x[iv, ib, 1], x[imat],
             x[[]], x[iv, 0], x[0, ib], x[np.array([[1], [2]]), np.array([0, 2, 1])]]
    outs = compute([x, iv, ib, imat], exprs, a, np.array([3, 0, 1], "int32"), np.array([2, 0, 1], "uint8"), m)
    ivv, ibv = np.array([3, 0, 1]), np.array([2, 0, 1])
    expected = [a[[1, 1, 0]], a[np.array([2, -4])], a[ivv, :], a[ivv, ...], a[ivv, ibv], a[ivv, ibv, 1], a[m],
                a[[]], a[ivv, 0], a[0, ibv], a[np.array([[1], [2]]), np.array([0, 2, 1])]]
    for o, e in zip(outs, expected):
        assert o.shape == e.shape
        np.testing.assert_array_equal(o, e)


def test_paired_indexing_negative_log_likelihood():
    p = T.matrix("p")
    y = T.lvector("y")
    rows = np.arange(5)
    cost = -T.mean(T.log(p)[rows, y])
    f = kiln.function([p, y], cost)
    pv = np.random.default_rng(0).random((5, 4)).astype(kiln.config.floatX) + 0.1
    yv = np.array([0, 3, 3, 1, 2])
    np.testing.assert_allclose(f(pv, yv), -np.mean(np.log(pv)[rows, yv]), rtol=1e-6)
    picked = T.log(p)[rows, y]
    assert picked.owner.op.name == "AdvancedSubtensor"
    r = T.lvector("r")  # rows given by an lvector input as well
    g = kiln.function([p, r, y], p[r, y])
    np.testing.assert_array_equal(g(pv, rows[::-1].copy(), yv), pv[rows[::-1], yv])


def test_inc_and_set_with_repeated_indices():
    x = var("float64", 2)
    idx = T.lvector("idx")
    y = var("float64", 2, "y")
    a = data("float64", (4, 3))
    iv = np.array([1, -3, 2, 1, 0, 1])
    b = data("float64", (6, 3), seed=2)
    inc, st_ = compute([x, idx, y], [T.inc_subtensor(x[idx], y), T.set_subtensor(x[idx], y)], a, iv, b)
    e_inc = a.copy()
    np.add.at(e_inc, iv, b)
    np.testing.assert_allclose(inc, e_inc)
    e_set = a.copy()
    e_set[iv] = b  # numpy keeps the last write of a repeated index
    np.testing.assert_array_equal(st_, e_set)


def test_inc_and_set_paired_and_broadcast_values():
    x = var("int64", 2)
    a = data("int64", (3, 4))
    rows, cols = np.array([0, 2, 0, 0]), np.array([1, 3, 1, -1])
    outs = compute([x], [T.inc_subtensor(x[rows, cols], 5), T.set_subtensor(x[rows, cols], np.arange(4)),
                         T.inc_subtensor(x[[2, 2]], T.as_tensor_variable(np.arange(4)))], a)
    e0, e1, e2 = a.copy(), a.copy(), a.copy()
    np.add.at(e0, (rows, cols), 5)
    e1[rows, cols] = np.arange(4)
    np.add.at(e2, [2, 2], np.arange(4))
    for o, e in zip(outs, [e0, e1, e2]):
        np.testing.assert_array_equal(o, e)
    np.testing.assert_array_equal(compute([x], T.advanced_inc_subtensor1(x, 1, [0, 0]), a), a + [[2], [0], [0]])
    np.testing.assert_array_equal(compute([x], T.advanced_set_subtensor1(x, 0, [1]), a), a * [[1], [0], [1]])


def test_advanced_inc_on_non_contiguous_and_zero_size():
    x = var("float32", 2)
    a = data("float32", (5, 4)).T
    i = T.lvector("i")
    out = compute([x, i], T.inc_subtensor(x[i], 1.0), a, np.array([], dtype="int64"))
    np.testing.assert_array_equal(out, a)
    out = compute([x, i], [x[i], T.inc_subtensor(x[i], 1.0)], a, np.array([3, 3]))
    np.testing.assert_array_equal(out[0], a[[3, 3]])
    e = a.copy()
    np.add.at(e, [3, 3], 1.0)
    np.testing.assert_array_equal(out[1], e)


def test_take():
    x = var("int16", 3)
    a = data("int16", (2, 4, 3))
    ind = np.array([[0, -1], [2, 2]])
    outs = compute([x], [T.take(x, ind, axis=1), T.take(x, [1, 0], axis=-1), x.take([1], axis=0),
                         T.take(x[0, 0], 2)], a)
    expected = [np.take(a, ind, axis=1), np.take(a, [1, 0], axis=-1), np.take(a, [1], axis=0), np.take(a[0, 0], 2)]
    for o, e in zip(outs, expected):
        np.testing.assert_array_equal(o, e)


def test_advanced_errors():
    x = var("float64", 2)
    with pytest.raises(NotImplementedError, match="boolean mask"):
        x[np.array([True, False])]
    with pytest.raises(NotImplementedError, match="boolean"):
        x[T.TensorType("bool", shape=(None,))()]
    with pytest.raises(IndexError, match="integer"):
        x[np.array([1.0, 2.0])]
    with pytest.raises(TypeError, match="indices must be integers"):
        T.advanced_subtensor1(x, T.vector())
    with pytest.raises(NotImplementedError, match="not supported yet"):
        x[:, [0, 1]]
    with pytest.raises(NotImplementedError, match="not supported yet"):
        x[[0, 1], 1:]
    with pytest.raises(IndexError, match="too many indices"):
        x[[0], [0], [0]]
    with pytest.raises(IndexError, match="shape mismatch"):
        x[np.arange(2), np.arange(3)]
    i = T.lvector("i")
    f = kiln.function([x, i], x[i])
    with pytest.raises(IndexError, match="AdvancedSubtensor1: index 4 is out of bounds for axis 0 with size 4"):
        f(np.zeros((4, 2)), np.array([0, 4]))
    g = kiln.function([x, i], T.inc_subtensor(x[i, i], 1.0))
    with pytest.raises(IndexError, match="index -3 is out of bounds for axis 1 with size 2"):
        g(np.zeros((4, 2)), np.array([1, -3]))
    j = T.lvector("j")
    h = kiln.function([x, i, j], x[i, j])
    with pytest.raises(IndexError, match="could not be broadcast"):
        h(np.zeros((4, 2)), np.array([0, 1]), np.array([0, 1, 1]))
    y = T.matrix("y")
    k = kiln.function([x, i, y], T.set_subtensor(x[i], y))
    with pytest.raises(ValueError, match="cannot broadcast"):
        k(np.zeros((4, 2)), np.array([0, 1]), np.zeros((3, 2)))
