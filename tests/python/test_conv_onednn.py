"""The convolution backends (config.conv_backend): oneDNN against im2col + GEMM against a direct numpy
reference over border modes, strides, dilation, groups and filter flips, on float32 layers with many
channels; gradients through oneDNN (the gradient ops' values, verify_grad); DebugMode; concurrent
calls of one cached oneDNN plan; and the fallbacks (float64, 3-d). The oneDNN comparisons skip when
kiln was built without oneDNN."""
import threading

import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln import gradient as G
from kiln.tensor.nnet import abstract_conv as AC

from test_conv import data, pads, reference_conv, reference_grad_inputs, tap_windows, tol

needs_onednn = pytest.mark.skipif(not kiln._core.has_onednn, reason="kiln was built without oneDNN")
BACKENDS = ["im2col", "onednn", "auto"]


def run_with(backend, f, *args):
    with kiln.config.change_flags(conv_backend=backend):
        return f(*args)


def conv_function(dtype="float32", nd=2, **kwargs):
    x, w = T.tensor(dtype, shape=(None,) * (nd + 2)), T.tensor(dtype, shape=(None,) * (nd + 2))
    conv = T.nnet.conv2d if nd == 2 else T.nnet.conv3d
    return kiln.function([x, w], conv(x, w, **kwargs))


def gradient_functions(xshape, wshape, dtype="float32", **kwargs):
    """(input gradient of (w, g), weight gradient of (x, g)) for the convolution of these shapes."""
    x, w, g = (T.tensor(dtype, shape=(None,) * 4) for _ in range(3))
    return (kiln.function([w, g], AC.conv2d_grad_wrt_inputs(g, w, xshape, **kwargs)),
            kiln.function([x, g], AC.conv2d_grad_wrt_weights(x, g, wshape, **kwargs)))


def test_config_flag():
    assert kiln.config.conv_backend == "auto"
    assert isinstance(kiln._core.has_onednn, bool)
    with pytest.raises(ValueError, match="conv_backend.*auto, im2col, onednn"):
        kiln.config.conv_backend = "cudnn"
    assert kiln.config.conv_backend == "auto"


# ---------------------------------------------------------------- forward values

CASES = [dict(), dict(border_mode="full"), dict(border_mode="half"), dict(border_mode=(1, 2)), dict(border_mode=3),
         dict(subsample=(2, 1)), dict(border_mode="half", subsample=(2, 3)), dict(border_mode="full", subsample=(3, 3)),
         dict(filter_dilation=(2, 2)), dict(border_mode="half", filter_dilation=(1, 3), subsample=(2, 1)),
         dict(border_mode=(2, 1), filter_dilation=(3, 2), subsample=(2, 2)), dict(num_groups=2, border_mode="half"),
         dict(num_groups=4, subsample=(1, 2)), dict(num_groups=32, border_mode="half")]


