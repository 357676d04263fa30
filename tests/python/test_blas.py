"""dot / matmul / outer against numpy for float and integer dtypes and strided operands."""
import numpy as np
import pytest

import kiln
import kiln.tensor as T


def typed(value):
    return T.tensor(value.dtype.name, shape=(None,) * value.ndim)


SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((0, 4), (4, 5)), ((3, 0), (0, 5)),
          ((3, 4), (4, 0))]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8"])
@pytest.mark.parametrize("shapes", SHAPES)
def test_dot_matches_numpy(dtype, shapes):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shapes[0]) * 3).astype(dtype)
    b = (rng.standard_normal(shapes[1]) * 3).astype(dtype)
    x, y = typed(a), typed(b)
    out = kiln.function([x, y], T.dot(x, y))(a, b)
    expected = np.dot(a, b)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == "float32" else 1e-12)


def test_dot_on_transposed_sliced_and_reversed_operands():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((10, 12))
    x, y = T.dmatrix(), T.dmatrix()
    f = kiln.function([x, y], T.dot(x, y))
    for a, b in [(base[:4, :6].T, base[:4, 6:]), (base[::2, ::3], base[:4, ::-1]), (base[::-1, :5].T, base[:10, 1::2])]:
        np.testing.assert_allclose(f(a, b), a @ b)
    v = T.dvector()
    g = kiln.function([x, v], [T.dot(x, v), T.dot(v, x.T)])
    for a, vec in [(base[:, ::2], base[0, :6]), (base.T, base[::-1, 0])]:
        mv, vm = g(a, vec)
        np.testing.assert_allclose(mv, a @ vec)
        np.testing.assert_allclose(vm, vec @ a.T)


def test_mixed_dtypes_and_scalars():
    f32, f64 = T.fmatrix(), T.dmatrix()
    assert T.dot(f32, f64).dtype == "float64"
    assert T.dot(T.imatrix(), T.fmatrix()).dtype == "float64"
    s = T.dscalar()
    out = kiln.function([s, f64], T.dot(s, f64))(np.array(2.0), np.ones((2, 2)))
    np.testing.assert_allclose(out, np.full((2, 2), 2.0))


def test_dot_shape_mismatch_names_op_shapes_and_line():
    x, w = T.dmatrix("x"), T.dmatrix("w")
    y = T.dot(x, w)  # reported line
    f = kiln.function([x, w], y)
    with pytest.raises(ValueError) as info:
        f(np.ones((3, 4)), np.ones((5, 2)))
    message = str(info.value)
    assert "Dot" in message and "(3, 4)" in message and "(5, 2)" in message and "4 != 5" in message
    assert "test_blas.py" in message


def test_outer_and_matmul_and_method():
    a, b = np.arange(3.0), np.arange(4.0)
    x, y = T.dvector(), T.dvector()
    o = kiln.function([x, y], T.outer(x, y))(a, b)
    np.testing.assert_allclose(o, np.outer(a, b))
    m = T.dmatrix()
    mv = np.arange(12.0).reshape(3, 4)
    r1, r2 = kiln.function([m, y], [m @ y, m.dot(y)])(mv, b)
    np.testing.assert_allclose(r1, mv @ b)
    np.testing.assert_allclose(r2, mv @ b)


def test_dot_of_higher_rank_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="more than 2"):
        T.dot(T.tensor3(), T.dmatrix())


# ---------------------------------------------------------------- gemm and the blas rewrites

def kinds(f):
    return [node.op.name for node in f.nodes()]


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


