"""T.nnet.conv2d / conv3d and the abstract conv gradient ops: values against a direct numpy reference
(and scipy.signal for the plain cases), the gradient ops against the adjoint identities, gradients
with verify_grad, static shapes, errors and DebugMode.

The op kinds are also in op_table.GRAD_CASES (test_grad.py: verify_grad and R_op for every kind) and
test_infer_shape.py."""
import numpy as np
import pytest
import scipy.signal

import kiln
import kiln.tensor as T
from kiln import gradient as G
from kiln.tensor.nnet import abstract_conv as AC

FLOATS = ["float32", "float64"]


def tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)


def pads(border_mode, kernel, dilation):
    dilated = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if border_mode == "valid":
        return [0] * len(kernel)
    if border_mode == "full":
        return [d - 1 for d in dilated]
    if border_mode == "half":
        return [d // 2 for d in dilated]
    if isinstance(border_mode, int):
        return [border_mode] * len(kernel)
    return list(border_mode)


def reference_options(w, nd, border_mode, filter_flip, filter_dilation):
    """(the filters flipped when filter_flip, the padding, the dilation) for the reference convolutions."""
    dilation = filter_dilation or (1,) * nd
    if filter_flip:
        w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]
    return w, pads(border_mode, w.shape[2:], dilation), dilation


def tap_windows(kernel, dilation, out_shape, subsample):
    """(tap, the slices of the padded input that tap reads for all outputs) for every filter tap."""
    for tap in np.ndindex(*kernel):
        yield tap, tuple(slice(tap[i] * dilation[i], tap[i] * dilation[i] + (out_shape[i] - 1) * subsample[i] + 1,
                               subsample[i]) for i in range(len(kernel)))


def reference_conv(x, w, border_mode="valid", subsample=None, filter_flip=True, filter_dilation=None, num_groups=1):
    """Direct convolution: for every kernel tap, the strided slice of the padded input it reads."""
    nd = x.ndim - 2
    w, p, dilation = reference_options(w, nd, border_mode, filter_flip, filter_dilation)
    xp = np.pad(x.astype("float64"), [(0, 0), (0, 0)] + [(q, q) for q in p])
    dilated = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], dilation)]
    subsample = subsample or (1,) * nd
    out_shape = [(xp.shape[2 + i] - dilated[i]) // subsample[i] + 1 for i in range(nd)]
    out = np.zeros((x.shape[0], w.shape[0]) + tuple(out_shape))
    cg, fg = w.shape[1], w.shape[0] // num_groups
    for g in range(num_groups):
        xg, wg = xp[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg].astype("float64")
        for tap, window in tap_windows(w.shape[2:], dilation, out_shape, subsample):
            patch = xg[(slice(None), slice(None)) + window]
            out[:, g * fg:(g + 1) * fg] += np.einsum("bc...,fc->bf...", patch, wg[(slice(None), slice(None)) + tap])
    return out


def data(shape, dtype, seed):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)


def run_conv(xv, wv, **kwargs):
    x, w = T.tensor(xv.dtype.name, shape=(None,) * xv.ndim), T.tensor(wv.dtype.name, shape=(None,) * wv.ndim)
    conv = T.nnet.conv2d if xv.ndim == 4 else T.nnet.conv3d
    out = conv(x, w, **kwargs)
    value = kiln.function([x, w], out)(xv, wv)
    assert value.dtype == xv.dtype
    return value


