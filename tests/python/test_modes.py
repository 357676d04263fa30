"""NanGuardMode and the profiler's compile stages and config.profile."""
import subprocess
import sys
import os

import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln.compile.nanguardmode import NanGuardMode

X = T.dvector("x")


@pytest.mark.parametrize("mode", [NanGuardMode(), "NanGuardMode"])
def test_nan_guard_raises_at_the_first_node_with_nan_and_names_it(mode):
    f = kiln.function([X], T.exp(T.log(X) * 2) + 1, mode=mode)
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [2.0, 5.0])
    with pytest.raises(RuntimeError, match=r"NanGuardMode.*NaN in output 0 of .*log.*test_modes.py:\d+.*element 1"):
        f(np.array([1.0, -2.0]))


def test_nan_guard_inf_and_big_values_follow_the_flags():
    inf_expr = T.exp(X)
    with pytest.raises(RuntimeError, match="inf in output"):
        kiln.function([X], inf_expr, mode=NanGuardMode())(np.array([1000.0]))
    with pytest.raises(RuntimeError, match="above 1e10"):
        kiln.function([X], inf_expr, mode=NanGuardMode())(np.array([30.0]))
    quiet = kiln.function([X], inf_expr, mode=NanGuardMode(inf_is_error=False, big_is_error=False))
    assert np.isinf(quiet(np.array([1000.0]))[0])
    with kiln.config.change_flags(NanGuardMode__big_is_error=False):
        np.testing.assert_allclose(kiln.function([X], inf_expr, mode="NanGuardMode")(np.array([30.0])), np.exp(30.0))
    no_nan = kiln.function([X], T.sqrt(X), mode=NanGuardMode(nan_is_error=False))
    assert np.isnan(no_nan(np.array([-1.0]))[0])


def test_nan_guard_checks_the_inputs():
    f = kiln.function([X], X * 0, mode=NanGuardMode())
    with pytest.raises(RuntimeError, match=r"NaN in input 0 \(x\)|NaN in .*x"):
        f(np.array([np.nan]))


def test_nan_guard_ignores_integers_and_passes_finite_training_steps():
    w = kiln.shared(np.zeros(3), name="w")
    i = T.lvector("i")
    cost = T.sum((w - 1) ** 2) + T.sum(i)
    step = kiln.function([i], cost, updates=[(w, w - 0.1 * kiln.grad(cost, w))], mode=NanGuardMode())
    first = step(np.array([1, 2]))
    assert step(np.array([1, 2])) < first


def test_profile_summary_reports_compile_stages():
    f = kiln.function([X], T.exp(X) * 2 + 1, profile=True)
    f(np.ones(4))
    summary = f.profile_summary()
    assert "ms rewriting" in summary and "ms scheduling" in summary and "generated kernels" in summary
    assert "1 calls" in summary


