"""One row per elementwise op: how to call it in kiln, its numpy/scipy reference, the input domain.

Drives the value tests of test_elemwise.py; later the gradient and DebugMode checks reuse it.
"""
import numpy as np
import scipy.special as sp

import kiln.tensor as T
from kiln.compile.builders import OpFromGraph
from kiln.ifelse import ifelse

# Input domains: functions rng -> array-like of float64 values valid for the op.
def uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


ANY = uniform(-3, 3)
POSITIVE = uniform(0.1, 5)
UNIT = uniform(-0.95, 0.95)
ABOVE_ONE = uniform(1.05, 5)

# name -> (kiln op, numpy reference, domain)
UNARY_FLOAT = {
    "exp": (T.exp, np.exp, ANY),
    "exp2": (T.exp2, np.exp2, ANY),
    "expm1": (T.expm1, np.expm1, ANY),
    "log": (T.log, np.log, POSITIVE),
    "log2": (T.log2, np.log2, POSITIVE),
    "log10": (T.log10, np.log10, POSITIVE),
    "log1p": (T.log1p, np.log1p, uniform(-0.9, 5)),
    "sqrt": (T.sqrt, np.sqrt, POSITIVE),
    "reciprocal": (T.reciprocal, np.reciprocal, POSITIVE),
    "sin": (T.sin, np.sin, ANY),
    "cos": (T.cos, np.cos, ANY),
    "tan": (T.tan, np.tan, uniform(-1.4, 1.4)),
    "arcsin": (T.arcsin, np.arcsin, UNIT),
    "arccos": (T.arccos, np.arccos, UNIT),
    "arctan": (T.arctan, np.arctan, ANY),
    "sinh": (T.sinh, np.sinh, ANY),
    "cosh": (T.cosh, np.cosh, ANY),
    "tanh": (T.tanh, np.tanh, ANY),
    "arcsinh": (T.arcsinh, np.arcsinh, ANY),
    "arccosh": (T.arccosh, np.arccosh, ABOVE_ONE),
    "arctanh": (T.arctanh, np.arctanh, UNIT),
    "sigmoid": (T.sigmoid, sp.expit, uniform(-30, 30)),
    "softplus": (T.softplus, lambda x: np.logaddexp(0, x), uniform(-30, 30)),
    "erf": (T.erf, sp.erf, ANY),
    "erfc": (T.erfc, sp.erfc, ANY),
    "erfinv": (T.erfinv, sp.erfinv, uniform(-0.999, 0.999)),
    "erfcinv": (T.erfcinv, sp.erfcinv, uniform(0.001, 1.999)),
    "gamma": (T.gamma, sp.gamma, uniform(0.1, 6)),
    "gammaln": (T.gammaln, sp.gammaln, POSITIVE),
    "psi": (T.psi, sp.digamma, uniform(-3.9, 6)),
    "tri_gamma": (T.tri_gamma, lambda x: sp.polygamma(1, x), uniform(-3.9, 6)),
    "floor": (T.floor, np.floor, ANY),
    "ceil": (T.ceil, np.ceil, ANY),
    "trunc": (T.trunc, np.trunc, ANY),
    "round_half_to_even": (T.round_half_to_even, np.round, uniform(-5, 5)),
}

# Ops defined for every numeric dtype: name -> (kiln op, numpy reference, domain)
UNARY_ANY = {
    "neg": (T.neg, np.negative, ANY),
    "abs": (T.abs, np.abs, ANY),
    "sgn": (T.sgn, np.sign, ANY),
    "sqr": (T.sqr, np.square, ANY),
}

BINARY_ANY = {
    "add": (T.add, np.add, ANY),
    "sub": (T.sub, np.subtract, ANY),
    "mul": (T.mul, np.multiply, ANY),
    "minimum": (T.minimum, np.minimum, ANY),
    "maximum": (T.maximum, np.maximum, ANY),
    "int_div": (T.int_div, np.floor_divide, ANY),
    "mod": (T.mod, np.mod, ANY),
}

