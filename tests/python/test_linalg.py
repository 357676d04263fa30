"""kiln.tensor.nlinalg / slinalg against numpy and scipy: values over shapes, dtypes and strided
inputs, gradients (verify_grad) of every option, infer_shape, errors, and DebugMode."""
import numpy as np
import pytest
import scipy.linalg as sl

import kiln
import kiln.tensor as T
from kiln import gradient as G
from kiln import _core
from op_table import lower_triangular, separated_spd, spd, well_conditioned
from test_infer_shape import check as check_infer_shape

DTYPES = ["float32", "float64"]


def tol(dtype):
    # LAPACK in float32 loses a few digits more than one elementwise op; cond(a) is kept small.
    return dict(rtol=2e-4, atol=2e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)


def sym(dtype, ndim=2):
    return T.tensor(dtype, shape=(None,) * ndim)


def run(build, *values):
    """build(*symbolic inputs) evaluated on `values` (their dtypes and ranks give the inputs)."""
    inputs = [sym(v.dtype.name, v.ndim) for v in values]
    out = build(*inputs)
    return kiln.function(inputs, out)(*values)


def gen(make, dtype, seed=0):
    return make(np.random.default_rng(seed)).astype(dtype)


def strided(a):
    """The same values as a non-contiguous, Fortran-ordered view."""
    big = np.zeros((a.shape[1], 2 * a.shape[0]), dtype=a.dtype)
    big[:, ::2] = a.T
    return big[:, ::2].T


# ---------------------------------------------------------------- values

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 3, 6])
def test_inverse_det_slogdet(dtype, n):
    a = gen(well_conditioned(n) if n else lambda rng: np.zeros((0, 0)), dtype)
    for value in [a, strided(a)] if n else [a]:
        inv, d, sign, logdet = run(lambda x: [T.nlinalg.matrix_inverse(x), T.nlinalg.det(x), *T.nlinalg.slogdet(x)],
                                     value)
        assert inv.dtype == dtype and d.dtype == dtype and inv.shape == (n, n)
        np.testing.assert_allclose(inv, np.linalg.inv(a.astype("float64")), **tol(dtype))
        np.testing.assert_allclose(d, np.linalg.det(a.astype("float64")), **tol(dtype))
        ref_sign, ref_logdet = np.linalg.slogdet(a.astype("float64"))
        assert sign == ref_sign
        np.testing.assert_allclose(logdet, ref_logdet, **tol(dtype))


def test_det_sign_follows_row_swaps():
    a = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -2.0]])
    assert run(T.nlinalg.det, a) == pytest.approx(2.0)
    assert run(lambda x: T.nlinalg.slogdet(x)[0], a) == 1.0


def test_singular_matrices_follow_numpy():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert run(T.nlinalg.det, singular) == 0.0
    sign, logdet = run(lambda x: list(T.nlinalg.slogdet(x)), singular)
    assert sign == 0.0 and logdet == -np.inf
    x = T.dmatrix("x")
    f = kiln.function([x], T.nlinalg.matrix_inverse(x))
    with pytest.raises(np.linalg.LinAlgError, match=r"(?s)MatrixInverse: the matrix is singular.*built at .*test_linalg.py"):
        f(singular)
    with pytest.raises(ValueError):  # LinAlgError is a ValueError, as numpy's
        f(singular)
    assert kiln.LinAlgError is np.linalg.LinAlgError


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_and_eigvalsh(dtype, uplo):
    a = gen(separated_spd(5), dtype)
    # only the named triangle is read: garbage in the other must not matter
    scrambled = np.tril(a) + np.triu(np.full_like(a, 7), 1) if uplo == "L" else np.triu(a) + np.tril(np.full_like(a, 7), -1)
    w, v, values = run(lambda x: [*T.nlinalg.eigh(x, uplo), T.slinalg.eigvalsh(x, lower=uplo == "L")], strided(scrambled))
    np.testing.assert_allclose(w, np.linalg.eigvalsh(a.astype("float64")), **tol(dtype))
    np.testing.assert_allclose(values, w, **tol(dtype))
    np.testing.assert_allclose(v @ np.diag(w) @ v.T, a, **tol(dtype))
    np.testing.assert_allclose(v.T @ v, np.eye(5), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_generalized_eigvalsh(dtype):
    a, b = gen(separated_spd(4), dtype), gen(spd(4), dtype, 1)
    for lower in [True, False]:
        out = run(lambda x, y: T.slinalg.eigvalsh(x, y, lower=lower), a, b)
        np.testing.assert_allclose(out, sl.eigvalsh(a.astype("float64"), b.astype("float64")), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_eig_of_a_matrix_with_real_eigenvalues(dtype):
    rng = np.random.default_rng(3)
    p = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    a = (p @ np.diag([1.0, -2.0, 3.0, 5.0]) @ np.linalg.inv(p)).astype(dtype)
    w, v = run(lambda x: list(T.nlinalg.eig(x)), a)
    np.testing.assert_allclose(np.sort(w), [-2, 1, 3, 5], **tol(dtype) if dtype == "float64" else dict(rtol=1e-3, atol=1e-3))
    np.testing.assert_allclose(a @ v, v * w, rtol=1e-3, atol=1e-3 if dtype == "float32" else 1e-10)
    np.testing.assert_allclose(np.linalg.norm(v, axis=0), 1, **tol(dtype))


def test_eig_with_complex_eigenvalues_is_a_linalg_error():
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(np.linalg.LinAlgError, match="Eig: eigenvalue 0 is complex.*no complex dtype"):
        run(lambda x: T.nlinalg.eig(x)[0], rotation)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (0, 3)])
