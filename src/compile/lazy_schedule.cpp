// Guards and order of the lazily evaluated steps (see lazy_schedule_impl.hpp).
#include "compile/lazy_schedule_impl.hpp"

#include <functional>
#include <optional>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>

#include "kiln/error.hpp"
#include "kiln/ops/ifelse.hpp"

namespace kiln::detail {
namespace {

// Terms ordered by the condition's creation number, for a deterministic guard order.
using Term = std::tuple<uint64_t, const Variable*, bool>;
using Guard = std::set<Term>;

Guard intersection(const Guard& a, const Guard& b) {
  Guard out;
  for (const Term& t : a)
    if (b.count(t)) out.insert(t);
  return out;
}

// Walk from the roots back to the leaves: a node's guard is the intersection, over the edges to
// the nodes reading it, of the reader's guard plus the branch term of an IfElse edge.
std::vector<Guard> compute_guards(const std::vector<Apply*>& order, const std::vector<Var>& roots,
                                  const std::unordered_map<const Apply*, size_t>& position) {
  std::vector<std::optional<Guard>> guards(order.size());
  for (const Var& r : roots)
    if (r->owner()) guards[position.at(r->owner())] = Guard{};
  for (size_t k = order.size(); k-- > 0;) {
    const Apply* node = order[k];
    if (!guards[k]) guards[k] = Guard{};  // not reached from a root: keep it unconditional
    for (size_t i = 0; i < node->inputs().size(); ++i) {
      const Apply* producer = node->input(static_cast<int>(i))->owner();
      if (!producer) continue;
      Guard edge = *guards[k];
      if (std::optional<bool> branch = ifelse_branch_of_input(*node, static_cast<int>(i))) {
        const Variable* condition = node->input(0).get();
        edge.insert({condition->id(), condition, *branch});
      }
      std::optional<Guard>& g = guards[position.at(producer)];
      g = g ? intersection(*g, edge) : edge;
    }
  }
  std::vector<Guard> out;
  for (auto& g : guards) out.push_back(std::move(*g));
  return out;
}

}  // namespace

LazySchedule plan_lazy_schedule(const std::vector<Apply*>& order, const std::vector<Var>& roots) {
  std::unordered_map<const Apply*, size_t> position;
  bool any_ifelse = false;
  for (size_t k = 0; k < order.size(); ++k) {
    position[order[k]] = k;
    any_ifelse = any_ifelse || is_ifelse(*order[k]);
  }
  LazySchedule plan{order, std::vector<std::vector<GuardTerm>>(order.size())};
  if (!any_ifelse) return plan;
  const std::vector<Guard> guards = compute_guards(order, roots, position);

  // Kahn's algorithm over the data edges plus an edge from each guard condition's producer,
  // taking the ready node earliest in `order` first so the order changes only where it must.
  std::vector<std::vector<size_t>> successors(order.size());
  std::vector<size_t> waiting(order.size(), 0);
  for (size_t k = 0; k < order.size(); ++k) {
    std::set<size_t> needs;
    for (const Var& in : order[k]->inputs())
      if (in->owner()) needs.insert(position.at(in->owner()));
    for (const auto& [id, condition, branch] : guards[k])
      if (condition->owner()) needs.insert(position.at(condition->owner()));
    for (size_t p : needs) successors[p].push_back(k);
    waiting[k] = needs.size();
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t k = 0; k < order.size(); ++k)
    if (waiting[k] == 0) ready.push(k);
  plan.order.clear();
  plan.guards.clear();
  while (!ready.empty()) {
    const size_t k = ready.top();
    ready.pop();
    plan.order.push_back(order[k]);
    std::vector<GuardTerm> terms;
    for (const auto& [id, condition, branch] : guards[k]) terms.push_back({condition, branch});
    plan.guards.push_back(std::move(terms));
    for (size_t s : successors[k])
      if (--waiting[s] == 0) ready.push(s);
  }
  KILN_ASSERT(plan.order.size() == order.size()) << "the guards of lazy IfElse branches form a cycle";
  return plan;
}

bool guard_holds(const std::vector<std::pair<int, bool>>& guard, const std::vector<Array>& slots) {
  for (const auto& [slot, branch] : guard) {
    const Array& condition = slots[slot];
    if (!condition.defined() || (condition.item_as_double() != 0.0) != branch) return false;
  }
  return true;
}

}  // namespace kiln::detail
