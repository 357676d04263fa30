// fusion: trees of elementwise nodes with a float result become one Composite node (Theano's
// elemwise fusion), so a chain like a*b + c*exp(d) makes one pass over memory.
//
// Groups grow from a root (visited consumers first) toward its producers. A producer joins only
// when every reader of its result is already in the group, so no value is computed twice and no
// other node loses an input; and only when its result has the root's broadcast pattern, so a
// cheap computation on a row is not redone for every row of a matrix.
//
// A float sum, prod, max or min whose input is such a group's root, read by nothing else, joins
// it: the group becomes one CompositeReduce, which folds the results into the accumulator without
// an intermediate array (`sum(exp(x) * y)` is one loop).
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "kiln/ops/composite.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "ops/elemwise_impl.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

constexpr size_t kMaxGroupNodes = 64;
constexpr size_t kMaxGroupInputs = 24;

bool is_literal(const Var& v) { return v->is_constant() && v->constant_value().size() == 1; }

bool fusable_value(DType dt) { return dt == DType::Bool || dt == DType::Float32 || dt == DType::Float64; }

// An out-of-place elementwise node (casts, comparisons and switch included) on bool, float32 and
// float64 values that computes in one of those types; scalar constants of any dtype become
// literals, converted as the interpreter converts them.
bool fusable(const Apply& node) {
  const auto id = fusable_scalar_op(node.op());
  if (node.num_outputs() != 1 || !id || !fusable_value(node.output_ptr(0)->dtype())) return false;
  std::vector<DType> in_dtypes;
  for (const Var& in : node.inputs()) {
    if (!fusable_value(in->dtype()) && !is_literal(in)) return false;
    in_dtypes.push_back(in->dtype());
  }
  const DType compute = elemwise_compute_dtype(*id, in_dtypes, node.output_ptr(0)->dtype());
  return fusable_value(compute) && scalar_kernel(*id, compute) != nullptr;
}

bool float_output(const Apply& node) {
  const DType dt = node.output_ptr(0)->dtype();
  return dt == DType::Float32 || dt == DType::Float64;
}

struct Group {
  std::vector<const Apply*> nodes;  // root first, then producers in the order they joined
  std::unordered_set<const Apply*> members;
  std::vector<Var> inputs;  // in first-use order
  void add(const Apply* n) {
    nodes.push_back(n);
    members.insert(n);
  }
};

// Grow the group of `root` breadth-first toward its producers (a deterministic order, so the same
// graph always makes the same kernels and hits the kernel cache), then list its inputs.
// `position` is each node's place in one topological order of the graph.
Group grow_group(const FunctionGraph& fg, Apply* root, const std::unordered_map<const Apply*, size_t>& position) {
  const auto& pattern = root->output_ptr(0)->type().shape();
  auto same_pattern = [&](const Var& v) {
    const auto& s = v->type().shape();
    for (size_t d = 0; d < s.size(); ++d)
      if ((s[d] == 1) != (pattern[d] == 1)) return false;
    return true;
  };
  Group g;
  g.add(root);
  // A producer can become joinable only after its other readers joined: sweep until nothing joins.
  for (bool grew = true; grew && g.nodes.size() < kMaxGroupNodes;) {
    grew = false;
    for (size_t i = 0; i < g.nodes.size() && g.nodes.size() < kMaxGroupNodes; ++i)
      for (const Var& in : g.nodes[i]->inputs()) {
        Apply* producer = in->owner();
        if (!producer || g.members.count(producer) || !fusable(*producer) || !same_pattern(in)) continue;
        const auto& readers = fg.clients(in.get());
        bool all_inside = std::all_of(readers.begin(), readers.end(),
                                      [&](const FunctionGraph::Client& c) { return c.node && g.members.count(c.node); });
        if (!all_inside || g.nodes.size() >= kMaxGroupNodes) continue;
        g.add(producer);
        grew = true;
      }
  }
  std::vector<const Apply*> in_order = g.nodes;
  std::sort(in_order.begin(), in_order.end(),
            [&](const Apply* a, const Apply* b) { return position.at(a) < position.at(b); });
  std::unordered_set<const Variable*> seen;
  for (const Apply* node : in_order)
    for (const Var& in : node->inputs()) {
      const Apply* owner = in->owner();
      if ((owner && g.members.count(owner)) || is_literal(in) || !seen.insert(in.get()).second) continue;
      g.inputs.push_back(in);
    }
  return g;
}

// The elementwise producer a reduction node can absorb: a fusable float node whose only reader is
// `node`, a float Sum/Prod/Max/Min; else null.
Apply* absorbable_producer(const FunctionGraph& fg, const Apply& node) {
  auto info = reduce_info(node.op());
  if (!info || !is_float(info->acc_dtype) || info->kind == ReduceKind::Any || info->kind == ReduceKind::All) return nullptr;
  const Var& x = node.input(0);
  Apply* producer = x->owner();
  if (!producer || !fusable(*producer) || !float_output(*producer)) return nullptr;
  return fg.clients(x.get()).size() == 1 ? producer : nullptr;
}

void fuse_elementwise_trees(FunctionGraph& fg) {
  std::vector<Apply*> order = fg.toposort();
  std::unordered_map<const Apply*, size_t> position;
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  std::reverse(order.begin(), order.end());  // consumers first: each group grows from its root
  std::unordered_set<const Apply*> done;
  for (Apply* node : order) {
    if (done.count(node) || !fg.contains(node)) continue;
    if (Apply* producer = absorbable_producer(fg, *node); producer && !done.count(producer)) {
      Group g = grow_group(fg, producer, position);
      done.insert(g.nodes.begin(), g.nodes.end());
      if (g.inputs.size() > kMaxGroupInputs) continue;
      ScopedUserLocation where(node->output(0)->source_location());
      fg.replace(node->output(0), fuse_elementwise_reduce(g.inputs, node->output(0)));
      continue;
    }
    if (!fusable(*node) || !float_output(*node)) continue;
    Group g = grow_group(fg, node, position);
    done.insert(g.nodes.begin(), g.nodes.end());
    if (g.nodes.size() < 2 || g.inputs.size() > kMaxGroupInputs) continue;
    ScopedUserLocation where(node->output(0)->source_location());
    fg.replace(node->output(0), fuse_elementwise(g.inputs, node->output(0)));
  }
}

}  // namespace

void register_fusion_rewrites(RewriteDatabase& db) {
  db.add_pass("fusion", "elemwise_fusion", {"fast_run", "fusion"}, &fuse_elementwise_trees);
}

}  // namespace kiln::detail
