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


# ---------------------------------------------------------------- gemv and ger

TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-12, atol=1e-12)}

GEMV_FORMS = {  # name -> (expression of y, a, A, x, its numpy reference)
    "y + dot(A, x)": (lambda y, a, m, x: y + T.dot(m, x), lambda y, a, m, x: y + m @ x),
    "y - a*dot(A, x)": (lambda y, a, m, x: y - a * T.dot(m, x), lambda y, a, m, x: y - a * (m @ x)),
    "a*y + dot(x, A.T)": (lambda y, a, m, x: a * y + T.dot(x, m.T), lambda y, a, m, x: a * y + x @ m.T),
    "dot(A, x) - y": (lambda y, a, m, x: T.dot(m, x) - y, lambda y, a, m, x: m @ x - y),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", sorted(GEMV_FORMS))
@pytest.mark.parametrize("shape", [(5, 4), (1, 7), (6, 0)])
def test_matrix_vector_product_with_scale_and_add_becomes_gemv(form, dtype, shape):
    build, reference = GEMV_FORMS[form]
    rng = np.random.default_rng(4)
    yv, mv, xv = rand(rng, shape[0], dtype), rand(rng, shape, dtype), rand(rng, shape[1], dtype)
    av = np.asarray(-0.7, dtype=dtype)
    y, m, x, a = T.vector("y", dtype), T.matrix("A", dtype), T.vector("x", dtype), T.scalar("a", dtype)
    f = kiln.function([y, a, m, x], build(y, a, m, x), on_unused_input="ignore")
    assert "Gemv{no_inplace}" in kinds(f) and "Dot" not in kinds(f), kinds(f)
    kept = yv.copy()
    out = f(yv, av, mv, xv)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, reference(yv, av, mv, xv), **TOL[dtype])
    np.testing.assert_array_equal(yv, kept)


GER_FORMS = {  # name -> (expression of A, a, x, y, its numpy reference)
    "A + outer": (lambda m, a, x, y: m + T.outer(x, y), lambda m, a, x, y: m + np.outer(x, y)),
    "A - a*outer": (lambda m, a, x, y: m - a * T.outer(x, y), lambda m, a, x, y: m - a * np.outer(x, y)),
    "A + dot(col, row)": (lambda m, a, x, y: m + T.dot(x.dimshuffle(0, "x"), y.dimshuffle("x", 0)),
                          lambda m, a, x, y: m + np.outer(x, y)),
    "A + a*x[:,None]*y[None,:]": (lambda m, a, x, y: m + a * x[:, None] * y[None, :],
                                  lambda m, a, x, y: m + a * np.outer(x, y)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", sorted(GER_FORMS))
def test_rank_one_update_becomes_ger(form, dtype):
    build, reference = GER_FORMS[form]
    rng = np.random.default_rng(5)
    mv, xv, yv = rand(rng, (4, 3), dtype), rand(rng, 4, dtype), rand(rng, 3, dtype)
    av = np.asarray(1.3, dtype=dtype)
    m, a, x, y = T.matrix("A", dtype), T.scalar("a", dtype), T.vector("x", dtype), T.vector("y", dtype)
    f = kiln.function([m, a, x, y], build(m, a, x, y), on_unused_input="ignore")
    assert "Ger{non-destructive}" in kinds(f) and not any(k.startswith(("Dot", "Gemm")) for k in kinds(f)), kinds(f)
    kept = mv.copy()
    np.testing.assert_allclose(f(mv, av, xv, yv), reference(mv, av, xv, yv), **TOL[dtype])
    np.testing.assert_array_equal(mv, kept)


def test_gemv_and_ger_accumulate_into_dead_intermediates_and_shared_updates():
    rng = np.random.default_rng(6)
    mv, xv, yv = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3)
    m, x, y = T.dmatrix("A"), T.dvector("x"), T.dvector("y")
    f = kiln.function([m, x, y], [T.exp(y) + T.dot(m, x), T.exp(m) + T.outer(y, x)])
    assert "Gemv{inplace}" in kinds(f) and "Ger{destructive}" in kinds(f), kinds(f)
    kept = [v.copy() for v in (mv, xv, yv)]
    v1, v2 = f(mv, xv, yv)
    np.testing.assert_allclose(v1, np.exp(yv) + mv @ xv, rtol=1e-12)
    np.testing.assert_allclose(v2, np.exp(mv) + np.outer(yv, xv), rtol=1e-12)
    for before, after in zip(kept, (mv, xv, yv)):
        np.testing.assert_array_equal(before, after)
    # inputs themselves are never destroyed
    g = kiln.function([m, x, y], [y + T.dot(m, x), m + T.outer(y, x)])
    assert "Gemv{no_inplace}" in kinds(g) and "Ger{non-destructive}" in kinds(g), kinds(g)
    # updates of shared variables are written into their buffers
    b, w = kiln.shared(np.zeros(3), name="b"), kiln.shared(np.zeros((3, 4)), name="w")
    step = kiln.function([m, x, y], [], updates=[(b, b - 0.5 * T.dot(m, x)), (w, w + 0.1 * T.outer(y, x))])
    assert "Gemv{inplace}" in kinds(step) and "Ger{destructive}" in kinds(step), kinds(step)
    alias = w.get_value(borrow=True)
    step(mv, xv, yv)
    step(mv, xv, yv)
    np.testing.assert_allclose(b.get_value(), -(mv @ xv), rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), 0.2 * np.outer(yv, xv), rtol=1e-12)
    assert np.shares_memory(alias, w.get_value(borrow=True))
    # an output reading the old value keeps the update out of place
    h = kiln.function([x, y], w, updates=[(w, w + T.outer(y, x))])
    assert "Ger{destructive}" not in kinds(h)