@pytest.mark.parametrize("full", [True, False])
def test_svd(dtype, shape, full):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    u, s, vt = run(lambda x: list(T.nlinalg.svd(x, full_matrices=full)), a.T.copy().T)
    ru, rs, rvt = np.linalg.svd(a.astype("float64"), full_matrices=full)
    assert (u.shape, s.shape, vt.shape) == (ru.shape, rs.shape, rvt.shape)
    np.testing.assert_allclose(s, rs, **tol(dtype))
    k = len(s)
    np.testing.assert_allclose((u[:, :k] * s) @ vt[:k], a, **tol(dtype))
    np.testing.assert_allclose(u.T @ u, np.eye(u.shape[1]), **tol(dtype))
    np.testing.assert_allclose(vt @ vt.T, np.eye(vt.shape[0]), **tol(dtype))
    np.testing.assert_allclose(run(lambda x: T.nlinalg.svd(x, compute_uv=False), a), rs, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (0, 2), (3, 0)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr(dtype, shape, mode):
    a = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    out = run(lambda x: T.nlinalg.qr(x, mode), strided(a) if a.size else a)
    ref = np.linalg.qr(a.astype("float64"), mode)
    if mode == "r":
        out, ref = (None, out), (None, ref)
    q, r = out
    assert r.shape == ref[1].shape and np.allclose(np.tril(r, -1), 0)
    np.testing.assert_allclose(np.abs(r), np.abs(ref[1]), **tol(dtype))  # unique up to row signs
    if mode != "r":
        assert q.shape == ref[0].shape
        np.testing.assert_allclose(q @ r, a, **tol(dtype))
        np.testing.assert_allclose(q.T @ q, np.eye(q.shape[1]), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_pinv_including_rank_deficient(dtype, shape):
    rng = np.random.default_rng(2)
    a = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(run(T.nlinalg.pinv, a), np.linalg.pinv(a.astype("float64")), **tol(dtype))
    if dtype == "float64":  # numpy's cutoff, 1e-15 * max(s), is below float32's rounding: as numpy, no rank test
        low_rank = rng.standard_normal((shape[0], 1)) @ rng.standard_normal((1, shape[1]))
        np.testing.assert_allclose(run(T.nlinalg.pinv, low_rank), np.linalg.pinv(low_rank), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_cholesky_reads_one_triangle(dtype, lower):
    a = gen(spd(5), dtype)
    garbage = np.tril(a) + np.triu(np.full_like(a, np.nan), 1) if lower else np.triu(a) + np.tril(np.full_like(a, np.nan), -1)
    out = run(lambda x: T.slinalg.cholesky(x, lower=lower), strided(garbage))
    np.testing.assert_allclose(out, sl.cholesky(a.astype("float64"), lower=lower), **tol(dtype))
    assert np.all((np.triu(out, 1) if lower else np.tril(out, -1)) == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("assume_a", ["gen", "sym", "her", "pos"])
@pytest.mark.parametrize("b_shape", [(4,), (4, 3)])
def test_solve(dtype, assume_a, b_shape):
    rng = np.random.default_rng(4)
    a = gen(spd(4) if assume_a != "gen" else well_conditioned(4), dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    for lower in [False, True]:
        out = run(lambda x, y: T.slinalg.solve(x, y, assume_a=assume_a, lower=lower), strided(a), b)
        assert out.shape == b_shape and out.dtype == dtype
        np.testing.assert_allclose(out, np.linalg.solve(a.astype("float64"), b.astype("float64")), **tol(dtype))
    transposed = run(lambda x, y: T.slinalg.solve(x, y, transposed=True), a, b)
    np.testing.assert_allclose(transposed, np.linalg.solve(a.T.astype("float64"), b.astype("float64")), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1, "T"])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(dtype, lower, trans, unit):
    rng = np.random.default_rng(5)
    a = gen(lower_triangular(4), dtype)
    a = a if lower else a.T.copy()
    b = rng.standard_normal((4, 2)).astype(dtype)
    out = run(lambda x, y: T.slinalg.solve_triangular(x, y, trans=trans, lower=lower, unit_diagonal=unit), a, b)
    ref = sl.solve_triangular(a.astype("float64"), b.astype("float64"), trans=trans, lower=lower, unit_diagonal=unit)
    np.testing.assert_allclose(out, ref, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_cho_solve(dtype, lower):
    a = gen(spd(4), dtype)
    c = sl.cholesky(a, lower=lower).astype(dtype)
    b = np.random.default_rng(6).standard_normal(4).astype(dtype)
    out = run(lambda x, y: T.slinalg.cho_solve((x, lower), y), c, b)
    np.testing.assert_allclose(out, np.linalg.solve(a.astype("float64"), b.astype("float64")), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 3, 6])
@pytest.mark.parametrize("scale", [1e-3, 0.1, 0.5, 1.5, 4.0, 60.0])  # every Padé degree, and squarings
def test_expm(dtype, n, scale):
    a = np.random.default_rng(n).standard_normal((n, n))
    a = (scale * a / max(1.0, np.abs(a).sum(axis=0).max(initial=0))).astype(dtype)  # 1-norm: scale
    out = run(T.slinalg.expm, strided(a))
    expected = sl.expm(a.astype("float64"))
    assert out.dtype == dtype and out.shape == (n, n)
    # Relative to the largest entry: entries much smaller than it come from cancellation. The float64
    # bound is scipy's own error: at scale 60, n = 3 it is 1.6e-12 against a 50-digit mpmath expm
    # (kiln's is 8.5e-15).
    error = np.abs(out - expected).max(initial=0)
    assert error <= (1e-5 if dtype == "float32" else 1e-11) * np.abs(expected).max(initial=0), error


def test_expm_of_known_matrices():
    # exp of a diagonal matrix, of a nilpotent one (I + N), of a rotation generator.
    x = T.dmatrix("x")
    f = kiln.function([x], T.slinalg.expm(x))
    # -30 takes three squarings, each doubling the relative error of the tiny entry: ~150 ulps.
    np.testing.assert_allclose(f(np.diag([0.0, 1.0, -30.0])), np.diag(np.exp([0.0, 1.0, -30.0])), rtol=1e-13)
    np.testing.assert_allclose(f(np.array([[0.0, 2.0], [0.0, 0.0]])), [[1.0, 2.0], [0.0, 1.0]], rtol=1e-15)
    t = 2.5
    np.testing.assert_allclose(f(np.array([[0.0, -t], [t, 0.0]])),
                               [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], rtol=1e-13, atol=1e-15)


def test_expm_errors_and_debug_mode():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match=r"Expm: input 0 .* must be a square matrix"):
        T.slinalg.expm(T.tensor("float64", shape=(2, 3)))
    f = kiln.function([x], T.slinalg.expm(x))
    with pytest.raises(ValueError, match=r"Expm.*must be a square matrix, got shape \(2, 3\)"):
        f(np.ones((2, 3)))
    with pytest.raises(np.linalg.LinAlgError, match="Expm: input A contains NaN or infinity"):
        f(np.array([[np.nan]]))
    cost = T.sum(T.slinalg.expm(x) * T.arange(9.0).reshape((3, 3)))
    outputs = [T.slinalg.expm(x), G.grad(cost, x)]
    xv = np.random.default_rng(3).standard_normal((3, 3)) * 3
    fast = kiln.function([x], outputs)(xv)
    debug = kiln.function([x], outputs, mode="DebugMode")(xv)
    for a, b in zip(fast, debug):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 3), (3, 5), (4, 4), (5, 1)])
