// Code generation: the scalar program of a fused elementwise kernel, the C++ source emitted for it,
// and the compiler driver that turns that source into a loaded function (through an on-disk cache
// under config.compiledir).
#pragma once

#include <cstdint>
#include <optional>
#include <functional>
#include <string>
#include <vector>

#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/runtime/dtype.hpp"

namespace kiln {

/// A straight-line program of scalar-table ops: what a fused elementwise kernel computes per
/// element. Values are bool, float32 or float64; each step converts its operands to its compute
/// dtype, applies the table's formula and converts the result to its output dtype, exactly as the
/// interpreter's Elemwise does (so comparisons, switch and casts fuse too).
struct ScalarProgram {
  struct Operand {
    enum class Kind { Input, Step, Literal } kind;
    int index = 0;      // Input: which input; Step: which earlier step
    double value = 0;   // Literal
  };
  struct Step {
    ScalarOpId op;
    std::vector<Operand> args;
    DType compute = DType::Float64;  // bool, float32 or float64
    DType out = DType::Float64;      // bool, float32 or float64
  };
  DType dtype = DType::Float64;  // the output's: the last step's out, float32 or float64
  int num_inputs = 0;
  std::vector<DType> input_dtypes;  // bool, float32 or float64
  std::vector<Step> steps;          // the last step's value is the output

  /// Readable form, as Theano prints composites: "tanh((i0 + i1))".
  std::string expression() const;
};

/// The run function every generated kernel exports: ptrs[0] is the output, ptrs[1..] the inputs;
/// strides in bytes (0 for a broadcast operand); n elements.
using KernelRunFn = void (*)(char** ptrs, const int64_t* strides, int64_t n);

/// A kernel that reduces its per-element result instead of storing it: ptrs[0] is then an
/// accumulator of acc_dtype with stride 0 along the reduced axes (one value per run when its inner
/// stride is 0), and each element is combined into it (sum, prod, max or min).
struct KernelReduction {
  ReduceKind kind;
  DType acc_dtype;  // float32 or float64
};

/// The C++ source of a kernel for `program` exporting `symbol` (a KernelRunFn). It includes the
/// interpreter's scalar formulas (scalar_math.hpp) and calls the interpreter's vectorised SLEEF
/// kernels for the transcendental steps, so both paths share one formula per op. With a
/// `reduction`, the results are combined into an accumulator instead of stored.
std::string emit_kernel_source(const ScalarProgram& program, const std::string& symbol,
                               const std::optional<KernelReduction>& reduction = std::nullopt);

/// A kernel compiled from `source` (exporting `symbol` and `symbol`_init): loaded from the cache
/// or compiled now with config.cxx and config.cxxflags, then given `step_kernels` (see
/// step_vector_kernels). Returns nullptr and sets `error` when no compiler is configured or
/// compilation fails; the caller then runs the interpreter.
KernelRunFn load_kernel(const std::string& source, const std::string& symbol, const std::vector<const void*>& step_kernels,
                        std::string* error);
/// Per step of `program`: the interpreter's vectorised kernel the generated code calls, or null.
std::vector<const void*> step_vector_kernels(const ScalarProgram& program);

/// Whether config.cxx names a compiler that runs (its --version succeeds; remembered per compiler)
/// and the cache directory is usable.
bool compiler_runs();

/// Runs `task` on one of kiln's background compile threads (as many as cores, started on first
/// use), for tiered execution. At process exit queued tasks are dropped and running ones finish.
void compile_in_background(std::function<void()> task);

/// The header every generated kernel includes (scalar_math.hpp), as text.
const std::string& scalar_math_header_source();

}  // namespace kiln
