"""kiln.scan: Theano's loop op. Examples checked against numpy loops (cumulative sum, polynomial,
Fibonacci, tanh RNN, power iteration with until), taps, go_backwards, n_steps, shared variables,
random numbers inside the loop, gradients (verify_grad, numpy BPTT, truncate_gradient), Rop,
shapes, rewrites, printing and user errors."""
import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln.gradient import verify_grad
from kiln.scan_module import until
from kiln.tensor.shared_randomstreams import RandomStreams
from kiln.sandbox.rng_mrg import MRG_RandomStreams

RNG = np.random.default_rng(1234)


def scan_nodes(f):
    return [n for n in f.maker.fgraph.toposort() if kiln._core.is_scan(n)] if hasattr(f, "maker") else \
        [n for n in kiln._core.toposort(f) if kiln._core.is_scan(n)]


def compiled_scan_nodes(f):
    return [n for n in f.nodes() if kiln._core.is_scan(n)]


# ---------------------------------------------------------------- examples


def test_cumulative_sum():
    x = T.dvector("x")
    out, updates = kiln.scan(lambda xt, acc: acc + xt, sequences=x, outputs_info=T.zeros_like(x[0]))
    f = kiln.function([x], out, updates=updates)
    xv = RNG.standard_normal(7)
    np.testing.assert_allclose(f(xv), np.cumsum(xv))


def test_polynomial_coefficients_as_sequence():
    coefficients = T.dvector("coefficients")
    x = T.dscalar("x")
    powers = T.arange(1000)[: coefficients.shape[0]]
    terms, _ = kiln.scan(lambda c, power, free_var: c * free_var ** power, sequences=[coefficients, powers],
                         non_sequences=x)
    f = kiln.function([coefficients, x], terms.sum())
    c = np.array([1.0, 0.0, 2.0, -3.0])
    assert np.isclose(f(c, 3.0), np.polyval(c[::-1], 3.0))


def test_fibonacci_two_taps():
    start = T.lvector("start")
    n = T.lscalar("n")
    fib, _ = kiln.scan(lambda f2, f1: f2 + f1, outputs_info=dict(initial=start, taps=[-2, -1]), n_steps=n)
    f = kiln.function([start, n], fib)
    np.testing.assert_array_equal(f(np.array([0, 1]), 10), [1, 2, 3, 5, 8, 13, 21, 34, 55, 89])


def rnn_numpy(x, h0, W, U, b):
    h, hs = h0, []
    for xt in x:
        h = np.tanh(xt @ W + h @ U + b)
        hs.append(h)
    return np.array(hs)


def rnn_grads_numpy(x, h0, W, U, b, hs):
    """Backpropagation through time of sum(h) by hand."""
    dW, dU, db, dx = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b), np.zeros_like(x)
    dh = np.zeros_like(h0)
    for t in reversed(range(len(x))):
        dh = dh + 1.0
        da = dh * (1 - hs[t] ** 2)
        h_prev = hs[t - 1] if t > 0 else h0
        dW += np.outer(x[t], da)
        dU += np.outer(h_prev, da)
        db += da
        dx[t] = W @ da
        dh = U @ da
    return dx, dh, dW, dU, db


def rnn_graph():
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    W, U, b = T.dmatrix("W"), T.dmatrix("U"), T.dvector("b")
    hs, _ = kiln.scan(lambda xt, h, W, U, b: T.tanh(T.dot(xt, W) + T.dot(h, U) + b), sequences=x,
                      outputs_info=h0, non_sequences=[W, U, b])
    return [x, h0, W, U, b], hs


def rnn_point(steps=6, n_in=3, n_hidden=4):
    return [RNG.standard_normal((steps, n_in)), RNG.standard_normal(n_hidden), 0.5 * RNG.standard_normal((n_in, n_hidden)),
            0.5 * RNG.standard_normal((n_hidden, n_hidden)), RNG.standard_normal(n_hidden)]


def test_tanh_rnn_forward_and_gradient_match_numpy():
    inputs, hs = rnn_graph()
    cost = hs.sum()
    grads = kiln.grad(cost, inputs)
    f = kiln.function(inputs, [hs] + grads)
    point = rnn_point()
    got = f(*point)
    expected_hs = rnn_numpy(*point)
    np.testing.assert_allclose(got[0], expected_hs, rtol=1e-10)
    for g, e in zip(got[1:], rnn_grads_numpy(*point, expected_hs)):
        np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-12)


def test_power_iteration_with_until():
    A = T.dmatrix("A")
    v0 = T.dvector("v0")

    def step(v, A):
        w = T.dot(A, v)
        w = w / T.sqrt((w ** 2).sum())
        return w, until(T.sqrt(((w - v) ** 2).sum()) < 1e-10)

    vs, _ = kiln.scan(step, outputs_info=v0, non_sequences=A, n_steps=1000)
    f = kiln.function([A, v0], [vs[-1], vs.shape[0]])
    M = np.array([[2.0, 1.0], [1.0, 3.0]])
    v, steps = f(M, np.array([1.0, 0.0]))
    eigenvalues, eigenvectors = np.linalg.eigh(M)
    assert abs(abs(v @ eigenvectors[:, -1]) - 1) < 1e-9
    assert 5 < steps < 1000  # stopped early: outputs have the length actually run

    expected, u = [], np.array([1.0, 0.0])
    for _ in range(int(steps)):
        w = M @ u
        w /= np.linalg.norm(w)
        expected.append(w)
        if np.linalg.norm(w - u) < 1e-10:
            break
        u = w
    assert len(expected) == steps


