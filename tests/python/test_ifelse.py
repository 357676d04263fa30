"""Lazy ifelse: values against numpy for both branches, proof that the branch not taken does not
run (it would raise), nesting, gradients (verify_grad), Rop, shapes, rewrites and errors, on
generated kernels and on the interpreter."""
import warnings

import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln import gradient as G
from kiln.ifelse import ifelse
from rewrite_util import kinds

RNG = np.random.default_rng(0)


@pytest.fixture(params=["compiled", "interpreter"])
def backend(request):
    """Run each test with generated kernels and with the interpreter (config.cxx='')."""
    if request.param == "compiled":
        yield request.param
        return
    with kiln.config.change_flags(cxx=""), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*code generation is disabled.*")
        yield request.param


def test_values_match_numpy_for_both_branches(backend):
    a, b = T.dscalar("a"), T.dscalar("b")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    z = ifelse(T.lt(a, b), T.mean(x) * 2, T.exp(y).sum())
    f = kiln.function([a, b, x, y], z)
    xv, yv = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 5))
    np.testing.assert_allclose(f(1.0, 2.0, xv, yv), xv.mean() * 2)
    np.testing.assert_allclose(f(2.0, 1.0, xv, yv), np.exp(yv).sum())


def test_branches_of_different_shapes_and_lists(backend):
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dvector("y")
    out = ifelse(c, [x * 2, x.sum()], (y[:2], y.max()))
    assert isinstance(out, list) and len(out) == 2
    assert isinstance(ifelse(c, (x,), (y,)), tuple)
    f = kiln.function([c, x, y], out)
    xv, yv = np.arange(3.0), np.arange(5.0) + 10
    v, s = f(1, xv, yv)
    np.testing.assert_array_equal(v, xv * 2)
    assert s == xv.sum()
    v, s = f(0, xv, yv)
    np.testing.assert_array_equal(v, yv[:2])
    assert s == yv.max()


def out_of_range(x, i):
    """x[i]: raises IndexError when the function runs with i out of range."""
    return x[i] * 3


def test_branch_not_taken_does_not_run(backend):
    c, i = T.iscalar("c"), T.lscalar("i")
    x = T.dvector("x")
    f = kiln.function([c, x, i], ifelse(c, out_of_range(x, i), x.sum()))
    xv = np.arange(4.0)
    assert f(0, xv, 100) == xv.sum()  # x[100] is never computed
    with pytest.raises(IndexError):
        f(1, xv, 100)
    assert f(1, xv, 2) == 6.0
    g = kiln.function([c, x, i], ifelse(c, x.sum(), out_of_range(x, i)))
    assert g(1, xv, 100) == xv.sum()
    with pytest.raises(IndexError):
        g(0, xv, 100)


def test_branch_not_taken_does_not_run_in_debug_mode():
    # DebugMode's reference function (mode NONE) runs lazily too.
    c, i = T.iscalar("c"), T.lscalar("i")
    x = T.dvector("x")
    f = kiln.function([c, x, i], ifelse(c, out_of_range(x, i), T.exp(x).sum()), mode="DebugMode")
    xv = np.arange(4.0)
    np.testing.assert_allclose(f(0, xv, 100), np.exp(xv).sum())
    assert f(1, xv, 1) == 3.0
    with pytest.raises(IndexError):
        f(1, xv, 100)


def test_nested_ifelse_runs_only_the_path_taken(backend):
    c1, c2, i = T.iscalar("c1"), T.iscalar("c2"), T.lscalar("i")
    x = T.dvector("x")
    inner = ifelse(c2, out_of_range(x, i), x.max())
    outer = ifelse(c1, inner, out_of_range(x, i + 1))
    f = kiln.function([c1, c2, x, i], outer)
    xv = np.arange(4.0)
    assert f(1, 0, xv, 100) == 3.0            # neither x[100] nor x[101]
    assert f(1, 1, xv, 2) == 6.0
    assert f(0, 1, xv, 2) == 9.0              # x[3], and not x[2] through the inner ifelse
    assert f(0, 0, xv, 2) == 9.0
    with pytest.raises(IndexError):
        f(1, 1, xv, 100)
    with pytest.raises(IndexError):
        f(0, 0, xv, 100)