def test_gemv_and_ger_direct_calls_on_strided_operands():
    rng = np.random.default_rng(7)
    base = rng.standard_normal((8, 10))
    y, m, x = T.dvector("y"), T.dmatrix("A"), T.dvector("x")
    f = kiln.function([y, m, x], T.blas.gemv_no_inplace(y, 2.0, m, x, 0.5))
    for mv, xv, yv in [(base[:4, :6], base[5, :6], base[6, :4]), (base[::2, ::2].T, base[::-1, 0][:4], base[0, ::2])]:
        np.testing.assert_allclose(f(yv, mv, xv), 0.5 * yv + 2 * mv @ xv, rtol=1e-12)
    np.testing.assert_allclose(f(np.full(3, np.nan), np.ones((3, 2)), np.ones(2)) * 0, np.full(3, np.nan) * 0)
    g = kiln.function([y, m, x], T.blas.gemv_no_inplace(y, 2.0, m, x, 0.0))  # beta 0: y is not read
    np.testing.assert_allclose(g(np.full(3, np.nan), np.ones((3, 2)), np.ones(2)), np.full(3, 4.0))
    h = kiln.function([m, x, y], T.blas.ger(m, -1.5, x, y))
    for mv, xv, yv in [(base[:4, :6], base[5, :4], base[6, :6]), (base[::2, ::2].T, base[0, :5], base[::-2, 1])]:
        np.testing.assert_allclose(h(mv, xv, yv), mv - 1.5 * np.outer(xv, yv), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 7), (5, 9), (13, 17), (100, 100), (255, 257), (257, 256), (1, 70000)])
def test_level2_kernels_on_both_sides_of_the_small_size_threshold(dtype, rows, cols):
    """Products of up to 2**16 matrix elements run on kiln's own single-threaded kernels, larger ones
    on OpenBLAS: both agree with numpy for every remainder of the vector width, both orientations,
    strided vectors, and alpha/beta, and beta 0 ignores NaN in y."""
    rng = np.random.default_rng(rows * 1000 + cols)
    tol = dict(rtol=2e-5, atol=2e-5 * np.sqrt(cols)) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    a = rng.standard_normal((rows, cols)).astype(dtype)
    x_rows, x_cols = rng.standard_normal(2 * rows).astype(dtype)[::2], rng.standard_normal(2 * cols).astype(dtype)[::2]
    y, m, x = T.vector("y", dtype), T.matrix("A", dtype), T.vector("x", dtype)
    gemv = kiln.function([y, m, x], T.blas.gemv_no_inplace(y, 1.5, m, x, -0.5))
    zero_beta = kiln.function([y, m, x], T.blas.gemv_no_inplace(y, 1.5, m, x, 0.0))
    dot = kiln.function([m, x], T.dot(x, m))
    for matrix, vector, out_len in [(a, x_cols, rows), (a.T, x_rows, cols)]:
        y_value = rng.standard_normal(out_len).astype(dtype)
        np.testing.assert_allclose(gemv(y_value, matrix, vector), -0.5 * y_value + 1.5 * (matrix @ vector), **tol)
        np.testing.assert_allclose(zero_beta(np.full(out_len, np.nan, dtype), matrix, vector), 1.5 * (matrix @ vector), **tol)
    np.testing.assert_allclose(dot(a, x_rows), x_rows @ a, **tol)
    ger = kiln.function([m, x, y], T.blas.ger(m, -1.5, x, y))
    np.testing.assert_allclose(ger(a, x_rows, x_cols), a - 1.5 * np.outer(x_rows, x_cols), **tol)