# ---------------------------------------------------------------- taps, directions, lengths


def test_sequence_taps():
    x = T.dvector("x")
    out, _ = kiln.scan(lambda a, b, c: a + 10 * b + 100 * c, sequences=dict(input=x, taps=[-1, 0, 1]))
    xv = np.arange(6.0)
    np.testing.assert_allclose(kiln.function([x], out)(xv), xv[:-2] + 10 * xv[1:-1] + 100 * xv[2:])


def test_go_backwards():
    x = T.dvector("x")
    out, _ = kiln.scan(lambda xt, acc: acc + xt, sequences=x, outputs_info=np.float64(0.0), go_backwards=True)
    xv = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(kiln.function([x], out)(xv), np.cumsum(xv[::-1]))


def test_n_steps_truncates_sequences_and_shortest_sequence_wins():
    x, y = T.dvector("x"), T.dvector("y")
    out, _ = kiln.scan(lambda a, b: a * b, sequences=[x, y])
    np.testing.assert_allclose(kiln.function([x, y], out)(np.arange(5.0), np.arange(3.0)), [0, 1, 4])
    n = T.lscalar("n")
    out2, _ = kiln.scan(lambda a: 2 * a, sequences=x, n_steps=n)
    f = kiln.function([x, n], out2)
    np.testing.assert_allclose(f(np.arange(5.0), 2), [0, 2])
    with pytest.raises(ValueError, match="scan.*sequence 0 has 5 steps.*fewer than n_steps = 7"):
        f(np.arange(5.0), 7)


def test_outputs_not_fed_back_and_several_outputs():
    x = T.dvector("x")
    (acc, sq), _ = kiln.scan(lambda xt, a: [a + xt, xt ** 2], sequences=x, outputs_info=[np.float64(0.0), None])
    a, s = kiln.function([x], [acc, sq])(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(a, [1, 3, 6])
    np.testing.assert_allclose(s, [1, 4, 9])


def test_return_list_and_matrix_state():
    h0 = T.dmatrix("h0")
    out, _ = kiln.scan(lambda h: h * 2, outputs_info=h0, n_steps=3, return_list=True)
    assert isinstance(out, list) and len(out) == 1
    r = kiln.function([h0], out[0])(np.ones((2, 2)))
    assert r.shape == (3, 2, 2)
    np.testing.assert_allclose(r[:, 0, 0], [2, 4, 8])


# ---------------------------------------------------------------- shared variables, updates, random


def test_shared_variable_inside_is_an_implicit_input():
    W = kiln.shared(np.array([[1.0, 2.0], [3.0, 4.0]]), name="W")
    h0 = T.dvector("h0")
    out, _ = kiln.scan(lambda h: T.dot(W, h), outputs_info=h0, n_steps=2)
    f = kiln.function([h0], out)
    M = W.get_value()
    np.testing.assert_allclose(f(np.array([1.0, 1.0]))[-1], M @ M @ [1, 1])
    W.set_value(np.eye(2))
    np.testing.assert_allclose(f(np.array([1.0, 1.0]))[-1], [1, 1])


def test_explicit_updates_returned_by_fn():
    counter = kiln.shared(np.float64(0.0), name="counter")
    x = T.dvector("x")
    out, updates = kiln.scan(lambda xt: (xt * 2, {counter: counter + xt}), sequences=x)
    assert list(updates.keys()) == [counter]
    f = kiln.function([x], out, updates=updates)
    f(np.array([1.0, 2.0, 3.0]))
    assert counter.get_value() == 6.0
    f(np.array([1.0]))
    assert counter.get_value() == 7.0


@pytest.mark.parametrize("streams", [RandomStreams, MRG_RandomStreams])
def test_random_numbers_inside_the_loop_advance_between_calls(streams):
    srng = streams(seed=42)
    x = T.dvector("x")
    out, updates = kiln.scan(lambda xt: xt + srng.uniform((), dtype="float64"), sequences=x)
    assert len(updates) == 1
    f = kiln.function([x], out, updates=updates)
    first, second = f(np.zeros(5)), f(np.zeros(5))
    assert len(set(first)) == 5  # a new number per step
    assert not np.allclose(first, second)  # and per call
    assert np.all((first >= 0) & (first < 1))


def test_strict_rejects_unpassed_variables():
    W = kiln.shared(np.ones(2), name="W")
    h0 = T.dvector("h0")
    with pytest.raises(ValueError, match=r"scan \(strict=True\).*shared variable W"):
        kiln.scan(lambda h: h * W, outputs_info=h0, n_steps=2, strict=True)
    out, _ = kiln.scan(lambda h, W: h * W, outputs_info=h0, non_sequences=W, n_steps=2, strict=True)
    np.testing.assert_allclose(kiln.function([h0], out)(np.array([1.0, 2.0])), [[1, 2], [1, 2]])


# ---------------------------------------------------------------- gradients


def test_verify_grad_rnn():
    def cost(x, h0, W, U, b):
        hs, _ = kiln.scan(lambda xt, h, W, U, b: T.tanh(T.dot(xt, W) + T.dot(h, U) + b), sequences=x,
                          outputs_info=h0, non_sequences=[W, U, b])
        return hs

    verify_grad(cost, rnn_point(steps=4), rng=np.random.RandomState(0))


def test_verify_grad_taps_on_sequences_and_outputs():
    def cost(x, init):
        out, _ = kiln.scan(lambda a, c, o2, o1: a * c + T.sin(o2) * o1, sequences=dict(input=x, taps=[-1, 1]),
                           outputs_info=dict(initial=init, taps=[-2, -1]))
        return out

    verify_grad(cost, [RNG.standard_normal(7), RNG.standard_normal(3)], rng=np.random.RandomState(0))


def test_verify_grad_shared_variable_and_go_backwards():
    W = kiln.shared(RNG.standard_normal((3, 3)) * 0.5, name="W")
    x = T.dmatrix("x")
    hs, _ = kiln.scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=T.zeros((3,), "float64"),
                      go_backwards=True)
    g = kiln.grad(hs.sum(), W)
    f = kiln.function([x], g)
    xv = RNG.standard_normal((4, 3))
    eps, Wv, numeric = 1e-6, W.get_value(), np.zeros((3, 3))
    cost = kiln.function([x], hs.sum())
    for i in range(3):
        for j in range(3):
            for sign in (1, -1):
                Wp = Wv.copy()
                Wp[i, j] += sign * eps
                W.set_value(Wp)
                numeric[i, j] += sign * cost(xv) / (2 * eps)
    W.set_value(Wv)
    np.testing.assert_allclose(f(xv), numeric, rtol=1e-5, atol=1e-7)