def test_condition_inside_a_branch(backend):
    # The inner condition is itself computed only in the outer then branch.
    c, i = T.iscalar("c"), T.lscalar("i")
    x = T.dvector("x")
    inner = ifelse(T.gt(out_of_range(x, i), 5), x.sum(), x.min())
    f = kiln.function([c, x, i], ifelse(c, inner, x.max()))
    xv = np.arange(4.0)
    assert f(0, xv, 100) == 3.0
    assert f(1, xv, 2) == 6.0
    assert f(1, xv, 1) == 0.0


def test_value_needed_by_both_branches_and_by_an_output(backend):
    c = T.iscalar("c")
    x = T.dvector("x")
    shared_term = T.exp(x)
    f = kiln.function([c, x], [ifelse(c, shared_term.sum(), shared_term.max()), ifelse(c, x * 2, shared_term)])
    xv = np.array([0.5, -1.0, 2.0])
    s, v = f(1, xv)
    np.testing.assert_allclose(s, np.exp(xv).sum())
    np.testing.assert_allclose(v, xv * 2)
    s, v = f(0, xv)
    np.testing.assert_allclose(s, np.exp(xv).max())
    np.testing.assert_allclose(v, np.exp(xv))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "float32", "float64", "bool"])
def test_condition_of_any_numeric_dtype(dtype):
    c = T.scalar("c", dtype=dtype)
    x = T.dvector("x")
    f = kiln.function([c, x], ifelse(c, x + 1, x - 1))
    xv = np.arange(3.0)
    np.testing.assert_array_equal(f(np.asarray(1, dtype=dtype), xv), xv + 1)
    np.testing.assert_array_equal(f(np.asarray(0, dtype=dtype), xv), xv - 1)


def test_nan_condition_is_true_as_in_numpy():
    c = T.dscalar("c")
    f = kiln.function([c], ifelse(c, T.constant(1.0), T.constant(2.0)))
    assert f(np.nan) == 1.0 and f(0.0) == 2.0 and f(-0.5) == 1.0


def test_python_values_in_a_branch_take_the_other_branch_dtype():
    c = T.iscalar("c")
    x = T.fvector("x")
    out = ifelse(c, x, np.zeros(3))
    assert out.dtype == "float32"
    f = kiln.function([c, x], out)
    np.testing.assert_array_equal(f(0, np.ones(3, dtype="float32")), np.zeros(3, dtype="float32"))


def test_errors_name_ifelse_and_what_was_expected():
    c, x, y = T.iscalar("c"), T.dvector("x"), T.dvector("y")
    with pytest.raises(TypeError, match="ifelse: the condition must be a scalar"):
        ifelse(x, x, y)
    with pytest.raises(ValueError, match="ifelse: the then branch has 2 variables but the else branch has 1"):
        ifelse(c, [x, y], [y])
    with pytest.raises(TypeError, match="identical types.*float32"):
        ifelse(c, x, T.fvector("z"))
    with pytest.raises(TypeError, match="identical types.*matrix"):
        ifelse(c, x, T.dmatrix("m"))


def test_output_keeps_the_static_sizes_both_branches_agree_on():
    c = T.iscalar("c")
    a = T.tensor("float64", shape=(3, 4))
    b = T.tensor("float64", shape=(3, 5))
    assert ifelse(c, a, b).type.shape == (3, None)
    assert ifelse(c, a, a * 2).type.shape == (3, 4)


def test_infer_shape_chooses_the_sizes_lazily(backend):
    c, i = T.iscalar("c"), T.lscalar("i")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    out = ifelse(c, x, y)
    shape = kiln._core.infer_shape(out)
    assert shape is not None
    f = kiln.function([c, x, y], T.stack(shape))
    xv, yv = np.zeros((2, 3)), np.zeros((4, 5))
    np.testing.assert_array_equal(f(1, xv, yv), [2, 3])
    np.testing.assert_array_equal(f(0, xv, yv), [4, 5])
    # out.shape in a compiled function: the shape rewrites may use infer_shape.
    g = kiln.function([c, x, y], out.shape)
    np.testing.assert_array_equal(g(1, xv, yv), [2, 3])
    np.testing.assert_array_equal(g(0, xv, yv), [4, 5])


