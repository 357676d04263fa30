"""Graph rewrites: the rewritten graph (as op kinds) and its values against the unrewritten
function, stability where the naive form fails, modes and config flags."""
import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln import gradient as G
from rewrite_util import compile_both, kinds


def test_fast_run_pipeline_is_the_golden_list():
    assert kiln._core.rewrite_pipeline("FAST_RUN") == [
        "inline: inline_op_from_graph",
        "merge1: merge1_merge",
        "canonicalize: constant_folding, add_zero, sub_zero, mul_one, div_one, mul_zero, sub_self, neg_neg, "
        "add_neg, exp_log, log_exp, mul_div_cancel, collect_mul_constants, collect_add_constants, "
        "reshape_to_own_shape, alloc_of_own_shape, elemwise_of_alloc, sum_of_dimshuffle, compose_dimshuffles, "
        "mul_div_canonical, useless_cast, cast_of_lossless_cast, useless_dimshuffle, prod_of_dimshuffle, "
        "sum_of_alloc, prod_of_alloc, useless_subtensor, subtensor_of_alloc, subtensor_of_join, shape_to_sizes, "
        "shape_i_from_inputs, index_into_make_vector, ifelse_constant_condition, ifelse_same_branches, "
        "scan_pushout_invariants, scan_pushout_seq_ops",
        "stabilize: log1p, log1p_neg, expm1, one_minus_sigmoid, log_sigmoid, log1m_sigmoid, log1p_neg_sigmoid, "
        "softplus, log_div_exp, logsumexp, log_erfc, grad_log_erfc, one_minus_erf, one_plus_erf, erf_minus_one, "
        "erf_plus_minus_one, one_minus_erfc, erfc_minus_one, expm1_add, inv_1_plus_exp, reciprocal_1_plus_exp, "
        "exp_over_1_plus_exp, sigmoid_times_exp_neg, exp_times_sigmoid_neg, logaddexp, log1mexp, "
        "mul_switch_sink_then, mul_switch_sink_else, "
        "div_switch_sink_then, div_switch_sink_else, log_softmax, crossentropy_to_crossentropy_with_softmax, "
        "advanced_indexing_crossentropy_onehot, log_of_advanced_indexing_softmax, crossentropy_with_softmax_grad,"
        " crossentropy_with_log_softmax_grad, softmax_from_crossentropy, softmax_with_bias, argmax_of_softmax",
        "specialize: scan_pushout_add, scan_remove_unused, scan_save_mem, pow_2, pow_3, pow_4, pow_1, pow_0, pow_half, pow_minus_half, pow_minus_1, pow_minus_2, "
        "mul_self, mul_minus_one, blas_update_from_add, ger_from_gemm",
        "merge2: merge2_merge",
        "shape_check: static_shape_check",
        "fusion: elemwise_fusion",
        "inplace: elemwise_inplace, store_inplace, gemm_inplace, gemv_inplace, ger_destructive",
    ]
    assert kiln._core.rewrite_pipeline("NONE") == []
    assert all("specialize" not in line for line in kiln._core.rewrite_pipeline("FAST_COMPILE"))