@pytest.mark.parametrize("b_cols", [None, 2])
def test_lstsq(dtype, shape, b_cols):
    rng = np.random.default_rng(shape[0] * 10 + shape[1])
    a = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape[:1] + ((b_cols,) if b_cols else ())).astype(dtype)
    x, residuals, rank, s = run(lambda p, q: T.nlinalg.lstsq(p, q), strided(a), b)
    want = np.linalg.lstsq(a.astype("float64"), b.astype("float64"), rcond=np.finfo(dtype).eps * max(shape))
    assert x.dtype == dtype and residuals.dtype == dtype and s.dtype == dtype
    for got, expected in zip([x, residuals, rank, s], want):
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_allclose(got, expected, **tol(dtype))


@pytest.mark.parametrize("rcond", [None, -1, 1e-8])
def test_lstsq_of_a_rank_deficient_matrix_is_the_minimum_norm_solution(rcond):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 4))  # rank 2
    b = rng.standard_normal((6, 3))
    x, residuals, rank, s = run(lambda p, q: T.nlinalg.lstsq(p, q, rcond), a, b)
    np.testing.assert_allclose(x, np.linalg.pinv(a) @ b, rtol=1e-9, atol=1e-12)
    assert rank == 2 and residuals.shape == (0,)  # numpy gives no residuals below full column rank
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-12, atol=1e-14)
    # An rcond above the second singular value's ratio keeps only the first.
    x1, _, rank1, _ = run(lambda p, q: T.nlinalg.lstsq(p, q, 0.99 * s[1] / s[0] + 0.01), a, b)
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    assert rank1 == 1
    np.testing.assert_allclose(x1, np.outer(vt[0], u[:, 0] @ b) / sv[0], rtol=1e-9, atol=1e-12)


