// Products: dot (vector/matrix, through OpenBLAS for float32/float64), outer.
#pragma once

#include "kiln/graph/graph.hpp"

namespace kiln {

/// Theano's dot: 0-d operands multiply elementwise; vector·vector -> scalar, matrix·vector ->
/// vector, vector·matrix -> vector, matrix·matrix -> matrix. Output dtype is the promotion of the
/// inputs. A run-time shape mismatch raises ValueError naming both shapes.
Var dot(const Var& a, const Var& b);
/// matmul: as dot for vectors and matrices.
Var matmul(const Var& a, const Var& b);
/// outer(x, y)[i, j] = x[i] * y[j] (inputs are flattened first).
Var outer(const Var& x, const Var& y);

}  // namespace kiln
