// Composite: a fused elementwise computation (Theano's Elemwise{Composite{...}}). The fusion
// rewrite replaces a tree of elementwise nodes of one float dtype by one Composite node, which
// makes one pass over memory instead of one per op and no intermediate arrays. Its kernel is
// generated C++ (see kiln/compile/codegen.hpp), compiled when the function is compiled; without a
// compiler it runs its inner graph on the interpreter, with identical results.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

/// Fuse the elementwise graph from `inputs` to `output` into one Composite node applied to
/// `inputs`; returns its output. Every node between them must be a plain elementwise op whose
/// inputs and output have `output`'s float dtype; size-1 constants become literals.
Var fuse_elementwise(const std::vector<Var>& inputs, const Var& output);

/// Fuse the elementwise graph from `inputs` to the input of the reduction `reduced` (a float Sum,
/// Prod, Max or Min node's output), and that reduction, into one CompositeReduce node: one pass
/// over the inputs, no intermediate array.
Var fuse_elementwise_reduce(const std::vector<Var>& inputs, const Var& reduced);

/// The same Composite writing its result into input `input`'s buffer (for the inplace rewrites);
/// std::nullopt if `node` is not an out-of-place Composite or that input's type differs from the
/// output's.
std::optional<Var> composite_inplace(const Apply& node, int input);

/// For a fused op (Composite, CompositeReduce): compile (or load from the cache) its kernel now.
/// Returns an explanation when the interpreter will be used instead (no compiler, compile error),
/// else empty. Does nothing for other ops.
std::string prepare_kernel(const Op& op);

/// For a fused node: compile (or load) its kernel on a background thread and return at once;
/// the node runs on the interpreter until the kernel is ready (tiered execution). Does nothing
/// for other ops, or when the kernel is already being prepared.
void prepare_kernel_in_background(const Apply& node);

/// DebugMode's reference for a fused op (Composite, CompositeReduce): computes `node`'s
/// outputs on the interpreter (the inner graph op by op, out of place) even when its compiled
/// kernel is loaded. Returns false, leaving `out` alone, for other ops.
bool perform_interpreted(const Apply& node, std::span<const Array> in, std::span<Array> out);

/// For a fused op: the generated C++ source of its kernel; empty for other ops.
std::string kernel_source(const Op& op);

}  // namespace kiln