def test_truncate_gradient():
    x = T.dvector("x")
    h0 = T.dscalar("h0")
    hs, _ = kiln.scan(lambda xt, h: 0.5 * h + xt, sequences=x, outputs_info=h0, truncate_gradient=2)
    gx, gh0 = kiln.grad(hs[-1], [x, h0])
    f = kiln.function([x, h0], [gx, gh0])
    got_x, got_h0 = f(np.ones(5), 1.0)
    np.testing.assert_allclose(got_x, [0, 0, 0, 0.5, 1.0])  # only the last two steps
    assert got_h0 == 0.0
    full, _ = kiln.scan(lambda xt, h: 0.5 * h + xt, sequences=x, outputs_info=h0)
    got_x, got_h0 = kiln.function([x, h0], kiln.grad(full[-1], [x, h0]))(np.ones(5), 1.0)
    np.testing.assert_allclose(got_x, 0.5 ** np.arange(4, -1, -1))
    assert np.isclose(got_h0, 0.5 ** 5)


def test_gradient_through_until_uses_steps_run():
    x = T.dscalar("x")
    out, _ = kiln.scan(lambda h: (h * 2, until(h * 2 > 10)), outputs_info=x, n_steps=100)
    f = kiln.function([x], [out, kiln.grad(out[-1], x)])
    values, g = f(1.0)
    np.testing.assert_allclose(values, [2, 4, 8, 16])
    assert g == 16.0