X = T.dvector("x")
Y = T.dvector("y")
CASES = [
    # (expression, kinds expected in the rewritten graph, kinds that must be gone)
    (X + 0, [], ["Elemwise{add}"]),
    (X * 1, [], ["Elemwise{mul}"]),
    (X - X, ["Alloc"], ["Elemwise{sub}"]),
    (-(-X), [], ["Elemwise{neg}"]),
    (T.exp(T.log(X)), [], ["Elemwise{exp}", "Elemwise{log}"]),
    (T.log(T.exp(X)), [], ["Elemwise{exp}", "Elemwise{log}"]),
    (X + (-Y), ["Elemwise{sub}"], ["Elemwise{neg}", "Elemwise{add}"]),
    (T.log(1 + X), ["Elemwise{log1p}"], ["Elemwise{log}"]),
    (T.log(X + 1), ["Elemwise{log1p}"], ["Elemwise{log}"]),
    (T.log(1 - X), ["Elemwise{log1p}"], ["Elemwise{log}"]),
    (T.exp(X) - 1, ["Elemwise{expm1}"], ["Elemwise{exp}"]),
    (1 / (1 + T.exp(-X)), ["Elemwise{sigmoid}"], ["Elemwise{exp}"]),
    (T.log(T.nnet.sigmoid(X)), ["Elemwise{softplus}"], ["Elemwise{log}", "Elemwise{sigmoid}"]),
    (T.log(1 - T.nnet.sigmoid(X)), ["Elemwise{softplus}"], ["Elemwise{log}"]),
    (T.log1p(T.exp(X)), ["Elemwise{softplus}"], ["Elemwise{exp}"]),
    (X ** 2, ["Elemwise{sqr}"], ["Elemwise{pow}"]),
    (X ** 0.5, ["Elemwise{sqrt}"], ["Elemwise{pow}"]),
    (X ** -1, ["Elemwise{reciprocal}"], ["Elemwise{pow}"]),
    (X ** 3, ["Elemwise{sqr}"], ["Elemwise{pow}"]),
    (X * X, ["Elemwise{sqr}"], ["Elemwise{mul}"]),
    (X * -1, ["Elemwise{neg}"], ["Elemwise{mul}"]),
    (X.dimshuffle("x", 0).dimshuffle(1, 0), ["DimShuffle"], []),
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_rewrite_changes_the_graph_and_keeps_the_values(index):
    expr, present, absent = CASES[index]
    fast, plain = compile_both([X, Y], expr)
    got = kinds(fast)
    for k in present:
        assert k in got, (k, got)
    for k in absent:
        assert k not in got, (k, got)
    rng = np.random.default_rng(index)
    xv, yv = rng.uniform(0.1, 0.9, 5), rng.uniform(0.1, 0.9, 5)
    np.testing.assert_allclose(fast(xv, yv), plain(xv, yv), rtol=1e-13, atol=1e-15)


def test_dimshuffles_compose_into_one():
    f = kiln.function([X], X.dimshuffle("x", 0).dimshuffle(1, 0))
    assert kinds(f).count("DimShuffle") == 1


def test_merge_common_subexpressions_and_constants():
    a = T.exp(X) * 2.0
    b = T.exp(X) * 2.0
    with kiln.config.change_flags(optimizer_excluding="fusion"):
        f = kiln.function([X], a + b)
    assert kinds(f).count("Elemwise{exp}") == 1 and kinds(f).count("Elemwise{mul}") == 1
    np.testing.assert_allclose(f(np.array([0.0, 1.0])), 4 * np.exp([0.0, 1.0]))


def test_constant_folding_evaluates_constant_subgraphs_once():
    c = T.constant(np.arange(4.0))
    f = kiln.function([X], X + T.exp(c) * 2 + T.sum(c))
    assert "Elemwise{exp}" not in kinds(f) and "Sum" not in kinds(f)
    np.testing.assert_allclose(f(np.zeros(4)), np.exp(np.arange(4.0)) * 2 + 6)


def test_stability_where_the_naive_form_fails():
    f = kiln.function([X], [T.log(1 + X), T.log(T.nnet.sigmoid(X)), T.exp(X) - 1, T.log(1 - X)])
    tiny = np.array([1e-20, -1e-18])
    l1p, _, em1, l1m = f(tiny)
    np.testing.assert_allclose(l1p, tiny, rtol=1e-15)
    np.testing.assert_allclose(em1, tiny, rtol=1e-15)
    np.testing.assert_allclose(l1m, -tiny, rtol=1e-15)
    ls = f(np.array([-800.0, 800.0]))[1]
    assert np.isfinite(ls).all()
    np.testing.assert_allclose(ls, [-800.0, 0.0], atol=1e-300)
    m = T.dmatrix("m")
    lse = kiln.function([m], T.log(T.sum(T.exp(m), axis=1)))
    np.testing.assert_allclose(lse(np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])),
                               [1000 + np.log(2), -1000 + np.log(2)])
    assert np.isneginf(lse(np.array([[-np.inf, -np.inf]])))[0]
    le = kiln.function([X], T.log(T.erfc(X)))
    big = np.array([30.0, 1.0])
    import scipy.special as sp
    np.testing.assert_allclose(le(big), np.log(sp.erfcx(big)) - big ** 2, rtol=1e-10)


