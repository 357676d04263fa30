"""OpFromGraph, after Theano's test_builders: values (compiled as a unit and inlined), gradients
(verify_grad, overrides of every form), Rop and its overrides, shared variables inside the graph,
nesting, infer_shape and errors."""
import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln import gradient as G
from kiln.compile.builders import OpFromGraph
from rewrite_util import kinds

RNG = np.random.default_rng(0)
INLINE = [False, True]


def ones(value):
    return np.ones((2, 2)) * value


def check_inlining(f, inline):
    """Inlined ops leave no OpFromGraph node after rewriting; the others run as one node."""
    assert ("OpFromGraph" in kinds(f)) == (not inline), kinds(f)


@pytest.mark.parametrize("inline", INLINE)
def test_straightforward(inline):
    x, y, z = T.dmatrices("x", "y", "z")
    op = OpFromGraph([x, y, z], [x + y * z], inline=inline)
    f = kiln.function([x, y, z], op(x, y, z) - op(y, z, x))
    check_inlining(f, inline)
    for _ in range(2):  # the inner function is compiled once and reused
        np.testing.assert_array_equal(f(ones(1), ones(3), ones(5)), ones(8))


def test_kiln_exports_op_from_graph():
    assert kiln.OpFromGraph is OpFromGraph


@pytest.mark.parametrize("inline", INLINE)
def test_size_changes(inline):
    x, y, z = T.dmatrices("x", "y", "z")
    op = OpFromGraph([x, y], [T.dot(x, y)], inline=inline)
    f = kiln.function([x, y, z], op(x, op(y, z)))
    xv, yv, zv = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))
    out = f(xv, yv, zv)
    assert out.shape == (2, 5)
    np.testing.assert_allclose(out, xv @ (yv @ zv))


@pytest.mark.parametrize("inline", INLINE)
def test_grad(inline):
    x, y, z = T.dmatrices("x", "y", "z")
    op = OpFromGraph([x, y, z], [x + y * z], inline=inline)
    f = op(x, y, z)
    f = f - G.grad(T.sum(f), y)
    np.testing.assert_array_equal(kiln.function([x, y, z], f)(ones(1), ones(3), ones(5)), ones(11))


@pytest.mark.parametrize("inline", INLINE)
def test_grad_grad(inline):
    x, y, z = T.dmatrices("x", "y", "z")
    op = OpFromGraph([x, y, z], [x + y * z], inline=inline)
    f = op(x, y, z)
    f = f - G.grad(T.sum(f), y)
    f = f - G.grad(T.sum(f), y)
    np.testing.assert_array_equal(kiln.function([x, y, z], f)(ones(1), ones(3), ones(5)), ones(6))


@pytest.mark.parametrize("inline", INLINE)
def test_verify_grad(inline):
    x, y = T.dmatrices("x", "y")
    op = OpFromGraph([x, y], [T.tanh(x) * T.exp(y) + T.dot(x, y)], inline=inline)
    G.verify_grad(lambda a, b: op(a, b), [RNG.standard_normal((3, 3)), RNG.standard_normal((3, 3))],
                  rng=np.random.default_rng(1))


@pytest.mark.parametrize("inline", INLINE)
def test_shared(inline):
    x, y, z = T.dmatrices("x", "y", "z")
    s = kiln.shared(RNG.random((2, 2)), "s")
    op = OpFromGraph([x, y, z], [x + y * z + s], inline=inline)
    assert op.shared_inputs == [s]
    f = kiln.function([x, y, z], op(x, y, z) - op(y, z, x))
    check_inlining(f, inline)
    np.testing.assert_allclose(f(ones(1), ones(3), ones(5)), ones(8))
    # The graph reads the shared value of each call.
    g = kiln.function([x, y, z], op(x, y, z))
    s.set_value(ones(100))
    np.testing.assert_allclose(g(ones(1), ones(3), ones(5)), ones(116))


@pytest.mark.parametrize("inline", INLINE)
def test_shared_grad(inline):
    x, y, z = T.dmatrices("x", "y", "z")
    sv = RNG.random((2, 2))
    s = kiln.shared(sv, "s")
    op = OpFromGraph([x, y, z], [x + y * z + s], inline=inline)
    f = op(x, y, z)
    f = f - G.grad(T.sum(f), y)
    np.testing.assert_allclose(kiln.function([x, y, z], f)(ones(1), ones(3), ones(5)), ones(11) + sv)
    gs = kiln.function([x, y, z], G.grad(T.sum(op(x, y, z) * 3), s))
    np.testing.assert_allclose(gs(ones(1), ones(3), ones(5)), ones(3))


