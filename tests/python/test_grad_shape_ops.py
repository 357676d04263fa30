"""Gradients (grad) and forward derivatives (Rop) of the shape and indexing ops, against central
finite differences.

Every check projects the output on a fixed random tensor r: the gradient of sum(out * r) with
respect to each float input is compared with finite differences of that scalar, and Rop(out, x, v)
with finite differences of out along v (a whole Jacobian-vector product, not just a projection).
The ops are linear in their float inputs, so finite differences are exact up to rounding.
"""
import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln import _core
from kiln.gradient import Rop, grad

FLOATS = ["float32", "float64"]
_EPS = {"float32": 1e-2, "float64": 1e-6}
_TOL = {"float32": 2e-3, "float64": 1e-7}


def _sym(value, broadcastable=None):
    value = np.asarray(value)
    pattern = broadcastable if broadcastable is not None else (False,) * value.ndim
    return T.tensor(dtype=str(value.dtype), broadcastable=tuple(pattern))


def _is_float(value):
    return np.asarray(value).dtype.kind == "f"


def _precision(values, out_dtype):
    """The dtype the check works to: float32 if any float input or the output is float32."""
    dtypes = {str(np.asarray(v).dtype) for v in values if _is_float(v)} | {str(out_dtype)}
    return "float32" if "float32" in dtypes else "float64"


def _numeric_grad(f_out, values, i, r, eps):
    """Central differences of sum(out * r) with respect to values[i], computed in float64."""
    base = [np.array(v, copy=True) for v in values]
    x = base[i]
    g = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + eps
        plus = np.sum(np.asarray(f_out(*base), dtype=np.float64) * r)
        x[idx] = old - eps
        minus = np.sum(np.asarray(f_out(*base), dtype=np.float64) * r)
        x[idx] = old
        # Divide by the step actually taken, which rounding in float32 changes.
        step = np.float64(np.asarray(old + eps, x.dtype)) - np.float64(np.asarray(old - eps, x.dtype))
        g[idx] = (plus - minus) / step
    return g


def _numeric_jvp(f_out, values, wrt, directions, eps):
    """Central differences of out along the directions (one per index in wrt), in float64."""
    shifted = {}
    for sign in (1, -1):
        moved = [np.array(v, copy=True) for v in values]
        for i, d in zip(wrt, directions):
            moved[i] = (moved[i].astype(np.float64) + sign * eps * d).astype(moved[i].dtype)
        shifted[sign] = np.asarray(f_out(*moved), dtype=np.float64)
    return (shifted[1] - shifted[-1]) / (2 * eps)


def check_grads(build, values, broadcastable=None, wrt=None, rop=True, seed=0):
    """Compare grad and Rop of build(*inputs) with finite differences at `values`.

    values: numpy arrays, one per symbolic input (integer ones are indices or sizes, held fixed);
    broadcastable: optional patterns for the inputs; wrt: the inputs to differentiate (default:
    every float input).
    """
    rng = np.random.default_rng(seed)
    values = [np.asarray(v) for v in values]
    patterns = broadcastable or [None] * len(values)
    syms = [_sym(v, p) for v, p in zip(values, patterns)]
    wrt = [i for i, v in enumerate(values) if _is_float(v)] if wrt is None else wrt
    out = build(*syms)
    f_out = kiln.function(syms, out, on_unused_input="ignore")
    out_val = np.asarray(f_out(*values))
    r = rng.standard_normal(out_val.shape)
    # A float64 input cast to float32 inside the graph is only differentiated to float32
    # precision; the ops are linear, so the larger step costs no accuracy.
    precision = _precision(values, out_val.dtype)
    eps, tol = _EPS[precision], _TOL[precision]
    cost = (out * T.constant(r.astype(out_val.dtype))).sum()
    grads = grad(cost, [syms[i] for i in wrt])
    g_vals = kiln.function(syms, grads, on_unused_input="ignore")(*values)
    for i, g, g_val in zip(wrt, grads, g_vals):
        assert g.dtype == syms[i].dtype and g.ndim == syms[i].ndim
        g_val = np.asarray(g_val)
        assert g_val.shape == values[i].shape and g_val.dtype == values[i].dtype
        expected = _numeric_grad(f_out, values, i, r, eps)
        np.testing.assert_allclose(g_val, expected, rtol=tol, atol=tol, err_msg=f"gradient of input {i}")
    if not rop:
        return
    directions = [rng.standard_normal(values[i].shape) for i in wrt]
    evs = [T.constant(d.astype(values[i].dtype)) for i, d in zip(wrt, directions)]
    jvp = Rop(out, [syms[i] for i in wrt], evs)
    assert jvp.ndim == out.ndim
    jvp_val = np.asarray(kiln.function(syms, jvp, on_unused_input="ignore")(*values))
    expected = _numeric_jvp(f_out, values, wrt, directions, eps)
    np.testing.assert_allclose(jvp_val, np.broadcast_to(expected, jvp_val.shape), rtol=tol, atol=tol,
                               err_msg="Rop")
    # The projection of Rop on r must be grad . v: the two modes agree.
    dot = sum(np.sum(np.asarray(g, dtype=np.float64) * d) for g, d in zip(g_vals, directions))
    np.testing.assert_allclose(np.sum(jvp_val * r), dot, rtol=10 * tol, atol=10 * tol)