def test_log_softmax_is_stable():
    m = T.dmatrix("m")
    f = kiln.function([m], T.log(T.nnet.softmax(m)))
    value = np.array([[0.0, -2000.0, 5.0]])
    import scipy.special as sp
    np.testing.assert_allclose(f(value), sp.log_softmax(value, axis=1))


def test_fast_compile_keeps_stabilization_but_not_specialization():
    f = kiln.function([X], [T.log(1 + X), X ** 2], mode="FAST_COMPILE")
    assert "Elemwise{log1p}" in kinds(f) and "Elemwise{pow}" in kinds(f)
    g = kiln.function([X], X ** 2, mode="NONE")
    assert kinds(g) == ["Elemwise{pow}"]


def test_optimizer_flags():
    with kiln.config.change_flags(optimizer_excluding="pow_2"):
        assert "Elemwise{pow}" in kinds(kiln.function([X], X ** 2))
    with kiln.config.change_flags(optimizer="None"):
        assert "Elemwise{pow}" in kinds(kiln.function([X], X ** 2))
    with kiln.config.change_flags(optimizer="fast_compile", optimizer_including="pow_2"):
        assert "Elemwise{sqr}" in kinds(kiln.function([X], X ** 2))


def test_optimizer_verbose_prints_each_rewrite(capsys):
    with kiln.config.change_flags(optimizer_verbose=True):
        kiln.function([X], T.log(1 + X))
    out = capsys.readouterr().out
    assert "rewrite log1p replaces Elemwise{log}" in out and "Elemwise{log1p}" in out


def test_gradients_of_rewritten_graphs_are_right():
    f = kiln.function([X], G.grad(T.sum(T.log(1 + X ** 2)), X))
    xv = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(f(xv), 2 * xv / (1 + xv ** 2))
    G.verify_grad(lambda v: T.log(1 + T.exp(v)) + v ** 2, [np.array([0.5, -3.0, 2.0])])


