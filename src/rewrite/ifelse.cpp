// Rewrites of IfElse that need no analysis:
//   ifelse(constant c, a, b) -> a if c != 0 else b
//   ifelse(c, a, a)          -> a
// Each output is replaced on its own, and only where the branch can stand for it without losing
// static shape information (the output knows only the sizes both branches agree on).
#include "kiln/ops/ifelse.hpp"
#include "rewrite/canonicalize_impl.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

// Output i of an IfElse node replaced by pick(i) (a branch input index), where the types allow.
NodeRewrite replace_outputs(const Apply& node, const std::function<std::optional<int>(int)>& pick) {
  std::vector<Var> replacements(node.num_outputs());
  bool any = false;
  for (size_t i = 0; i < node.num_outputs(); ++i) {
    std::optional<int> input = pick(static_cast<int>(i));
    if (!input) continue;
    const Var& branch = node.input(*input);
    if (branch->type() != node.output_ptr(static_cast<int>(i))->type()) continue;
    replacements[i] = branch;
    any = true;
  }
  if (!any) return std::nullopt;
  return replacements;
}

NodeRewrite ifelse_constant_condition(const FunctionGraph&, const Apply& node) {
  if (!is_ifelse(node) || !node.input(0)->is_constant()) return std::nullopt;
  const bool take_then = node.input(0)->constant_value().item_as_double() != 0.0;
  const int n = static_cast<int>(node.num_outputs());
  return replace_outputs(node, [&](int i) { return std::optional<int>(take_then ? 1 + i : 1 + n + i); });
}

NodeRewrite ifelse_same_branches(const FunctionGraph&, const Apply& node) {
  if (!is_ifelse(node)) return std::nullopt;
  const int n = static_cast<int>(node.num_outputs());
  return replace_outputs(node, [&](int i) {
    return node.input(1 + i) == node.input(1 + n + i) ? std::optional<int>(1 + i) : std::nullopt;
  });
}

}  // namespace

void register_ifelse_rewrites(RewriteDatabase& db) {
  const std::set<std::string> tags{"fast_run", "fast_compile", "canonicalize", "ifelse"};
  db.add("canonicalize", {"ifelse_constant_condition", tags, node_rewriter({"IfElse"}, ifelse_constant_condition)});
  db.add("canonicalize", {"ifelse_same_branches", tags, node_rewriter({"IfElse"}, ifelse_same_branches)});
}

}  // namespace kiln::detail
