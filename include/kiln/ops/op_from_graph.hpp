// Theano's OpFromGraph: an op defined by a graph. Applied like any op, it either runs its graph
// compiled once as a unit (a kiln Function, called per node execution) or, with inline_graph, is
// replaced by a copy of its graph before the other rewrites run.
//
// The graph is copied on creation onto fresh inputs, so later changes to the variables it was
// built from do not matter. Shared variables the graph reads become implicit inputs, appended
// after the explicit ones when the op is applied. Gradients differentiate the graph unless an
// override is given; equality is identity, as in Theano.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

class Function;
class OpFromGraph;

/// A gradient override: the gradient with respect to each input (explicit inputs, then the
/// implicit shared ones; nullptr: disconnected) given the node's inputs, outputs and the gradients
/// of its outputs.
using OpFromGraphLop = std::function<std::vector<Var>(const OpFromGraph& op, const std::vector<Var>& inputs,
                                                      const std::vector<Var>& outputs,
                                                      const std::vector<Var>& output_grads)>;
/// A forward-derivative override: the tangent of each output (nullptr: none) given the node's
/// inputs and one eval point per input (nullptr for inputs held constant).
using OpFromGraphRop = std::function<std::vector<Var>(const OpFromGraph& op, const std::vector<Var>& inputs,
                                                      const std::vector<Var>& eval_points)>;

struct OpFromGraphOptions {
  /// Replace each application by a copy of the graph before rewriting.
  bool inline_graph = false;
  std::string name;
  OpFromGraphLop lop_override;  // empty: differentiate the graph
  OpFromGraphRop rop_override;  // empty: forward-differentiate the graph
  /// The mode the graph compiles in when it runs as a unit; empty: the configured mode.
  std::string mode;
};

class OpFromGraph final : public Op, public std::enable_shared_from_this<OpFromGraph> {
 public:
  /// The op computing `outputs` from `inputs`. Throws TypeError when an input is null, a constant,
  /// a shared variable or computed by another node, or when an output is null; MissingInputError
  /// when the outputs need a free variable that is not among the inputs.
  static std::shared_ptr<const OpFromGraph> create(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                                   OpFromGraphOptions options = {});

  /// Apply the op to the explicit inputs (the implicit shared ones are appended). Throws
  /// ValueError for a wrong number of inputs, TypeError for an input of another dtype or ndim.
  std::vector<Var> operator()(const std::vector<Var>& inputs) const;

  std::string name() const override;
  std::string kind() const override { return "OpFromGraph"; }
  bool equals(const Op& other) const override { return this == &other; }
  size_t hash() const override { return std::hash<const void*>()(this); }
  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override;
  void perform(const Apply& node, std::span<const Array> inputs, std::span<Array> outputs) const override;
  std::vector<std::vector<Var>> infer_shape(const Apply& node,
                                            const std::vector<std::vector<Var>>& input_shapes) const override;
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& output_grads) const override;
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& eval_points) const override;

  /// The graph's outputs computed from `inputs` (all of them, implicit ones included): a copy of
  /// the graph, for inlining and differentiation.
  std::vector<Var> expand(const std::vector<Var>& inputs) const;
  /// The gradient by differentiating the graph (what L_op gives without an override).
  std::vector<Var> default_lop(const std::vector<Var>& inputs, const std::vector<Var>& output_grads) const;
  /// The forward derivative of the graph (what R_op gives without an override).
  std::vector<Var> default_rop(const std::vector<Var>& inputs, const std::vector<Var>& eval_points) const;

  bool inline_graph() const { return options_.inline_graph; }
  /// The mode the graph compiles in when it runs as a unit (empty: the configured mode).
  const std::string& mode() const { return options_.mode; }
  size_t num_explicit_inputs() const { return num_explicit_; }
  /// The shared variables the graph reads, in the order they are appended as inputs.
  const std::vector<Var>& shared_inputs() const { return shared_inputs_; }
  const std::vector<Var>& inner_inputs() const { return inner_inputs_; }
  const std::vector<Var>& inner_outputs() const { return inner_outputs_; }

 private:
  OpFromGraph() = default;
  const Function& compiled() const;
  std::vector<Var> on_inputs(const std::vector<Var>& inner_results, const std::vector<Var>& inputs) const;

  std::vector<Var> inner_inputs_;   // fresh variables: the explicit inputs, then one per shared variable
  std::vector<Var> inner_outputs_;  // the graph, on inner_inputs_
  std::vector<Var> shared_inputs_;
  size_t num_explicit_ = 0;
  OpFromGraphOptions options_;
  mutable std::once_flag compile_once_;
  mutable std::shared_ptr<const Function> function_;
};

}  // namespace kiln
