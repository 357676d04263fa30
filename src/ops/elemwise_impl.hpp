// Private interface between the Elemwise op (elemwise.cpp) and its precompiled kernels
// (elemwise_kernels.cpp, one instantiation per table row and compute type).
#pragma once

#include <span>
#include <cstdint>
#include <vector>

#include "kiln/ops/elemwise.hpp"
#include "kiln/runtime/dtype.hpp"

namespace kiln::detail {

/// Computes out[i] = f(in0[i], in1[i], in2[i]) for i < n over contiguous arrays of the compute type.
using ScalarKernel = void (*)(const void* const* in, void* out, int64_t n);

/// The kernel of a scalar op for compute type `t`, or nullptr if the op is not defined for it.
ScalarKernel scalar_kernel(ScalarOpId op, DType t);

/// The type an elementwise node computes in, given its inputs' and output's dtypes: the output
/// type, except that comparisons compute in the inputs' promoted type and Cast in its input type.
/// The fused kernels convert operands to it exactly as the interpreter does.
DType elemwise_compute_dtype(ScalarOpId id, std::span<const DType> in, DType out);

/// The gradient column of scalar_table.def for `id`: one entry per input (nullptr: no gradient),
/// in terms of the inputs x, y, z (unused ones null), the output and its gradient gz.
std::vector<Var> scalar_grad(ScalarOpId id, const Op& op, const Var& x, const Var& y, const Var& z, const Var& out,
                             const Var& gz);

}  // namespace kiln::detail