# ---------------------------------------------------------------- forward values

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("filter_flip", [True, False])
@pytest.mark.parametrize("subsample", [(1, 1), (2, 1), (2, 3)])
@pytest.mark.parametrize("border_mode", ["valid", "full", "half", 1, (2, 0)])
def test_conv2d_border_modes_and_subsample(border_mode, subsample, filter_flip, dtype):
    xv, wv = data((2, 3, 7, 8), dtype, 0), data((4, 3, 3, 2), dtype, 1)
    kwargs = dict(border_mode=border_mode, subsample=subsample, filter_flip=filter_flip)
    np.testing.assert_allclose(run_conv(xv, wv, **kwargs), reference_conv(xv, wv, **kwargs), **tol(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("border_mode", ["valid", "full", "half", (1, 2)])
@pytest.mark.parametrize("dilation,subsample", [((2, 2), (1, 1)), ((1, 3), (1, 1)), ((2, 3), (2, 2))])
def test_conv2d_dilation(dilation, subsample, border_mode, dtype):
    xv, wv = data((2, 2, 9, 10), dtype, 2), data((3, 2, 3, 2), dtype, 3)
    kwargs = dict(border_mode=border_mode, subsample=subsample, filter_dilation=dilation)
    np.testing.assert_allclose(run_conv(xv, wv, **kwargs), reference_conv(xv, wv, **kwargs), **tol(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("groups,channels,filters", [(2, 4, 6), (3, 3, 3), (4, 8, 4)])
@pytest.mark.parametrize("border_mode", ["valid", "half"])
def test_conv2d_groups(groups, channels, filters, border_mode, dtype):
    xv, wv = data((3, channels, 6, 5), dtype, 4), data((filters, channels // groups, 3, 3), dtype, 5)
    kwargs = dict(border_mode=border_mode, num_groups=groups, subsample=(1, 2))
    np.testing.assert_allclose(run_conv(xv, wv, **kwargs), reference_conv(xv, wv, **kwargs), **tol(dtype))


# (input shape, filter shape): 1x1 filters, batch 1, filters as large as the input, one pixel,
# batches large enough to be processed in several chunks.
SHAPES = [((2, 3, 5, 5), (4, 3, 1, 1)), ((1, 1, 6, 7), (2, 1, 3, 3)), ((1, 2, 4, 3), (3, 2, 4, 3)),
          ((3, 2, 1, 1), (5, 2, 1, 1)), ((64, 1, 28, 28), (20, 1, 5, 5)), ((9, 16, 20, 20), (8, 16, 3, 3))]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("border_mode", ["valid", "full", "half"])
@pytest.mark.parametrize("xshape,wshape", SHAPES)
def test_conv2d_shapes(xshape, wshape, border_mode, dtype):
    xv, wv = data(xshape, dtype, 6), data(wshape, dtype, 7)
    got = run_conv(xv, wv, border_mode=border_mode)
    np.testing.assert_allclose(got, reference_conv(xv, wv, border_mode=border_mode), **tol(dtype))


@pytest.mark.parametrize("mode", ["valid", "full"])
def test_conv2d_matches_scipy(mode):
    xv, wv = data((1, 1, 9, 7), "float64", 8), data((1, 1, 4, 3), "float64", 9)
    conv = run_conv(xv, wv, border_mode=mode)[0, 0]
    corr = run_conv(xv, wv, border_mode=mode, filter_flip=False)[0, 0]
    np.testing.assert_allclose(conv, scipy.signal.convolve(xv[0, 0], wv[0, 0], mode=mode), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(corr, scipy.signal.correlate(xv[0, 0], wv[0, 0], mode=mode), rtol=1e-12, atol=1e-12)


def test_conv2d_sums_scipy_over_channels():
    xv, wv = data((2, 3, 8, 8), "float64", 10), data((2, 3, 3, 3), "float64", 11)
    got = run_conv(xv, wv, filter_flip=False)
    for b in range(2):
        for f in range(2):
            expected = sum(scipy.signal.correlate(xv[b, c], wv[f, c], mode="valid") for c in range(3))
            np.testing.assert_allclose(got[b, f], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kwargs", [dict(), dict(border_mode="full"), dict(border_mode="half", subsample=(2, 1, 2)),
                                    dict(border_mode=(1, 0, 2), filter_dilation=(1, 2, 1), filter_flip=False),
                                    dict(num_groups=2)])
def test_conv3d(kwargs, dtype):
    xv, wv = data((2, 4, 5, 6, 4), dtype, 12), data((2, 4 // kwargs.get("num_groups", 1), 2, 3, 2), dtype, 13)
    np.testing.assert_allclose(run_conv(xv, wv, **kwargs), reference_conv(xv, wv, **kwargs), **tol(dtype))


def test_conv2d_reads_strided_and_mixed_dtype_inputs():
    base = data((2, 3, 8, 10), "float64", 14)
    wv = data((2, 3, 3, 3), "float32", 15)
    x, w = T.dtensor4("x"), T.ftensor4("w")
    out = T.nnet.conv2d(x[:, :, ::2, 1:], w.dimshuffle(0, 1, 3, 2))
    assert out.dtype == "float64"
    got = kiln.function([x, w], out)(base, wv)
    np.testing.assert_allclose(got, reference_conv(base[:, :, ::2, 1:], wv.transpose(0, 1, 3, 2)), rtol=1e-6)


# ---------------------------------------------------------------- the gradient ops

def adjoint_case(nd, kwargs, dtype="float64"):
    xshape = (2, 4) + (7, 6, 5)[:nd]
    groups = kwargs.get("num_groups", 1)
    wv = data((6, 4 // groups) + (3, 2, 2)[:nd], dtype, 16)
    xv = data(xshape, dtype, 17)
    yv = reference_conv(xv, wv, **kwargs)
    gv = data(yv.shape, dtype, 18)
    return xv, wv, yv, gv


GRAD_OPTIONS = [dict(), dict(border_mode="full"), dict(border_mode="half", subsample=(2, 2)),
                dict(border_mode=(1, 2), subsample=(3, 2), filter_flip=False), dict(filter_dilation=(2, 1)),
                dict(num_groups=2, border_mode="half")]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kwargs", GRAD_OPTIONS)
def test_gradient_ops_are_the_adjoints_of_conv2d(kwargs, dtype):
    """<conv(x, w), g> = <x, grad_inputs(g, w)> = <w, grad_weights(x, g)> for the reference conv."""
    xv, wv, yv, gv = adjoint_case(2, kwargs, dtype)
    x, w, g = T.tensor4(dtype=dtype), T.tensor4(dtype=dtype), T.tensor4(dtype=dtype)
    gi = AC.conv2d_grad_wrt_inputs(g, w, xv.shape, **kwargs)
    gw = AC.conv2d_grad_wrt_weights(x, g, wv.shape, **kwargs)
    gi_v, gw_v = kiln.function([x, w, g], [gi, gw])(xv, wv, gv)
    assert gi_v.shape == xv.shape and gw_v.shape == wv.shape
    expected = float(np.sum(yv * gv))
    rel = 1e-4 if dtype == "float32" else 1e-10
    assert abs(np.sum(xv * gi_v.astype("float64")) - expected) <= rel * (1 + abs(expected))
    assert abs(np.sum(wv * gw_v.astype("float64")) - expected) <= rel * (1 + abs(expected))


@pytest.mark.parametrize("kwargs", [dict(), dict(border_mode="half", subsample=(2, 1, 2)), dict(num_groups=2)])
def test_gradient_ops_are_the_adjoints_of_conv3d(kwargs):
    xv, wv, yv, gv = adjoint_case(3, kwargs)
    x, w, g = T.dtensor5() if hasattr(T, "dtensor5") else T.tensor("float64", shape=(None,) * 5), \
        T.tensor("float64", shape=(None,) * 5), T.tensor("float64", shape=(None,) * 5)
    gi = AC.conv3d_grad_wrt_inputs(g, w, xv.shape, **kwargs)
    gw = AC.conv3d_grad_wrt_weights(x, g, wv.shape, **kwargs)
    gi_v, gw_v = kiln.function([x, w, g], [gi, gw])(xv, wv, gv)
    expected = float(np.sum(yv * gv))
    np.testing.assert_allclose([np.sum(xv * gi_v), np.sum(wv * gw_v)], [expected, expected], rtol=1e-10)


def reference_grad_inputs(g, w, xshape, border_mode="valid", subsample=None, filter_flip=True, filter_dilation=None,
                          num_groups=1):
    """The input gradient of reference_conv, directly: every output's gradient, times each filter tap,
    added to the input position that tap reads."""
    nd = g.ndim - 2
    w, p, dilation = reference_options(w, nd, border_mode, filter_flip, filter_dilation)
    xp = np.zeros(tuple(xshape[:2]) + tuple(xshape[2 + i] + 2 * p[i] for i in range(nd)))
    cg, fg = w.shape[1], w.shape[0] // num_groups
    for grp in range(num_groups):
        gg, wg = g[:, grp * fg:(grp + 1) * fg].astype("float64"), w[grp * fg:(grp + 1) * fg].astype("float64")
        for tap, window in tap_windows(w.shape[2:], dilation, g.shape[2:], subsample or (1,) * nd):
            xp[(slice(None), slice(grp * cg, (grp + 1) * cg)) + window] += np.einsum(
                "bf...,fc->bc...", gg, wg[(slice(None), slice(None)) + tap])
    return xp[(slice(None), slice(None)) + tuple(slice(p[i], p[i] + xshape[2 + i]) for i in range(nd))]


# On im2col + GEMM, the input gradient runs as a forward correlation of the output gradient when the
# stride and dilation are 1, the padding at most kernel - 1 and there are at least 16 channels per
# group; otherwise through col2im. These cases sit on both sides of each condition (with
# conv_backend=auto, float32 cases with 4 or more channels run on oneDNN instead, when built in).
INPUT_GRAD_CASES = [
    ((3, 16, 9, 8), (5, 16, 3, 3), dict()),
    ((3, 16, 9, 8), (5, 16, 3, 3), dict(border_mode="full")),
    ((3, 32, 9, 8), (7, 32, 3, 2), dict(border_mode="half")),
    ((3, 20, 7, 8), (6, 20, 3, 3), dict(border_mode=(2, 1), filter_flip=False)),
    ((2, 32, 6, 7), (8, 16, 3, 3), dict(border_mode="half", num_groups=2)),
    ((2, 16, 6, 7), (6, 16, 2, 2), dict(border_mode=(2, 1))),  # pad 2 > kernel - 1: col2im
    ((2, 16, 9, 8), (4, 16, 3, 3), dict(subsample=(2, 1))),  # stride: col2im
    ((2, 16, 9, 8), (4, 16, 3, 3), dict(filter_dilation=(1, 2))),  # dilation: col2im
    ((3, 15, 9, 8), (5, 15, 3, 3), dict(border_mode="half")),  # 15 channels: col2im
    ((2, 16, 5, 6, 4), (3, 16, 3, 2, 2), dict(border_mode="half")),
]


@pytest.mark.parametrize("backend", ["im2col", "auto"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("xshape,wshape,kwargs", INPUT_GRAD_CASES)
def test_grad_wrt_inputs_against_a_direct_reference(xshape, wshape, kwargs, dtype, backend):
    nd = len(xshape) - 2
    wv = data(wshape, dtype, 30)
    gv = data(reference_conv(data(xshape, dtype, 31), wv, **kwargs).shape, dtype, 32)
    w, g = T.tensor(dtype, shape=(None,) * (nd + 2)), T.tensor(dtype, shape=(None,) * (nd + 2))
    grad_inputs = AC.conv2d_grad_wrt_inputs if nd == 2 else AC.conv3d_grad_wrt_inputs
    with kiln.config.change_flags(conv_backend=backend):
        got = kiln.function([w, g], grad_inputs(g, w, xshape, **kwargs))(wv, gv)
    assert got.dtype == dtype and got.shape == xshape
    np.testing.assert_allclose(got, reference_grad_inputs(gv, wv, xshape, **kwargs), **tol(dtype))


def test_grad_wrt_inputs_with_subsample_uses_the_given_input_shape():
    # A (2, 2) subsample maps inputs of 7 and 8 rows to the same 3 output rows: the shape decides.
    wv, gv = data((2, 1, 3, 3), "float64", 19), data((1, 2, 3, 3), "float64", 20)
    w, g = T.dtensor4(), T.dtensor4()
    for rows in (7, 8):
        gi = AC.conv2d_grad_wrt_inputs(g, w, (None, None, rows, 8), subsample=(2, 2))
        value = kiln.function([w, g], gi)(wv, gv)
        assert value.shape == (1, 1, rows, 8)
        if rows == 8:
            np.testing.assert_array_equal(value[:, :, 7], 0)  # the last row is read by no output


def test_symbolic_spatial_shape():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    g = T.nnet.conv2d(x, w, subsample=(2, 2))
    gi = AC.conv2d_grad_wrt_inputs(g, w, (None, None, x.shape[2], x.shape[3]), subsample=(2, 2))
    xv, wv = data((1, 2, 7, 8), "float64", 21), data((3, 2, 3, 3), "float64", 22)
    expected = kiln.function([x, w], G.grad(T.sum(g ** 2) / 2, x))(xv, wv)
    np.testing.assert_allclose(kiln.function([x, w], gi)(xv, wv), expected, rtol=1e-12)


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize("kwargs", GRAD_OPTIONS + [dict(border_mode="half", filter_dilation=(2, 2), subsample=(1, 2))])
def test_verify_grad_conv2d(kwargs):
    groups = kwargs.get("num_groups", 1)
    xv, wv = data((2, 4, 5, 6), "float64", 23), data((2, 4 // groups, 3, 2), "float64", 24)
    G.verify_grad(lambda x, w: T.nnet.conv2d(x, w, **kwargs), [xv, wv], rng=np.random.default_rng(0))


@pytest.mark.parametrize("kwargs", [dict(border_mode="full"), dict(subsample=(2, 2), border_mode=1)])
def test_verify_grad_of_the_gradient_ops(kwargs):
    xv, wv = data((2, 2, 5, 5), "float64", 25), data((3, 2, 2, 3), "float64", 26)
    gv = reference_conv(xv, wv, **kwargs)
    G.verify_grad(lambda w, g: AC.conv2d_grad_wrt_inputs(g, w, xv.shape, **kwargs), [wv, gv],
                  rng=np.random.default_rng(1))
    G.verify_grad(lambda x, g: AC.conv2d_grad_wrt_weights(x, g, wv.shape, **kwargs), [xv, gv],
                  rng=np.random.default_rng(2))


def test_double_backprop():
    """The gradient of a function of the gradient (a gradient-norm penalty) against finite differences."""
    xv, wv = data((1, 2, 5, 5), "float64", 27), data((2, 2, 3, 3), "float64", 28)

    def penalty(x, w):
        y = T.nnet.conv2d(x, w, border_mode="half")
        gx, gw = G.grad(T.sum(T.tanh(y)), [x, w])
        return T.sum(gx ** 2) + T.sum(gw ** 2)

    G.verify_grad(penalty, [xv, wv], rng=np.random.default_rng(3))


# ---------------------------------------------------------------- static shapes

def test_static_output_shape_from_types_and_hints():
    x = T.tensor("float32", shape=(8, 3, 32, 32))
    w = T.tensor("float32", shape=(16, 3, 5, 5))
    assert T.nnet.conv2d(x, w, border_mode="half", subsample=(2, 2)).type.shape == (8, 16, 16, 16)
    x, w = T.ftensor4(), T.ftensor4()
    out = T.nnet.conv2d(x, w, input_shape=(None, 3, 28, 28), filter_shape=(20, 3, 5, 5))
    assert out.type.shape == (None, 20, 24, 24)
    assert T.nnet.conv2d(x, w).type.shape == (None, None, None, None)
    gi = AC.conv2d_grad_wrt_inputs(out, w, (None, 3, 28, 28))
    assert gi.type.shape == (None, 3, 28, 28)
    gw = AC.conv2d_grad_wrt_weights(x, out, (20, 3, 5, 5))
    assert gw.type.shape == (20, 3, 5, 5)


def test_output_shape_helpers():
    assert AC.get_conv_output_shape((8, 3, 32, 31), (16, 3, 5, 4), "half", (2, 1)) == (8, 16, 16, 32)
    assert AC.get_conv_output_shape((None, 3, 28, 28), (20, 3, 5, 5), "valid", (1, 1)) == (None, 20, 24, 24)
    assert AC.get_conv_shape_1axis(10, 3, "full", 1, 2) == 14


def test_op_classes():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    xv, wv = data((2, 3, 6, 6), "float64", 29), data((4, 3, 3, 3), "float64", 30)
    out = AC.AbstractConv2d(border_mode="full", filter_flip=False)(x, w)
    assert out.owner.op.kind == "AbstractConv2d"
    assert "border_mode='full'" in str(out.owner.op) and "filter_flip=False" in str(out.owner.op)
    gi = AC.AbstractConv2d_gradInputs(border_mode="full", filter_flip=False)(w, out, (6, 6))
    gw = AC.AbstractConv2d_gradWeights(border_mode="full", filter_flip=False)(x, out, (3, 3))
    assert gi.owner.op.kind == "AbstractConv2d_gradInputs" and gw.owner.op.kind == "AbstractConv2d_gradWeights"
    y, gi_v, gw_v = kiln.function([x, w], [out, gi, gw])(xv, wv)
    np.testing.assert_allclose(y, reference_conv(xv, wv, border_mode="full", filter_flip=False), rtol=1e-12)
    assert gi_v.shape == xv.shape and gw_v.shape == wv.shape


# ---------------------------------------------------------------- errors

def test_wrong_rank_is_a_type_error_naming_the_op():
    with pytest.raises(TypeError, match="AbstractConv2d: input .* must be a 4-d tensor"):
        T.nnet.conv2d(T.dmatrix("m"), T.dtensor4())
    with pytest.raises(TypeError, match="AbstractConv2d: filters .* must be a 4-d tensor"):
        T.nnet.conv2d(T.dtensor4(), T.dtensor3("w"))
    with pytest.raises(TypeError, match="AbstractConv3d: input .* must be a 5-d tensor"):
        T.nnet.conv3d(T.dtensor4(), T.dtensor4())
    with pytest.raises(TypeError, match="AbstractConv2d: input .* must be float32 or float64"):
        T.nnet.conv2d(T.ltensor4() if hasattr(T, "ltensor4") else T.tensor("int64", shape=(None,) * 4), T.dtensor4())


def test_channel_mismatch():
    x = T.tensor("float64", shape=(None, 3, None, None))
    w = T.tensor("float64", shape=(None, 2, None, None))
    with pytest.raises(ValueError, match="AbstractConv2d: the input has 3 channels but the filters"):
        T.nnet.conv2d(x, w)
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = kiln.function([x, w], T.nnet.conv2d(x, w))
    with pytest.raises(ValueError, match="AbstractConv2d: the input has 3 channels but the filters of shape "
                                         r"\(4, 2, 3, 3\)"):
        f(np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="cannot be split into num_groups=2"):
        kiln.function([x, w], T.nnet.conv2d(x, w, num_groups=2))(np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3)))


def test_filters_larger_than_the_input():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = kiln.function([x, w], T.nnet.conv2d(x, w))
    with pytest.raises(ValueError, match=r"AbstractConv2d: along spatial axis 0 the filters \(size 5"):
        f(np.zeros((1, 1, 3, 8)), np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="AbstractConv2d: .* larger than the input"):
        T.nnet.conv2d(T.tensor("float64", shape=(1, 1, 3, 3)), T.tensor("float64", shape=(1, 1, 2, 4)),
                      filter_dilation=(1, 1))
    # 'full' pads enough for any filter size
    assert f is not None
    assert kiln.function([x, w], T.nnet.conv2d(x, w, border_mode="full"))(
        np.ones((1, 1, 3, 3)), np.ones((1, 1, 5, 5))).shape == (1, 1, 7, 7)


def test_bad_options():
    x, w = T.dtensor4(), T.dtensor4()
    with pytest.raises(ValueError, match="border_mode must be 'valid', 'full', 'half'"):
        T.nnet.conv2d(x, w, border_mode="same")
    with pytest.raises(ValueError, match="AbstractConv2d: subsample"):
        T.nnet.conv2d(x, w, subsample=(0, 1))
    with pytest.raises(ValueError, match="AbstractConv2d: border_mode"):
        T.nnet.conv2d(x, w, border_mode=(-1, 0))
    with pytest.raises(ValueError, match="num_groups must be >= 1"):
        T.nnet.conv2d(x, w, num_groups=0)
    with pytest.raises(NotImplementedError, match="unshared"):
        T.nnet.conv2d(x, w, unshared=True)


def test_shape_hints_are_checked():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = kiln.function([x, w], T.nnet.conv2d(x, w, input_shape=(None, 1, 6, 6)))
    with pytest.raises(ValueError, match=r"AbstractConv2d: input of shape \(1, 1, 5, 6\) does not match the shape "
                                         r"hint \(None, 1, 6, 6\)"):
        f(np.zeros((1, 1, 5, 6)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="does not match the shape hint"):
        T.nnet.conv2d(T.tensor("float64", shape=(1, 2, 6, 6)), w, input_shape=(None, 1, 6, 6))


def test_output_grad_of_the_wrong_shape():
    w, g = T.dtensor4("w"), T.dtensor4("g")
    f = kiln.function([w, g], AC.conv2d_grad_wrt_inputs(g, w, (None, None, 6, 6)))
    with pytest.raises(ValueError, match=r"AbstractConv2d_gradInputs: output_grad of shape \(1, 2, 3, 3\) does not "
                                         r"match the convolution's output shape \(1, 2, 4, 4\)"):
        f(np.zeros((2, 1, 3, 3)), np.zeros((1, 2, 3, 3)))


# ---------------------------------------------------------------- DebugMode

def test_conv_family_under_debug_mode():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    y = T.nnet.conv2d(x, w, border_mode="half", subsample=(2, 1), num_groups=2)
    cost = T.sum(T.tanh(y))
    gx, gw = G.grad(cost, [x, w])
    ggx = G.grad(T.sum(gx ** 2) + T.sum(gw ** 2), x)
    outputs = [y, gx, gw, ggx]
    xv, wv = data((2, 4, 6, 5), "float64", 31), data((4, 2, 3, 3), "float64", 32)
    debug = kiln.function([x, w], outputs, mode="DebugMode")(xv, wv)
    fast = kiln.function([x, w], outputs)(xv, wv)
    for a, b in zip(debug, fast):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(debug[0], reference_conv(xv, wv, border_mode="half", subsample=(2, 1), num_groups=2),
                               rtol=1e-12)
