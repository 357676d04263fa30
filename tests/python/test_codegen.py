"""Fusion of elementwise trees into generated C++ kernels, the compiler driver and its cache."""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln.printing import generated_source

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def names(f):
    return [n.op.name for n in f.nodes()]


def both(inputs, output):
    return kiln.function(inputs, output), kiln.function(inputs, output, mode="NONE")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elementwise_tree_is_one_generated_kernel(dtype):
    a, b, c, d, e = (T.vector(n, dtype) for n in "abcde")
    fast, plain = both([a, b, c, d, e], a * b + c * T.exp(d) - T.log1p(e * e))
    assert len(names(fast)) == 1 and names(fast)[0].startswith("Composite{"), names(fast)
    rng = np.random.default_rng(0)
    for n in [0, 1, 7, 255, 256, 257, 5000, 300_000]:  # around the block size and the threading threshold
        xs = [rng.standard_normal(n).astype(dtype) for _ in range(5)]
        got = fast(*xs)
        assert got.dtype == dtype and got.shape == (n,)
        np.testing.assert_allclose(got, plain(*xs), rtol=1e-6 if dtype == "float32" else 1e-14, atol=1e-6)
    src = generated_source(fast, file="str")
    assert "kiln_scalar_math.hpp" in src and "op_exp" in src and "extern \"C\"" in src


def test_broadcasting_strided_and_literal_operands():
    x, row, s = T.dmatrix("x"), T.drow("row"), T.dscalar("s")
    fast, plain = both([x, row, s], T.tanh(x * 2.5 + row) * s - 1)
    assert names(fast)[-1].startswith("Composite")
    rng = np.random.default_rng(1)
    big = rng.standard_normal((40, 30))
    cases = [(big, rng.standard_normal((1, 30)), 0.5),
             (big.T, rng.standard_normal((1, 40)), 2.0),          # transposed (non-contiguous) input
             (big[::3, ::2], rng.standard_normal((1, 15))[:, ::-1], -1.0),  # strided, reversed
             (np.ones((0, 3)), np.ones((1, 3)), 1.0),
             # contiguous operands and single values: the kernel runs once over the whole array
             (rng.standard_normal((1, 30)), rng.standard_normal((1, 30)), 1.5),
             (big[:, :1].copy(), rng.standard_normal((1, 1)), 3.0)]
    for xv, rv, sv in cases:
        np.testing.assert_allclose(fast(xv, rv, sv), plain(xv, rv, sv), rtol=1e-14)
    with pytest.raises(ValueError, match="(Composite|Elemwise).*(does not match|cannot be broadcast)"):
        fast(np.ones((2, 3)), np.ones((1, 4)), 1.0)


def test_fusion_never_computes_a_shared_value_twice():
    x = T.dvector("x")
    y = T.exp(x) * 3
    f = kiln.function([x], [y + 1, y * 2])
    # exp(x) * 3 has two readers: it is computed once, and each output is its own node.
    assert len(f.nodes()) == 3, names(f)
    xv = np.linspace(-1, 1, 5)
    r1, r2 = f(xv)
    np.testing.assert_allclose(r1, np.exp(xv) * 3 + 1, rtol=1e-14)
    np.testing.assert_allclose(r2, np.exp(xv) * 6, rtol=1e-14)


def test_row_computation_is_not_redone_for_every_row():
    x, r = T.dmatrix("x"), T.drow("r")
    f = kiln.function([x, r], x + T.exp(T.sin(r)))
    # exp(sin(r)) stays a (1, n) kernel; only the add runs over the matrix.
    assert len(f.nodes()) == 2 and all(n.startswith("Composite") or "add" in n for n in names(f)), names(f)