def test_config_profile_profiles_every_function_and_prints_at_exit(tmp_path):
    script = ("import numpy as np, kiln, kiln.tensor as T\n"
              "x = T.dvector('x')\n"
              "f = kiln.function([x], T.tanh(x) + 1, name='profiled_fn')\n"
              "f(np.ones(3)); f(np.ones(3))\n")
    env = dict(os.environ, KILN_FLAGS="profile=True",
               PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(os.path.dirname(__file__), "..", "..", "python"),
                                                        os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert "profiled_fn" in out and "2 calls" in out and "ms rewriting" in out, out


# ---------------------------------------------------------------- DebugMode's per-node checks

from kiln._core import _testing  # noqa: E402

M = T.dmatrix("m")
MV = np.arange(6.0).reshape(2, 3)


def debug_call(out, value=MV, inputs=None):
    return kiln.function(inputs or [M], out, mode="DebugMode")(value)


def test_debug_mode_passes_a_correct_op_and_matches_fast_run():
    out = _testing.broken_op("none", M) * 2
    np.testing.assert_array_equal(debug_call(out), (MV + 1) * 2)
    np.testing.assert_array_equal(kiln.function([M], out, mode="FAST_RUN")(MV), (MV + 1) * 2)


def test_debug_mode_catches_a_wrong_infer_shape_naming_both_shapes():
    with pytest.raises(RuntimeError, match=r"DebugMode: infer_shape check failed for BrokenOp\{wrong_infer_shape\}"
                                           r".*test_modes.py:\d+.*shape \(3, 3\) but perform returned shape \(2, 3\)"
                                           r"(.|\n)*input 0: float64 shape \(2, 3\)"):
        debug_call(_testing.broken_op("wrong_infer_shape", M))
    kiln.function([M], _testing.broken_op("wrong_infer_shape", M), mode="FAST_RUN")(MV)  # other modes do not check


def test_debug_mode_catches_a_kernel_that_ignores_strides_naming_the_strided_input():
    with pytest.raises(RuntimeError, match=r"strided inputs check failed for BrokenOp\{ignores_strides\}.*"
                                           r"first difference at index \(0, 1\): expected 2, got 1"
                                           r"(.|\n)*input 0: float64 shape \(2, 3\) strides \(16, 32\) offset 8"):
        debug_call(_testing.broken_op("ignores_strides", M))


def test_debug_mode_strided_check_covers_vectors_and_scalars():
    with pytest.raises(RuntimeError, match="strided inputs check"):
        debug_call(_testing.broken_op("ignores_strides", X), np.arange(4.0), [X])
    # A 0-d or empty input has nothing to misread: the broken op passes.
    s = T.dscalar("s")
    assert debug_call(_testing.broken_op("ignores_strides", s), np.array(2.0), [s]) == 3.0
    assert debug_call(_testing.broken_op("ignores_strides", M), np.zeros((0, 3))).shape == (0, 3)


def test_debug_mode_catches_an_undeclared_destruction():
    with pytest.raises(RuntimeError, match=r"destroy_map check failed for BrokenOp\{undeclared_destroy\}.*changed its "
                                           r"input 0 without declaring it in destroy_map.*first difference"):
        debug_call(_testing.broken_op("undeclared_destroy", M), MV.copy())


def test_debug_mode_catches_an_undeclared_view():
    with pytest.raises(RuntimeError, match=r"view_map check failed for BrokenOp\{undeclared_view\}.*output 0 shares "
                                           r"memory with input 0"):
        debug_call(_testing.broken_op("undeclared_view", M))


def test_debug_mode_compares_a_compiled_kernel_with_the_interpreter():
    fused = _testing.composite_with_kernel_of([X], X + 1, X + 2)
    f = kiln.function([X], fused, mode="DebugMode")
    if not f.kernel_sources() or any("interpreter" in w for w in f.warnings):
        pytest.skip("no C++ compiler: the interpreter runs every node")
    with pytest.raises(RuntimeError, match=r"compiled kernel check failed for Composite.*expected: the interpreter, "
                                           r"got: the compiled kernel.*index \(0,\): expected 1, got 2"):
        f(np.arange(3.0))
    # Honest kernels agree with the interpreter within float32's tolerance.
    v = T.fvector("v")
    g = kiln.function([v], T.tanh(v) * T.exp(-v * v) + T.log1p(v * v), mode="DebugMode")
    assert g.kernel_sources()
    vv = np.linspace(-3, 3, 1001).astype(np.float32)
    np.testing.assert_allclose(g(vv), np.tanh(vv) * np.exp(-vv * vv) + np.log1p(vv * vv), rtol=1e-5, atol=1e-6)


def test_debug_mode_runs_destructive_nodes_on_copies():
    # An inplace update and an inplace fused kernel: the strided re-run must not change w twice.
    w = kiln.shared(np.ones(5), name="w")
    step = kiln.function([X], T.sum(w * X), updates=[(w, w * 2 + X)], mode="DebugMode")
    step(np.arange(5.0))
    np.testing.assert_array_equal(w.get_value(), 2 + np.arange(5.0))


# ---------------------------------------------------------------- every op family under DebugMode

A = T.dmatrix("a")
B = T.dmatrix("b")
IDX = T.lvector("idx")
RNG = np.random.default_rng(7)
AV, BV = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
IDXV = np.array([2, 0, 3, 3])

FAMILIES = {
    "elemwise": lambda: [T.tanh(A) * B + T.exp(-A) - abs(B) ** 2, T.maximum(A, B) > 0, T.cast(A * 3, "int32") // 2],
    "reduce": lambda: [A.sum(axis=0), A.max(axis=1), T.argmax(A, axis=0), A.prod(), A.mean(axis=1), T.var(B)],
    "dimshuffle_and_shape": lambda: [A.T, A.dimshuffle(1, "x", 0), A.reshape((2, 6)), A.flatten(), A.shape,
                                     T.alloc(A[0, 0], 2, 3), T.arange(A.shape[0]), T.eye(A.shape[1])],
    "subtensor": lambda: [A[1:, ::2], A[::-1, 1], T.set_subtensor(A[1:3], B[:2]), T.inc_subtensor(A[:, 0], 1.0)],
    "advanced_subtensor": lambda: [A[IDX], T.advanced_inc_subtensor1(A, B, IDX), A[IDX, IDX % 3]],
    "join_and_split": lambda: [T.concatenate([A, B], axis=1), T.stack([A, B]), *T.split(A, [1, 3], 2, axis=0)],
    "blas_and_tensordot": lambda: [T.dot(A, B.T), T.dot(A[0], B.T), T.tensordot(A, B, axes=[[0], [0]]),
                                   T.batched_dot(A.reshape((2, 2, 3)), B.reshape((2, 3, 2)))],
    "diag": lambda: [T.diagonal(T.dot(A.T, B)), T.alloc_diag(A[0])],
    "nnet": lambda: [T.nnet.softmax(A), T.nnet.logsoftmax(B), T.nnet.sigmoid(A),
                     T.nnet.categorical_crossentropy(T.nnet.softmax(A), T.nnet.softmax(B))],
    "gradients": lambda: kiln.grad(T.sum(T.tanh(T.dot(A, B.T)) ** 2) + T.sum(A[IDX] * B[IDX]), [A, B]),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_op_family_passes_debug_mode(family):
    outputs = FAMILIES[family]()
    fast = kiln.function([A, B, IDX], outputs, on_unused_input="ignore", mode="FAST_RUN")(AV, BV, IDXV)
    debug = kiln.function([A, B, IDX], outputs, on_unused_input="ignore", mode="DebugMode")(AV, BV, IDXV)
    for f, d in zip(fast, debug):
        np.testing.assert_allclose(d, f, rtol=1e-12, atol=1e-12)