GEMM_FORMS = {  # name -> (expression of z, a, x, y, its numpy reference)
    "z + dot": (lambda z, a, x, y: z + T.dot(x, y), lambda z, a, x, y: z + x @ y),
    "dot + z": (lambda z, a, x, y: T.dot(x, y) + z, lambda z, a, x, y: x @ y + z),
    "z - a*dot": (lambda z, a, x, y: z - a * T.dot(x, y), lambda z, a, x, y: z - a * (x @ y)),
    "dot*a + z": (lambda z, a, x, y: T.dot(x, y) * a + z, lambda z, a, x, y: (x @ y) * a + z),
    "dot - z": (lambda z, a, x, y: T.dot(x, y) - z, lambda z, a, x, y: x @ y - z),
    "a*z - 0.5*dot": (lambda z, a, x, y: a * z - 0.5 * T.dot(x, y), lambda z, a, x, y: a * z - 0.5 * (x @ y)),
    "bias row + dot": (lambda z, a, x, y: T.dot(x, y) + z[0], lambda z, a, x, y: x @ y + z[0]),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", sorted(GEMM_FORMS))
def test_dot_scale_and_add_become_one_gemm(form, dtype):
    build, reference = GEMM_FORMS[form]
    rng = np.random.default_rng(0)
    zv, xv, yv = rand(rng, (5, 3), dtype), rand(rng, (5, 4), dtype), rand(rng, (4, 3), dtype)
    av = np.asarray(1.7, dtype=dtype)
    z, x, y = T.matrix("z", dtype), T.matrix("x", dtype), T.matrix("y", dtype)
    a = T.scalar("a", dtype)
    f = kiln.function([z, a, x, y], build(z, a, x, y), on_unused_input="ignore")
    assert any(k.startswith("Gemm") for k in kinds(f)) and "Dot" not in kinds(f), kinds(f)
    out = f(zv, av, xv, yv)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, reference(zv, av, xv, yv), rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)
    # the caller's arrays are never written, although Gemm may accumulate into a dead z
    np.testing.assert_array_equal(zv, rand(np.random.default_rng(0), (5, 3), dtype))


def test_gemm_is_not_introduced_when_the_product_has_other_readers_or_dtypes_differ():
    x, y, z = T.dmatrix("x"), T.dmatrix("y"), T.dmatrix("z")
    p = T.dot(x, y)
    f = kiln.function([x, y, z], [p + z, p])
    assert "Dot" in kinds(f) and not any(k.startswith("Gemm") for k in kinds(f))
    zf = T.fmatrix("zf")
    g = kiln.function([x, y, zf], T.dot(x, y) + zf)  # float64 product, float32 z: stays an add
    assert not any(k.startswith("Gemm") for k in kinds(g))


def test_mlp_layer_compiles_to_gemm():
    x, w, b = T.fmatrix("x"), T.fmatrix("w"), T.fvector("b")
    f = kiln.function([x, w, b], T.tanh(T.dot(x, w) + b))
    assert "Gemm{no_inplace}" in kinds(f) and "Dot" not in kinds(f)


def test_gemm_no_inplace_direct_call_beta_zero_ignores_nan_in_z():
    rng = np.random.default_rng(1)
    xv, yv = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    z, x, y = T.dmatrix("z"), T.dmatrix("x"), T.dmatrix("y")
    f = kiln.function([z, x, y], T.blas.gemm_no_inplace(z, 2.0, x, y, 0.0))
    np.testing.assert_allclose(f(np.full((3, 2), np.nan), xv, yv), 2 * xv @ yv, rtol=1e-12)
    # empty inner dimension: beta * z only
    g = kiln.function([z, x, y], T.blas.gemm_no_inplace(z, 2.0, x, y, 3.0))
    np.testing.assert_allclose(g(np.ones((3, 2)), np.ones((3, 0)), np.ones((0, 2))), np.full((3, 2), 3.0))


def test_gemm_bad_inputs_name_the_op_and_the_input():
    z, x, y = T.dmatrix("z"), T.dmatrix("x"), T.dmatrix("y")
    with pytest.raises(TypeError, match=r"Gemm: x \(v\) must have 2 dimensions"):
        T.blas.gemm_no_inplace(z, 1.0, T.dvector("v"), y, 1.0)
    with pytest.raises(TypeError, match=r"Gemm: y .* must be float64 like z"):
        T.blas.gemm_no_inplace(z, 1.0, x, T.fmatrix("yf"), 1.0)
    f = kiln.function([z, x, y], T.blas.gemm_no_inplace(z, 1.0, x, y, 1.0))
    with pytest.raises(ValueError, match=r"Gemm: shapes of x \(3, 4\) and y \(5, 2\) are not aligned"):
        f(np.ones((3, 2)), np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"Gemm: z of shape \(1, 2\) does not match the product's shape \(3, 2\)"):
        f(np.ones((1, 2)), np.ones((3, 4)), np.ones((4, 2)))