def mul_grad(inputs, grads):
    x, y = inputs
    (g,) = grads
    return [g * y * 2, g * x * 1.5]


@pytest.mark.parametrize("inline", INLINE)
def test_grad_override_callable_and_op(inline):
    x, y, dedz = T.dvector("x"), T.dvector("y"), T.dvector("dedz")
    op_mul_grad = OpFromGraph([x, y, dedz], mul_grad([x, y], [dedz]))
    for override in (mul_grad, op_mul_grad):
        op_mul = OpFromGraph([x, y], [x * y], inline=inline, grad_overrides=override)
        xx, yy = T.dvector("xx"), T.dvector("yy")
        dx, dy = G.grad(T.sum(op_mul(xx, yy)), [xx, yy])
        xv, yv = RNG.random(16), RNG.random(16)
        dxv, dyv = kiln.function([xx, yy], [dx, dy])(xv, yv)
        np.testing.assert_allclose(dxv, yv * 2)
        np.testing.assert_allclose(dyv, xv * 1.5)


@pytest.mark.parametrize("inline", INLINE)
def test_grad_override_list_with_default_and_disconnected(inline):
    x, w, b = T.dvectors("x", "w", "b")

    def go1(inputs, grads):
        return grads[0] * inputs[1] * 2

    def go2(inputs, grads):
        return grads[0] * inputs[0] * 1.5

    op_linear = OpFromGraph([x, w, b], [x * w + b], inline=inline, grad_overrides=[go1, go2, "default"])
    xx, ww, bb = T.dvector("xx"), T.dvector("ww"), T.dvector("bb")
    grads = G.grad(T.sum(op_linear(xx, ww, bb)), [xx, ww, bb])
    xv, wv, bv = RNG.random(16), RNG.random(16), RNG.random(16)
    dxv, dwv, dbv = kiln.function([xx, ww, bb], grads)(xv, wv, bv)
    np.testing.assert_allclose(dxv, wv * 2)
    np.testing.assert_allclose(dwv, xv * 1.5)
    np.testing.assert_array_equal(dbv, np.ones(16))

    op_linear2 = OpFromGraph([x, w, b], [x * w + b], inline=inline, grad_overrides=[go1, None, None])
    dx2, dw2, db2 = G.grad(T.sum(op_linear2(xx, ww, bb)), [xx, ww, bb], disconnected_inputs="ignore",
                           return_disconnected="None")
    assert dx2.ndim == 1 and dw2 is None and db2 is None
    with pytest.raises(ValueError, match="not part of the computational graph"):
        G.grad(T.sum(op_linear2(xx, ww, bb)), ww)


@pytest.mark.parametrize("inline", INLINE)
def test_lop_override(inline):
    x = T.dvector("x")
    y = 1.0 / (1.0 + T.exp(-x))

    def lop_ov(inputs, outputs, grads):
        (y_,), (dedy,) = outputs, grads
        return [2.0 * y_ * (1.0 - y_) * dedy]

    y_, dedy = T.dvector("y_"), T.dvector("dedy")
    op_lop_ov = OpFromGraph([x, y_, dedy], [2.0 * y_ * (1.0 - y_) * dedy])
    xx = T.dvector("xx")
    twice_sigmoid_grad = 2.0 * G.grad(T.sum(T.nnet.sigmoid(xx)), xx)
    for override in (lop_ov, op_lop_ov):
        op = OpFromGraph([x], [y], inline=inline, lop_overrides=override)
        fn = kiln.function([xx], [twice_sigmoid_grad, G.grad(T.sum(op(xx)), xx)])
        expected, got = fn(RNG.standard_normal(32))
        np.testing.assert_allclose(got, expected)


def test_lop_and_grad_overrides_are_exclusive():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="mutually exclusive"):
        OpFromGraph([x], [x * 2], lop_overrides=lambda i, o, g: g, grad_overrides=lambda i, g: g)


@pytest.mark.parametrize("inline", INLINE)
def test_rop(inline):
    a, m = T.dvector("a"), T.dmatrix("M")
    op_matmul = OpFromGraph([a, m], [T.dot(a, m)], inline=inline)
    x, w, du = T.dvector("x"), T.dmatrix("W"), T.dvector("du")
    fn = kiln.function([x, w, du], G.Rop(op_matmul(x, w), x, du), on_unused_input="ignore")
    xv, wv, duv = RNG.random(16), RNG.random((16, 16)), RNG.random(16)
    np.testing.assert_allclose(fn(xv, wv, duv), duv @ wv)