def _rand(shape, dtype, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- Reshape

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("build", [
    lambda x: x.reshape((4, 6)),
    lambda x: x.reshape((-1, 2)),
    lambda x: x.reshape((x.shape[0], -1)),
    lambda x: x.flatten(),
    lambda x: x.flatten(2) * 2,
    lambda x: T.reshape(x, (2, 1, 12))[:, 0],
], ids=["const", "minus_one", "symbolic", "flatten", "flatten2", "new_axis"])
def test_reshape(build, dtype):
    check_grads(build, [_rand((2, 3, 4), dtype)])


@pytest.mark.parametrize("dtype", FLOATS)
def test_reshape_of_row_keeps_broadcastable_gradient(dtype):
    # The row's gradient must stay (1, n) so that dimshuffle can drop the axis.
    check_grads(lambda v: v.dimshuffle("x", 0).reshape((2, 3)), [_rand((6,), dtype)])
    check_grads(lambda x: x.reshape((3, 2)), [_rand((1, 6), dtype)], broadcastable=[(True, False)])


@pytest.mark.parametrize("dtype", FLOATS)
def test_reshape_to_scalar_and_back(dtype):
    check_grads(lambda x: x.reshape(()) * 3, [_rand((1, 1), dtype)])
    check_grads(lambda s: s.reshape((1, 1, 1)), [_rand((), dtype)])


def test_reshape_by_the_shape_of_another_tensor():
    # y only gives the shape: its gradient is disconnected.
    x, y = T.matrix("x", dtype="float64"), T.matrix("y", dtype="float64")
    cost = x.reshape(y.shape).sum()
    with pytest.raises(ValueError):
        grad(cost, y)
    gy = grad(cost, y, disconnected_inputs="ignore")
    assert np.all(kiln.function([y], gy)(np.ones((2, 3))) == 0)
    check_grads(lambda x, y: x.reshape(y.shape) * y, [_rand((2, 3), "float64"), _rand((3, 2), "float64", 2)])


# ---------------------------------------------------------------- Alloc

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, pattern, sizes", [
    ((3,), None, (2, 4, 3)),
    ((1, 3), (True, False), (5, 3)),
    ((2, 1), (False, True), (4, 2, 5)),
    ((), None, (2, 3)),
    ((2, 3), None, (2, 3)),
], ids=["leading_axes", "row", "col", "scalar", "same_shape"])
def test_alloc(shape, pattern, sizes, dtype):
    check_grads(lambda v: T.alloc(v, *sizes), [_rand(shape, dtype)], broadcastable=[pattern])


@pytest.mark.parametrize("dtype", FLOATS)
def test_alloc_symbolic_sizes_and_fill(dtype):
    n = np.asarray(3, dtype="int64")
    check_grads(lambda v, n: T.alloc(v, n, 4), [_rand((4,), dtype), n])
    check_grads(lambda v, m: T.fill(m, v) * m, [_rand((), dtype), _rand((2, 3), dtype, 2)])
    check_grads(lambda x: T.zeros_like(x) + T.ones_like(x) * x, [_rand((2, 3), dtype)])


# ---------------------------------------------------------------- MakeVector (stack of scalars)

@pytest.mark.parametrize("dtype", FLOATS)
def test_make_vector(dtype):
    vals = [_rand((), dtype, s) for s in range(3)]
    check_grads(lambda a, b, c: T.stack([a, b, c, a]), vals)


def test_make_vector_mixed_dtypes_and_integer_entries():
    a, b = _rand((), "float32"), _rand((), "float64", 2)
    k = np.asarray(4, dtype="int32")
    check_grads(lambda a, b, k: T.stack([a, k, b]), [a, b, k])
    x, i = T.scalar("x", dtype="float32"), T.iscalar("i")
    v = T.stack([x, i])
    gx = grad(v.sum(), x)
    assert gx.dtype == "float32"
    with pytest.raises(ValueError):
        grad(v.sum(), i)


