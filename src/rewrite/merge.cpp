// Merge (common subexpressions, equal constants) and constant folding.
#include <cstring>
#include <map>
#include <unordered_map>

#include "kiln/error.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

// A key identifying a constant's value: dtype, shape and bytes.
std::string constant_key(const Array& a) {
  Array c = a.contiguous();
  std::string key(dtype_name(a.dtype()));
  key += shape_str(a.shape());
  key.append(c.data(), c.size() * c.itemsize());
  return key;
}

// Equal constants become one variable, so equal computations on them can merge.
void merge_constants(FunctionGraph& fg) {
  std::map<std::string, Var> canonical;
  std::vector<std::shared_ptr<Apply>> order;
  for (Apply* n : fg.toposort()) order.push_back(n->shared_from_this());
  for (const auto& node : order)
    for (size_t i = 0; i < node->inputs().size(); ++i) {
      Var in = node->inputs()[i];  // a copy: replace() rewrites the node's inputs
      if (!in->is_constant() || in->constant_value().size() > 4096) continue;
      auto [it, inserted] = canonical.emplace(constant_key(in->constant_value()), in);
      if (!inserted && it->second != in && it->second->is_weak() == in->is_weak()) fg.replace(in, it->second);
    }
}

// Nodes applying equal ops to the same inputs compute the same values: keep the first.
void merge_nodes(FunctionGraph& fg) {
  bool changed = true;
  while (changed) {
    changed = false;
    std::unordered_map<size_t, std::vector<Apply*>> seen;
    std::vector<std::shared_ptr<Apply>> order;  // owning: replacements drop nodes from the graph
    for (Apply* n : fg.toposort()) order.push_back(n->shared_from_this());
    for (const auto& held : order) {
      Apply* node = held.get();
      if (!fg.contains(node)) continue;
      size_t h = node->op().hash();
      for (const Var& in : node->inputs()) h = h * 1000003u ^ std::hash<const void*>()(in.get());
      Apply* twin = nullptr;
      for (Apply* other : seen[h])
        if (fg.contains(other) && other->inputs() == node->inputs() && other->op().equals(node->op())) twin = other;
      if (!twin) {
        seen[h].push_back(node);
        continue;
      }
      for (size_t i = 0; i < node->num_outputs(); ++i) fg.replace(node->output(static_cast<int>(i)), twin->output(static_cast<int>(i)));
      changed = true;
    }
  }
}

// Evaluate a node whose inputs are all constants, once, at compile time. Large results stay
// computed at run time (folding them would bloat the graph and the compile).
std::optional<std::vector<Var>> fold_constants(const FunctionGraph&, const Apply& node) {
  constexpr int64_t kMaxFoldedElements = 1 << 16;
  if (node.inputs().empty()) return std::nullopt;
  std::vector<Array> in;
  for (const Var& v : node.inputs()) {
    if (!v->is_constant()) return std::nullopt;
    in.push_back(v->constant_value());
  }
  std::vector<Array> out(node.num_outputs());
  try {
    node.op().perform(node, in, out);
  } catch (const Error&) {
    return std::nullopt;  // leave the error to run time, where it names the user's line
  }
  std::vector<Var> result;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].defined() || out[i].size() > kMaxFoldedElements) return std::nullopt;
    Var c = Variable::constant(out[i].copy());
    // Keep static sizes the output type did not promise out of the replacement's type.
    const TensorType& t = node.output_ptr(static_cast<int>(i))->type();
    if (!t.is_super(c->type()) || t.dtype() != c->dtype()) return std::nullopt;
    result.push_back(c);
  }
  return result;
}

}  // namespace

void register_merge_rewrites(RewriteDatabase& db) {
  const std::set<std::string> tags{"fast_run", "fast_compile", "merge"};
  for (const char* phase : {"merge1", "merge2"})
    db.add_pass(phase, std::string(phase) + "_merge", tags, [](FunctionGraph& fg) {
      merge_constants(fg);
      merge_nodes(fg);
    });
  db.add("canonicalize", {"constant_folding", {"fast_run", "fast_compile", "constant_folding"},
                          node_rewriter({}, &fold_constants)});
}

}  // namespace kiln::detail