def mul_rop(inputs, eval_points):
    x, y = inputs
    u, v = eval_points
    return [u * y * 2.0 + x * v * 1.5]


@pytest.mark.parametrize("inline", INLINE)
def test_rop_override(inline):
    x, y, u, v = T.dvectors("x", "y", "u", "v")
    op_mul_rop = OpFromGraph([x, y, u, v], mul_rop([x, y], [u, v]))
    for override in (mul_rop, op_mul_rop, [lambda i, e: mul_rop(i, e)[0]]):
        op_mul = OpFromGraph([x, y], [x * y], inline=inline, rop_overrides=override)
        xx, yy, du, dv = T.dvectors("xx", "yy", "du", "dv")
        fn = kiln.function([xx, yy, du, dv], G.Rop(op_mul(xx, yy), [xx, yy], [du, dv]))
        vals = RNG.random((4, 32))
        np.testing.assert_allclose(fn(*vals), vals[0] * vals[3] * 1.5 + vals[1] * vals[2] * 2.0)


@pytest.mark.parametrize("inline", INLINE)
def test_nested(inline):
    x, y = T.dvectors("x", "y")
    op_ft = OpFromGraph([x, y], [x + y, x - y], inline=inline)
    op_ift = OpFromGraph([x, y], [(x + y) / 2, (x - y) / 2], inline=inline)
    xx, yy = T.dvector("xx"), T.dvector("yy")
    xx2, yy2 = op_ift(*op_ft(xx, yy))
    xv, yv = RNG.random(16), RNG.random(16)
    xv2, yv2 = kiln.function([xx, yy], [xx2, yy2])(xv, yv)
    np.testing.assert_allclose(xv2, xv)
    np.testing.assert_allclose(yv2, yv)


@pytest.mark.parametrize("inline", INLINE)
def test_op_inside_another_ops_graph(inline):
    a, b = T.dvectors("a", "b")
    inner = OpFromGraph([a, b], [a * b + 1], inline=inline)
    x, y = T.dvectors("x", "y")
    outer = OpFromGraph([x, y], [inner(x, y) * 2 + inner(y, y)], inline=inline)
    xx, yy = T.dvectors("xx", "yy")
    out = outer(xx, yy)
    f = kiln.function([xx, yy], [out, G.grad(T.sum(out), xx)])
    xv, yv = RNG.random(5), RNG.random(5)
    value, gx = f(xv, yv)
    np.testing.assert_allclose(value, (xv * yv + 1) * 2 + yv * yv + 1)
    np.testing.assert_allclose(gx, 2 * yv)
    G.verify_grad(lambda p, q: outer(p, q), [xv, yv], rng=np.random.default_rng(2))


@pytest.mark.parametrize("inline", INLINE)
def test_infer_shape(inline):
    x, y = T.dmatrices("x", "y")
    op_graph = OpFromGraph([x, y], [x + y, T.dot(x, y.T)], inline=inline)
    q, p = T.dmatrices("q", "p")
    outs = op_graph(q, p)
    qv, pv = np.ones((3, 4)), np.ones((3, 4))
    for out, expected in zip(outs, [(3, 4), (3, 3)]):
        shape = kiln._core.infer_shape(out)
        assert shape is not None
        f = kiln.function([q, p], T.stack(shape), on_unused_input="ignore")
        np.testing.assert_array_equal(f(qv, pv), expected)
        # The shape alone does not run the op.
        g = kiln.function([q, p], out.shape, on_unused_input="ignore")
        assert "OpFromGraph" not in kinds(g)
        np.testing.assert_array_equal(g(qv, pv), expected)


def test_graph_is_copied_on_creation():
    x = T.dvector("x")
    op = OpFromGraph([x], [x * 2])
    f = kiln.function([x], op(x + 1))
    np.testing.assert_array_equal(f(np.arange(3.0)), (np.arange(3.0) + 1) * 2)
    assert op(x).owner.op == op(x).owner.op  # one op, equal to itself
    assert OpFromGraph([x], [x * 2]).op != op.op  # equality is identity, as in Theano