def test_training_graph_values_unchanged_by_rewrites():
    rng = np.random.default_rng(0)
    x, y = T.dmatrix("x"), T.lvector("y")
    w = kiln.shared(rng.standard_normal((5, 3)), name="w")
    p = T.nnet.softmax(T.dot(x, w))
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    gw = G.grad(cost, w)
    fast, plain = compile_both([x, y], [cost, gw])
    xv, yv = rng.standard_normal((7, 5)), rng.integers(0, 3, 7)
    for a, b in zip(fast(xv, yv), plain(xv, yv)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert len(fast.nodes()) < len(plain.nodes())


def test_shapes_come_from_infer_shape_without_computing_the_variable():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = kiln.function([a, b], [T.exp(T.dot(a, b)).shape[0], (T.dot(a, b) + 1).shape, T.tanh(a).shape[-1] * 2])
    assert not {"Dot", "Elemwise{exp}", "Elemwise{tanh}"} & set(kinds(f)), kinds(f)
    r0, r1, r2 = f(np.ones((3, 4)), np.ones((4, 5)))
    assert r0 == 3 and list(r1) == [3, 5] and r2 == 8
    g = kiln.function([a], T.mean(T.exp(a)))  # the count uses a's shape, not exp(a)'s
    np.testing.assert_allclose(g(np.zeros((2, 3))), 1.0)


def test_runtime_shape_errors_still_raise_after_shape_rewrites():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = kiln.function([a, b], (a + b).shape)
    with pytest.raises(ValueError):
        f(np.ones((2, 3)), np.ones((4, 3)))


CONST34 = T.constant(np.ones((3, 4)))


@pytest.mark.parametrize("build, shapes", [
    # sizes learned from folded constant arithmetic
    (lambda x: T.alloc(0.0, CONST34.shape[0] + 2, 4) + T.ones((3, 4)), r"\(5, 4\).*\(3, 4\)"),
    (lambda x: T.dot(T.zeros((T.constant(2) + 3,)), T.ones((4,))), r"\(5,\).*\(4,\)"),
    # sizes propagated through a reshape to a later node
    (lambda x: x.reshape((CONST34.shape[0] * 2, 2)) + T.ones((5, 2)), r"\(6, 2\).*\(5, 2\)"),
])
@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_static_shape_mismatch_raises_at_compile_time(build, shapes, mode):
    x = T.dmatrix("x")
    out = build(x)
    with pytest.raises(ValueError, match=r"known at compile time") as info:
        kiln.function([x], out, on_unused_input="ignore", mode=mode)
    message = str(info.value)
    assert __import__("re").search(shapes, message), message
    assert f"built at {__file__}:{build.__code__.co_firstlineno}" in message, message  # the user's line


def test_static_shape_check_keeps_broadcasting_and_matching_sizes():
    x = T.dmatrix("x")
    f = kiln.function([x], [T.alloc(0.0, CONST34.shape[0], 4) + T.ones((1, 4)) + x,
                            x.reshape((CONST34.shape[0] * 2, 2)) + T.ones((6, 1))])
    a, b = f(np.ones((3, 4)))
    np.testing.assert_array_equal(a, np.full((3, 4), 2.0))
    np.testing.assert_array_equal(b, np.full((6, 2), 2.0))


def test_profile_optimizer_reports_time_and_node_change(capsys):
    with kiln.config.change_flags(profile_optimizer=True):
        kiln.function([X], T.log(1 + X) + X ** 2)
    out = capsys.readouterr().out
    assert "rewrite profile" in out and "log1p" in out and "pow_2" in out and "applied" in out


def test_inplace_reuses_dead_intermediates_and_never_touches_inputs_or_shared_values():
    w = kiln.shared(np.arange(4.0), name="w")
    x = T.dvector("x")
    f = kiln.function([x], T.exp(x * 2.0) + w, updates=[(w, w * 3.0 + x)])
    # The exp writes into its dead argument; the update writes into w itself (fused or not).
    assert any("inplace" in n.op.name for n in f.nodes()), [n.op.name for n in f.nodes()]
    xv = np.array([0.0, 1.0, -1.0, 2.0])
    keep = xv.copy()
    out = f(xv)
    np.testing.assert_allclose(out, np.exp(keep * 2) + np.arange(4.0))
    np.testing.assert_array_equal(xv, keep)  # the caller's array is untouched
    np.testing.assert_allclose(w.get_value(), np.arange(4.0) * 3 + keep)
    out2 = f(xv)
    np.testing.assert_allclose(out2, np.exp(keep * 2) + np.arange(4.0) * 3 + keep)
    np.testing.assert_array_equal(xv, keep)
    assert out[0] == np.exp(0.0) + 0.0  # earlier results are not overwritten by later calls


def test_inplace_does_not_destroy_values_read_twice_or_views():
    x = T.dvector("x")
    y = T.exp(x)
    f = kiln.function([x], [y + 1, y * 2, y.dimshuffle("x", 0) + 3])
    xv = np.array([0.5, 1.5])
    a, b, c = f(xv)
    np.testing.assert_allclose(a, np.exp(xv) + 1)
    np.testing.assert_allclose(b, np.exp(xv) * 2)
    np.testing.assert_allclose(c, (np.exp(xv) + 3)[None])


def test_gradient_of_log_sigmoid_is_finite_at_large_inputs():
    g = G.grad(T.sum(T.log(T.nnet.sigmoid(X))), X)
    f = kiln.function([X], g)
    xv = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    import scipy.special as sp
    np.testing.assert_allclose(f(xv), sp.expit(-xv), atol=1e-300)  # d/dx log(sigmoid(x)) = sigmoid(-x)
    assert np.isfinite(f(xv)).all()


def test_store_ops_write_into_dead_inputs_only():
    x = T.dvector("x")
    y = T.dscalar("y")
    f = kiln.function([x, y], [T.inc_subtensor((x * 2)[1:], y), T.set_subtensor(x[[0, 2]], y)])
    names = [n.op.name for n in f.nodes()]
    assert any(n.startswith("IncSubtensor") and n.endswith(";inplace}") for n in names), names
    assert not any(n.startswith("AdvancedIncSubtensor") and "inplace" in n for n in names), names  # x is the caller's
    xv = np.array([1.0, 2.0, 3.0])
    a, b = f(xv, 10.0)
    np.testing.assert_allclose(a, [2.0, 14.0, 16.0])
    np.testing.assert_allclose(b, [10.0, 2.0, 10.0])
    np.testing.assert_array_equal(xv, [1.0, 2.0, 3.0])
    g = G.grad(T.sum(x[[0, 0, 2]] ** 2), x)
    h = kiln.function([x], g)
    assert any("inplace" in n.op.name and "AdvancedIncSubtensor" in n.op.name for n in h.nodes())
    np.testing.assert_allclose(h(xv), [4.0, 0.0, 6.0])


def test_constants_collected_and_useless_reshape_alloc_removed():
    m = T.dmatrix("m")
    f = kiln.function([X, m], [2.0 * (3.0 * X), (X + 1.0) + 2.0, m.reshape(m.shape) * 2, T.alloc(m, m.shape[0], m.shape[1]) + 1])
    got = kinds(f)
    assert got.count("Elemwise{mul}") == 2 and got.count("Elemwise{add}") == 2, got
    assert "Reshape" not in got and "Alloc" not in got, got
    xv, mv = np.array([1.0, 2.0]), np.arange(6.0).reshape(2, 3)
    a, b, c, d = f(xv, mv)
    np.testing.assert_allclose(a, 6 * xv)
    np.testing.assert_allclose(b, xv + 3)
    np.testing.assert_allclose(c, 2 * mv)
    np.testing.assert_allclose(d, mv + 1)


def test_collected_integer_literals_are_combined_in_the_result_dtype():
    s = T.dscalar("s")
    y = s
    for _ in range(300):
        y = y + 1  # int8 literals: their sum must not wrap at 127
    assert kiln.function([s], y)(0.0) == 300.0
    b = T.bscalar("b")
    z = (b + 100) + 100  # int8 arithmetic wraps the same way in either order
    assert kiln.function([b], z)(np.int8(0)) == kiln.function([b], z, mode="NONE")(np.int8(0))


@pytest.mark.parametrize("pattern,axis", [((1, 0), 0), ((1, 0), 1), ((1, "x", 0), (0, 1)), (("x", 0, 1), 0),
                                          ((1, 0), None), (("x", 1, 0), (1, 2))])
def test_sum_of_dimshuffle_reduces_the_input_directly(pattern, axis):
    m = T.dmatrix("m")
    expr = m.dimshuffle(*pattern).sum(axis=axis)
    fast, plain = compile_both([m], expr)
    mv = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(fast(mv), plain(mv))
    assert fast(mv).shape == plain(mv).shape
    sums = [n for n in fast.nodes() if n.op.kind == "Sum"]
    assert all(n.inputs[0].owner is None or n.inputs[0].owner.op.kind != "DimShuffle" for n in sums)
