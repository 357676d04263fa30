// inplace: let an elementwise node write its result into an input's buffer when that input is
// dead afterwards. This is the destroy handler's check, done per node: the destroyed variable
//  - is computed inside the graph (inputs, constants and shared values belong to the caller or
//    to kiln's state and are never overwritten),
//  - is not a view of another variable (writing would change the base too),
//  - has this node as its only reader (so no one reads it afterwards, nor is it an output).
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/subtensor.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

bool destroyable(const FunctionGraph& fg, const Var& v) {
  const Apply* owner = v->owner();
  if (!owner) return false;
  if (owner->op().view_map().count(v->index())) return false;
  return fg.clients(v.get()).size() == 1;
}

std::optional<std::vector<Var>> elemwise_into_dead_input(const FunctionGraph& fg, const Apply& node) {
  if (!node.op().destroy_map().empty() || node.num_outputs() != 1) return std::nullopt;
  for (size_t k = 0; k < node.inputs().size(); ++k) {
    if (!destroyable(fg, node.input(static_cast<int>(k)))) continue;
    if (auto v = elemwise_inplace(node, static_cast<int>(k))) return std::vector<Var>{*v};
  }
  return std::nullopt;
}

// set_subtensor / inc_subtensor into x itself when x is dead afterwards (gradients of indexing
// build inc_subtensor(zeros_like(x)[idx], gz): the zeros need no second copy).
std::optional<std::vector<Var>> store_into_dead_input(const FunctionGraph& fg, const Apply& node) {
  if (!node.op().destroy_map().empty() || !destroyable(fg, node.input(0))) return std::nullopt;
  if (auto v = store_inplace(node)) return std::vector<Var>{*v};
  return std::nullopt;
}

}  // namespace

void register_inplace_rewrites(RewriteDatabase& db) {
  db.add("inplace", {"elemwise_inplace", {"fast_run", "inplace"}, node_rewriter({}, &elemwise_into_dead_input)});
  db.add("inplace", {"store_inplace", {"fast_run", "inplace"},
                     node_rewriter({"IncSubtensor", "AdvancedIncSubtensor1", "AdvancedIncSubtensor"},
                                   &store_into_dead_input)});
}

}  // namespace kiln::detail
