#include "kiln/graph/fgraph.hpp"

#include <algorithm>
#include <unordered_set>

#include "kiln/error.hpp"

namespace kiln {
namespace {

// Iterative post-order DFS. `resolve` maps a variable to the one standing in for it (for givens).
template <typename Resolve>
std::vector<Apply*> postorder(const std::vector<Var>& outputs, const std::unordered_set<const Variable*>& stop_at,
                              Resolve&& resolve) {
  std::vector<Apply*> order;
  std::unordered_set<const Apply*> done, on_stack;
  std::vector<std::pair<Apply*, size_t>> stack;
  auto push = [&](const Variable* v) {
    v = resolve(v);
    if (stop_at.count(v)) return;
    Apply* a = v->owner();
    if (!a || done.count(a)) return;
    KILN_USER_CHECK(!on_stack.count(a), ValueError) << "the graph has a cycle through " << a->op().name();
    on_stack.insert(a);
    stack.emplace_back(a, 0);
  };
  for (const Var& o : outputs) {
    push(o.get());
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->inputs().size()) {
        const Variable* in = node->inputs()[next++].get();
        push(in);
        continue;
      }
      Apply* finished = node;
      stack.pop_back();
      on_stack.erase(finished);
      done.insert(finished);
      order.push_back(finished);
    }
  }
  return order;
}

}  // namespace

std::vector<Apply*> toposort(const std::vector<Var>& outputs, const std::unordered_set<const Variable*>& stop_at) {
  return postorder(outputs, stop_at, [](const Variable* v) { return v; });
}

std::vector<Var> graph_inputs(const std::vector<Var>& outputs) {
  std::vector<Var> leaves;
  std::unordered_set<const Variable*> seen;
  auto visit = [&](const Var& v) {
    if (!v->owner() && seen.insert(v.get()).second) leaves.push_back(v);
  };
  for (const Var& o : outputs) visit(o);
  for (Apply* node : toposort(outputs))
    for (const Var& in : node->inputs()) visit(in);
  return leaves;
}

std::vector<Var> clone_graph(const std::vector<Var>& outputs, const std::map<const Variable*, Var>& replace) {
  auto resolve = [&](const Variable* v) -> const Variable* {
    // Follow replacement chains (x -> y, y -> z) but stop on a cycle.
    for (int hops = 0; hops < 64; ++hops) {
      auto it = replace.find(v);
      if (it == replace.end() || it->second.get() == v) return v;
      v = it->second.get();
    }
    return v;
  };
  std::unordered_map<const Variable*, Var> copy;  // original variable -> its copy
  auto lookup = [&](const Variable* v) -> Var {
    v = resolve(v);
    auto it = copy.find(v);
    return it != copy.end() ? it->second : v->handle();
  };
  ScopedUserLocation no_lookup("");  // clones take their originals' locations below
  for (Apply* node : postorder(outputs, {}, resolve)) {
    std::vector<Var> inputs;
    for (const Var& in : node->inputs()) inputs.push_back(lookup(in.get()));
    auto clone = node->clone_with_new_inputs(std::move(inputs));
    for (size_t i = 0; i < node->num_outputs(); ++i) copy[node->output_ptr(static_cast<int>(i))] = clone->output(static_cast<int>(i));
  }
  std::vector<Var> result;
  for (const Var& o : outputs) result.push_back(lookup(o.get()));
  return result;
}

// ---------------------------------------------------------------- FunctionGraph

FunctionGraph::FunctionGraph(std::vector<Var> inputs, std::vector<Var> outputs, bool clone)
    : inputs_(std::move(inputs)), outputs_(clone ? clone_graph(outputs) : std::move(outputs)) {
  import_graph(outputs_);
  for (size_t i = 0; i < outputs_.size(); ++i) clients_[outputs_[i].get()].push_back({nullptr, static_cast<int>(i)});
}

// Adds the nodes computing `roots` that are not in the graph yet. The walk stops at nodes already
// present, so importing a rewrite's few new nodes costs time in their number, not the graph's.
void FunctionGraph::import_graph(const std::vector<Var>& roots) {
  std::unordered_set<const Variable*> stop;
  for (const Var& v : inputs_) stop.insert(v.get());
  std::vector<Apply*> fresh;
  std::unordered_set<const Apply*> seen;
  std::vector<std::pair<Apply*, size_t>> stack;
  auto push = [&](const Variable* v) {
    Apply* a = v->owner();
    if (!a || stop.count(v) || nodes_.count(a->id()) || !seen.insert(a).second) return;
    stack.emplace_back(a, 0);
  };
  for (const Var& r : roots) {
    push(r.get());
    while (!stack.empty()) {  // iterative post-order: inputs before consumers
      auto& [node, next] = stack.back();
      if (next < node->inputs().size()) {
        push(node->inputs()[next++].get());
        continue;
      }
      fresh.push_back(node);
      stack.pop_back();
    }
  }
  for (Apply* node : fresh) {
    nodes_[node->id()] = node->shared_from_this();
    for (size_t i = 0; i < node->inputs().size(); ++i)
      clients_[node->inputs()[i].get()].push_back({node, static_cast<int>(i)});
  }
}

std::vector<Apply*> FunctionGraph::toposort() const {
  std::unordered_set<const Variable*> stop;
  for (const Var& v : inputs_) stop.insert(v.get());
  return kiln::toposort(outputs_, stop);
}

const std::vector<FunctionGraph::Client>& FunctionGraph::clients(const Variable* v) const {
  static const std::vector<Client> kNone;
  auto it = clients_.find(v);
  return it == clients_.end() ? kNone : it->second;
}

void FunctionGraph::replace(Var old_var, Var new_var) {
  KILN_USER_CHECK(old_var->type().dtype() == new_var->type().dtype() && old_var->type().is_super(new_var->type()),
                  TypeError)
      << "FunctionGraph.replace: cannot replace " << old_var->label() << " of type " << old_var->type().str() << " by "
      << new_var->label() << " of type " << new_var->type().str();
  if (old_var == new_var) return;
  import_graph({new_var});
  std::vector<Client> moved = clients(old_var.get());
  clients_.erase(old_var.get());
  std::set<Apply*> rebuilt;
  for (const Client& c : moved) {
    if (c.node == nullptr) {
      outputs_[c.index] = new_var;
    } else {
      // Nodes inside a FunctionGraph are its own copies, so rewiring them in place is safe.
      c.node->set_input(c.index, new_var);
    }
    clients_[new_var.get()].push_back(c);
  }
  if (Apply* owner = old_var->owner()) prune(owner);
}

// Drop `node` and, transitively, its inputs' owners when nothing uses them any more.
void FunctionGraph::prune(Apply* start) {
  std::vector<Apply*> work{start};
  while (!work.empty()) {
    Apply* node = work.back();
    work.pop_back();
    if (!nodes_.count(node->id())) continue;
    bool used = false;
    for (size_t i = 0; i < node->num_outputs(); ++i) used = used || !clients(node->output_ptr(static_cast<int>(i))).empty();
    if (used) continue;
    auto keep = nodes_[node->id()];  // keep alive until we are done with it
    nodes_.erase(node->id());
    for (size_t i = 0; i < node->inputs().size(); ++i) {
      auto& cl = clients_[node->inputs()[i].get()];
      cl.erase(std::remove(cl.begin(), cl.end(), Client{node, static_cast<int>(i)}), cl.end());
      if (Apply* owner = node->inputs()[i]->owner()) work.push_back(owner);
    }
  }
}

}  // namespace kiln