def test_lstsq_errors_and_debug_mode():
    with pytest.raises(TypeError, match="lstsq: a must be a matrix"):
        T.nlinalg.lstsq(T.dvector(), T.dvector())
    with pytest.raises(TypeError, match="lstsq: b must be a vector or a matrix"):
        T.nlinalg.lstsq(T.dmatrix(), T.dtensor3())
    a, b = T.dmatrix("a"), T.dmatrix("b")
    x, residuals, rank, s = T.nlinalg.lstsq(a, b)
    outputs = [x, residuals, rank, s, *G.grad(T.sum(x * x) + T.sum(residuals), [a, b])]
    av, bv = gen(well_conditioned(5, 3), "float64"), np.arange(10.0).reshape(5, 2)
    fast = kiln.function([a, b], outputs)(av, bv)
    debug = kiln.function([a, b], outputs, mode="DebugMode")(av, bv)
    for p, q in zip(fast, debug):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-12)


def test_theano_solver_names():
    a, b = gen(lower_triangular(3), "float64"), np.arange(3.0)
    np.testing.assert_allclose(run(T.slinalg.solve_lower_triangular, a, b), np.linalg.solve(a, b))
    np.testing.assert_allclose(run(T.slinalg.solve_upper_triangular, a.T.copy(), b), np.linalg.solve(a.T, b))
    s = gen(spd(3), "float64")
    np.testing.assert_allclose(run(T.slinalg.solve_symmetric, s, b), np.linalg.solve(s, b))


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
def test_diagonals_and_triangles(dtype):
    rng = np.random.default_rng(7)
    m = (rng.standard_normal((4, 6)) * 3).astype(dtype)
    t3 = (rng.standard_normal((2, 3, 4)) * 3).astype(dtype)
    v = (rng.standard_normal(3) * 3).astype(dtype)
    for k in [-5, -2, 0, 1, 3, 7]:
        np.testing.assert_array_equal(run(lambda x: T.diag(x, k), m), np.diag(m, k))
        np.testing.assert_array_equal(run(lambda x: T.diag(x, k), v), np.diag(v, k))
        np.testing.assert_array_equal(run(lambda x: T.tril(x, k), m), np.tril(m, k))
        np.testing.assert_array_equal(run(lambda x: T.triu(x, k), m), np.triu(m, k))
    for k, a1, a2 in [(0, 0, 1), (1, 2, 0), (-1, -1, 1), (0, 0, 2)]:
        np.testing.assert_array_equal(run(lambda x: T.diagonal(x, k, a1, a2), t3), np.diagonal(t3, k, a1, a2))
        np.testing.assert_array_equal(run(lambda x: x.trace(k, a1, a2), t3), np.trace(t3, k, a1, a2))
    np.testing.assert_array_equal(run(lambda x: T.alloc_diag(x, -1), t3), np.stack([[np.diag(r, -1) for r in b] for b in t3]))
    np.testing.assert_array_equal(run(T.nlinalg.trace, m), np.trace(m))
    np.testing.assert_array_equal(run(lambda x: x.diagonal(1), m), m.diagonal(1))


@pytest.mark.parametrize("shapes", [((2, 3), (3, 2)), ((3,), (4,)), ((2,), (3, 2)), ((2, 1, 2), (3, 2)), ((), (3,))])
def test_kron(shapes):
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    np.testing.assert_allclose(run(T.slinalg.kron, a, b), np.kron(a, b))


@pytest.mark.parametrize("n", [0, 1, 2, 5, -1, -3])
def test_matrix_power_and_matrix_dot(n):
    a = gen(well_conditioned(3), "float64")
    np.testing.assert_allclose(run(lambda x: T.nlinalg.matrix_power(x, n), a), np.linalg.matrix_power(a, n), rtol=1e-10)
    b, c = a * 2, a.T
    np.testing.assert_allclose(run(lambda x, y, z: T.nlinalg.matrix_dot(x, y, z), a, b, c), a @ b @ c, rtol=1e-12)


