// FunctionGraph: the one mutable graph structure. It holds a subgraph between input and output
// variables, tracks the clients (consumers) of every variable, and supports replace(), which
// rewrites and compilation build on. Graph walks here are iterative, never recursive, so graphs of
// any depth are fine.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

/// The Apply nodes needed to compute `outputs`, inputs before consumers, in a deterministic order
/// (depth-first from the outputs in order, inputs in order). Stops at variables in `stop_at`.
std::vector<Apply*> toposort(const std::vector<Var>& outputs, const std::unordered_set<const Variable*>& stop_at = {});

/// Leaves (variables without owner) that `outputs` depend on, in first-seen order.
std::vector<Var> graph_inputs(const std::vector<Var>& outputs);

/// Copy the graph computing `outputs`, substituting `replace[v]` for v wherever v occurs (the
/// replacements' own graphs are copied too). Leaves not replaced are shared, not copied.
/// Returns the copies of `outputs`.
std::vector<Var> clone_graph(const std::vector<Var>& outputs, const std::map<const Variable*, Var>& replace = {});

class FunctionGraph {
 public:
  /// A consumer of a variable: input `index` of `node`, or graph output `index` when node is null.
  struct Client {
    Apply* node;
    int index;
    bool operator==(const Client& o) const { return node == o.node && index == o.index; }
  };

  /// Builds the graph from `inputs` to `outputs`. With clone=true (the default) the nodes are
  /// copied first, so the caller's graph is never modified by replace().
  FunctionGraph(std::vector<Var> inputs, std::vector<Var> outputs, bool clone = true);

  const std::vector<Var>& inputs() const { return inputs_; }
  const std::vector<Var>& outputs() const { return outputs_; }
  /// Nodes in topological order.
  std::vector<Apply*> toposort() const;
  /// Number of nodes.
  size_t size() const { return nodes_.size(); }
  const std::vector<Client>& clients(const Variable* v) const;
  bool contains(const Apply* node) const { return nodes_.count(node->id()) != 0; }

  /// Make every consumer of `old_var` use `new_var` instead. Types must match (new_var's type
  /// may be more specific). Nodes no longer needed are dropped.
  /// (Takes its arguments by value: a reference into a node's inputs would change under it.)
  void replace(Var old_var, Var new_var);

  /// Record that output `output_index` is the new value of shared variable `shared` (a function's
  /// update), so the inplace rewrites may write it into the shared variable's own buffer.
  void mark_update(const Var& shared, int output_index) { update_output_[shared.get()] = output_index; }
  /// The output holding `shared`'s new value, if the graph updates it.
  std::optional<int> update_output(const Variable* shared) const {
    auto it = update_output_.find(shared);
    return it == update_output_.end() ? std::nullopt : std::optional<int>(it->second);
  }
  const std::unordered_map<const Variable*, int>& updates() const { return update_output_; }
  /// Record that input `v`'s value may be overwritten (Theano's In(mutable=True)).
  void mark_mutable(const Var& v) { mutable_inputs_.insert(v.get()); }
  bool is_mutable(const Variable* v) const { return mutable_inputs_.count(v) != 0; }

 private:
  void import_graph(const std::vector<Var>& roots);
  void prune(Apply* node);
  std::vector<Var> inputs_;
  std::vector<Var> outputs_;
  std::map<uint64_t, std::shared_ptr<Apply>> nodes_;  // by id: deterministic iteration
  std::unordered_map<const Variable*, std::vector<Client>> clients_;
  std::unordered_map<const Variable*, int> update_output_;
  std::unordered_set<const Variable*> mutable_inputs_;
};

}  // namespace kiln