# ---------------------------------------------------------------- Join and Split

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis, shapes", [
    (0, [(2, 3), (4, 3)]),
    (1, [(2, 1), (2, 3), (2, 2)]),
    (-1, [(2, 2, 1), (2, 2, 3)]),
], ids=["axis0", "axis1_three", "negative_axis"])
def test_join(axis, shapes, dtype):
    vals = [_rand(s, dtype, k) for k, s in enumerate(shapes)]
    check_grads(lambda *xs: T.concatenate(list(xs), axis=axis), vals)


@pytest.mark.parametrize("dtype", FLOATS)
def test_join_with_broadcastable_inputs(dtype):
    # A row joined on its broadcastable axis: its gradient slab must come back as a row.
    check_grads(lambda r, m: T.concatenate([r, m, r], axis=0), [_rand((1, 3), dtype), _rand((2, 3), dtype, 2)],
                broadcastable=[(True, False), None])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack_of_vectors(axis, dtype):
    vals = [_rand((3,), dtype, k) for k in range(3)]
    check_grads(lambda a, b, c: T.stack([a, b, c], axis=axis), vals)


def test_join_mixed_dtypes():
    check_grads(lambda a, b: T.concatenate([a, b]), [_rand((2,), "float32"), _rand((3,), "float64", 2)])
    x, k = T.vector("x", dtype="float64"), T.lvector("k")
    gx = grad(T.concatenate([x, k]).sum(), x)
    assert np.all(kiln.function([x, k], gx)(np.zeros(3), np.arange(2)) == 1)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("pick", [[0, 1, 2], [2], [2, 0], [1]], ids=["all", "last", "reordered", "empty_piece"])
def test_split(pick, dtype):
    def build(x):
        pieces = T.split(x, [2, 0, 3], 3, axis=1)
        return T.concatenate([pieces[p] for p in pick], axis=1) if len(pick) > 1 else pieces[pick[0]] * 1.5
    check_grads(build, [_rand((2, 5, 2), dtype)])


@pytest.mark.parametrize("dtype", FLOATS)
def test_split_symbolic_sizes(dtype):
    sizes = np.asarray([1, 3], dtype="int64")
    check_grads(lambda x, s: T.split(x, s, 2, axis=0)[1] * 2, [_rand((4, 2), dtype), sizes])


# ---------------------------------------------------------------- ARange, Eye, Shape

@pytest.mark.parametrize("dtype", FLOATS)
def test_arange_float(dtype):
    start, stop, step = (np.asarray(v, dtype=dtype) for v in (0.5, 3.7, 0.6))
    check_grads(lambda a, b, s: T.arange(a, b, s) ** 1, [start, stop, step], wrt=[0, 2])
    a, b, s = (T.scalar(n, dtype=dtype) for n in "abs")
    with pytest.raises(ValueError):  # stop only decides the length
        grad(T.arange(a, b, s).sum(), b)


def test_integer_and_constant_ops_are_not_differentiable():
    x = T.matrix("x", dtype="float64")
    n = T.lscalar("n")
    for out in [x.shape, T.shape_i(x, 0), T.arange(n), T.eye(n), T.eye(n, dtype="float64")]:
        assert not _core.op_differentiable(out), out
    assert _core.op_differentiable(T.arange(T.dscalar(), T.dscalar(), T.dscalar()))
    assert _core.op_differentiable(x.reshape((-1,)))


def test_gradient_through_eye_and_shape():
    # Eye of a float dtype and Shape_i sit on paths from x but pass no gradient.
    check_grads(lambda x: T.eye(x.shape[0], dtype=x.dtype) * x * T.cast(x.shape[1], x.dtype),
                [_rand((3, 3), "float64")])
    check_grads(lambda x: x * T.cast(T.arange(x.shape[0]), "float32"), [_rand((4,), "float32")])


# ---------------------------------------------------------------- Subtensor

