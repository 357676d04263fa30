// Instantiates the interpreter's loop for every row of scalar_table.def and every compute type the
// row is defined for. The loops are flat and contiguous, so the compiler vectorises the simple ones.
#include <array>
#include <cmath>

#include "ops/elemwise_impl.hpp"
#include "ops/vector_math.hpp"
#include "runtime/convert.hpp"
#include "ops/scalar_math.hpp"

namespace kiln::detail {
namespace {

using namespace kiln::smath;

// The compute types of each "types" column of the table.
template <typename T>
constexpr bool in_class_All = true;
template <typename T>
constexpr bool in_class_Float = std::is_floating_point_v<T>;
template <typename T>
constexpr bool in_class_Int = !std::is_floating_point_v<T>;

#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad)                                        \
  struct Fn_##name {                                                                          \
    template <typename T>                                                                     \
    static constexpr bool defined_for = in_class_##types<T>;                                  \
    template <typename T>                                                                     \
    static inline T apply([[maybe_unused]] T a, [[maybe_unused]] T b, [[maybe_unused]] T c) { \
      return static_cast<T>(expr);                                                            \
    }                                                                                         \
    static constexpr int kArity = arity;                                                      \
  };
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP

template <typename F, typename T>
void run_kernel(const void* const* in, void* out_void, int64_t n) {
  // No __restrict on out: an inplace node writes over its first input element by element.
  T* out = static_cast<T*>(out_void);
  const T* a = static_cast<const T*>(in[0]);
  if constexpr (F::kArity == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = F::template apply<T>(a[i], T{}, T{});
  } else if constexpr (F::kArity == 2) {
    const T* b = static_cast<const T*>(in[1]);
    for (int64_t i = 0; i < n; ++i) out[i] = F::template apply<T>(a[i], b[i], T{});
  } else {
    const T* b = static_cast<const T*>(in[1]);
    const T* c = static_cast<const T*>(in[2]);
    for (int64_t i = 0; i < n; ++i) out[i] = F::template apply<T>(a[i], b[i], c[i]);
  }
}

template <typename F>
ScalarKernel kernel_for_type(DType t) {
  return visit_dtype(t, [](auto v) -> ScalarKernel {
    using T = decltype(v);
    if constexpr (F::template defined_for<T>) return &run_kernel<F, T>;
    else return nullptr;
  });
}

}  // namespace

ScalarKernel scalar_kernel(ScalarOpId op, DType t) {
  if (!is_supported(t)) return nullptr;
  switch (op) {
#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad) \
  case ScalarOpId::name: return kernel_for_type<Fn_##name>(t);
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP
  }
  return nullptr;
}

namespace {
const VectorKernelEntry* vector_table() {
  static const VectorKernelEntry* table = []() -> const VectorKernelEntry* {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return kAvx512Kernels;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kAvx2Kernels;
    return nullptr;
  }();
  return table;
}
}  // namespace

ScalarKernel best_kernel(ScalarOpId op, DType t) {
  // Looked up on every elementwise call: one table of every (op, dtype) pair, filled once.
  using Table = std::array<ScalarKernel, static_cast<size_t>(kNumScalarOps) * kNumDTypes>;
  static const Table kBest = [] {
    Table best{};
    for (int o = 0; o < kNumScalarOps; ++o)
      for (int d = 0; d < kNumDTypes; ++d)
        best[o * kNumDTypes + d] = scalar_kernel(static_cast<ScalarOpId>(o), static_cast<DType>(d));
    std::array<bool, std::tuple_size_v<Table>> vectorised{};  // the table's first entry for a pair wins
    if (const VectorKernelEntry* table = vector_table())
      for (int i = 0; table[i].kernel; ++i) {
        const int k = static_cast<int>(table[i].op) * kNumDTypes + static_cast<int>(table[i].dtype);
        if (!vectorised[k]) best[k] = table[i].kernel;
        vectorised[k] = true;
      }
    return best;
  }();
  return kBest[static_cast<int>(op) * kNumDTypes + static_cast<int>(t)];
}

}  // namespace kiln::detail
