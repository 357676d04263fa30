// What the fused ops (Composite, CompositeReduce) share: their inner graph, the scalar program
// generated from it, broadcasting of their inputs, and the kernel each loads once.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "kiln/compile/codegen.hpp"
#include "kiln/graph/graph.hpp"

namespace kiln::detail {

/// The graph a fused op computes, on its own input variables: evaluated node by node on the
/// interpreter when no kernel is available, differentiated by inlining it on the op's inputs.
class FusedGraph {
 public:
  /// Clones the graph from `inputs` to `output` onto fresh input variables i0, i1, ...
  FusedGraph(const std::vector<Var>& inputs, const Var& output);

  const std::vector<Var>& inputs() const { return inputs_; }
  const Var& output() const { return output_; }
  /// The inner nodes in topological order.
  std::vector<Apply*> nodes() const;
  /// The graph applied to `outer` (one variable per inner input).
  Var inline_on(const std::vector<Var>& outer) const;
  /// Evaluate the graph on the interpreter's kernels.
  Array interpret(std::span<const Array> in) const;

 private:
  std::vector<Var> inputs_;
  Var output_;
  std::vector<std::shared_ptr<Apply>> nodes_;
};

/// The scalar program of the elementwise nodes `nodes` (topological order) from `inputs` to
/// `output`. Throws TypeError when a node is not a plain elementwise op of output's float dtype.
ScalarProgram scalar_program(const std::vector<Var>& inputs, const Var& output, const std::vector<Apply*>& nodes);

/// The shape `node`'s inputs broadcast to (`ndim` axes); an input broadcasts only along the axes
/// its type declares broadcastable. ValueError naming the node's op when the shapes do not fit (the
/// name is only built then: a fused op's name prints its whole expression).
Shape fused_broadcast_shape(const Apply& node, std::span<const Array> in, int ndim);

/// Per input: its byte strides for a walk over `shape`, 0 along the axes where it is broadcast.
std::vector<Shape> broadcast_strides(const Shape& shape, std::span<const Array> in);
/// a's strides over `shape` (which it broadcasts to): 0 along the axes it broadcasts.
Shape broadcast_strides(const Shape& shape, const Array& a);

/// A generated kernel, compiled or loaded from the cache on first use, or on a background thread
/// (tiered execution); thread-safe. It holds no graph objects, so the background thread never
/// touches reference counts Python may own.
class LazyKernel {
 public:
  LazyKernel(std::string source, std::vector<const void*> step_kernels)
      : source_(std::move(source)), step_kernels_(std::move(step_kernels)) {}
  const std::string& source() const { return source_; }
  /// Compile or load once; the reason the interpreter must run instead, or empty.
  const std::string& prepare() const;
  /// The loaded kernel, or nullptr: no compiler, a compile error, or still compiling in the
  /// background (the interpreter runs meanwhile).
  KernelRunFn get() const;
  /// Compile or load on a background thread; returns at once. Nothing when already requested.
  static void prepare_in_background(const std::shared_ptr<const LazyKernel>& self);

 private:
  std::string source_;
  std::vector<const void*> step_kernels_;
  mutable std::once_flag once_;
  mutable std::atomic<KernelRunFn> kernel_{nullptr};
  mutable std::string error_;
  mutable std::atomic<bool> in_background_{false};  // prepare_in_background was called
  mutable std::atomic<bool> ready_{false};          // prepare finished: kernel_ and error_ are final
};

/// Base of the ops that run a generated kernel (see kernel_source / prepare_kernel).
class FusedOp : public Op {
 public:
  const LazyKernel& lazy_kernel() const { return *kernel_; }
  const std::shared_ptr<const LazyKernel>& shared_kernel() const { return kernel_; }
  /// DebugMode's reference: the outputs computed on the interpreter, out of place, whatever
  /// kernel perform() would use.
  virtual void perform_interpreted(const Apply& node, std::span<const Array> in, std::span<Array> out) const = 0;

 protected:
  std::shared_ptr<const LazyKernel> kernel_;  // shared by copies (inplace variants)
};

}  // namespace kiln::detail