VECTOR_ORDS = [None, 2, 1, 0, 3, 0.5, np.inf, -np.inf, -1]  # -1 last: 1/0 for the vector with a zero
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("dtype", DTYPES)
def test_norm(dtype):
    rng = np.random.default_rng(9)
    v, m, t = (rng.standard_normal(s).astype(dtype) for s in [(5,), (4, 3), (2, 3, 4)])
    v[1] = 0
    for ord in VECTOR_ORDS[:-1]:
        np.testing.assert_allclose(run(lambda x: T.nlinalg.norm(x, ord), v), np.linalg.norm(v, ord), **tol(dtype))
        np.testing.assert_allclose(run(lambda x: T.nlinalg.norm(x, ord, axis=1, keepdims=True), t),
                                   np.linalg.norm(t, ord, axis=1, keepdims=True), **tol(dtype))
    for ord in MATRIX_ORDS:
        np.testing.assert_allclose(run(lambda x: T.nlinalg.norm(x, ord), m), np.linalg.norm(m, ord), **tol(dtype))
        if ord not in ("nuc", 2, -2):
            np.testing.assert_allclose(run(lambda x: T.nlinalg.norm(x, ord, axis=(2, 0)), t),
                                       np.linalg.norm(t, ord, axis=(2, 0)), **tol(dtype))
    np.testing.assert_allclose(run(T.nlinalg.norm, t), np.linalg.norm(t), **tol(dtype))
    np.testing.assert_allclose(run(lambda x: T.nlinalg.norm(x, -1), v + 1), np.linalg.norm(v + 1, -1), **tol(dtype))


def test_integer_inputs_become_float64_as_in_numpy():
    a = np.array([[2, 1], [1, 3]], dtype="int32")
    x = T.imatrix()
    for build, ref in [(T.nlinalg.matrix_inverse, np.linalg.inv), (T.nlinalg.det, np.linalg.det),
                       (lambda y: T.slinalg.cholesky(y), np.linalg.cholesky), (T.nlinalg.norm, np.linalg.norm)]:
        out = build(x)
        assert out.dtype == "float64"
        np.testing.assert_allclose(kiln.function([x], out)(a), ref(a))
    assert T.slinalg.solve(T.fmatrix(), T.dvector()).dtype == "float64"


# ---------------------------------------------------------------- gradients

def _eigh_upper(a):
    w, v = T.nlinalg.eigh(a, "U")
    return v * w


GRADS = {  # name -> (function, input generators)
    "inverse": (T.nlinalg.matrix_inverse, [well_conditioned(4)]),
    "det": (T.nlinalg.det, [well_conditioned(4)]),
    "logdet": (lambda a: T.nlinalg.slogdet(a)[1], [well_conditioned(4)]),
    "eigh_values": (lambda a: T.nlinalg.eigh(a)[0], [spd(4)]),
    "eigh_vectors_upper": (_eigh_upper, [separated_spd(4)]),
    "eigvalsh_generalized": (T.slinalg.eigvalsh, [separated_spd(3), spd(3)]),
    "eigvalsh_upper": (lambda a: T.slinalg.eigvalsh(a, None, lower=False), [separated_spd(3)]),
    "svd_values": (lambda a: T.nlinalg.svd(a, compute_uv=False), [well_conditioned(4, 3)]),
    "svd_u_wide": (lambda a: T.nlinalg.svd(a, full_matrices=False)[0], [well_conditioned(3, 4)]),
    "svd_vt_tall": (lambda a: T.nlinalg.svd(a, full_matrices=False)[2], [well_conditioned(4, 3)]),
    "svd_full_square": (lambda a: T.dot(T.nlinalg.svd(a)[0], T.nlinalg.svd(a)[2]), [well_conditioned(3)]),
    "svd_full_values_only": (lambda a: T.nlinalg.svd(a)[1], [well_conditioned(4, 2)]),
    "pinv_wide": (T.nlinalg.pinv, [well_conditioned(2, 4)]),
    "qr_q_wide": (lambda a: T.nlinalg.qr(a)[0], [well_conditioned(3, 5)]),
    "qr_r_tall": (lambda a: T.nlinalg.qr(a)[1], [well_conditioned(5, 3)]),
    "qr_complete_wide": (lambda a: T.dot(*T.nlinalg.qr(a, "complete")), [well_conditioned(2, 4)]),
    "qr_complete_tall_r": (lambda a: T.nlinalg.qr(a, "complete")[1], [well_conditioned(4, 2)]),
    "cholesky_upper": (lambda a: T.slinalg.cholesky(a, lower=False), [spd(4)]),
    "solve_vector": (T.slinalg.solve, [well_conditioned(4), lambda rng: rng.standard_normal(4)]),
    "solve_sym_lower": (lambda a, b: T.slinalg.solve(a, b, assume_a="sym", lower=True),
                        [spd(3), lambda rng: rng.standard_normal((3, 2))]),
    "solve_pos_upper": (lambda a, b: T.slinalg.solve(a, b, assume_a="pos"), [spd(3), lambda rng: rng.standard_normal((3, 2))]),
    "solve_triangular_upper_trans_unit": (
        lambda a, b: T.slinalg.solve_triangular(a, b, trans=1, lower=False, unit_diagonal=True),
        [lambda rng: lower_triangular(3)(rng).T, lambda rng: rng.standard_normal(3)]),
    "cho_solve_upper": (lambda c, b: T.slinalg.cho_solve((c, False), b),
                        [lambda rng: lower_triangular(3)(rng).T, lambda rng: rng.standard_normal((3, 2))]),
    "diagonal_3d": (lambda t: T.diagonal(t, 1, 2, 0), [lambda rng: rng.standard_normal((3, 2, 4))]),
    "alloc_diag_batched": (lambda v: T.alloc_diag(v, 2), [lambda rng: rng.standard_normal((2, 3))]),
    "tril_triu": (lambda m: T.tril(m, 1) * 2 + T.triu(m, -1), [lambda rng: rng.standard_normal((3, 4))]),
    "matrix_power_negative": (lambda a: T.nlinalg.matrix_power(a, -2), [well_conditioned(3)]),
    "expm_scaled_and_squared": (T.slinalg.expm, [lambda rng: rng.standard_normal((4, 4)) * 3]),
    "expm_small": (T.slinalg.expm, [lambda rng: rng.standard_normal((3, 3)) * 0.01]),
    "lstsq_x_tall": (lambda a, b: T.nlinalg.lstsq(a, b)[0], [well_conditioned(5, 3), lambda rng: rng.standard_normal((5, 2))]),
    "lstsq_x_wide_vector": (lambda a, b: T.nlinalg.lstsq(a, b)[0], [well_conditioned(3, 4), lambda rng: rng.standard_normal(3)]),
    "lstsq_residuals": (lambda a, b: T.nlinalg.lstsq(a, b)[1], [well_conditioned(5, 3), lambda rng: rng.standard_normal((5, 2))]),
    "kron_vector_matrix": (T.slinalg.kron, [lambda rng: rng.standard_normal(2), lambda rng: rng.standard_normal((2, 3))]),
}
for _ord in ["fro", "nuc", 2, -2, 1, np.inf]:
    GRADS[f"matrix_norm_{_ord}"] = (lambda m, o=_ord: T.nlinalg.norm(m, o), [well_conditioned(4, 3)])
