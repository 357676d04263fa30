// Products: dot (vector/matrix, through OpenBLAS for float32/float64), outer.
#pragma once

#include <optional>

#include "kiln/graph/graph.hpp"

namespace kiln {

/// Theano's dot: 0-d operands multiply elementwise; vector·vector -> scalar, matrix·vector ->
/// vector, vector·matrix -> vector, matrix·matrix -> matrix. Output dtype is the promotion of the
/// inputs. A run-time shape mismatch raises ValueError naming both shapes.
Var dot(const Var& a, const Var& b);
/// matmul: as dot for vectors and matrices.
Var matmul(const Var& a, const Var& b);
/// gemm(z, alpha, x, y, beta) = beta * z + alpha * dot(x, y) in one BLAS call (Theano's
/// gemm_no_inplace): z a matrix that broadcasts to the product's shape along its broadcastable
/// axes, alpha and beta 0-d, all of one float dtype. With beta == 0, z's values are not read.
/// The blas rewrites build it from dot, mul and add/sub.
Var gemm(const Var& z, const Var& alpha, const Var& x, const Var& y, const Var& beta);
/// The same Gemm writing into z's buffer (for the inplace rewrites); std::nullopt if `node` is not
/// a Gemm out of place, or z's type differs from the output's (z broadcasts).
std::optional<Var> gemm_inplace(const Apply& node);
/// outer(x, y)[i, j] = x[i] * y[j] (inputs are flattened first).
Var outer(const Var& x, const Var& y);

}  // namespace kiln