def test_without_a_compiler_results_are_identical_after_one_warning():
    kiln._core._testing.forget_interpreter_warnings()  # other tests may have run without a compiler
    x, y = T.dvector("x"), T.dvector("y")
    expr = T.sqrt(T.exp(x) + y * y) / (1 + T.abs(y))
    xv, yv = np.linspace(-2, 2, 11), np.linspace(3, -3, 11)
    compiled = kiln.function([x, y], expr)(xv, yv)
    with kiln.config.change_flags(cxx="/nonexistent/kiln-test-compiler"):
        with pytest.warns(UserWarning, match="run on the interpreter.*cannot run the C\\+\\+ compiler"):
            f = kiln.function([x, y], expr)
        np.testing.assert_array_equal(f(xv, yv), compiled)
    with kiln.config.change_flags(cxx=""):
        with pytest.warns(UserWarning, match="code generation is disabled"):
            g = kiln.function([x, y], expr)
        np.testing.assert_array_equal(g(xv, yv), compiled)


def run_python(code, compiledir):
    env = dict(os.environ, KILN_FLAGS=f"compiledir={compiledir}", PYTHONPATH=os.path.join(ROOT, "python"))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=300)


WORKER = """
    import sys, numpy as np, kiln, kiln.tensor as T
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    x = T.dvector("x")
    exprs = [T.exp(x) * 2 + 1, T.tanh(x) - x * 3, T.exp(x) * 2 + 1]
    xv = np.linspace(-1, 1, 1000)
    refs = [np.exp(xv) * 2 + 1, np.tanh(xv) - xv * 3, np.exp(xv) * 2 + 1]
    for e, r in zip(exprs, refs):
        np.testing.assert_allclose(kiln.function([x], e)(xv), r, rtol=1e-14)
    print("ok")
"""