for _ord in [None, 1, 3, np.inf]:
    GRADS[f"vector_norm_{_ord}"] = (lambda v, o=_ord: T.nlinalg.norm(v, o, axis=0), [lambda rng: rng.uniform(0.5, 2, (4, 2))])


@pytest.mark.parametrize("name", sorted(GRADS))
def test_verify_grad(name):
    fun, gens = GRADS[name]
    rng = np.random.default_rng(11)
    G.verify_grad(fun, [g(rng) for g in gens], rng=np.random.default_rng(0))


def test_complete_q_gradient_of_a_tall_matrix_is_refused_at_run_time():
    x = T.dmatrix("x")
    g = G.grad(T.sum(T.nlinalg.qr(x, "complete")[0]), x)
    f = kiln.function([x], g)
    with pytest.raises(ValueError, match="mode='complete' is differentiable only when rows <= columns"):
        f(np.random.default_rng(0).standard_normal((4, 2)))
    f(np.random.default_rng(0).standard_normal((2, 4)))  # defined for wide matrices


def test_full_svd_vectors_gradient_needs_a_square_matrix():
    x = T.dmatrix("x")
    f = kiln.function([x], G.grad(T.sum(T.nlinalg.svd(x)[0]), x))
    with pytest.raises(ValueError, match="differentiable only for a square matrix"):
        f(np.ones((3, 2)))


def test_eig_has_no_gradient():
    x = T.dmatrix("x")
    with pytest.raises(NotImplementedError, match="Eig"):
        G.grad(T.sum(T.nlinalg.eig(x)[0]), x)


def test_eigenvalue_gradient_of_repeated_eigenvalues_is_finite():
    # Only the eigenvalues reach the cost: no division by the (zero) gaps.
    x = T.dmatrix("x")
    g = kiln.function([x], G.grad(T.sum(T.nlinalg.eigh(x)[0] ** 2), x))(np.eye(3) * 2)
    np.testing.assert_allclose(g, np.eye(3) * 4)


# ---------------------------------------------------------------- infer_shape

SQUARE, TALL, WIDE, VEC = T.dmatrix("square"), T.dmatrix("tall"), T.dmatrix("wide"), T.dvector("vec")
VALUES = [gen(spd(4), "float64"), np.ones((5, 3)), np.ones((3, 5)), np.ones(4)]

