// Test-only ops that break the Op contract on purpose, one way each, so the tests can show that
// DebugMode catches every kind of broken op, and test-only hooks into process-wide state. Never
// used by kiln itself.
#pragma once

#include <string>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln::testing {

/// A float64 op computing x + 1 that breaks its contract as `flaw` says:
///  - "wrong_infer_shape": infer_shape claims one more row than the result has;
///  - "ignores_strides": reads its input as if it were C-contiguous;
///  - "undeclared_destroy": also writes x + 1 over its input, without a destroy_map;
///  - "undeclared_view": returns its input itself (so it computes x), without a view_map;
///  - "none": no flaw (the control case).
/// Throws ValueError for another flaw, TypeError when x is not float64.
Var broken_op(const std::string& flaw, const Var& x);

/// A Composite (fused elementwise node) applied to `inputs` that computes `output` on the
/// interpreter but whose generated kernel computes `kernel_output`: a compiled kernel that
/// disagrees with its reference.
Var composite_with_kernel_of(const std::vector<Var>& inputs, const Var& output, const Var& kernel_output);

/// Forgets which reasons for running kernels on the interpreter were already warned about (each
/// is warned about once per process), so a test sees its warning whatever ran before it.
void forget_interpreter_warnings();

}  // namespace kiln::testing