def case_arrays(kwargs, channels=32, filters=32, dtype="float32", batch=3, size=(11, 9), kernel=(3, 2)):
    groups = kwargs.get("num_groups", 1)
    return data((batch, channels) + size, dtype, 0), data((filters, channels // groups) + kernel, dtype, 1)


@needs_onednn
@pytest.mark.parametrize("filter_flip", [True, False])
@pytest.mark.parametrize("kwargs", CASES)
def test_forward_backends_match_the_reference(kwargs, filter_flip):
    kwargs = dict(kwargs, filter_flip=filter_flip)
    xv, wv = case_arrays(kwargs)
    f = conv_function(**kwargs)
    want = reference_conv(xv, wv, **kwargs)
    got = {b: run_with(b, f, xv, wv) for b in BACKENDS}
    for b in BACKENDS:
        assert got[b].dtype == np.float32 and got[b].shape == want.shape
        np.testing.assert_allclose(got[b], want, **tol("float32"))
    np.testing.assert_allclose(got["onednn"], got["im2col"], **tol("float32"))


# (input shape, filter shape, options): one input channel, 1x1 filters, filters as large as the
# padded input, one output pixel, channel counts that are not multiples of oneDNN's blocks.
SHAPES = [((4, 1, 28, 28), (20, 1, 5, 5), {}), ((2, 64, 6, 6), (48, 64, 1, 1), {}),
          ((2, 19, 5, 4), (7, 19, 5, 4), {}), ((1, 3, 1, 1), (5, 3, 1, 1), {}),
          ((2, 17, 4, 5), (33, 17, 3, 3), dict(border_mode="full")), ((5, 20, 12, 12), (50, 20, 5, 5), {}),
          ((2, 24, 7, 7), (24, 8, 3, 3), dict(num_groups=3, subsample=(2, 2), border_mode="half"))]


@needs_onednn
@pytest.mark.parametrize("xshape,wshape,kwargs", SHAPES)
def test_forward_shapes(xshape, wshape, kwargs):
    xv, wv = data(xshape, "float32", 2), data(wshape, "float32", 3)
    f = conv_function(**kwargs)
    want = reference_conv(xv, wv, **kwargs)
    for b in BACKENDS:
        np.testing.assert_allclose(run_with(b, f, xv, wv), want, **tol("float32"))


# ---------------------------------------------------------------- the gradient ops

def reference_grad_weights(x, g, wshape, border_mode="valid", subsample=None, filter_flip=True,
                           filter_dilation=None, num_groups=1):
    """The weight gradient of reference_conv, directly: for every filter tap, the sum over batch and
    output positions of the output's gradient times the input that tap reads."""
    nd = x.ndim - 2
    dilation = filter_dilation or (1,) * nd
    p = pads(border_mode, wshape[2:], dilation)
    xp = np.pad(x.astype("float64"), [(0, 0), (0, 0)] + [(q, q) for q in p])
    gw = np.zeros(wshape)
    cg, fg = wshape[1], wshape[0] // num_groups
    for grp in range(num_groups):
        xg, gg = xp[:, grp * cg:(grp + 1) * cg], g[:, grp * fg:(grp + 1) * fg].astype("float64")
        for tap, window in tap_windows(wshape[2:], dilation, g.shape[2:], subsample or (1,) * nd):
            summed = [0] + list(range(2, 2 + nd))  # batch and output positions
            gw[(slice(grp * fg, (grp + 1) * fg), slice(None)) + tap] = np.tensordot(
                gg, xg[(slice(None), slice(None)) + window], axes=(summed, summed))
    return gw[(slice(None), slice(None)) + (slice(None, None, -1),) * nd] if filter_flip else gw


GRAD_CASES = [dict(), dict(border_mode="full"), dict(border_mode="half", subsample=(2, 2)),
              dict(border_mode=(1, 2), subsample=(3, 2), filter_flip=False), dict(filter_dilation=(2, 1)),
              dict(num_groups=2, border_mode="half"), dict(subsample=(2, 3), filter_dilation=(1, 2))]


@needs_onednn
@pytest.mark.parametrize("kwargs", GRAD_CASES)
def test_gradient_ops_match_the_reference(kwargs):
    xv, wv = case_arrays(kwargs, channels=16, filters=18, batch=2, size=(7, 6))
    gv = data(reference_conv(xv, wv, **kwargs).shape, "float32", 4)
    want = (reference_grad_inputs(gv, wv, xv.shape, **kwargs), reference_grad_weights(xv, gv, wv.shape, **kwargs))
    grad_inputs, grad_weights = gradient_functions(xv.shape, wv.shape, **kwargs)
    for b in BACKENDS:
        gi, gw = run_with(b, grad_inputs, wv, gv), run_with(b, grad_weights, xv, gv)
        np.testing.assert_allclose(gi, want[0], **tol("float32"))
        np.testing.assert_allclose(gw, want[1], **tol("float32"))


@needs_onednn
@pytest.mark.parametrize("kwargs", GRAD_CASES + [dict(num_groups=32, border_mode="half"), dict(border_mode=3)])
def test_gradient_ops_backends_agree_on_many_channels(kwargs):
    xv, wv = case_arrays(kwargs, channels=32, filters=64, batch=4, size=(13, 11))
    gv = data(reference_conv(xv, wv, **kwargs).shape, "float32", 5)
    grad_inputs, grad_weights = gradient_functions(xv.shape, wv.shape, **kwargs)
    for f, args in ((grad_inputs, (wv, gv)), (grad_weights, (xv, gv))):
        want = run_with("im2col", f, *args)
        for b in ("onednn", "auto"):
            np.testing.assert_allclose(run_with(b, f, *args), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@needs_onednn
@pytest.mark.parametrize("kwargs", [dict(), dict(border_mode="half", subsample=(2, 1), filter_flip=False),
                                    dict(num_groups=2, filter_dilation=(2, 1))])
def test_verify_grad_through_onednn(kwargs):
    """verify_grad in float64 runs im2col; checking oneDNN's gradients needs float32 and the float32
    finite-difference tolerances verify_grad picks for it."""
    xv, wv = case_arrays(kwargs, channels=16, filters=16, batch=2, size=(6, 5))
    with kiln.config.change_flags(conv_backend="onednn"):
        G.verify_grad(lambda x, w: T.nnet.conv2d(x, w, **kwargs), [xv, wv], rng=np.random.default_rng(0))


# ---------------------------------------------------------------- DebugMode, threads, fallbacks

@needs_onednn
@pytest.mark.parametrize("backend", ["onednn", "auto"])
def test_debug_mode(backend):
    """DebugMode re-runs every node on strided copies of its inputs and checks infer_shape."""
    kwargs = dict(border_mode="half", subsample=(2, 1), num_groups=2)
    xv, wv = case_arrays(kwargs, channels=32, filters=32, batch=2, size=(8, 7))
    x, w = T.ftensor4("x"), T.ftensor4("w")
    y = T.nnet.conv2d(x, w, **kwargs)
    outputs = [y] + G.grad((y ** 2).sum(), [x, w])
    with kiln.config.change_flags(conv_backend=backend):
        debug = kiln.function([x, w], outputs, mode="DebugMode")(xv, wv)
    with kiln.config.change_flags(conv_backend="im2col"):
        plain = kiln.function([x, w], outputs)(xv, wv)
    for d, p in zip(debug, plain):
        np.testing.assert_allclose(d, p, rtol=1e-4, atol=1e-4 * np.abs(p).max())


@needs_onednn
def test_strided_inputs():
    base = data((2, 32, 12, 18), "float32", 6)
    wv = data((16, 32, 3, 3), "float32", 7)
    x, w = T.ftensor4("x"), T.ftensor4("w")
    f = kiln.function([x, w], T.nnet.conv2d(x[:, :, ::2, 1:], w.dimshuffle(0, 1, 3, 2), border_mode="half"))
    want = reference_conv(base[:, :, ::2, 1:], wv.transpose(0, 1, 3, 2), border_mode="half")
    np.testing.assert_allclose(run_with("onednn", f, base, wv), want, **tol("float32"))


@needs_onednn
def test_concurrent_calls_share_one_plan():
    xv, wv = case_arrays({}, channels=32, filters=32, batch=8, size=(16, 16), kernel=(3, 3))
    f = conv_function(border_mode="half")
    want = reference_conv(xv, wv, border_mode="half")
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(f(xv, wv))
        except Exception as e:  # reported below
            errors.append(e)

    with kiln.config.change_flags(conv_backend="onednn"):
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors and len(results) == 20
    for r in results:
        np.testing.assert_allclose(r, want, **tol("float32"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_and_3d_fall_back_to_im2col(backend):
    xv, wv = case_arrays({}, dtype="float64")
    np.testing.assert_allclose(run_with(backend, conv_function("float64"), xv, wv), reference_conv(xv, wv),
                               **tol("float64"))
    xv, wv = data((2, 16, 4, 5, 3), "float32", 8), data((16, 16, 2, 3, 2), "float32", 9)
    np.testing.assert_allclose(run_with(backend, conv_function(nd=3, border_mode="half"), xv, wv),
                               reference_conv(xv, wv, border_mode="half"), **tol("float32"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_arrays(backend):
    f = conv_function(border_mode="full")
    for xshape, wshape in (((0, 16, 5, 5), (16, 16, 3, 3)), ((2, 16, 5, 5), (0, 16, 3, 3))):
        xv, wv = np.zeros(xshape, "float32"), np.zeros(wshape, "float32")
        got = run_with(backend, f, xv, wv)
        assert got.shape == reference_conv(xv, wv, border_mode="full").shape
