// Vectorised elementwise kernels (SLEEF) that replace the scalar loops of elemwise_kernels.cpp
// for transcendental functions on float32/float64 when the CPU supports them.
#pragma once

#include "ops/elemwise_impl.hpp"

namespace kiln::detail {

struct VectorKernelEntry {
  ScalarOpId op;
  DType dtype;
  ScalarKernel kernel;
};

// Tables of kernels per instruction set, each ended by an entry with a null kernel. Defined in
// vector_math_<isa>.cpp, compiled for that instruction set: only safe to call on CPUs that have it.
extern const VectorKernelEntry kAvx2Kernels[];
extern const VectorKernelEntry kAvx512Kernels[];

/// The fastest kernel for `op` in compute type `t` on this CPU: a SLEEF kernel when one exists and
/// the CPU supports it, otherwise the scalar loop. nullptr if the op is not defined for `t`.
ScalarKernel best_kernel(ScalarOpId op, DType t);

}  // namespace kiln::detail
