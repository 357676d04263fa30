"""One row per elementwise op: how to call it in kiln, its numpy/scipy reference, the input domain.

Drives the value tests of test_elemwise.py; later the gradient and DebugMode checks reuse it.
"""
import numpy as np
import scipy.special as sp

import kiln.tensor as T

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