def test_gemv_and_ger_bad_inputs_name_the_op_and_the_input():
    y, m, x = T.dvector("y"), T.dmatrix("A"), T.dvector("x")
    with pytest.raises(TypeError, match=r"Gemv: x \(M\) must have 1 dimensions"):
        T.blas.gemv_no_inplace(y, 1.0, m, T.dmatrix("M"), 1.0)
    with pytest.raises(TypeError, match=r"Gemv: A .* must be float64 like y"):
        T.blas.gemv_no_inplace(y, 1.0, T.fmatrix("Af"), x, 1.0)
    with pytest.raises(TypeError, match=r"Ger: A \(iA\) must be float32 or float64"):
        T.blas.ger(T.imatrix("iA"), 1, T.ivector(), T.ivector())
    f = kiln.function([y, m, x], T.blas.gemv_no_inplace(y, 1.0, m, x, 1.0))
    with pytest.raises(ValueError, match=r"Gemv: shapes of A \(3, 4\) and x \(5,\) are not aligned: 4 != 5"):
        f(np.ones(3), np.ones((3, 4)), np.ones(5))
    with pytest.raises(ValueError, match=r"Gemv: y of shape \(2,\) does not match the product's shape \(3,\)"):
        f(np.ones(2), np.ones((3, 4)), np.ones(4))
    g = kiln.function([m, x, y], T.blas.ger(m, 1.0, x, y))
    with pytest.raises(ValueError, match=r"Ger: A of shape \(3, 4\) does not match the product's shape \(3, 5\)"):
        g(np.ones((3, 4)), np.ones(3), np.ones(5))


def test_blas_updates_under_debug_mode():
    rng = np.random.default_rng(8)
    mv, xv, yv, zv = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3), rng.standard_normal((4, 2))
    m, x, y, z = T.dmatrix("A"), T.dvector("x"), T.dvector("y"), T.dmatrix("z")
    outs = [2 * y + T.dot(m, x), m * 2 + T.outer(y, x), T.tanh(T.dot(m, z) + 1), T.batched_dot(m[None], z[None]),
            T.einsum("ij,jk->ik", m, z), T.tensordot(m, z, 1)]
    f = kiln.function([m, x, y, z], outs, mode="DebugMode")
    refs = [2 * yv + mv @ xv, 2 * mv + np.outer(yv, xv), np.tanh(mv @ zv + 1), (mv @ zv)[None], mv @ zv, mv @ zv]
    for out, ref in zip(f(mv, xv, yv, zv), refs):
        np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_plain_dot_is_one_blas_call_per_product():
    # matrix-vector products go to gemv inside Dot (no gemm with one column): the values on
    # strided and reversed operands check the increments passed.
    rng = np.random.default_rng(9)
    base = rng.standard_normal((9, 9)).astype("float32")
    m, v = T.fmatrix("m"), T.fvector("v")
    f = kiln.function([m, v], [T.dot(m, v), T.dot(v, m)])
    for mv, vv in [(base[::2, 1:6], base[0, ::-2][:5]), (base.T[:5, :5], base[1:6, 3])]:
        a, b = f(mv, vv)
        np.testing.assert_allclose(a, mv @ vv, rtol=1e-5)
        np.testing.assert_allclose(b, vv @ mv, rtol=1e-5)