_BASIC = {
    "slice": (lambda x: x[1:3], (4, 3)),
    "negative_step": (lambda x: x[::-1], (4, 3)),
    "negative_step_int": (lambda x: x[::-2, 1], (5, 3)),
    "newaxis": (lambda x: x[None, :, 1], (4, 3)),
    "negative_int": (lambda x: x[-1], (4, 3)),
    "scalar": (lambda x: x[1, -2], (4, 3)),
    "mixed_3d": (lambda x: x[1, None, ::-1, 1:], (3, 4, 3)),
    "ellipsis": (lambda x: x[..., 0], (2, 3, 4)),
    "empty": (lambda x: x[3:1], (4, 3)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", sorted(_BASIC))
def test_subtensor(case, dtype):
    build, shape = _BASIC[case]
    check_grads(build, [_rand(shape, dtype)])


@pytest.mark.parametrize("dtype", FLOATS)
def test_subtensor_symbolic_indices(dtype):
    i, j = np.asarray(3, dtype="int64"), np.asarray(-4, dtype="int32")
    check_grads(lambda x, i, j: x[j:i], [_rand((5, 2), dtype), i, j])
    check_grads(lambda x, i: x[i, ::-1], [_rand((5, 2), dtype), i])
    check_grads(lambda x, i, j: x[::j, i], [_rand((5, 4), dtype), i, np.asarray(-2, dtype="int16")])


def test_subtensor_index_inputs_are_disconnected():
    x, i = T.vector("x", dtype="float64"), T.lscalar("i")
    with pytest.raises(ValueError):
        grad(x[i:].sum(), i)


# ---------------------------------------------------------------- IncSubtensor

_INC = {
    "same_shape": (lambda x, y: x[1:3], (4, 3), (2, 3), None),
    "row": (lambda x, y: x[1:3], (4, 3), (1, 3), (True, False)),
    "fewer_dims": (lambda x, y: x[::-1], (4, 3), (3,), None),
    "scalar": (lambda x, y: x[::2, 1], (5, 3), (), None),
    "col_newaxis": (lambda x, y: x[None, 1:], (3, 2), (1, 2, 1), (True, False, True)),
    "negative_step": (lambda x, y: x[::-2, 0], (5, 2), (3,), None),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
@pytest.mark.parametrize("case", sorted(_INC))
def test_inc_subtensor(case, set_, dtype):
    region, xshape, yshape, ypattern = _INC[case]
    op = T.set_subtensor if set_ else T.inc_subtensor
    check_grads(lambda x, y: op(region(x, y), y), [_rand(xshape, dtype), _rand(yshape, dtype, 2)],
                broadcastable=[None, ypattern])


@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
def test_inc_subtensor_symbolic_index_and_cast_value(set_):
    op = T.set_subtensor if set_ else T.inc_subtensor
    i = np.asarray(1, dtype="int64")
    check_grads(lambda x, y, i: op(x[i:], y), [_rand((4, 2), "float32"), _rand((2,), "float64", 2), i])


# ---------------------------------------------------------------- integer-array indexing

_GATHER = {
    "repeated": (lambda x: x[[0, 2, 0, 1, 0]], (3, 2)),
    "negative": (lambda x: x[np.array([-1, 1])], (4,)),
    "matrix_index": (lambda x: x[np.array([[0, 1], [1, 1]])], (3, 2)),
    "take_axis1": (lambda x: T.take(x, np.array([2, 0, 2]), axis=1), (2, 3)),
    "pairs_repeated": (lambda x: x[[0, 1, 1, 0], [2, 0, 0, 2]], (2, 3)),
    "pairs_block": (lambda x: x[np.array([1, 0]), np.array([2, 2])], (2, 3, 2)),
    "pairs_broadcast": (lambda x: x[np.array([[0], [2]]), np.array([[1, 0, 1]])], (3, 2)),
    "int_and_array": (lambda x: x[1, [0, 0, 2]], (2, 3)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", sorted(_GATHER))
def test_advanced_subtensor(case, dtype):
    build, shape = _GATHER[case]
    check_grads(build, [_rand(shape, dtype)])


@pytest.mark.parametrize("dtype", FLOATS)
def test_advanced_subtensor_symbolic_indices(dtype):
    idx = np.asarray([2, 0, 2], dtype="int32")
    check_grads(lambda x, i: x[i], [_rand((3, 2), dtype), idx])
    check_grads(lambda x, i, j: x[i, j], [_rand((3, 3), dtype), idx, np.asarray([1, 1, 0], dtype="int64")])


# The set cases use distinct positions: with repeats only the last write survives, and the
# value's gradient (as in Theano) does not model that.
_SCATTER = {
    "one_repeated": (lambda x, y, s: (T.advanced_set_subtensor1 if s else T.advanced_inc_subtensor1)(
        x, y, [0, 2, 0] if not s else [0, 2, 1]), (3, 2), (3, 2), None),
    "one_row": (lambda x, y, s: (T.advanced_set_subtensor1 if s else T.advanced_inc_subtensor1)(
        x, y, [3, 1] if s else [1, 1]), (4, 3), (1, 3), (True, False)),
    "one_fewer_dims": (lambda x, y, s: (T.set_subtensor if s else T.inc_subtensor)(
        x[[2, 0] if s else [0, 0]], y), (3, 2), (2,), None),
    "pairs": (lambda x, y, s: (T.set_subtensor if s else T.inc_subtensor)(
        x[[0, 1, 1], [2, 0, 1] if s else [2, 0, 0]], y), (2, 3), (3,), None),
    "pairs_scalar": (lambda x, y, s: (T.advanced_set_subtensor if s else T.advanced_inc_subtensor)(
        x, y, [np.array([0, 1]), np.array([1, 1])]), (2, 3, 2), (), None),
    "pairs_broadcast_index": (lambda x, y, s: (T.set_subtensor if s else T.inc_subtensor)(
        x[np.array([[0], [2]]), np.array([[1, 0]])], y), (3, 2), (2, 1), (False, True)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("set_", [False, True], ids=["inc", "set"])
@pytest.mark.parametrize("case", sorted(_SCATTER))
def test_advanced_inc_subtensor(case, set_, dtype):
    build, xshape, yshape, ypattern = _SCATTER[case]
    check_grads(lambda x, y: build(x, y, set_), [_rand(xshape, dtype), _rand(yshape, dtype, 2)],
                broadcastable=[None, ypattern])


def test_advanced_set_with_repeated_indices_zeroes_x_everywhere_written():
    x, y = T.vector("x", dtype="float64"), T.vector("y", dtype="float64")
    out = T.advanced_set_subtensor1(x, y, [1, 1, 3])
    gx = grad((out * np.arange(5.0)).sum(), x)
    f = kiln.function([x], gx, on_unused_input="ignore")
    np.testing.assert_array_equal(f(np.zeros(5)), [0, 0, 2, 0, 4])


def test_index_tensors_are_disconnected():
    x, i = T.matrix("x", dtype="float64"), T.lvector("i")
    for out in [x[i], x[i, i], T.inc_subtensor(x[i], 1.0), T.set_subtensor(x[i, i], 2.0)]:
        with pytest.raises(ValueError):
            grad(out.sum(), i)


# ---------------------------------------------------------------- compositions

@pytest.mark.parametrize("dtype", FLOATS)
def test_second_order_through_indexing(dtype):
    # The gradient graphs are differentiable again: d/dx of sum(grad(sum(x[idx]**2))**2).
    x = T.vector("x", dtype=dtype)
    g = grad((x[[0, 0, 2]] ** 2).sum(), x)
    h = grad((g ** 2).sum(), x)
    xv = _rand((3,), dtype)
    expected = 8 * np.array([4 * xv[0], 0, xv[2]])
    np.testing.assert_allclose(kiln.function([x], h)(xv), expected, rtol=_TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", FLOATS)
def test_composed_shape_ops(dtype):
    def build(x, y):
        z = T.concatenate([x.reshape((2, 3)), y[None, :]], axis=0)
        return T.set_subtensor(z[1:, ::-1][[0, 1]], T.alloc(y[0], 3)).flatten()
    check_grads(build, [_rand((6,), dtype), _rand((3,), dtype, 2)])


def test_rop_with_eval_points_less_static_than_the_inputs():
    # A matrix eval point for a row input: the forward derivative still broadcasts it as the row.
    x, y, v = T.dmatrix("x"), T.tensor(dtype="float64", broadcastable=(True, False), name="y"), T.dmatrix("v")
    xv, vv = _rand((3, 2), "float64"), _rand((1, 2), "float64", 2)
    cases = [
        (T.inc_subtensor(x[1:], y), np.concatenate([np.zeros((1, 2)), vv, vv])),
        (T.advanced_set_subtensor1(x, y, [2, 0]), np.array([vv[0], [0, 0], vv[0]])),
        (T.alloc(y, 3, 2), np.repeat(vv, 3, axis=0)),
        (T.concatenate([y, x]), np.concatenate([vv, np.zeros((3, 2))])),
        (T.split(y, [0, 2], 2, axis=1)[1], vv),
    ]
    for out, expected in cases:
        t = Rop(out, y, v)
        f = kiln.function([x, v], t, on_unused_input="ignore")
        np.testing.assert_allclose(f(xv, vv), expected, err_msg=str(out))