@pytest.mark.parametrize("cond", [1, 0])
def test_verify_grad_through_each_branch(cond):
    def fun(a, b):
        return ifelse(T.constant(cond, dtype="int8") + 0 * T.cast(T.sum(a), "int8"), T.tanh(a) * b, a - b ** 2)

    pt = [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))]
    G.verify_grad(fun, pt, rng=np.random.default_rng(1))


def test_gradient_goes_to_the_branch_taken_only(backend):
    c = T.iscalar("c")
    x, y = T.dvector("x"), T.dvector("y")
    cost = ifelse(c, (x ** 2).sum(), (3 * y).sum())
    gx, gy = G.grad(cost, [x, y])
    f = kiln.function([c, x, y], [gx, gy])
    xv, yv = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    gxv, gyv = f(1, xv, yv)
    np.testing.assert_allclose(gxv, 2 * xv)
    np.testing.assert_array_equal(gyv, [0.0, 0.0])
    gxv, gyv = f(0, xv, yv)
    np.testing.assert_array_equal(gxv, [0.0, 0.0])
    np.testing.assert_allclose(gyv, [3.0, 3.0])


def test_rop_matches_finite_differences(backend):
    c = T.iscalar("c")
    x, v = T.dvector("x"), T.dvector("v")
    out = ifelse(c, T.sin(x) * 2, x ** 3)
    f = kiln.function([c, x, v], G.Rop(out, x, v))
    value = kiln.function([c, x], out)
    xv, vv, eps = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0]), 1e-6
    for cv in (1, 0):
        numeric = (value(cv, xv + eps * vv) - value(cv, xv - eps * vv)) / (2 * eps)
        np.testing.assert_allclose(f(cv, xv, vv), numeric, rtol=1e-6, atol=1e-8)


def test_constant_condition_is_rewritten_to_the_branch():
    x, y = T.dvector("x"), T.dvector("y")
    f = kiln.function([x, y], ifelse(1, x * 2, y * 3), on_unused_input="ignore")
    assert "IfElse" not in kinds(f)
    np.testing.assert_array_equal(f(np.ones(2), np.ones(2)), [2.0, 2.0])
    g = kiln.function([x, y], ifelse(T.constant(0), x * 2, y * 3), on_unused_input="ignore")
    assert "IfElse" not in kinds(g)
    np.testing.assert_array_equal(g(np.ones(2), np.ones(2)), [3.0, 3.0])


def test_same_branches_are_rewritten_to_the_branch():
    c, x = T.iscalar("c"), T.dvector("x")
    e = T.exp(x)
    f = kiln.function([c, x], ifelse(c, e, e), on_unused_input="ignore")
    assert "IfElse" not in kinds(f)
    np.testing.assert_allclose(f(0, np.zeros(2)), [1.0, 1.0])
    g = kiln.function([c, x], ifelse(c, e, e), mode="NONE")
    assert kinds(g).count("IfElse") == 1


def test_ifelse_in_an_update():
    c = T.iscalar("c")
    counter = kiln.shared(np.float64(0.0), "counter")
    f = kiln.function([c], counter, updates=[(counter, ifelse(c, counter + 1, counter - 10))])
    f(1)
    f(1)
    assert counter.get_value() == 2.0
    f(0)
    assert counter.get_value() == -8.0


def test_switch_stays_elementwise_and_eager():
    c = T.dvector("c")
    x = T.dvector("x")
    f = kiln.function([c, x], T.switch(c, T.log(x), x), mode="NONE")
    assert "IfElse" not in kinds(f) and "Elemwise{switch}" in kinds(f)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(f(np.array([0.0, 1.0]), np.array([-1.0, np.e])), [-1.0, 1.0])