def test_rop_matches_finite_differences():
    x = T.dvector("x")
    v = T.dvector("v")
    hs, _ = kiln.scan(lambda xt, h: T.tanh(h * xt + 1), sequences=x, outputs_info=np.float64(0.5))
    jv = kiln.gradient.Rop(hs, x, v)
    f = kiln.function([x, v], jv)
    h = kiln.function([x], hs)
    xv, vv = RNG.standard_normal(5), RNG.standard_normal(5)
    eps = 1e-6
    np.testing.assert_allclose(f(xv, vv), (h(xv + eps * vv) - h(xv - eps * vv)) / (2 * eps), rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------- shapes, rewrites, printing


def test_infer_shape_without_running_the_loop():
    x = T.dmatrix("x")
    h0 = T.dvector("h0")
    (hs, ys), _ = kiln.scan(lambda xt, h: [h + xt.sum(), T.concatenate([xt, xt])], sequences=x,
                            outputs_info=[h0, None])
    f = kiln.function([x, h0], [hs.shape, ys.shape])
    assert not compiled_scan_nodes(f)
    s1, s2 = f(np.ones((4, 3)), np.ones(2))
    assert tuple(s1) == (4, 2) and tuple(s2) == (4, 6)


def test_loop_invariant_nodes_are_hoisted():
    W = T.dmatrix("W")
    h0 = T.dvector("h0")
    hs, _ = kiln.scan(lambda h, W: T.tanh(T.dot(h, T.exp(W) * 2)), outputs_info=h0, non_sequences=W, n_steps=3)
    f = kiln.function([W, h0], hs)
    (node,) = compiled_scan_nodes(f)
    inner_kinds = {n.op.kind for n in kiln._core.toposort(kiln._core.scan_inner_outputs(node))}
    assert "Elemwise{exp}" not in inner_kinds and not any("exp" in k for k in inner_kinds)
    Wv, hv = 0.1 * RNG.standard_normal((3, 3)), RNG.standard_normal(3)
    h, expected = hv, []
    for _ in range(3):
        h = np.tanh(h @ (np.exp(Wv) * 2))
        expected.append(h)
    np.testing.assert_allclose(f(Wv, hv), expected)


def test_only_last_value_kept_when_only_last_is_used():
    x = T.dvector("x")
    out, _ = kiln.scan(lambda xt, acc: 0.5 * acc + xt, sequences=x, outputs_info=np.float64(0.0))
    f = kiln.function([x], out[-1])
    (node,) = compiled_scan_nodes(f)
    assert "last_only" in str(node.op)
    assert f(np.arange(5.0)) == 4 + 3 / 2 + 2 / 4 + 1 / 8
    g = kiln.function([x], out)
    assert "last_only" not in str(compiled_scan_nodes(g)[0].op)


def test_debugprint_of_a_function_with_scan():
    inputs, hs = rnn_graph()
    f = kiln.function(inputs, hs)
    text = kiln.printing.debugprint(f, file="str")
    assert "Scan{scan_fn}" in text
    body = text.split("Inner graphs of the scan ops:")[1]
    assert "Elemwise{tanh}" in body and "h0[t-1]" in body


# ---------------------------------------------------------------- errors


def test_error_initial_state_shape():
    h0 = T.dvector("h0")
    with pytest.raises(ValueError, match="scan: the step function's output 0 has 2 dimensions"):
        kiln.scan(lambda h: T.outer(h, h), outputs_info=h0, n_steps=2)


def test_error_runtime_state_shape():
    h0 = T.dvector("h0")
    out, _ = kiln.scan(lambda h: T.concatenate([h, h]), outputs_info=h0, n_steps=2)
    with pytest.raises(ValueError, match="scan.*new value of state 0 has shape"):
        kiln.function([h0], out)(np.ones(2))


def test_error_mismatched_dtypes():
    h0 = T.fvector("h0")
    with pytest.raises(TypeError, match=r"scan: the step function's output 0 has dtype float64.*outputs_info\[0\]"):
        kiln.scan(lambda h: h * np.float64(2.0) + T.dscalar("c"), outputs_info=h0, n_steps=2)


def test_error_taps_without_initial_value():
    with pytest.raises(ValueError, match=r"scan: outputs_info\[0\] asks for taps \[-1\] but has no initial value"):
        kiln.scan(lambda h: h, outputs_info=dict(initial=None, taps=[-1]), n_steps=2)


def test_error_non_negative_output_taps_and_missing_steps():
    h0 = T.dvector("h0")
    with pytest.raises(ValueError, match="taps of an output must be negative"):
        kiln.scan(lambda h: h, outputs_info=dict(initial=h0, taps=[0]), n_steps=2)
    with pytest.raises(ValueError, match="no sequences and no n_steps"):
        kiln.scan(lambda h: h, outputs_info=h0)
    with pytest.raises(ValueError, match="outputs_info has 2 entries"):
        kiln.scan(lambda h: h, outputs_info=[h0, None], n_steps=2)
    init = T.dvector("init")
    out, _ = kiln.scan(lambda a, b: a + b, outputs_info=dict(initial=init, taps=[-2, -1]), n_steps=2)
    with pytest.raises(ValueError, match="initial value of state 0 holds 1 steps.*taps need 2"):
        kiln.function([init], out)(np.ones(1))


def test_nested_scan_and_its_gradient():
    """Each outer step runs an inner loop: row sums of powers x**1..x**k, summed over the rows."""
    X = T.dmatrix("X")
    k = 3

    def outer_step(row):
        powers, _ = kiln.scan(lambda p, row: p * row, outputs_info=T.ones_like(row), non_sequences=row, n_steps=k)
        return powers.sum()

    sums, _ = kiln.scan(outer_step, sequences=X)
    f = kiln.function([X], [sums, kiln.grad(sums.sum(), X)])
    Xv = RNG.uniform(0.5, 1.5, (4, 2))
    values, g = f(Xv)
    np.testing.assert_allclose(values, (Xv + Xv ** 2 + Xv ** 3).sum(axis=1))
    np.testing.assert_allclose(g, 1 + 2 * Xv + 3 * Xv ** 2)


def test_collected_output_read_only_at_its_end_keeps_one_row():
    x = T.dvector("x")
    (acc, sq), _ = kiln.scan(lambda xt, a: [a + xt, xt ** 2], sequences=x, outputs_info=[np.float64(0.0), None])
    f = kiln.function([x], [acc, sq[-1]])
    (node,) = compiled_scan_nodes(f)
    assert "last_only=1" in str(node.op)  # the collected output; the state is returned whole
    a, last = f(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(a, [1, 3, 6])
    assert last == 9.0


def test_random_state_update_after_zero_steps_keeps_the_state():
    srng = RandomStreams(seed=3)
    n = T.lscalar("n")
    out, updates = kiln.scan(lambda: srng.uniform((), dtype="float64"), n_steps=n)
    f = kiln.function([n], out, updates=updates)
    (state,) = updates.keys()
    before = state.get_value().copy()
    assert f(0).shape == (0,)
    np.testing.assert_array_equal(state.get_value(), before)
    assert f(3).shape == (3,)
    assert not np.array_equal(state.get_value(), before)


def test_last_only_outputs_that_are_views_of_states():
    """prev is the state's previous value itself (a view of the loop's rows): keeping only its
    last row must copy it before the loop writes over it."""
    x = T.dvector("x")
    (acc, prev), _ = kiln.scan(lambda xt, a: [a + xt, a], sequences=x, outputs_info=[np.float64(0.0), None])
    f = kiln.function([x], [acc[-1], prev[-1]])
    assert all("last_only" in str(n.op) for n in compiled_scan_nodes(f))
    xv = np.array([1.0, 2.0, 3.0, 4.0])
    total, before_last = f(xv)
    assert total == 10.0 and before_last == 6.0


def test_gradient_loop_keeps_no_history_of_its_carried_values():
    """The backward loop carries a window of partial gradients that nothing outside reads."""
    x = T.dvector("x")
    out, _ = kiln.scan(lambda xt, acc: acc * T.exp(xt), sequences=x, outputs_info=np.float64(1.0))
    f = kiln.function([x], kiln.grad(out[-1], x))
    backward = [n for n in compiled_scan_nodes(f) if "grad_of" in str(n.op)]
    assert len(backward) == 1 and "last_only=0" in str(backward[0].op)
    xv = np.array([0.1, -0.2, 0.3])
    np.testing.assert_allclose(f(xv), np.full(3, np.exp(xv.sum())))


def test_rop_with_respect_to_weights_and_initial_state():
    W = T.dmatrix("W")
    h0 = T.dvector("h0")
    vW, vh = T.dmatrix("vW"), T.dvector("vh")
    hs, _ = kiln.scan(lambda h, W: T.tanh(T.dot(W, h)), outputs_info=h0, non_sequences=W, n_steps=4)
    jv = kiln.gradient.Rop(hs, [W, h0], [vW, vh])
    f = kiln.function([W, h0, vW, vh], jv)
    h = kiln.function([W, h0], hs)
    Wv, hv = 0.5 * RNG.standard_normal((3, 3)), RNG.standard_normal(3)
    dW, dh = RNG.standard_normal((3, 3)), RNG.standard_normal(3)
    eps = 1e-6
    numeric = (h(Wv + eps * dW, hv + eps * dh) - h(Wv - eps * dW, hv - eps * dh)) / (2 * eps)
    np.testing.assert_allclose(f(Wv, hv, dW, dh), numeric, rtol=1e-5, atol=1e-8)


def test_errors_name_scan_and_the_argument():
    x = T.dvector("x")
    s = T.dscalar("s")
    with pytest.raises(ValueError, match=r"scan: sequences\[0\] \(s, .*\) has no axis to iterate over"):
        kiln.scan(lambda a: a, sequences=s)
    with pytest.raises(ValueError, match=r"scan: sequences\[0\] has an empty list of taps"):
        kiln.scan(lambda: x, sequences=dict(input=x, taps=[]))
    with pytest.raises(ValueError, match=r"scan: outputs_info\[0\] has an initial value but no taps"):
        kiln.scan(lambda: s, outputs_info=dict(initial=s, taps=[]), n_steps=2)
    with pytest.raises(ValueError, match=r"outputs_info\[0\] has taps \[-2, -1\], so its initial value must hold"):
        kiln.scan(lambda a, b: a + b, outputs_info=dict(initial=s, taps=[-2, -1]), n_steps=2)
    with pytest.raises(ValueError, match=r"has only 1 entries along its first axis; expected at least 2"):
        kiln.scan(lambda a, b: a + b, outputs_info=dict(initial=T.constant(np.ones(1)), taps=[-2, -1]), n_steps=2)
    with pytest.raises(TypeError, match=r"scan: the step function returns an update of .*not a shared variable"):
        kiln.scan(lambda a: (a, {s: a}), sequences=x)
    with pytest.raises(TypeError, match="scan: the until condition must be a scalar"):
        kiln.scan(lambda a: (a, until(T.dvector("v") > 0)), sequences=x)
    with pytest.raises(TypeError, match="scan: n_steps must be an integer scalar"):
        kiln.scan(lambda a: a * 2, outputs_info=s, n_steps=T.dscalar("n"))
    n = T.lscalar("n")
    out, _ = kiln.scan(lambda a: a * 2, outputs_info=s, n_steps=n)
    with pytest.raises(ValueError, match="scan 'scan_fn': n_steps must not be negative, got -1"):
        kiln.function([s, n], out)(1.0, -1)


def test_sequence_only_operations_are_pushed_out_of_the_loop():
    """dot(x_t, W) + b reads only the sequence and non-sequences: one GEMM before the loop."""
    inputs, hs = rnn_graph()
    f = kiln.function(inputs, hs)
    (node,) = compiled_scan_nodes(f)
    inner_dots = [n for n in kiln._core.toposort(kiln._core.scan_inner_outputs(node)) if n.op.kind == "Dot"]
    assert len(inner_dots) == 1 and inner_dots[0].inputs[1].name == "U"
    outer = [n for n in f.nodes() if not kiln._core.is_scan(n)]
    assert any(n.op.kind in ("Dot", "Gemm") and n.outputs[0].ndim == 2 for n in outer)
    point = rnn_point()
    np.testing.assert_allclose(f(*point), rnn_numpy(*point), rtol=1e-10)


def inner_nodes(node):
    return kiln._core.toposort(kiln._core.scan_inner_outputs(node))


def test_weight_gradients_are_summed_after_the_loop():
    """BPTT's dW += outer(x_t, da_t) leaves the loop: the loop collects da_t and one GEMM over the
    steps gives dW (no Ger or accumulator state per step); db is one sum."""
    inputs, hs = rnn_graph()
    x, h0, W, U, b = inputs
    grads = kiln.grad(hs.sum(), [W, U, b])
    f = kiln.function(inputs, grads)
    backward = [n for n in compiled_scan_nodes(f) if "grad_of" in str(n.op)]
    assert len(backward) == 1
    inner_kinds = [n.op.kind for n in inner_nodes(backward[0])]
    assert "Ger" not in inner_kinds and not any("outer" in k for k in inner_kinds)
    # The backward loop carries only the window of hidden-state gradients: no accumulators.
    assert len(backward[0].outputs) - 1 == 2  # the window and the collected da_t
    outer_kinds = [n.op.kind for n in f.nodes() if not kiln._core.is_scan(n)]
    assert sum(k in ("Dot", "Gemm") for k in outer_kinds) >= 2
    # tanh's gradient reads the hidden states the forward loop stored: nothing recomputes tanh.
    assert not any("tanh" in str(n.op) for n in f.nodes() if not kiln._core.is_scan(n))
    assert not any("tanh" in str(n.op) for n in inner_nodes(backward[0]))
    point = rnn_point(steps=9)
    expected = rnn_grads_numpy(*point, rnn_numpy(*point))[2:]
    for g, e in zip(f(*point), expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_minibatch_weight_gradients_are_one_gemm_over_stacked_rows():
    """With a batch, dU += h_{t-1}^T da_t: the loop collects both factors and dU is
    stack(h)^T stack(da) over steps and batch rows."""
    x, h0 = T.dtensor3("x"), T.dmatrix("h0")
    W, U, b = T.dmatrix("W"), T.dmatrix("U"), T.dvector("b")
    hs, _ = kiln.scan(lambda xt, h, W, U, b: T.tanh(T.dot(xt, W) + T.dot(h, U) + b), sequences=x,
                      outputs_info=h0, non_sequences=[W, U, b])
    cost = (hs ** 2).sum()
    f = kiln.function([x, h0, W, U, b], kiln.grad(cost, [W, U, b, h0]))
    (backward,) = [n for n in compiled_scan_nodes(f) if "grad_of" in str(n.op)]
    assert not any(n.op.kind in ("Gemm", "Dot") and n.outputs[0].ndim == 2 and n.inputs[0].ndim == 2
                   and n.inputs[0].owner is not None and n.inputs[0].owner.op.kind == "DimShuffle"
                   for n in inner_nodes(backward))
    steps, batch, n_in, n_h = 5, 3, 4, 6
    xv, hv = RNG.standard_normal((steps, batch, n_in)), RNG.standard_normal((batch, n_h))
    Wv, Uv, bv = 0.5 * RNG.standard_normal((n_in, n_h)), 0.5 * RNG.standard_normal((n_h, n_h)), RNG.standard_normal(n_h)
    hs_np, h = [], hv
    for t in range(steps):
        h = np.tanh(xv[t] @ Wv + h @ Uv + bv)
        hs_np.append(h)
    dW, dU, db, dh = np.zeros_like(Wv), np.zeros_like(Uv), np.zeros_like(bv), np.zeros_like(hv)
    for t in reversed(range(steps)):
        da = (dh + 2 * hs_np[t]) * (1 - hs_np[t] ** 2)
        dW += xv[t].T @ da
        dU += (hs_np[t - 1] if t > 0 else hv).T @ da
        db += da.sum(0)
        dh = da @ Uv.T
    for g, e in zip(f(xv, hv, Wv, Uv, bv), [dW, dU, db, dh]):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)

    def cost_of(W, U):
        hs, _ = kiln.scan(lambda xt, h, W, U: T.tanh(T.dot(xt, W) + T.dot(h, U)), sequences=T.constant(xv),
                          outputs_info=T.constant(hv), non_sequences=[W, U])
        return (hs ** 2).sum()
    verify_grad(cost_of, [Wv, Uv], rng=np.random.default_rng(0))


def test_user_accumulator_read_at_its_end_becomes_a_sum():
    """acc + x_t**2 with only the last value read is x**2 summed after the loop; reading every
    value keeps the loop's state."""
    x = T.dvector("x")
    a0 = T.dscalar("a0")
    acc, _ = kiln.scan(lambda xt, a: a + xt ** 2, sequences=x, outputs_info=a0)
    last = kiln.function([x, a0], acc[-1])
    every = kiln.function([x, a0], acc)
    assert not compiled_scan_nodes(last)  # nothing is left in the loop: the sum needs no loop
    assert compiled_scan_nodes(every)
    xv = RNG.standard_normal(11)
    np.testing.assert_allclose(last(xv, 0.5), 0.5 + (xv ** 2).sum(), rtol=1e-12)
    np.testing.assert_allclose(every(xv, 0.5), 0.5 + np.cumsum(xv ** 2), rtol=1e-12)


def test_accumulator_with_until_sums_only_the_steps_run():
    x = T.dvector("x")
    (acc, h), _ = kiln.scan(lambda xt, a, h: ([a + xt * h, h * 2.0], until(h * 2.0 > 7.0)), sequences=x,
                            outputs_info=[np.float64(0.0), np.float64(1.0)])
    f = kiln.function([x], acc[-1])
    xv = np.arange(1.0, 11.0)
    # three steps run: the new h is 2, 4, then 8 > 7
    expected, hv = 0.0, 1.0
    for t in range(10):
        expected, hv = expected + xv[t] * hv, hv * 2.0
        if hv > 7.0:
            break
    assert expected == 1 + 2 * 2 + 3 * 4
    assert f(xv) == pytest.approx(expected)


def test_unused_outputs_and_their_inputs_leave_the_loop():
    x, y = T.dvector("x"), T.dvector("y")
    w = T.dscalar("w")
    (a, c), _ = kiln.scan(lambda xt, yt, a, w: [a * xt, T.sin(yt) * w], sequences=[x, y],
                          outputs_info=[np.float64(1.0), None], non_sequences=w)
    f = kiln.function([x, y, w], a, on_unused_input="ignore")
    (node,) = compiled_scan_nodes(f)
    assert len(node.outputs) == 2  # the state and the steps run
    assert not any(n.op.kind == "Elemwise{sin}" for n in inner_nodes(node))
    assert len(node.inputs) == 3  # n_steps, x, the initial value: y and w are gone
    xv = RNG.standard_normal(5)
    np.testing.assert_allclose(f(xv, xv, 2.0), np.cumprod(xv), rtol=1e-12)
    g = kiln.function([x, y, w], c)
    np.testing.assert_allclose(g(xv, xv + 1, 2.0), np.sin(xv + 1) * 2.0, rtol=1e-12)


def test_identical_loops_merge_into_one():
    """Two kiln.scan calls with the same step function and inputs build equal loops: merging keeps
    one. A different constant in the body keeps them apart."""
    x = T.dvector("x")
    h0 = T.dscalar("h0")

    def loop(decay):
        out, _ = kiln.scan(lambda xt, h: decay * h + T.tanh(xt), sequences=x, outputs_info=h0)
        return out

    f = kiln.function([x, h0], [loop(0.5), loop(0.5) * 2])
    assert len(compiled_scan_nodes(f)) == 1
    g = kiln.function([x, h0], [loop(0.5), loop(0.25)])
    assert len(compiled_scan_nodes(g)) == 2
    xv = RNG.standard_normal(6)
    a, b = f(xv, 0.3)
    np.testing.assert_allclose(b, 2 * a)
    c, d = g(xv, 0.3)
    np.testing.assert_allclose(c, a)
    h, expected = 0.3, []
    for t in range(6):
        h = 0.25 * h + np.tanh(xv[t])
        expected.append(h)
    np.testing.assert_allclose(d, expected, rtol=1e-12)


def test_second_order_gradient_through_the_loop():
    """The gradient of a BPTT gradient's norm (a second backward loop over the first) against
    finite differences."""
    xv, hv = RNG.standard_normal((5, 3)), RNG.standard_normal(4)

    def cost(W, U):
        hs, _ = kiln.scan(lambda xt, h, W, U: T.tanh(T.dot(xt, W) + T.dot(h, U)), sequences=T.constant(xv),
                          outputs_info=T.constant(hv), non_sequences=[W, U])
        return (hs ** 2).sum()

    def gradient_norm(W, U):
        gW, gU = kiln.grad(cost(W, U), [W, U])
        return (gW ** 2).sum() + (gU ** 2).sum()

    verify_grad(gradient_norm, [0.5 * RNG.standard_normal((3, 4)), 0.5 * RNG.standard_normal((4, 4))],
                rng=np.random.default_rng(1))


# ---------------------------------------------------------------- storage reuse inside the loop
# A step's nodes write straight into the rows their values go to, and reuse last step's buffers
# for their intermediates: values returned twice, views of other values, last-only rings and
# matrix states must still each land in their own rows with the numpy loop's values.


def test_value_returned_twice_and_views_of_it_fill_every_row():
    x, a0, b0 = T.dmatrix("x"), T.dvector("a0"), T.dvector("b0")

    def step(xt, a, b):
        e = T.tanh(a + xt * b)
        return [e, e, e[::-1], e]

    (a, b, rev, same), _ = kiln.scan(step, sequences=x, outputs_info=[a0, b0, None, None])
    f = kiln.function([x, a0, b0], [a, b, rev, same, a[-1] + b[-2]])
    xv, a0v, b0v = RNG.standard_normal((6, 4)), RNG.standard_normal(4), RNG.standard_normal(4)
    av, bv, rows = a0v, b0v, []
    for t in range(6):
        av = bv = np.tanh(av + xv[t] * bv)
        rows.append(av)
    rows = np.array(rows)
    for _ in range(2):  # the second call runs on buffers the first one left
        got = f(xv, a0v, b0v)
        np.testing.assert_allclose(got[0], rows, rtol=1e-12)
        np.testing.assert_allclose(got[1], rows, rtol=1e-12)
        np.testing.assert_allclose(got[2], rows[:, ::-1], rtol=1e-12)
        np.testing.assert_allclose(got[3], rows, rtol=1e-12)
        np.testing.assert_allclose(got[4], rows[-1] + rows[-2], rtol=1e-12)


def test_intermediates_viewed_and_reused_across_steps():
    x, h0 = T.dmatrix("x"), T.dvector("h0")

    def step(xt, h):
        m = (h * 2 + xt).dimshuffle("x", 0)  # a view of a fresh intermediate
        p = T.exp(m[0] - m[0].max())
        s = p / p.sum()
        return [s + h * 0.5, m[0] * 1.0, s.dimshuffle("x", 0)]

    (hs, ms, ss), _ = kiln.scan(step, sequences=x, outputs_info=[h0, None, None])
    f = kiln.function([x, h0], [hs, ms, ss, hs[-1]])
    xv, hv = RNG.standard_normal((9, 5)), RNG.standard_normal(5)
    h, expected = hv, {"h": [], "m": [], "s": []}
    for t in range(9):
        m = h * 2 + xv[t]
        p = np.exp(m - m.max())
        s = p / p.sum()
        h = s + h * 0.5
        expected["h"].append(h), expected["m"].append(m), expected["s"].append(s[None])
    for _ in range(2):
        got = f(xv, hv)
        np.testing.assert_allclose(got[0], expected["h"], rtol=1e-12)
        np.testing.assert_allclose(got[1], expected["m"], rtol=1e-12)
        np.testing.assert_allclose(got[2], expected["s"], rtol=1e-12)
        np.testing.assert_allclose(got[3], expected["h"][-1], rtol=1e-12)


@pytest.mark.parametrize("last_only", [False, True])
def test_matrix_state_rnn_with_two_taps(last_only):
    # Gemm writes the new state's row; taps -2 and -1 read the two rows before it (a ring of
    # three rows when only the last value is used).
    x, h0 = T.dtensor3("x"), T.dtensor3("h0")
    w, u = T.dmatrix("w"), T.dmatrix("u")
    hs, _ = kiln.scan(lambda xt, h2, h1, w, u: T.tanh(T.dot(xt, w) + T.dot(h1, u) - 0.5 * h2),
                      sequences=x, outputs_info=dict(initial=h0, taps=[-2, -1]), non_sequences=[w, u])
    f = kiln.function([x, h0, w, u], hs[-1] if last_only else hs)
    assert ("last_only" in str(compiled_scan_nodes(f)[0].op)) == last_only
    xv, h0v = RNG.standard_normal((7, 3, 4)), RNG.standard_normal((2, 3, 5))
    wv, uv = RNG.standard_normal((4, 5)) * 0.5, RNG.standard_normal((5, 5)) * 0.5
    states = [h0v[0], h0v[1]]
    for t in range(7):
        states.append(np.tanh(xv[t] @ wv + states[-1] @ uv - 0.5 * states[-2]))
    expected = states[-1] if last_only else np.array(states[2:])
    for _ in range(2):
        np.testing.assert_allclose(f(xv, h0v, wv, uv), expected, rtol=1e-12, atol=1e-14)


def test_collected_rows_with_until_hold_only_the_steps_run():
    x = T.dvector("x")

    def step(xt, acc):
        new = acc + xt
        return [new, new * 2], until(new > 3)

    (acc, twice), _ = kiln.scan(step, sequences=x, outputs_info=[np.float64(0.0), None])
    f = kiln.function([x], [acc, twice])
    got_acc, got_twice = f(np.array([1.0, 1.5, 1.0, 2.0, 5.0]))
    np.testing.assert_allclose(got_acc, [1.0, 2.5, 3.5])
    np.testing.assert_allclose(got_twice, [2.0, 5.0, 7.0])
