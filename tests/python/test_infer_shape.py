"""Each op's infer_shape graph, compiled, gives the shape of the value the op computes."""
import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln import _core
from kiln import gradient as G


def check(inputs, output, values):
    dims = _core.infer_shape(output)
    assert dims is not None, f"infer_shape of {output} is unknown"
    f = kiln.function(inputs, [output] + list(dims), on_unused_input="ignore")
    value, *sizes = f(*values)
    assert tuple(int(s) for s in sizes) == value.shape


M, R, C, V, S = T.dmatrix(), T.drow(), T.dcol(), T.dvector(), T.dscalar()
MV, RV, CV, VV, SV = np.ones((3, 4)), np.ones((1, 4)), np.ones((3, 1)), np.ones(4), np.array(2.0)

LABELS = T.constant(np.array([0, 3, 1]))

CASES = {
    "elemwise": lambda: M + V,
    "elemwise_row_col": lambda: R * C,
    "elemwise_scalar": lambda: T.exp(S) + M,
    "switch": lambda: T.switch(M > 0, R, C),
    "dimshuffle": lambda: M.dimshuffle(1, "x", 0),
    "transpose": lambda: M.T,
    "sum_axis": lambda: M.sum(axis=0),
    "sum_keepdims": lambda: M.sum(axis=1, keepdims=True),
    "max": lambda: M.max(axis=-1),
    "argmax": lambda: T.argmax(M, axis=0),
    "mean": lambda: T.mean(M, axis=(0, 1)),
    "dot_mm": lambda: T.dot(M, M.T),
    "dot_mv": lambda: T.dot(M, V),
    "dot_vm": lambda: T.dot(V, M.T),
    "dot_vv": lambda: T.dot(V, V),
    "gemm": lambda: T.blas.gemm_no_inplace(T.dot(M, M.T), S, M, M.T, S),
    "gemv": lambda: T.blas.gemv_no_inplace(V[:3], S, M, V, S),
    "ger": lambda: T.blas.ger(M, S, C[:, 0], V),
    "batched_dot": lambda: T.batched_dot(M, M),
    "shape": lambda: M.shape,
    "reshape": lambda: M.reshape((2, -1)),
    "flatten": lambda: M.flatten(),
    "concatenate": lambda: T.concatenate([M, M], axis=1),
    "stack": lambda: T.stack([V, V]),
    "alloc": lambda: T.alloc(S, 3, 2),
    "arange": lambda: T.arange(M.shape[0]),
    "subtensor": lambda: M[1:, ::2],
    "subtensor_int": lambda: M[-1],
    "inc_subtensor": lambda: T.inc_subtensor(M[1:], R),
    "advanced_subtensor1": lambda: M[[0, 2, 2, 1]],
    "advanced_subtensor": lambda: M[T.arange(3), [0, 1, 3]],
    "softmax": lambda: T.nnet.softmax(M),
    "softmax_axis0": lambda: T.nnet.softmax(M, axis=0),
    "log_softmax_all_axes": lambda: T.nnet.log_softmax(M, axis=None),
    "softmax_grad": lambda: T.nnet.softmax_grad(M, T.nnet.softmax(M)),
    "log_softmax_grad": lambda: T.nnet.log_softmax_grad(M, T.nnet.log_softmax(M)),
    "softmax_with_bias": lambda: T.nnet.softmax_with_bias(M, V),
    "crossentropy_nll": lambda: T.nnet.crossentropy_softmax_argmax_1hot_with_bias(M, V, LABELS)[0],
    "crossentropy_softmax": lambda: T.nnet.crossentropy_softmax_argmax_1hot_with_bias(M, V, LABELS)[1],
    "crossentropy_argmax": lambda: T.nnet.crossentropy_softmax_argmax_1hot_with_bias(M, V, LABELS)[2],
    "crossentropy_dx": lambda: T.nnet.crossentropy_softmax_1hot_with_bias_dx(M[:, 0], T.nnet.softmax(M), LABELS),
    "crossentropy_categorical_1hot": lambda: T.nnet.crossentropy_categorical_1hot(T.nnet.softmax(M), LABELS),
    "crossentropy_categorical_1hot_grad": lambda: T.nnet.crossentropy_categorical_1hot_grad(
        M[:, 1], T.nnet.softmax(M), LABELS),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_infer_shape(name):
    check([M, R, C, V, S], CASES[name](), [MV, RV, CV, VV, SV])


# Convolution and pooling: 4-d inputs of their own.
X4, W4 = T.dtensor4("x4"), T.dtensor4("w4")
X4V, W4V = np.ones((2, 4, 7, 6)), np.ones((6, 2, 3, 2))


def _conv_cases():
    from kiln.tensor.nnet import abstract_conv as ac
    from kiln.tensor.signal import pool
    x5, w5 = X4.dimshuffle(0, 1, 2, 3, "x"), W4.dimshuffle(0, 1, 2, 3, "x")
    return {
        "conv2d_groups": lambda: T.nnet.conv2d(X4, W4, num_groups=2),
        "conv2d_half_subsample": lambda: T.nnet.conv2d(X4, W4, num_groups=2, border_mode="half",
                                                       subsample=(2, 3)),
        "conv2d_full_dilation": lambda: T.nnet.conv2d(X4, W4, num_groups=2, border_mode="full", filter_dilation=(2, 2)),
        "conv2d_explicit_pad": lambda: T.nnet.conv2d(X4, W4, num_groups=2, border_mode=(1, 3), subsample=(2, 2)),
        "conv2d_grad_inputs": lambda: ac.conv2d_grad_wrt_inputs(T.nnet.conv2d(X4, W4, num_groups=2, subsample=(2, 2)),
                                                                W4, (None, None, X4.shape[2], X4.shape[3]),
                                                                num_groups=2, subsample=(2, 2)),
        "conv2d_grad_weights": lambda: ac.conv2d_grad_wrt_weights(X4, T.nnet.conv2d(X4, W4, num_groups=2), W4.shape,
                                                                  num_groups=2),
        "conv3d": lambda: T.nnet.conv3d(x5, w5, num_groups=2, border_mode="half"),
        "conv3d_grad_inputs": lambda: ac.conv3d_grad_wrt_inputs(
            T.nnet.conv3d(x5, w5, num_groups=2, subsample=(2, 1, 1)), w5,
            (None, None, X4.shape[2], X4.shape[3], 1), num_groups=2, subsample=(2, 1, 1)),
        "conv3d_grad_weights": lambda: ac.conv3d_grad_wrt_weights(x5, T.nnet.conv3d(x5, w5, border_mode="full",
                                                                                    num_groups=2),
                                                                  w5.shape, border_mode="full", num_groups=2),
        "pool_partial": lambda: pool.pool_2d(X4, (3, 4), ignore_border=False, stride=(2, 1)),
        "pool_padded": lambda: pool.pool_2d(X4[0], (3, 2), stride=(2, 2), pad=(1, 1), mode="average_inc_pad"),
        "pool_3d": lambda: pool.pool_3d(X4, (2, 3, 4), ignore_border=False),
        "max_pool_grad": lambda: G.grad(T.sum(pool.pool_2d(X4, (2, 2), ignore_border=False)), X4),
        "average_pool_grad": lambda: G.grad(T.sum(pool.pool_2d(X4, (2, 2), mode="sum")), X4),
        "max_pool_grad_grad": lambda: pool.DownsampleFactorMaxGradGrad(True)(
            X4, pool.pool_2d(X4, (2, 3)), X4, (2, 3)),
    }


@pytest.mark.parametrize("name", sorted(_conv_cases()))
def test_infer_shape_conv_and_pool(name):
    check([X4, W4], _conv_cases()[name](), [X4V, W4V])


# The op kinds of the neural-network, BLAS and linear-algebra families; each needs a case above or
# in test_linalg.SHAPE_CASES whose output it computes.
FAMILY_KINDS = {
    "AbstractConv2d", "AbstractConv2d_gradInputs", "AbstractConv2d_gradWeights", "AbstractConv3d",
    "AbstractConv3d_gradInputs", "AbstractConv3d_gradWeights", "Pool", "MaxPoolGrad", "AveragePoolGrad",
    "DownsampleFactorMaxGradGrad", "Softmax", "SoftmaxGrad", "LogSoftmax", "LogSoftmaxGrad", "SoftmaxWithBias",
    "CrossentropySoftmaxArgmax1HotWithBias", "CrossentropySoftmax1HotWithBiasDx", "CrossentropyCategorical1Hot",
    "CrossentropyCategorical1HotGrad", "Dot", "Gemm", "Gemv", "Ger", "BatchedDot", "Cholesky", "CholeskySolve", "Det",
    "Eig", "Eigh", "MatrixInverse", "MatrixPinv", "QR", "SLogDet", "SVD", "Solve", "SolveTriangular", "ExtractDiag",
    "AllocDiag", "Expm", "ExpmGrad",
}


def test_every_family_op_kind_has_an_infer_shape_case():
    import test_linalg
    assert FAMILY_KINDS <= {kind for kind, _ in _core.registered_op_kinds()}
    builders = list(CASES.values()) + list(_conv_cases().values()) + list(test_linalg.SHAPE_CASES.values())
    covered = {out.owner.op.kind for out in (build() for build in builders) if out.owner is not None}
    assert not FAMILY_KINDS - covered, f"op kinds without an infer_shape case: {sorted(FAMILY_KINDS - covered)}"
