// Vectorised elementwise kernels (SLEEF) that replace the scalar loops of elemwise_kernels.cpp
// for transcendental functions on float32/float64 when the CPU supports them.
//
// Why SLEEF and not glibc's libmvec (bench/vector_math_sleef_vs_libmvec.cpp, 10M values, one
// thread, AVX2): SLEEF's u10 functions stay within 1 ulp (measured 0.6-0.9); libmvec's reached
// 1.4-3.8 ulp and g++ calls it only under -ffast-math, which would also change NaN and inf
// handling in every kernel. Speed is mixed: SLEEF expf 7.1 ms vs libmvec 8.3 ms, but libmvec is
// faster for logf (7.0 vs 13.4 ms), exp (14.2 vs 23.3 ms) and log (16.4 vs 37.2 ms); it has no
// log1p. The accuracy and IEEE semantics decide.
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