# ---------------------------------------------------------------- updates written in place

def sgd_setup(dtype="float64"):
    rng = np.random.default_rng(2)
    wv, av, bv = rand(rng, (4, 3), dtype), rand(rng, (4, 5), dtype), rand(rng, (5, 3), dtype)
    w = kiln.shared(wv.copy(), name="w")
    a, b = T.matrix("a", dtype), T.matrix("b", dtype)
    return w, a, b, wv, av, bv


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_update_accumulates_into_the_shared_buffer(dtype):
    w, a, b, wv, av, bv = sgd_setup(dtype)
    step = kiln.function([a, b], [], updates=[(w, w - 0.1 * T.dot(a, b))])
    assert "Gemm{inplace}" in kinds(step), kinds(step)
    alias = w.get_value(borrow=True)
    expected = wv.copy()
    for _ in range(3):
        step(av, bv)
        expected = expected - np.asarray(0.1, dtype) * (av @ bv)
    np.testing.assert_allclose(w.get_value(), expected, rtol=1e-5 if dtype == "float32" else 1e-12)
    # Theano's borrow contract: a borrowed value is the shared storage itself, updated in place.
    assert np.shares_memory(alias, w.get_value(borrow=True))
    np.testing.assert_array_equal(alias, w.get_value())


def test_elementwise_update_of_a_shared_vector_is_in_place():
    b = kiln.shared(np.zeros(4), name="b")
    g = T.dvector("g")
    step = kiln.function([g], [], updates=[(b, b - 0.5 * g)])
    assert any("inplace" in k for k in kinds(step)), kinds(step)
    step(np.ones(4))
    step(np.ones(4))
    np.testing.assert_array_equal(b.get_value(), np.full(4, -1.0))


def test_outputs_see_the_old_value_so_the_update_is_not_in_place():
    w, a, b, wv, av, bv = sgd_setup()
    f = kiln.function([a, b], [w, w.T], updates=[(w, w - T.dot(a, b))])
    assert "Gemm{inplace}" not in kinds(f)
    old, old_t = f(av, bv)
    np.testing.assert_array_equal(old, wv)
    np.testing.assert_array_equal(old_t, wv.T)
    np.testing.assert_allclose(w.get_value(), wv - av @ bv, rtol=1e-12)


def test_updates_reading_each_others_targets_use_the_old_values():
    rng = np.random.default_rng(3)
    wv, vv = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    w, v = kiln.shared(wv.copy()), kiln.shared(vv.copy())
    a = T.dmatrix("a")
    av = rng.standard_normal((3, 3))
    f = kiln.function([a], [], updates=[(w, w - T.dot(a, v)), (v, v - T.dot(a, w))])
    assert kinds(f).count("Gemm{inplace}") <= 1  # at most one may run last without reading the other's target
    f(av)
    np.testing.assert_allclose(w.get_value(), wv - av @ vv, rtol=1e-12)
    np.testing.assert_allclose(v.get_value(), vv - av @ wv, rtol=1e-12)


def test_update_reading_its_target_twice_is_correct():
    w = kiln.shared(np.arange(9.0).reshape(3, 3))
    f = kiln.function([], [], updates=[(w, w - 0.1 * T.dot(w, w))])
    ref = np.arange(9.0).reshape(3, 3)
    f()
    np.testing.assert_allclose(w.get_value(), ref - 0.1 * ref @ ref, rtol=1e-12)
    f2 = kiln.function([], [], updates=[(w, w - w.T)])  # a view of the target: never in place
    before = w.get_value()
    f2()
    np.testing.assert_allclose(w.get_value(), before - before.T, rtol=1e-12)


def test_calls_updating_in_place_from_threads_take_turns():
    import threading
    w = kiln.shared(np.zeros((8, 8)))
    ones = np.ones((8, 8))
    a = T.dmatrix("a")
    step = kiln.function([a], [], updates=[(w, w + T.dot(a, a))])
    assert "Gemm{inplace}" in kinds(step)

    def work():
        for _ in range(50):
            step(ones)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(w.get_value(), np.full((8, 8), 200 * 8.0))