SHAPE_CASES = {
    "inverse": lambda: T.nlinalg.matrix_inverse(SQUARE),
    "det": lambda: T.nlinalg.det(SQUARE),
    "slogdet": lambda: T.nlinalg.slogdet(SQUARE)[1],
    "slogdet_sign": lambda: T.nlinalg.slogdet(SQUARE)[0],
    "eig_w": lambda: T.nlinalg.eig(SQUARE)[0],
    "eigvalsh_generalized": lambda: T.slinalg.eigvalsh(SQUARE, T.dot(SQUARE, SQUARE.T)),
    "eigh_w": lambda: T.nlinalg.eigh(SQUARE)[0],
    "eigh_v": lambda: T.nlinalg.eigh(SQUARE)[1],
    "eig_v": lambda: T.nlinalg.eig(SQUARE)[1],
    "cholesky": lambda: T.slinalg.cholesky(SQUARE),
    "expm": lambda: T.slinalg.expm(SQUARE),
    "lstsq_x": lambda: T.nlinalg.lstsq(TALL, TALL[:, 0])[0],
    "lstsq_residuals_tall": lambda: T.nlinalg.lstsq(TALL, TALL[:, :2] + 1)[1],
    "lstsq_residuals_wide": lambda: T.nlinalg.lstsq(WIDE, WIDE[:, 0])[1],
    "expm_grad": lambda: G.grad(T.sum(T.slinalg.expm(SQUARE)), SQUARE),
    "solve_vector": lambda: T.slinalg.solve(SQUARE, VEC),
    "solve_matrix": lambda: T.slinalg.solve_triangular(SQUARE, T.dot(SQUARE, TALL[:4])),
    "cho_solve": lambda: T.slinalg.cho_solve((SQUARE, True), VEC),
    "pinv": lambda: T.nlinalg.pinv(TALL),
    "extract_diag": lambda: T.diag(WIDE, 2),
    "extract_diag_negative": lambda: T.diag(WIDE, -1),
    "alloc_diag": lambda: T.diag(VEC, -2),
}
for _shape_name, _m in [("tall", TALL), ("wide", WIDE)]:
    for _i, _full in enumerate([True, False]):
        for _o in range(3):
            SHAPE_CASES[f"svd_{_shape_name}_{_full}_{_o}"] = lambda m=_m, f=_full, o=_o: T.nlinalg.svd(m, f)[o]
    SHAPE_CASES[f"svd_values_{_shape_name}"] = lambda m=_m: T.nlinalg.svd(m, compute_uv=False)
    for _mode in ["reduced", "complete"]:
        for _o in range(2):
            SHAPE_CASES[f"qr_{_shape_name}_{_mode}_{_o}"] = lambda m=_m, md=_mode, o=_o: T.nlinalg.qr(m, md)[o]
    SHAPE_CASES[f"qr_r_{_shape_name}"] = lambda m=_m: T.nlinalg.qr(m, "r")


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_infer_shape(name):
    check_infer_shape([SQUARE, TALL, WIDE, VEC], SHAPE_CASES[name](), VALUES)


def test_static_shapes_flow_through():
    a = T.tensor("float64", shape=(3, None))
    assert T.nlinalg.matrix_inverse(a).type.shape == (3, 3)
    assert T.nlinalg.svd(T.tensor("float32", shape=(5, 2)), full_matrices=False)[0].type.shape == (5, 2)
    assert T.nlinalg.qr(T.tensor("float64", shape=(2, 6)), "r").type.shape == (2, 6)
    assert T.diag(T.tensor("float64", shape=(4, 6)), 3).type.shape == (3,)


# ---------------------------------------------------------------- errors

def test_bad_ranks_and_dtypes_name_the_op_and_input():
    with pytest.raises(TypeError, match=r"MatrixInverse: input 0 \(a, v\) must be a matrix"):
        T.nlinalg.matrix_inverse(T.dvector("v"))
    with pytest.raises(TypeError, match="Solve.*input 1 .*must be a vector or a matrix"):
        T.slinalg.solve(T.dmatrix(), T.dtensor3())
    with pytest.raises(TypeError, match="Cholesky.*must be a matrix"):
        T.slinalg.cholesky(T.dtensor3())
    with pytest.raises(TypeError, match=r"extract_diag: input \(v\) must have at least 2 dimensions"):
        T.extract_diag(T.dvector("v"))
    for x in [T.dscalar(), T.dtensor3()]:
        with pytest.raises(ValueError, match="diag: input .* must be a vector or a matrix"):  # numpy: ValueError
            T.diag(x)
    with pytest.raises(TypeError, match="complex64"):
        T.nlinalg.det(T.tensor("complex64", shape=(None, None)))


def test_non_square_matrices():
    with pytest.raises(ValueError, match=r"Det: input 0 .* must be a square matrix, got static shape"):
        T.nlinalg.det(T.tensor("float64", shape=(2, 3)))
    with pytest.raises(ValueError, match="different numbers of rows"):
        T.slinalg.solve(T.tensor("float64", shape=(3, 3)), T.tensor("float64", shape=(4,)))
    x = T.dmatrix("x")
    for build in [T.nlinalg.matrix_inverse, T.nlinalg.det, lambda a: T.nlinalg.eigh(a)[0], T.slinalg.cholesky]:
        f = kiln.function([x], build(x))
        with pytest.raises(ValueError, match=r"must be a square matrix, got shape \(2, 3\)"):
            f(np.ones((2, 3)))
    b = T.dvector("b")
    f = kiln.function([x, b], T.slinalg.solve(x, b))
    with pytest.raises(ValueError, match=r"Solve.*\(3, 3\).*\(2,\) have different numbers of rows"):
        f(np.eye(3), np.ones(2))


