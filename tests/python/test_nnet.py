"""T.nnet: activations, Softmax/LogSoftmax and their gradient ops, the fused softmax cross-entropy
ops, the rewrites that build them, their stability for extreme logits and their errors.

Gradients of every op are checked with verify_grad through the GRAD_CASES of op_table.py
(test_grad.py); infer_shape through test_infer_shape.py. This file checks values against
numpy/scipy, the compiled graphs and the behaviour at extreme inputs."""
import numpy as np
import pytest
import scipy.special as sp

import kiln
import kiln.tensor as T
from kiln import gradient as G
from rewrite_util import compile_both, kinds

FLOATS = ["float32", "float64"]


def tol(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)


def typed(value):
    return T.tensor(value.dtype.name, shape=(None,) * value.ndim)


def logits(shape, dtype, scale=3.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def one_hot(labels, classes):
    return np.eye(classes)[labels]


# ---------------------------------------------------------------- softmax / log_softmax values

# shape, axis: (600, 500) runs the threaded path, (3, 5000) rows longer than one kernel block.
SOFTMAX_SHAPES = [((1, 1), -1), ((3, 5), -1), ((128, 10), -1), ((600, 500), -1), ((3, 5000), -1), ((7,), -1),
                  ((0, 4), -1), ((4, 0), -1), ((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((3, 4), None),
                  ((2, 3, 4), None)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,axis", SOFTMAX_SHAPES)
def test_softmax_and_log_softmax_match_scipy(shape, axis, dtype):
    value = logits(shape, dtype)
    x = typed(value)
    f = kiln.function([x], [T.nnet.softmax(x, axis=axis), T.nnet.log_softmax(x, axis=axis)])
    sm, ls = f(value)
    assert sm.dtype == dtype and ls.dtype == dtype and sm.shape == shape
    if value.size == 0:
        return
    np.testing.assert_allclose(sm, sp.softmax(value.astype("float64"), axis=axis), **tol(dtype))
    np.testing.assert_allclose(ls, sp.log_softmax(value.astype("float64"), axis=axis), **tol(dtype))


def test_softmax_reads_strided_inputs():
    base = logits((10, 12), "float64")
    x = T.dmatrix("x")
    f = kiln.function([x], [T.nnet.softmax(x), T.nnet.log_softmax(x, axis=0)])
    for value in [base.T, base[::2, ::-3], base[::-1, 1:]]:
        sm, ls = f(value)
        np.testing.assert_allclose(sm, sp.softmax(value, axis=1), rtol=1e-12)
        np.testing.assert_allclose(ls, sp.log_softmax(value, axis=0), rtol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_of_extreme_logits_is_finite_and_exact(dtype):
    value = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [0.0, 2000.0, -2000.0]], dtype=dtype)
    x = T.matrix("x", dtype)
    sm, ls = kiln.function([x], [T.nnet.softmax(x), T.nnet.log_softmax(x)])(value)
    np.testing.assert_allclose(sm, [[1, 0, 0], [1 / 3] * 3, [0, 1, 0]], rtol=1e-6)
    np.testing.assert_allclose(ls, sp.log_softmax(value.astype("float64"), axis=1), rtol=1e-6)
    assert np.isfinite(ls).all()


def test_nan_stays_in_its_row():
    value = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    x = T.dmatrix("x")
    sm = kiln.function([x], T.nnet.softmax(x))(value)
    assert np.isnan(sm[0]).all()
    np.testing.assert_allclose(sm[1], sp.softmax(value[1]))


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_gradients_at_extreme_logits_are_finite(dtype):
    value = np.array([[1000.0, -1000.0, 3.0], [-1e3, 1e3, 1e3]], dtype=dtype)
    weights = np.arange(6, dtype=dtype).reshape(2, 3)
    x = T.matrix("x", dtype)
    sm, ls = T.nnet.softmax(x), T.nnet.log_softmax(x)
    gs, gl = kiln.function([x], [G.grad(T.sum(sm * weights), x), G.grad(T.sum(ls * weights), x)])(value)
    p = sp.softmax(value.astype("float64"), axis=1)
    np.testing.assert_allclose(gs, p * (weights - (weights * p).sum(1, keepdims=True)), atol=1e-6)
    np.testing.assert_allclose(gl, weights - p * weights.sum(1, keepdims=True), atol=1e-4)


def test_gradient_ops_match_their_formulas():
    rng = np.random.default_rng(3)
    dy, xv = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    d, x = T.dmatrix("dy"), T.dmatrix("x")
    sm, ls = T.nnet.softmax(x), T.nnet.log_softmax(x)
    g1, g2 = kiln.function([d, x], [T.nnet.softmax_grad(d, sm), T.nnet.log_softmax_grad(d, ls)])(dy, xv)
    p = sp.softmax(xv, axis=1)
    np.testing.assert_allclose(g1, dy * p - (dy * p).sum(1, keepdims=True) * p, rtol=1e-12)
    np.testing.assert_allclose(g2, dy - p * dy.sum(1, keepdims=True), rtol=1e-12)


# ---------------------------------------------------------------- activations and binary losses

ACTIVATIONS = {
    "elu": (lambda x: T.nnet.elu(x), lambda x: np.where(x > 0, x, np.expm1(x))),
    "elu_alpha": (lambda x: T.nnet.elu(x, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    "selu": (T.nnet.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    "softsign": (T.nnet.softsign, lambda x: x / (1 + np.abs(x))),
    "relu": (T.nnet.relu, lambda x: np.maximum(x, 0)),
    "relu_leaky": (lambda x: T.nnet.relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "hard_sigmoid": (T.nnet.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    "sigmoid": (T.nnet.sigmoid, sp.expit),
    "ultra_fast_sigmoid": (T.nnet.ultra_fast_sigmoid, sp.expit),  # documented as the exact sigmoid
    "softplus": (T.nnet.softplus, lambda x: np.logaddexp(0, x)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_numpy(name, dtype):
    build, reference = ACTIVATIONS[name]
    value = np.concatenate([logits((50,), dtype), np.array([-80, -3, -1e-3, 0, 1e-3, 3, 80], dtype=dtype)])
    x = T.vector("x", dtype)
    out = kiln.function([x], build(x))(value)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, reference(value.astype("float64")), rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-15)


def test_elu_and_selu_gradients_are_finite_for_large_inputs():
    x = T.dvector("x")
    value = np.array([1000.0, -1000.0, 2.0, -2.0])
    ge, gs = kiln.function([x], [G.grad(T.sum(T.nnet.elu(x)), x), G.grad(T.sum(T.nnet.selu(x)), x)])(value)
    np.testing.assert_allclose(ge, [1.0, 0.0, 1.0, np.exp(-2.0)])
    np.testing.assert_allclose(gs, 1.0507009873554805 * np.array([1.0, 0.0, 1.0, 1.6732632423543772 * np.exp(-2.0)]))


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_binary_crossentropy_is_stable(dtype):
    out = np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 30.0, 1000.0], dtype=dtype)
    target = np.array([0.0, 1.0, 0.3, 0.5, 1.0, 0.0, 1.0], dtype=dtype)
    o, t = T.vector("o", dtype), T.vector("t", dtype)
    loss = T.nnet.sigmoid_binary_crossentropy(o, t)
    value, g_o, g_t = kiln.function([o, t], [loss, *G.grad(T.sum(loss), [o, t])])(out, target)
    x = out.astype("float64")
    reference = np.logaddexp(0, x) - x * target
    np.testing.assert_allclose(value, reference, rtol=1e-6)
    np.testing.assert_allclose(g_o, sp.expit(x) - target, atol=1e-6)
    np.testing.assert_allclose(g_t, -x, rtol=1e-6)
    # where sigmoid does not round to 0 or 1, it agrees with binary_crossentropy(sigmoid(o), t)
    middle = slice(2, 5)
    naive = kiln.function([o, t], T.nnet.binary_crossentropy(T.nnet.sigmoid(o), t))(out[middle], target[middle])
    np.testing.assert_allclose(value[middle], naive, rtol=1e-5)


def test_binary_crossentropy_matches_numpy():
    p, t = T.dvector("p"), T.dvector("t")
    pv, tv = np.array([0.1, 0.5, 0.9]), np.array([0.0, 1.0, 0.3])
    out = kiln.function([p, t], T.nnet.binary_crossentropy(p, t))(pv, tv)
    np.testing.assert_allclose(out, -(tv * np.log(pv) + (1 - tv) * np.log(1 - pv)))


# ---------------------------------------------------------------- the fused cross-entropy ops

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (128, 10), (0, 4)])
def test_crossentropy_softmax_argmax_1hot_with_bias(shape, dtype):
    rng = np.random.default_rng(1)
    xv, bv = logits(shape, dtype), logits(shape[1:], dtype, seed=2)
    yv = rng.integers(0, shape[1], shape[0]).astype("int32")
    x, b, y = T.matrix("x", dtype), T.vector("b", dtype), T.ivector("y")
    nll, sm, am = kiln.function([x, b, y], T.nnet.crossentropy_softmax_argmax_1hot_with_bias(x, b, y))(xv, bv, yv)
    z = (xv + bv).astype("float64")
    assert nll.dtype == dtype and sm.dtype == dtype and am.dtype == "int32"
    np.testing.assert_allclose(sm, sp.softmax(z, axis=1), **tol(dtype))
    np.testing.assert_allclose(nll, -sp.log_softmax(z, axis=1)[np.arange(shape[0]), yv], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(am, np.argmax(z, axis=1))


def test_fused_nll_is_exact_where_the_probability_underflows():
    x, y = T.dmatrix("x"), T.lvector("y")
    nll, sm = T.nnet.crossentropy_softmax_1hot(x, y)
    out, p = kiln.function([x, y], [nll, sm])(np.array([[1000.0, -1000.0], [0.0, 800.0]]), np.array([1, 0]))
    np.testing.assert_allclose(out, [2000.0, 800.0])
    assert p[0, 1] == 0.0 and p[1, 0] == 0.0


def test_max_and_argmax_variants():
    xv, bv, yv = logits((4, 5), "float64"), logits((5,), "float64", seed=1), np.array([0, 4, 2, 2])
    x, b, y = T.dmatrix("x"), T.dvector("b"), T.lvector("y")
    nll, sm, mx, am = kiln.function([x, b, y], T.nnet.crossentropy_softmax_max_and_argmax_1hot_with_bias(x, b, y))(
        xv, bv, yv)
    p = sp.softmax(xv + bv, axis=1)
    np.testing.assert_allclose(mx, p.max(1), rtol=1e-12)
    np.testing.assert_array_equal(am, p.argmax(1))
    nll2, *_ = kiln.function([x, y], T.nnet.crossentropy_softmax_max_and_argmax_1hot(x, y))(xv, yv)
    np.testing.assert_allclose(nll2, -sp.log_softmax(xv, axis=1)[np.arange(4), yv], rtol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_dx_softmax_with_bias_and_categorical_1hot(dtype):
    rng = np.random.default_rng(4)
    xv, bv, yv = logits((6, 4), dtype), logits((4,), dtype, seed=5), rng.integers(0, 4, 6)
    dyv = rng.standard_normal(6).astype(dtype)
    x, b, y, dy = T.matrix("x", dtype), T.vector("b", dtype), T.lvector("y"), T.vector("dy", dtype)
    sm = T.nnet.softmax_with_bias(x, b)
    outs = [sm, T.nnet.crossentropy_softmax_1hot_with_bias_dx(dy, sm, y), T.nnet.crossentropy_categorical_1hot(sm, y),
            T.nnet.crossentropy_categorical_1hot_grad(dy, sm, y)]
    f = kiln.function([x, b, y, dy], outs, mode="NONE")  # the ops as written, no rewrites
    smv, dx, nll, g = f(xv, bv, yv, dyv)
    p = sp.softmax((xv + bv).astype("float64"), axis=1)
    hot = one_hot(yv, 4)
    np.testing.assert_allclose(smv, p, **tol(dtype))
    np.testing.assert_allclose(dx, dyv[:, None] * (p - hot), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nll, -np.log(p[np.arange(6), yv]), rtol=1e-5)
    np.testing.assert_allclose(g, hot * (-dyv[:, None] / np.where(hot > 0, p, 1)), rtol=1e-5)


def test_categorical_crossentropy_forms():
    p, t, y = T.dmatrix("p"), T.dmatrix("t"), T.lvector("y")
    pv = sp.softmax(logits((3, 4), "float64"), axis=1)
    yv = np.array([3, 0, 1])
    a, c = kiln.function([p, t, y], [T.nnet.categorical_crossentropy(p, t), T.nnet.categorical_crossentropy(p, y)])(
        pv, one_hot(yv, 4), yv)
    np.testing.assert_allclose(a, -np.log(pv[np.arange(3), yv]), rtol=1e-12)
    np.testing.assert_allclose(c, a, rtol=1e-12)


# ---------------------------------------------------------------- rewrites into the fused ops

FUSED = "CrossentropySoftmaxArgmax1HotWithBias"
DX = "CrossentropySoftmax1HotWithBiasDx"


def regression(dtype="float64"):
    x, y = T.matrix("x", dtype), T.lvector("y")
    w = kiln.shared(logits((5, 4), dtype, scale=1.0, seed=7), name="w")
    b = kiln.shared(logits((4,), dtype, scale=1.0, seed=8), name="b")
    return x, y, w, b


NLL_FORMS = {  # name -> mean negative log-likelihood of softmax(z) for labels y
    "categorical_crossentropy": lambda z, y: T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(z), y)),
    "log_softmax_indexed": lambda z, y: -T.mean(T.log(T.nnet.softmax(z))[T.arange(y.shape[0]), y]),
    "log_softmax_indexed_by_rows": lambda z, y: -T.mean(T.log(T.nnet.softmax(z))[T.arange(z.shape[0]), y]),
    "log_of_indexed_softmax": lambda z, y: -T.mean(T.log(T.nnet.softmax(z)[T.arange(y.shape[0]), y])),
    "explicit_log_softmax": lambda z, y: -T.mean(T.nnet.log_softmax(z)[T.arange(y.shape[0]), y]),
    "sum_of_crossentropy": lambda z, y: T.sum(T.nnet.categorical_crossentropy(T.nnet.softmax(z), y)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("form", sorted(NLL_FORMS))
def test_softmax_regression_compiles_to_the_fused_ops(form, dtype):
    x, y, w, b = regression(dtype)
    cost = NLL_FORMS[form](T.dot(x, w) + b, y)
    grads = G.grad(cost, [w, b])
    fast, plain = compile_both([x, y], [cost, *grads])
    found = kinds(fast)
    assert FUSED in found and DX in found, found
    assert not {"Softmax", "SoftmaxWithBias", "SoftmaxGrad", "LogSoftmax", "LogSoftmaxGrad", "Elemwise{log}",
                "AdvancedIncSubtensor", "CrossentropyCategorical1Hot"} & set(found), found
    xv, yv = logits((7, 5), dtype, seed=9), np.random.default_rng(9).integers(0, 4, 7)
    for got, expected in zip(fast(xv, yv), plain(xv, yv)):
        np.testing.assert_allclose(got, expected, **tol(dtype))


def test_softmax_regression_without_bias_and_through_the_default_pipeline():
    x, y, w, _ = regression()
    cost = -T.mean(T.log(T.nnet.softmax(T.dot(x, w)))[T.arange(y.shape[0]), y])
    f = kiln.function([x, y], [cost, G.grad(cost, w)])  # fusion on: the fused ops are not elementwise
    assert FUSED in kinds(f) and DX in kinds(f) and "Softmax" not in kinds(f)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_regression_gradient_is_stable_for_extreme_logits(dtype):
    x, y, w, b = regression(dtype)
    z = T.dot(x, w) + b
    cost = -T.mean(T.log(T.nnet.softmax(z))[T.arange(y.shape[0]), y])
    gz, gw, gb = G.grad(cost, [z, w, b])
    f = kiln.function([x, y], [cost, gz, gw, gb])
    xv = np.zeros((4, 5), dtype=dtype)
    b.set_value(np.array([1e3, -1e3, 0.0, 5e2], dtype=dtype))
    yv = np.array([1, 0, 2, 3])  # every label's probability underflows to 0
    cost_v, gz_v, gw_v, gb_v = f(xv, yv)
    zv = np.broadcast_to(b.get_value().astype("float64"), (4, 4))
    p = sp.softmax(zv, axis=1)
    expected = (p - one_hot(yv, 4)) / 4
    assert np.isfinite([cost_v]).all() and np.isfinite(gz_v).all() and np.isfinite(gb_v).all()
    np.testing.assert_allclose(cost_v, np.mean(-sp.log_softmax(zv, axis=1)[np.arange(4), yv]), rtol=1e-6)
    np.testing.assert_allclose(gz_v, expected, atol=1e-7)
    np.testing.assert_allclose(gb_v, expected.sum(0), atol=1e-7)
    np.testing.assert_allclose(gw_v, xv.T @ expected, atol=1e-7)
    # the graph as written divides 0 by 0
    plain = kiln.function([x, y], gb, mode="NONE")
    assert not np.isfinite(plain(xv, yv)).all()


def test_log_softmax_rewrite_and_extreme_values():
    m = T.dmatrix("m")
    fast, plain = compile_both([m], [T.log(T.nnet.softmax(m)), T.log(T.nnet.softmax(m, axis=0))])
    assert kinds(fast).count("LogSoftmax") == 2 and "Softmax" not in kinds(fast), kinds(fast)
    value = np.array([[0.0, -2000.0, 5.0], [1.0, 2.0, 3.0]])
    a, b = fast(value)
    np.testing.assert_allclose(a, sp.log_softmax(value, axis=1))
    np.testing.assert_allclose(b, sp.log_softmax(value, axis=0))
    g = kiln.function([m], T.log(T.nnet.softmax_with_bias(m, T.constant(np.array([1.0, 0.0, -1.0])))))
    assert "LogSoftmax" in kinds(g)
    np.testing.assert_allclose(g(value), sp.log_softmax(value + [1.0, 0.0, -1.0], axis=1))


def test_softmax_of_biased_logits_becomes_softmax_with_bias():
    x, b = T.dmatrix("x"), T.dvector("b")
    fast, plain = compile_both([x, b], T.nnet.softmax(x + b))
    assert "SoftmaxWithBias" in kinds(fast) and "Elemwise{add}" not in kinds(fast), kinds(fast)
    xv, bv = logits((3, 4), "float64"), logits((4,), "float64", seed=1)
    np.testing.assert_allclose(fast(xv, bv), plain(xv, bv), rtol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_argmax_of_softmax_is_the_argmax_of_the_logits(dtype):
    x, b, t = T.matrix("x", dtype), T.vector("b", dtype), T.tensor3("t", dtype)
    outputs = [T.argmax(T.nnet.softmax(x), axis=1), T.argmax(T.nnet.log_softmax(x), axis=-1),
               T.argmax(T.nnet.softmax(x + b), axis=1), T.argmax(T.nnet.softmax_with_bias(x, b), axis=1),
               T.argmax(T.nnet.softmax(t, axis=0), axis=0), T.argmax(T.nnet.softmax(t, axis=None), axis=(0, 2)),
               T.argmax(T.nnet.log_softmax(t, axis=None))]
    fast, plain = compile_both([x, b, t], outputs)
    assert not {"Softmax", "SoftmaxWithBias", "LogSoftmax"} & set(kinds(fast)), kinds(fast)
    # argmax(x) and argmax(x + b) are each computed once: the first four outputs merge into two.
    assert kinds(fast).count("Argmax") == len(outputs) - 2
    # Logits far apart, where most probabilities underflow to 0.
    xv = np.array([[-800.0, -900.0, -700.0], [40.0, 0.0, 60.0]], dtype=dtype)
    bv = np.array([0.0, 150.0, -30.0], dtype=dtype)
    tv = logits((3, 2, 4), dtype, scale=300.0, seed=5)
    expected = [xv.argmax(1), xv.argmax(1), (xv + bv).argmax(1), (xv + bv).argmax(1), tv.argmax(0),
                tv.transpose(1, 0, 2).reshape(2, -1).argmax(1), tv.argmax()]
    for got, want in zip(fast(xv, bv, tv), expected):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(plain(xv, bv, tv), expected):
        np.testing.assert_array_equal(got, want)


def test_argmax_of_softmax_along_another_axis_is_left_alone():
    x = T.dmatrix("x")
    outputs = [T.argmax(T.nnet.softmax(x), axis=0), T.argmax(T.nnet.softmax(x)),
               T.argmax(T.nnet.softmax(x, axis=0), axis=1)]
    fast, plain = compile_both([x], outputs)
    assert kinds(fast).count("Softmax") + kinds(fast).count("SoftmaxWithBias") >= 2, kinds(fast)
    xv = np.array([[0.0, 5.0, 1.0], [3.0, 4.0, 9.0]])
    for got, want in zip(fast(xv), [sp.softmax(xv, 1).argmax(0), sp.softmax(xv, 1).argmax(),
                                    sp.softmax(xv, 0).argmax(1)]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(sp.softmax(xv, 1).argmax(0), xv.argmax(0))  # the rewrite would be wrong here


def test_indexing_that_is_not_one_label_per_row_is_left_alone():
    x, y, rows = T.dmatrix("x"), T.lvector("y"), T.lvector("rows")
    ls = T.log(T.nnet.softmax(x))
    fast, plain = compile_both([x, y, rows], [ls[rows, y], ls[T.arange(2), y]])
    assert FUSED not in kinds(fast), kinds(fast)
    xv = logits((3, 4), "float64")
    for got, expected in zip(fast(xv, np.array([1, 2]), np.array([2, 0])), plain(xv, np.array([1, 2]), np.array([2, 0]))):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_softmax_regression_in_debug_mode():
    x, y, w, b = regression()
    cost = -T.mean(T.log(T.nnet.softmax(T.dot(x, w) + b))[T.arange(y.shape[0]), y])
    extra = [T.nnet.log_softmax(x, axis=0), T.nnet.elu(x), T.nnet.sigmoid_binary_crossentropy(x, 0.3),
             T.nnet.crossentropy_categorical_1hot(T.nnet.softmax(x), y)]
    f = kiln.function([x, y], [cost, *G.grad(cost, [w, b]), *extra], mode="DebugMode")
    assert FUSED in kinds(f) and DX in kinds(f)
    xv, yv = logits((6, 5), "float64"), np.array([0, 1, 2, 3, 3, 0])
    outs = f(xv, yv)
    ref = kiln.function([x, y], [cost, *G.grad(cost, [w, b]), *extra], mode="NONE")(xv, yv)
    for got, expected in zip(outs, ref):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_training_with_the_fused_ops_learns():
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((3, 5)) * 3
    yv = rng.integers(0, 3, 90)
    xv = centers[yv] + rng.standard_normal((90, 5))
    x, y = T.dmatrix("x"), T.lvector("y")
    w, b = kiln.shared(np.zeros((5, 3)), name="w"), kiln.shared(np.zeros(3), name="b")
    nll, sm = T.nnet.crossentropy_softmax_1hot_with_bias(T.dot(x, w), b, y)
    cost = T.mean(nll)
    gw, gb = G.grad(cost, [w, b])
    step = kiln.function([x, y], cost, updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)])
    first = step(xv, yv)
    for _ in range(50):
        last = step(xv, yv)
    assert last < 0.2 * first
    predict = kiln.function([x], T.argmax(T.nnet.softmax(T.dot(x, w) + b), axis=1))
    assert np.mean(predict(xv) == yv) > 0.9


# ---------------------------------------------------------------- errors

def test_bad_inputs_raise_errors_naming_the_op():
    with pytest.raises(TypeError, match=r"Softmax: x \(i\) must be float32 or float64"):
        T.nnet.softmax(T.imatrix("i"))
    with pytest.raises(TypeError, match="LogSoftmax: x .* must have at least 1 dimension"):
        T.nnet.log_softmax(T.dscalar("s"))
    with pytest.raises(ValueError, match="Softmax: axis 2 is out of range"):
        T.nnet.softmax(T.dmatrix("m"), axis=2)
    with pytest.raises(TypeError, match=r"CrossentropySoftmaxArgmax1HotWithBias: y_idx \(ym\) must be a vector of integer"):
        T.nnet.crossentropy_softmax_argmax_1hot_with_bias(T.dmatrix(), T.dvector(), T.lmatrix("ym"))
    with pytest.raises(TypeError, match="CrossentropySoftmaxArgmax1HotWithBias: y_idx .* must be a vector of integer"):
        T.nnet.crossentropy_softmax_1hot_with_bias(T.dmatrix(), T.dvector(), T.dvector("yf"))
    with pytest.raises(TypeError, match=r"CrossentropySoftmaxArgmax1HotWithBias: x \(t3\) must be a float32 or float64 matrix"):
        T.nnet.crossentropy_softmax_1hot_with_bias(T.dtensor3("t3"), T.dvector(), T.lvector())
    with pytest.raises(TypeError, match=r"SoftmaxWithBias: b \(bf\) must be float64 like"):
        T.nnet.softmax_with_bias(T.dmatrix("x"), T.fvector("bf"))
    with pytest.raises(TypeError, match="CrossentropyCategorical1Hot: coding_dist .* must be a float32 or float64 matrix"):
        T.nnet.crossentropy_categorical_1hot(T.lmatrix("p"), T.lvector())
    with pytest.raises(TypeError, match="categorical_crossentropy: true_dist must be"):
        T.nnet.categorical_crossentropy(T.dmatrix(), T.dvector())
    with pytest.raises(TypeError, match="elu: expected a float tensor"):
        T.nnet.elu(T.lvector("l"))
    with pytest.raises(ValueError, match="CrossentropySoftmaxArgmax1HotWithBias: the static number of rows and of labels"):
        T.nnet.crossentropy_softmax_1hot(T.tensor("float64", shape=(3, None)), T.tensor("int64", shape=(4,)))


def test_run_time_errors_name_the_op_and_the_sizes():
    x, b, y = T.dmatrix("x"), T.dvector("b"), T.lvector("y")
    f = kiln.function([x, b, y], T.nnet.crossentropy_softmax_1hot_with_bias(x, b, y))
    xv, bv = np.zeros((3, 4)), np.zeros(4)
    with pytest.raises(ValueError, match=r"CrossentropySoftmaxArgmax1HotWithBias: 3 rows but 2 labels in y_idx \(y\)"):
        f(xv, bv, np.array([0, 1]))
    with pytest.raises(IndexError, match=r"CrossentropySoftmaxArgmax1HotWithBias: label y_idx\[1\] = 4 is out of range for 4"):
        f(xv, bv, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="out of range"):
        f(xv, bv, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"x of shape \(3, 4\) and b of shape \(5,\) do not match"):
        f(xv, np.zeros(5), np.array([0, 1, 2]))
    # the rewritten softmax regression: a label vector of the wrong length is a clear error too
    cost = -T.mean(T.log(T.nnet.softmax(x + b))[T.arange(y.shape[0]), y])
    g = kiln.function([x, b, y], [cost, G.grad(cost, x)])
    with pytest.raises(ValueError, match="CrossentropySoftmaxArgmax1HotWithBias: 3 rows but 2 labels"):
        g(xv, bv, np.array([0, 1]))
    d, sm = T.dvector("d"), T.dmatrix("sm")
    h = kiln.function([d, sm, y], T.nnet.crossentropy_softmax_1hot_with_bias_dx(d, sm, y))
    with pytest.raises(ValueError, match=r"CrossentropySoftmax1HotWithBiasDx: dy of shape \(2,\) does not have one entry"):
        h(np.ones(2), np.ones((3, 4)), np.array([0, 1, 2]))
    s = kiln.function([d, sm], T.nnet.softmax_grad(d.dimshuffle("x", 0), sm))
    with pytest.raises(ValueError, match=r"SoftmaxGrad\{axis=1\}: dy of shape \(1, 3\) and out of shape \(2, 3\) differ"):
        s(np.ones(3), np.ones((2, 3)))