def test_errors():
    x, y = T.dvectors("x", "y")
    op = OpFromGraph([x, y], [x + y], name="plus")
    with pytest.raises(ValueError, match="OpFromGraph\\{plus\\}: expected 2 inputs, got 1"):
        op(x)
    with pytest.raises(TypeError, match="input 1 .* has type .*float32.* expects|input 1 .*float32"):
        op(x, T.fvector("f"))
    with pytest.raises(TypeError, match="input 1"):
        op(x, T.dmatrix("m"))
    with pytest.raises(TypeError, match="constant"):
        OpFromGraph([x, T.constant(1.0)], [x])
    with pytest.raises(TypeError, match="shared variable"):
        OpFromGraph([kiln.shared(np.zeros(2))], [x])
    with pytest.raises(kiln.MissingInputError, match="need the variable y"):
        OpFromGraph([x], [x + y])
    with pytest.raises(TypeError, match="must be a list"):
        OpFromGraph([x], x * 2)
    with pytest.raises(ValueError, match="connection_pattern must be 1 lists .* of 1 booleans"):
        OpFromGraph([x], [x * 2], connection_pattern=[[True, False]])
    bad = OpFromGraph([x], [x * 2], grad_overrides=lambda i, g: [g[0], g[0]])
    with pytest.raises(ValueError, match="returned 2 gradients for 1 inputs"):
        G.grad(T.sum(bad(x)), x)


def test_debug_mode():
    x, y = T.dmatrices("x", "y")
    s = kiln.shared(np.full((2, 2), 0.5), "s")
    op = OpFromGraph([x, y], [T.exp(x) * y + s])
    f = kiln.function([x, y], [op(x, y), G.grad(T.sum(op(x, y)), x)], mode="DebugMode")
    xv, yv = RNG.random((2, 2)), RNG.random((2, 2))
    value, gx = f(xv, yv)
    np.testing.assert_allclose(value, np.exp(xv) * yv + 0.5)
    np.testing.assert_allclose(gx, np.exp(xv) * yv)


def test_rop_override_list_with_default_and_none():
    x = T.dvector("x")
    op = OpFromGraph([x], [x * 3, T.sin(x)], rop_overrides=["default", None])
    xx, v = T.dvector("xx"), T.dvector("v")
    first, second = G.Rop(op(xx), xx, v)
    f = kiln.function([xx, v], [first, second], on_unused_input="ignore")
    xv, vv = RNG.random(4), RNG.random(4)
    d_first, d_second = f(xv, vv)
    np.testing.assert_allclose(d_first, 3 * vv)
    np.testing.assert_array_equal(d_second, np.zeros(4))  # no tangent: Rop gives zeros
    with pytest.raises(ValueError, match="the override list has 1 entries for 2 outputs"):
        G.Rop(OpFromGraph([x], [x * 3, T.sin(x)], rop_overrides=[None])(xx)[0], xx, v)


def test_connection_pattern_read_from_the_graph():
    x, y, z = T.dvectors("x", "y", "z")
    op = OpFromGraph([x, y, z], [x * y, T.exp(z)])
    assert op.connection_pattern == [[True, False], [True, False], [False, True]]


@pytest.mark.parametrize("inline", INLINE)
def test_connection_pattern_cuts_gradients_where_it_says_false(inline):
    """Theano's connection_pattern: the declared pattern, not the graph, decides which outputs'
    gradients reach each input; an input connected to nothing is disconnected."""
    x, y = T.dvectors("x", "y")
    op = OpFromGraph([x, y], [x * y, x + y], connection_pattern=[[True, False], [True, True]], inline=inline)
    a, b = op(x, y)
    cost = T.sum(a) + 2 * T.sum(b)
    gx, gy = G.grad(cost, [x, y])
    f = kiln.function([x, y], [gx, gy])
    xv, yv = RNG.random(3), RNG.random(3)
    got_x, got_y = f(xv, yv)
    np.testing.assert_allclose(got_x, yv)  # only a = x * y reaches x
    np.testing.assert_allclose(got_y, xv + 2)
    cut = OpFromGraph([x, y], [x * y], connection_pattern=[[True], [False]], inline=inline)
    with pytest.raises(ValueError, match="not part of the computational graph"):
        G.grad(T.sum(cut(x, y)), y)
    gx_only = G.grad(T.sum(cut(x, y)), [x, y], disconnected_inputs="ignore")
    np.testing.assert_allclose(kiln.function([x, y], gx_only[0])(xv, yv), yv)


@pytest.mark.parametrize("mode", ["NONE", "FAST_RUN"])
def test_mode_is_the_inner_functions(mode):
    """The graph runs in its own mode: without rewrites (NONE), log(1 + x) is not log1p."""
    x = T.dvector("x")
    op = OpFromGraph([x], [T.log(1 + x)], mode=mode)
    assert op.op.mode == mode and op.mode == mode
    f = kiln.function([x], op(x))
    xv = np.array([1e-20, 0.5])
    np.testing.assert_allclose(f(xv), np.log1p(xv) if mode == "FAST_RUN" else np.log(1 + xv), rtol=1e-15)