COMPARISONS = {
    "lt": (T.lt, np.less),
    "gt": (T.gt, np.greater),
    "le": (T.le, np.less_equal),
    "ge": (T.ge, np.greater_equal),
    "eq": (T.eq, np.equal),
    "neq": (T.neq, np.not_equal),
}

BITWISE = {
    "and_": (T.and_, np.bitwise_and),
    "or_": (T.or_, np.bitwise_or),
    "xor": (T.xor, np.bitwise_xor),
}

FLOAT_DTYPES = ["float32", "float64"]
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
ALL_DTYPES = ["bool"] + INT_DTYPES + FLOAT_DTYPES


def tolerance(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype in ("float32",) else dict(rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- gradient cases
# (id, function of symbolic inputs, list of input generators rng -> float64 array). Each case is
# checked with verify_grad in float64 and float32, and its forward mode (Rop) against grad. The
# op kinds their graphs contain must cover every differentiable kind kiln registers.
def _pts(*domains_and_shapes):
    return [lambda rng, d=d, s=s: d(rng, s) for d, s in domains_and_shapes]


SEPARATED = lambda rng, shape: (rng.permutation(int(np.prod(shape)) or 1)[:int(np.prod(shape))].reshape(shape)  # noqa: E731
                                 * 0.37 - 1.3 + rng.uniform(0, 0.05, shape))

# Same grid shifted by half a step: never within 0.13 of a SEPARATED value (no ties for min/max).
SEPARATED_SHIFTED = lambda rng, shape: SEPARATED(rng, shape) + 0.185  # noqa: E731

def _op_from_graph(a, b):
    """An OpFromGraph (compiled as a unit) built on the inputs' types and applied to them."""
    x, y = a.type(), b.type()
    return OpFromGraph([x, y], [T.tanh(x) * y + x])(a, b)


GRAD_CASES = []
for _name, (_op, _ref, _domain) in UNARY_FLOAT.items():
    if _name in ("floor", "ceil", "trunc", "round_half_to_even", "tri_gamma"):
        continue  # piecewise constant: checked for zero gradients separately
    GRAD_CASES.append((_name, _op, _pts((_domain, (3, 4)))))
GRAD_CASES += [
    ("neg", T.neg, _pts((ANY, (3, 4)))),
    ("abs", T.abs, _pts((SEPARATED, (3, 4)))),
    ("sqr", T.sqr, _pts((ANY, (3, 4)))),
    ("add", T.add, _pts((ANY, (3, 4)), (ANY, (3, 4)))),
    ("add_broadcast", lambda x, y: x + y, _pts((ANY, (3, 4)), (ANY, (4,)))),
    ("sub_broadcast_row", lambda x, y: x - y, _pts((ANY, (3, 4)), (ANY, (1, 4)))),
    ("mul_scalar", lambda x, s: x * s, _pts((ANY, (3, 4)), (ANY, ()))),
    ("true_div", T.true_div, _pts((ANY, (3, 4)), (POSITIVE, (3, 4)))),
    ("pow", T.pow, _pts((POSITIVE, (3, 4)), (ANY, (3, 4)))),
    ("minimum", T.minimum, _pts((SEPARATED, (3, 4)), (SEPARATED_SHIFTED, (3, 4)))),
    ("maximum", T.maximum, _pts((SEPARATED, (3, 4)), (SEPARATED_SHIFTED, (3, 4)))),
    ("arctan2", T.arctan2, _pts((ANY, (3, 4)), (POSITIVE, (3, 4)))),
    ("mod", T.mod, _pts((uniform(0.1, 0.9), (3, 4)), (uniform(1.1, 2), (3, 4)))),
    ("clip", lambda x: T.clip(x, -0.7, 0.9), _pts((SEPARATED, (3, 4)))),
    ("clip_bounds", T.clip, _pts((SEPARATED, (6,)), (uniform(-0.5, -0.4), (6,)), (uniform(0.4, 0.5), (6,)))),
    ("switch", lambda c, a, b: T.switch(c > 0, a, b), _pts((SEPARATED, (3, 4)), (ANY, (3, 4)), (ANY, (4,)))),
    # Lazy ifelse: the gradient reaches the branch taken (the condition holds for any point).
    ("ifelse_then", lambda a, b: ifelse(T.lt(T.max(a), 1e9), a * b, b.sum() - a), _pts((ANY, (3, 4)), (ANY, (3, 4)))),
    ("ifelse_else", lambda a, b: ifelse(T.gt(T.max(a), 1e9), a * b, T.exp(b) - a), _pts((ANY, (3, 4)), (ANY, (3, 4)))),
    ("op_from_graph", lambda a, b: _op_from_graph(a, b), _pts((ANY, (3, 4)), (ANY, (3, 4)))),
    ("cast", lambda x: T.cast(x, "float64") * 3, _pts((ANY, (3, 4)))),  # a Cast node for float32 inputs
    ("identity", lambda x: T.identity(x) * 2, _pts((ANY, (3, 4)))),
    ("dimshuffle", lambda x: x.dimshuffle(1, "x", 0) * T.arange(4).dimshuffle(0, "x", "x"), _pts((ANY, (3, 4)))),
    ("dimshuffle_drop", lambda r: r.dimshuffle(1) * 2, _pts((ANY, (1, 5)))),
    ("sum", lambda x: x.sum(axis=0), _pts((ANY, (3, 4)))),
    ("sum_keepdims", lambda x: x.sum(axis=(0, 2), keepdims=True), _pts((ANY, (2, 3, 4)))),
    ("sum_all", lambda x: T.sum(x ** 2), _pts((ANY, (3, 4)))),
    ("prod", lambda x: x.prod(axis=1), _pts((uniform(0.5, 1.5), (3, 4)))),
    ("max", lambda x: x.max(axis=1), _pts((SEPARATED, (3, 4)))),
    ("min", lambda x: x.min(axis=0), _pts((SEPARATED, (3, 4)))),
    ("mean", lambda x: x.mean(axis=-1), _pts((ANY, (3, 4)))),
    ("var", lambda x: x.var(axis=0), _pts((ANY, (3, 4)))),
    ("std", lambda x: x.std(), _pts((ANY, (3, 4)))),
    ("dot_mm", T.dot, _pts((ANY, (3, 4)), (ANY, (4, 2)))),
    ("dot_mv", T.dot, _pts((ANY, (3, 4)), (ANY, (4,)))),
    ("dot_vm", T.dot, _pts((ANY, (4,)), (ANY, (4, 2)))),
    ("dot_vv", T.dot, _pts((ANY, (4,)), (ANY, (4,)))),
    ("gemm", lambda z, a, x, y, b: T.blas.gemm_no_inplace(z, a, x, y, b),
     _pts((ANY, (3, 2)), (ANY, ()), (ANY, (3, 4)), (ANY, (4, 2)), (ANY, ()))),
    ("gemm_broadcast_z", lambda z, a, x, y, b: T.blas.gemm_no_inplace(z.dimshuffle("x", 0), a, x, y, b),
     _pts((ANY, (2,)), (ANY, ()), (ANY, (3, 4)), (ANY, (4, 2)), (ANY, ()))),
    ("gemv", lambda y, a, m, x, b: T.blas.gemv_no_inplace(y, a, m, x, b),
     _pts((ANY, (3,)), (ANY, ()), (ANY, (3, 4)), (ANY, (4,)), (ANY, ()))),
    ("ger", lambda m, a, x, y: T.blas.ger(m, a, x, y), _pts((ANY, (3, 4)), (ANY, ()), (ANY, (3,)), (ANY, (4,)))),
    ("batched_dot_33", T.batched_dot, _pts((ANY, (2, 3, 4)), (ANY, (2, 4, 2)))),
    ("batched_dot_32", T.batched_dot, _pts((ANY, (2, 3, 4)), (ANY, (2, 4)))),
    ("batched_dot_23", T.batched_dot, _pts((ANY, (2, 4)), (ANY, (2, 4, 3)))),
    ("batched_dot_22", T.batched_dot, _pts((ANY, (3, 4)), (ANY, (3, 4)))),
    ("matmul_broadcast", T.matmul, _pts((ANY, (2, 1, 3, 4)), (ANY, (3, 4, 2)))),
    ("tensordot", lambda a, b: T.tensordot(a, b, [[0, 2], [1, 0]]), _pts((ANY, (2, 3, 4)), (ANY, (4, 2, 3)))),
    ("einsum_bilinear", lambda x, m, y: T.einsum("i,ij,j->", x, m, y), _pts((ANY, (3,)), (ANY, (3, 4)), (ANY, (4,)))),
    ("einsum_batched_transpose", lambda a, b: T.einsum("bij,bkj->bki", a, b), _pts((ANY, (2, 3, 4)), (ANY, (2, 2, 4)))),
    ("composite", lambda x, y: kiln_core().composite([x, y], T.tanh(x * y) + T.exp(-y)),
     _pts((ANY, (3, 4)), (ANY, (1, 4)))),
    ("composite_reduce", lambda x, y: kiln_core().composite_reduce([x, y], T.max(T.tanh(x * y) + T.exp(-y), axis=1)),
     _pts((SEPARATED, (3, 4)), (ANY, (1, 4)))),
    ("composite_reduce_sum", lambda x, y: kiln_core().composite_reduce([x, y], T.sum(T.sin(x) * y, axis=0)),
     _pts((ANY, (3, 4)), (ANY, (3, 1)))),
    ("outer", T.outer, _pts((ANY, (3,)), (ANY, (4,)))),
    ("reshape", lambda x: x.reshape((4, 3)) * T.arange(3), _pts((ANY, (3, 4)))),
    ("flatten", lambda x: x.flatten() * T.arange(12), _pts((ANY, (3, 4)))),
    ("alloc", lambda s: T.alloc(s, 3, 2) * T.arange(2), _pts((ANY, ()))),
    ("make_vector", lambda a, b: kiln_core().make_vector([a, b * 2]), _pts((ANY, ()), (ANY, ()))),
    ("concatenate", lambda x, y: T.concatenate([x, y], axis=1), _pts((ANY, (3, 4)), (ANY, (3, 2)))),
    ("stack", lambda x, y: T.stack([x, y], axis=1), _pts((ANY, (4,)), (ANY, (4,)))),
    ("split", lambda x: T.split(x, [1, 3], 2, axis=1)[1] * 2, _pts((ANY, (3, 4)))),
    ("arange", lambda s: T.arange(s, 10.0, 1.5) * 2, _pts((uniform(0.1, 0.2), ()))),
    ("subtensor", lambda x: x[1:, ::-1] * 2, _pts((ANY, (3, 4)))),
    ("subtensor_int", lambda x: x[-1], _pts((ANY, (3, 4)))),
    ("inc_subtensor", lambda x, y: T.inc_subtensor(x[1:], y), _pts((ANY, (3, 4)), (ANY, (4,)))),
    ("set_subtensor", lambda x, y: T.set_subtensor(x[:, 1:3], y), _pts((ANY, (3, 4)), (ANY, (3, 2)))),
    ("advanced_subtensor1", lambda x: x[[0, 2, 2]], _pts((ANY, (3, 4)))),
    ("advanced_inc_subtensor1", lambda x, y: T.inc_subtensor(x[[0, 2, 0]], y), _pts((ANY, (3, 4)), (ANY, (3, 4)))),
    ("advanced_set_subtensor1", lambda x, y: T.set_subtensor(x[[2, 0]], y), _pts((ANY, (3, 4)), (ANY, (2, 4)))),
    ("advanced_subtensor", lambda x: x[[0, 1, 2], [3, 0, 1]], _pts((ANY, (3, 4)))),
    ("advanced_inc_subtensor", lambda x, y: T.inc_subtensor(x[[0, 1, 2], [3, 0, 1]], y),
     _pts((ANY, (3, 4)), (ANY, (3,)))),
    ("softmax", T.nnet.softmax, _pts((ANY, (3, 5)))),
    ("softmax_axis0_3d", lambda x: T.nnet.softmax(x, axis=0), _pts((ANY, (3, 2, 4)))),
    ("softmax_all_axes", lambda x: T.nnet.softmax(x, axis=None), _pts((ANY, (3, 4)))),
    ("log_softmax", T.nnet.log_softmax, _pts((ANY, (3, 5)))),
    ("log_softmax_axis1_3d", lambda x: T.nnet.log_softmax(x, axis=1), _pts((ANY, (2, 3, 4)))),
    # the gradient ops, differentiated again (their inputs: an output gradient and the forward output)
    ("softmax_grad", lambda dy, x: T.nnet.softmax_grad(dy, T.nnet.softmax(x)), _pts((ANY, (3, 5)), (ANY, (3, 5)))),
    ("log_softmax_grad", lambda dy, x: T.nnet.log_softmax_grad(dy, T.nnet.log_softmax(x, axis=0), axis=0),
     _pts((ANY, (3, 5)), (ANY, (3, 5)))),
    ("softmax_with_bias", T.nnet.softmax_with_bias, _pts((ANY, (3, 4)), (ANY, (4,)))),
    ("crossentropy_softmax_argmax_1hot_with_bias",  # nll and softmax outputs both carry gradient
     lambda x, b: (lambda nll, sm, am: nll.dimshuffle(0, "x") * sm)(
         *T.nnet.crossentropy_softmax_argmax_1hot_with_bias(x, b, [0, 3, 1])), _pts((ANY, (3, 4)), (ANY, (4,)))),
    ("crossentropy_softmax_1hot", lambda x: T.nnet.crossentropy_softmax_1hot(x, [2, 0, 1])[0], _pts((ANY, (3, 4)))),
    ("crossentropy_softmax_1hot_with_bias_dx",
     lambda dy, x: T.nnet.crossentropy_softmax_1hot_with_bias_dx(dy, T.nnet.softmax(x), [0, 3, 1]),
     _pts((ANY, (3,)), (ANY, (3, 4)))),
    ("crossentropy_softmax_1hot_with_bias_dx_scalar_dy",
     lambda dy, x: T.nnet.crossentropy_softmax_1hot_with_bias_dx(dy, T.nnet.softmax(x), [0, 3, 1]),
     _pts((ANY, ()), (ANY, (3, 4)))),
    ("categorical_crossentropy", lambda p: T.nnet.categorical_crossentropy(T.nnet.softmax(p), [0, 3, 1]),
     _pts((ANY, (3, 4)))),
    ("categorical_crossentropy_dist", lambda p, t: T.nnet.categorical_crossentropy(T.nnet.softmax(p), t),
     _pts((ANY, (3, 4)), (uniform(0, 1), (3, 4)))),
    ("crossentropy_categorical_1hot_grad",
     lambda g, p: T.nnet.crossentropy_categorical_1hot_grad(g, p, [0, 3, 1]), _pts((ANY, (3,)), (POSITIVE, (3, 4)))),
    ("elu", lambda x: T.nnet.elu(x, 0.7), _pts((SEPARATED, (3, 4)))),
    ("selu", T.nnet.selu, _pts((SEPARATED, (3, 4)))),
    ("softsign", T.nnet.softsign, _pts((ANY, (3, 4)))),
    ("relu_leaky", lambda x: T.nnet.relu(x, 0.1), _pts((SEPARATED, (3, 4)))),
    ("binary_crossentropy", T.nnet.binary_crossentropy, _pts((uniform(0.05, 0.95), (3, 4)), (uniform(0, 1), (3, 4)))),
    ("sigmoid_binary_crossentropy", T.nnet.sigmoid_binary_crossentropy, _pts((ANY, (3, 4)), (uniform(0, 1), (3, 4)))),
]

def kiln_core():
    import kiln
    return kiln._core


# ---------------------------------------------------------------- linear algebra gradient cases
# Inputs a well-conditioned LAPACK routine can differentiate: matrices dominated by their
# diagonal, symmetric positive definite ones, triangular ones with a large diagonal.
def well_conditioned(rows, cols=None):
    cols = cols or rows
    return lambda rng: rng.uniform(-1, 1, (rows, cols)) + max(rows, cols) * np.eye(rows, cols)


def spd(n):
    def gen(rng):
        a = rng.uniform(-1, 1, (n, n))
        return a @ a.T + n * np.eye(n)
    return gen


def separated_spd(n):
    """Symmetric with eigenvalues 2, 5, 8, ...: eigenvectors stay well defined under float32 steps."""
    def gen(rng):
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        return (q * (2 + 3 * np.arange(n))) @ q.T
    return gen


def lower_triangular(n):
    return lambda rng: np.tril(rng.uniform(-1, 1, (n, n))) + n * np.eye(n)


def anything(shape):
    return lambda rng: ANY(rng, shape)


def _eigh_product(a):
    w, v = T.nlinalg.eigh(a)
    return v * w  # both outputs reach the cost


def _svd_product(a):
    u, s, vt = T.nlinalg.svd(a, full_matrices=False)
    return T.dot(u * s, vt * 2) + u.sum(axis=1, keepdims=True) + vt[0].sum()


def _qr_product(a):
    q, r = T.nlinalg.qr(a)
    return T.dot(q, r.T) + q.sum()


def _slogdet_both(a):
    sign, logdet = T.nlinalg.slogdet(a)
    return sign * logdet


GRAD_CASES += [
    ("matrix_inverse", T.nlinalg.matrix_inverse, [well_conditioned(3)]),
    ("det", T.nlinalg.det, [well_conditioned(3)]),
    ("slogdet", _slogdet_both, [well_conditioned(3)]),
    ("eigh", _eigh_product, [separated_spd(3)]),
    ("svd", _svd_product, [well_conditioned(4, 3)]),
    ("svd_values_wide", lambda a: T.nlinalg.svd(a, compute_uv=False), [well_conditioned(3, 4)]),
    ("pinv", T.nlinalg.pinv, [well_conditioned(4, 3)]),
    ("qr_tall", _qr_product, [well_conditioned(4, 3)]),
    ("qr_wide", lambda a: T.nlinalg.qr(a, "r"), [well_conditioned(3, 4)]),
    ("cholesky", T.slinalg.cholesky, [spd(3)]),
    ("expm", T.slinalg.expm, [anything((3, 3))]),
    ("solve", T.slinalg.solve, [well_conditioned(3), anything((3, 2))]),
    ("solve_pos_vector", lambda a, b: T.slinalg.solve(a, b, assume_a="pos"), [spd(3), anything((3,))]),
    ("solve_triangular", lambda a, b: T.slinalg.solve_triangular(a, b, lower=True), [lower_triangular(3),
                                                                                     anything((3, 2))]),
    ("cho_solve", lambda c, b: T.slinalg.cho_solve((c, True), b), [lower_triangular(3), anything((3,))]),
    ("trace", T.trace, [anything((3, 4))]),
    ("diag_offset", lambda v: T.diag(v, -1), [anything((3,))]),
    ("kron", T.nlinalg.kron, [anything((2, 3)), anything((3, 2))]),
]


# ---------------------------------------------------------------- convolution and pooling gradient cases
def _conv():
    from kiln.tensor.nnet import abstract_conv
    return abstract_conv


def _pool():
    from kiln.tensor.signal import pool
    return pool


GRAD_CASES += [
    ("conv2d", lambda x, w: T.nnet.conv2d(x, w, border_mode="half", subsample=(2, 1)),
     _pts((ANY, (2, 2, 5, 4)), (ANY, (3, 2, 3, 2)))),
    ("conv2d_groups_dilation", lambda x, w: T.nnet.conv2d(x, w, num_groups=2, filter_dilation=(2, 1), filter_flip=False),
     _pts((ANY, (1, 4, 5, 4)), (ANY, (2, 2, 2, 2)))),
    ("conv2d_grad_inputs", lambda w, g: _conv().conv2d_grad_wrt_inputs(g, w, (2, 2, 5, 4), border_mode="full"),
     _pts((ANY, (3, 2, 3, 2)), (ANY, (2, 3, 7, 5)))),
    ("conv2d_grad_weights", lambda x, g: _conv().conv2d_grad_wrt_weights(x, g, (3, 2, 3, 2), subsample=(2, 2)),
     _pts((ANY, (2, 2, 5, 4)), (ANY, (2, 3, 2, 2)))),
    ("conv3d", lambda x, w: T.nnet.conv3d(x, w, border_mode=(1, 0, 1)),
     _pts((ANY, (1, 2, 3, 3, 2)), (ANY, (2, 2, 2, 2, 2)))),
    ("conv3d_grad_inputs", lambda w, g: _conv().conv3d_grad_wrt_inputs(g, w, (1, 2, 3, 3, 2)),
     _pts((ANY, (2, 2, 2, 2, 2)), (ANY, (1, 2, 2, 2, 1)))),
    ("conv3d_grad_weights", lambda x, g: _conv().conv3d_grad_wrt_weights(x, g, (2, 2, 2, 2, 2), subsample=(1, 2, 1)),
     _pts((ANY, (1, 2, 3, 3, 2)), (ANY, (1, 2, 2, 1, 1)))),
    ("pool_max", lambda x: _pool().pool_2d(x, (2, 2), ignore_border=False), _pts((SEPARATED, (1, 2, 3, 5)))),
    ("pool_average_inc_pad", lambda x: _pool().pool_2d(x, (3, 2), stride=(2, 1), pad=(1, 1), mode="average_inc_pad"),
     _pts((ANY, (2, 5, 4)))),
    ("pool_sum_3d", lambda x: _pool().pool_3d(x, (2, 2, 2), ignore_border=False, mode="sum"),
     _pts((ANY, (1, 3, 3, 4)))),
    ("max_pool_grad", lambda x, g: _pool().MaxPoolGrad(False)(x, _pool().pool_2d(x, (2, 2), False), g, (2, 2)),
     _pts((SEPARATED, (1, 2, 4, 5)), (ANY, (1, 2, 2, 3)))),
    ("average_pool_grad", lambda x, g: _pool().AveragePoolGrad(True, "average_exc_pad")(x, g, (2, 2), (1, 1), (1, 0)),
     _pts((ANY, (2, 4, 3)), (ANY, (2, 5, 2)))),
    ("max_pool_grad_grad",
     lambda x, gg: _pool().DownsampleFactorMaxGradGrad(False)(x, _pool().pool_2d(x, (2, 2), False), gg, (2, 2)),
     _pts((SEPARATED, (1, 2, 4, 5)), (ANY, (1, 2, 4, 5)))),
]


def _scan_rnn(x, h0):
    import kiln
    out, _ = kiln.scan(lambda xt, h: T.tanh(h * xt + xt), sequences=x, outputs_info=h0)
    return out


GRAD_CASES += [("scan_rnn", _scan_rnn, _pts((ANY, (4, 3)), (ANY, (3,))))]