def test_cache_is_private_shared_between_processes_and_rebuilds_a_truncated_library(tmp_path):
    cache = tmp_path / "cache"
    # Four processes compile the same two kernels at once.
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(WORKER)], env=dict(
        os.environ, KILN_FLAGS=f"compiledir={cache}", PYTHONPATH=os.path.join(ROOT, "python")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and out.strip() == "ok", err
    kernels = cache / "kernels"
    libraries = sorted(kernels.glob("*.so"))
    assert len(libraries) == 2
    assert not list(kernels.glob("tmp-*"))
    assert (os.stat(kernels).st_mode & 0o777) == 0o700
    # A library cut short (a crash while it was written by something else) is detected and rebuilt.
    libraries[0].write_bytes(libraries[0].read_bytes()[:100])
    r = run_python(WORKER, cache)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert libraries[0].stat().st_size > 1000
    # kiln-cache lists, sizes and clears it.
    env_flags = f"compiledir={cache}"
    for command, expected in [("list", "exp"), ("size", "2 kernels"), ("clear", "cleared 2 kernels")]:
        r = subprocess.run([sys.executable, "-m", "kiln.cache", command], capture_output=True, text=True,
                           env=dict(os.environ, KILN_FLAGS=env_flags, PYTHONPATH=os.path.join(ROOT, "python")))
        assert r.returncode == 0 and expected in r.stdout, (command, r.stdout, r.stderr)
    assert not list(kernels.glob("*.so"))


def test_fused_kernel_writes_into_a_dead_input_or_the_updated_shared_variable():
    w = kiln.shared(np.arange(4.0), name="w")
    g = T.dvector("g")
    step = kiln.function([g], [], updates=[(w, w * 0.9 - 0.1 * g)])
    assert [n.op.name for n in step.nodes()] == ["Composite{((i0 * 0.9) - (0.1 * i1))}[inplace i0]"]
    alias = w.get_value(borrow=True)
    step(np.ones(4))
    np.testing.assert_allclose(w.get_value(), np.arange(4.0) * 0.9 - 0.1, rtol=1e-15)
    assert np.shares_memory(alias, w.get_value(borrow=True))
    x = T.dmatrix("x")
    f = kiln.function([x], T.exp(T.dot(x, x)) * 2 + 1)  # the product is dead after the kernel
    assert any(n.startswith("Composite") and "inplace" in n for n in names(f)), names(f)
    xv = np.eye(3) * 0.5
    np.testing.assert_allclose(f(xv), np.exp(xv @ xv) * 2 + 1, rtol=1e-14)


# ---------------------------------------------------------------- elementwise producer + reduction

REDUCTIONS = {"sum": (T.sum, np.sum), "prod": (T.prod, np.prod), "max": (T.max, np.max), "min": (T.min, np.min)}


@pytest.mark.parametrize("kind", sorted(REDUCTIONS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reduction_of_an_elementwise_tree_is_one_kernel(kind, dtype):
    kiln_reduce, np_reduce = REDUCTIONS[kind]
    x, y = T.matrix("x", dtype), T.matrix("y", dtype)
    rng = np.random.default_rng(2)
    for axis in [None, 0, 1, (0, 1)]:
        fast, plain = both([x, y], kiln_reduce(T.exp(x * 0.1) * y + 0.5, axis=axis))
        assert len(names(fast)) == 1 and names(fast)[0].startswith("CompositeReduce{"), names(fast)
        # Around the block size and the threading threshold; strided and transposed operands.
        base = rng.standard_normal((700, 800)).astype(dtype)
        for xv, yv in [(base[:3, :5], base[3:6, :5]), (base[:1, :257], base[1:2, :257]), (base, base[::-1]),
                       (base[::2, ::3], base[1::2, ::3]), (base.T, base.T * 0.5)]:
            got, want = fast(xv, yv), plain(xv, yv)
            ref = np_reduce(np.exp(xv.astype("f8") * 0.1) * yv + 0.5, axis=axis)
            assert got.dtype == want.dtype == dtype and got.shape == want.shape == np.shape(ref)
            tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
            np.testing.assert_allclose(got, want, **tol)
            if kind in ("max", "min") or dtype == "float64":
                np.testing.assert_allclose(got, ref, **tol)


def test_fused_sum_of_a_large_vector_matches_numpy_in_float64():
    x, y = T.fvector("x"), T.fvector("y")
    f = kiln.function([x, y], T.sum(T.exp(x) * y))
    assert names(f)[0].startswith("CompositeReduce")
    rng = np.random.default_rng(3)
    xv, yv = rng.standard_normal(1_000_003).astype("float32"), rng.standard_normal(1_000_003).astype("float32")
    # float32 sums accumulate in float64, as Theano's do: close to the float64 result.
    np.testing.assert_allclose(f(xv, yv), np.sum(np.exp(xv.astype("f8")) * yv), rtol=1e-6)


def test_fused_reduction_with_broadcast_operands_and_kept_dims():
    x, row, col = T.dmatrix("x"), T.drow("row"), T.dcol("col")
    fast, plain = both([x, row, col], T.sum(T.tanh(x + row) * col, axis=1, keepdims=True))
    assert any(n.startswith("CompositeReduce") for n in names(fast)), names(fast)
    rng = np.random.default_rng(4)
    xv, rv, cv = rng.standard_normal((50, 40)), rng.standard_normal((1, 40)), rng.standard_normal((50, 1))
    np.testing.assert_allclose(fast(xv, rv, cv), np.sum(np.tanh(xv + rv) * cv, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(fast(xv, rv, cv), plain(xv, rv, cv), rtol=1e-12)


def test_a_reduction_does_not_absorb_a_value_others_read():
    x = T.dvector("x")
    e = T.exp(x) * 2
    f = kiln.function([x], [T.sum(e), e + 1])
    assert not any(n.startswith("CompositeReduce") for n in names(f)), names(f)
    xv = np.linspace(-1, 1, 9)
    s, e1 = f(xv)
    np.testing.assert_allclose(s, np.sum(np.exp(xv) * 2), rtol=1e-14)
    np.testing.assert_allclose(e1, np.exp(xv) * 2 + 1, rtol=1e-14)


def test_fused_reduction_edge_cases_match_the_interpreter():
    x = T.dmatrix("x")
    fsum, psum = both([x], T.sum(T.sqr(x) + 1, axis=0))
    fmax, _ = both([x], T.max(T.exp(x) - 1, axis=1))
    np.testing.assert_array_equal(fsum(np.ones((0, 3))), np.ones(3) * 0)  # empty reduced axis: the identity
    assert fmax(np.ones((0, 3))).shape == (0,)
    with pytest.raises(ValueError, match="zero-size reduction"):
        fmax(np.ones((3, 0)))
    nan = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(np.isnan(fmax(nan)), [True, False])  # max propagates NaN, as numpy's
    np.testing.assert_allclose(fsum(nan[1:]), psum(nan[1:]))


def test_fused_reduction_gradients_and_interpreter_fallback():
    x, y = T.dvector("x"), T.dvector("y")
    cost = T.sum(T.exp(x) * y)
    gx, gy = kiln.grad(cost, [x, y])
    f = kiln.function([x, y], [cost, gx, gy])
    xv, yv = np.linspace(-1, 1, 7), np.linspace(2, 3, 7)
    c, dx, dy = f(xv, yv)
    np.testing.assert_allclose(c, np.sum(np.exp(xv) * yv), rtol=1e-14)
    np.testing.assert_allclose(dx, np.exp(xv) * yv, rtol=1e-14)
    np.testing.assert_allclose(dy, np.exp(xv), rtol=1e-14)
    kiln.gradient.verify_grad(lambda a, b: T.max(T.tanh(a) * b, axis=0), [np.random.rand(4, 3), np.random.rand(4, 3)])
    with kiln.config.change_flags(cxx=""), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warned once per process, maybe by an earlier test
        g = kiln.function([x, y], cost)
        assert names(g)[0].startswith("CompositeReduce")
        np.testing.assert_allclose(g(xv, yv), c, rtol=1e-14)


# ---------------------------------------------------------------- comparisons, switch and casts

def test_relu_style_switch_and_comparisons_fuse_into_one_kernel():
    x, y = T.fmatrix("x"), T.fmatrix("y")
    expr = T.switch(x > 0, x, 0.01 * x) + T.cast(T.and_(y >= -0.5, y < 0.5), "float32") * T.exp(y)
    fast, plain = both([x, y], expr)
    assert len(names(fast)) == 1 and names(fast)[0].startswith("Composite"), names(fast)
    rng = np.random.default_rng(5)
    for shape in [(3, 4), (300, 301)]:
        xv, yv = (rng.standard_normal(shape).astype("float32") for _ in range(2))
        want = np.where(xv > 0, xv, np.float32(0.01) * xv) + ((yv >= -0.5) & (yv < 0.5)).astype("float32") * np.exp(yv)
        np.testing.assert_allclose(fast(xv, yv), want, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(fast(xv, yv), plain(xv, yv))
    src = generated_source(fast, file="str")
    assert "bool" in src and "op_switch_" in src


def test_casts_between_float_widths_fuse_and_round_as_the_interpreter():
    x = T.dvector("x")
    f32 = T.cast(T.exp(x), "float32")
    fast, plain = both([x], T.cast(f32 * 3 + 1, "float64") * 0.1)
    assert len(names(fast)) == 1, names(fast)
    assert "Cast{float32}" in names(fast)[0]
    xv = np.linspace(-5, 5, 1001)
    np.testing.assert_array_equal(fast(xv), plain(xv))
    np.testing.assert_array_equal(fast(xv), ((np.exp(xv).astype("float32") * np.float32(3) + np.float32(1))
                                             .astype("float64") * 0.1))


def test_bool_inputs_and_nan_conditions_behave_as_the_interpreter():
    c, a = T.tensor("bool", shape=(None,), name="c"), T.dvector("a")
    fast, plain = both([c, a], T.switch(c, T.exp(a), -a) * 2)
    cv, av = np.array([True, False, True]), np.array([0.5, -1.0, np.nan])
    np.testing.assert_array_equal(fast(cv, av), plain(cv, av))
    # A float condition: NaN counts as true, as in numpy.
    fc, pc = both([a], T.switch(a, a + 1, a - 1) * 3)
    av = np.array([0.0, 2.0, np.nan, -0.0])
    np.testing.assert_array_equal(fc(av), pc(av))
    np.testing.assert_array_equal(fc(av), np.where(av.astype(bool), av + 1, av - 1) * 3)


# ---------------------------------------------------------------- tiered execution

TIERED_SCRIPT = textwrap.dedent("""
    import glob, os, sys, time
    import numpy as np, kiln, kiln.tensor as T
    x, y = T.dvector("x"), T.dvector("y")
    # Literals unique to this script: kernels no other test has put in a cache.
    exprs = [T.tanh(x * 1.2345 + y) * T.exp(-y * y * 0.4321 + i) for i in range(2)]
    xv, yv = np.linspace(-2, 2, 1001), np.linspace(3, -3, 1001)
    expected = [np.tanh(xv * 1.2345 + yv) * np.exp(-yv * yv * 0.4321 + i) for i in range(2)]
    libraries = lambda: len(glob.glob(os.path.join(kiln.config.compiledir, "kernels", "*.so")))
    f = kiln.function([x, y], exprs)
    first = f(xv, yv)
    print("libraries after the first call:", libraries(), "of", len(f.kernel_sources()))
    for got, want in zip(first, expected):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    if sys.argv[1] == "wait":
        deadline = time.time() + 120
        while libraries() < len(f.kernel_sources()) and time.time() < deadline:
            for got, want in zip(f(xv, yv), expected):
                np.testing.assert_allclose(got, want, rtol=1e-13)
        time.sleep(0.2)  # the last library is loaded just after it appears
        for got, tiered_first in zip(f(xv, yv), first):
            np.testing.assert_allclose(got, tiered_first, rtol=1e-13)
        print("libraries at the end:", libraries(), "of", len(f.kernel_sources()))
""")


def run_tiered(tmp_path, tiered, mode):
    env = dict(os.environ, KILN_FLAGS=f"compiledir={tmp_path},tiered_compile={tiered}",
               PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", TIERED_SCRIPT, mode], env=env, capture_output=True, text=True,
                          timeout=300)


def test_tiered_function_runs_before_its_kernels_are_ready_then_switches(tmp_path):
    run = run_tiered(tmp_path / "tiered", True, "wait")
    assert run.returncode == 0, run.stderr
    # The first call returned before g++ had finished any kernel: it ran on the interpreter.
    assert "libraries after the first call: 0 of" in run.stdout, run.stdout
    n = run.stdout.split()[-1]
    assert f"libraries at the end: {n} of {n}" in run.stdout, run.stdout
    # Without tiering, kiln.function waits for the kernels: they exist at the first call.
    run = run_tiered(tmp_path / "plain", False, "wait")
    assert run.returncode == 0, run.stderr
    n = run.stdout.split()[-1]
    assert f"libraries after the first call: {n} of {n}" in run.stdout, run.stdout


def test_process_exits_cleanly_while_kernels_compile(tmp_path):
    run = run_tiered(tmp_path, True, "exit")
    assert run.returncode == 0, run.stderr
    assert "libraries after the first call: 0 of" in run.stdout, run.stdout
    assert not glob_tmp_dirs(tmp_path), "a compile left its temporary directory behind"


def glob_tmp_dirs(cache):
    return [p for p in (cache / "kernels").glob("tmp-*")] if (cache / "kernels").exists() else []


def test_tiered_and_plain_functions_give_the_same_results():
    x = T.dmatrix("x")
    expr = T.nnet.sigmoid(x * 0.75) + T.log1p(x * x) * T.tanh(x - 0.25)
    xv = np.random.default_rng(3).normal(size=(50, 40))
    with kiln.config.change_flags(tiered_compile=True):
        tiered = kiln.function([x], expr)
        got = [tiered(xv) for _ in range(3)]
    with kiln.config.change_flags(tiered_compile=False):
        plain = kiln.function([x], expr)(xv)
    for g in got:
        np.testing.assert_allclose(g, plain, rtol=1e-13, atol=1e-15)
