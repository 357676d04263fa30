// Reduction internals shared by CAReduce and the fused elementwise-then-reduce kernels.
#pragma once

#include "kiln/ops/reduce.hpp"
#include "kiln/runtime/array.hpp"

namespace kiln::detail {

/// A C-contiguous accumulator of `shape` and dtype `acc_dtype` filled with the identity of `kind`
/// (0 for sums, 1 for products, -inf for max...).
Array reduce_identity(ReduceKind kind, DType acc_dtype, const Shape& shape);

/// into[i] = combine(into[i], from[i]): merges two partial accumulators of the same reduction
/// (same dtype and shape, C-contiguous).
void reduce_combine_into(ReduceKind kind, Array& into, const Array& from);

}  // namespace kiln::detail
