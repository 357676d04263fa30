"""kiln.tensor.blas (T.blas): the BLAS ops the rewrites introduce, callable directly as in Theano."""
from .._core import gemm

# gemm_no_inplace(z, alpha, x, y, beta) = beta * z + alpha * dot(x, y). The inplace form is only
# made by the rewrites, which check that z is dead afterwards.
gemm_no_inplace = gemm

__all__ = ["gemm_no_inplace"]