def test_values_without_an_answer_raise_linalg_errors():
    x, b = T.dmatrix("x"), T.dvector("b")
    not_pd = np.array([[1.0, 2.0], [2.0, 1.0]])
    cases = [
        (T.slinalg.cholesky(x), [not_pd], "Cholesky.*not positive definite"),
        (T.slinalg.solve(x, b), [np.ones((2, 2)), np.ones(2)], "Solve.*singular"),
        (T.slinalg.solve(x, b, assume_a="pos"), [not_pd, np.ones(2)], "not positive definite"),
        (T.slinalg.solve_triangular(x, b), [np.array([[1.0, 1.0], [0.0, 0.0]]), np.ones(2)], "diagonal element 1 is zero"),
        (T.slinalg.cho_solve((x, True), b), [np.zeros((2, 2)), np.ones(2)], "CholeskySolve.*singular"),
        (T.nlinalg.eigh(x)[0], [np.array([[np.nan, 0.0], [0.0, 1.0]])], "Eigh.*NaN or infinity"),
        (T.nlinalg.svd(x)[1], [np.array([[np.inf, 0.0]])], "SVD.*NaN or infinity"),
        (T.nlinalg.pinv(x), [np.array([[np.nan]])], "NaN or infinity"),
    ]
    for out, values, message in cases:
        inputs = [x, b][:len(values)]
        with pytest.raises(np.linalg.LinAlgError, match=message):
            kiln.function(inputs, out)(*values)


def test_bad_options():
    x = T.dmatrix()
    with pytest.raises(ValueError, match="qr: mode must be"):
        T.nlinalg.qr(x, "raw")
    with pytest.raises(ValueError, match="assume_a must be"):
        T.slinalg.solve(x, T.dvector(), assume_a="banded")
    with pytest.raises(ValueError, match="UPLO"):
        T.nlinalg.eigh(x, "X")
    with pytest.raises(ValueError, match="trans"):
        T.slinalg.solve_triangular(x, T.dvector(), trans=3)
    with pytest.raises(ValueError, match="invalid order 3"):
        T.nlinalg.norm(x, 3)
    with pytest.raises(ValueError, match="'fro' is for matrices"):
        T.nlinalg.norm(T.dvector(), "fro")
    with pytest.raises(ValueError, match="invalid order 'max'"):
        T.nlinalg.norm(x, "max")
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        T.diagonal(x, 0, 0, 2)


# ---------------------------------------------------------------- DebugMode and names

def test_family_under_debug_mode():
    a, b, m = T.dmatrix("a"), T.dvector("b"), T.dmatrix("m")
    w, v = T.nlinalg.eigh(a)
    u, s, vt = T.nlinalg.svd(m, full_matrices=False)
    q, r = T.nlinalg.qr(m)
    outputs = [T.nlinalg.matrix_inverse(a), T.nlinalg.det(a) * 2, T.nlinalg.slogdet(a)[1], w, v, T.slinalg.cholesky(a),
               T.slinalg.solve(a, b, assume_a="pos"), T.slinalg.solve_triangular(a, b, lower=True), u * s, vt, q, r,
               T.nlinalg.pinv(m), T.trace(a) + T.diag(b).sum(), T.nlinalg.norm(m, "nuc"), T.slinalg.kron(a, m),
               T.nlinalg.matrix_power(a, 3)]
    cost = sum(T.sum(o) for o in outputs if o.ndim <= 2 and o is not v and o is not vt and o is not q)
    grads = G.grad(cost, [a, m, b])
    av, mv, bv = gen(separated_spd(3), "float64"), gen(well_conditioned(4, 3), "float64"), np.arange(3.0)
    fast = kiln.function([a, m, b], outputs + grads)(av, mv, bv)
    debug = kiln.function([a, m, b], outputs + grads, mode="DebugMode")(av, mv, bv)
    for x, y in zip(fast, debug):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


def test_theano_and_pytensor_names():
    for name in ["matrix_inverse", "inv", "pinv", "det", "slogdet", "eig", "eigh", "svd", "qr", "trace", "diag",
                 "extract_diag", "alloc_diag", "matrix_dot", "matrix_power", "norm", "kron", "lstsq"]:
        assert callable(getattr(T.nlinalg, name)), name
    for name in ["cholesky", "solve", "solve_triangular", "cho_solve", "solve_lower_triangular", "solve_upper_triangular",
                 "solve_symmetric", "eigvalsh", "kron", "expm"]:
        assert callable(getattr(T.slinalg, name)), name
    for name in ["diag", "trace", "tril", "triu", "diagonal"]:
        assert callable(getattr(T, name)), name
    assert T.inv is T.reciprocal  # Theano's T.inv is elementwise; the matrix inverse is nlinalg's
    assert {k for k, _ in _core.registered_op_kinds()} >= {"MatrixInverse", "Det", "SLogDet", "Eigh", "Eig", "SVD",
                                                          "MatrixPinv", "QR", "Cholesky", "Solve", "SolveTriangular",
                                                          "CholeskySolve", "ExtractDiag", "AllocDiag"}
