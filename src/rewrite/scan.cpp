// Rewrites of Scan loops.
//
// scan_pushout_invariants (canonicalize): a node of the loop body whose inputs are all
//   non-sequences or constants computes the same value at every step; compute it once before the
//   loop and pass the result in as a new non-sequence (Halide's and LLVM's LICM).
// scan_save_mem (specialize): when every reader of a loop output takes only its last row
//   (out[-1], or out[m:][-1] as kiln.scan's own slicing of a state's initial rows spells it), or
//   nothing reads it, the loop keeps just that row instead of one row per step (Theano's
//   scan_save_mem).
#include <map>
#include <set>

#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/subtensor.hpp"
#include "ops/scan_impl.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

// ---------------------------------------------------------------- loop-invariant code motion

// The body's values that do not change from step to step and are read by a node that does (or are
// outputs): computing them outside is enough.
std::vector<Var> invariant_frontier(const ScanOp& op) {
  const ScanBody& body = op.body();
  const ScanLayout& L = op.layout();
  std::set<const Variable*> invariant;
  for (int k = 0; k < L.n_non_seqs; ++k) invariant.insert(body.inputs[L.inner_non_seq(k)].get());
  auto is_invariant = [&](const Var& v) { return v->is_constant() || invariant.count(v.get()); };
  std::vector<Apply*> order = toposort(body.outputs);
  std::set<const Apply*> hoisted;
  for (Apply* node : order) {
    bool all = !node->inputs().empty();
    for (const Var& in : node->inputs()) all = all && is_invariant(in);
    if (!all) continue;
    hoisted.insert(node);
    for (size_t o = 0; o < node->num_outputs(); ++o) invariant.insert(node->output_ptr(static_cast<int>(o)));
  }
  std::vector<Var> frontier;
  std::set<const Variable*> seen;
  auto consider = [&](const Var& v) {
    if (v->owner() && hoisted.count(v->owner()) && seen.insert(v.get()).second) frontier.push_back(v);
  };
  for (Apply* node : order)
    if (!hoisted.count(node))
      for (const Var& in : node->inputs()) consider(in);
  for (const Var& out : body.outputs) consider(out);
  return frontier;
}

std::optional<std::vector<Var>> pushout_invariants(const FunctionGraph&, const Apply& node) {
  const ScanOp* op = as_scan(node);
  if (!op) return std::nullopt;
  std::vector<Var> frontier = invariant_frontier(*op);
  if (frontier.empty()) return std::nullopt;
  const ScanBody& body = op->body();
  ScanLayout layout = op->layout();
  // Outside: the same computation on the outer non-sequences.
  std::map<const Variable*, Var> to_outer;
  for (int k = 0; k < layout.n_non_seqs; ++k)
    to_outer[body.inputs[layout.inner_non_seq(k)].get()] = node.input(layout.outer_non_seq(k));
  std::vector<Var> outer_values = clone_graph(frontier, to_outer);
  // Inside: a placeholder per hoisted value.
  auto new_body = std::make_shared<ScanBody>();
  new_body->inputs = body.inputs;
  std::map<const Variable*, Var> to_placeholder;
  for (const Var& v : frontier) {
    Var p = Variable::input(v->type(), v->name());
    new_body->inputs.push_back(p);
    to_placeholder[v.get()] = p;
  }
  new_body->outputs = clone_graph(body.outputs, to_placeholder);
  layout.n_non_seqs += static_cast<int>(frontier.size());
  std::vector<Var> inputs = node.inputs();
  inputs.insert(inputs.end(), outer_values.begin(), outer_values.end());
  ScopedUserLocation location(node.source_location());
  return make_scan_node(new_body, layout, op->truncate_gradient(), op->mode(), op->label(), inputs);
}

// ---------------------------------------------------------------- keeping only the last row

bool is_last_row(const Apply* node) { return node && node->op().name() == "Subtensor{-1}"; }

// Whether `v` is only ever read as v[-1] or v[m:][-1], or not read at all (a gradient loop's
// carried window, which only the steps need).
bool only_last_row_read(const FunctionGraph& fg, const Variable* v, bool allow_slice) {
  const auto& clients = fg.clients(v);
  for (const auto& c : clients) {
    if (is_last_row(c.node)) continue;
    const bool head_slice = c.node && allow_slice && c.node->op().kind() == "Subtensor" && c.node->inputs().size() == 1 &&
                            c.node->op().name().find(":}") != std::string::npos &&
                            c.node->op().name().find(',') == std::string::npos;
    if (!head_slice || !only_last_row_read(fg, c.node->output_ptr(0), false)) return false;
  }
  return true;
}

void save_memory(FunctionGraph& fg) {
  for (Apply* node : fg.toposort()) {
    const ScanOp* op = as_scan(*node);
    if (!op || !fg.contains(node)) continue;
    ScanLayout layout = op->layout();
    bool changed = false;
    for (int o = 0; o < layout.n_states() + layout.n_nit_sot; ++o) {
      if (layout.keep_last[o]) continue;
      // A state's output holds its initial rows first: kiln.scan slices them off.
      const bool is_state = o < layout.n_states();
      if (only_last_row_read(fg, node->output_ptr(o), is_state)) layout.keep_last[o] = changed = true;
    }
    if (!changed) continue;
    ScopedUserLocation location(node->source_location());
    std::vector<Var> outs = make_scan_node(op->body_ptr(), layout, op->truncate_gradient(), op->mode(), op->label(),
                                           node->inputs());
    // Collect every replacement first: replacing prunes the old node.
    std::vector<std::pair<Var, Var>> replacements;
    for (int o = 0; o < static_cast<int>(outs.size()); ++o) {
      Var old_out = node->output(o);
      if (o >= layout.n_outer_outputs() - 1 || !layout.keep_last[o] || op->layout().keep_last[o]) {
        replacements.emplace_back(old_out, outs[o]);
        continue;
      }
      // Every reader ends in a [-1]: point each at the new single last row.
      Var last = subtensor(outs[o], {Index::at(-1)});
      for (const auto& c : fg.clients(old_out.get())) {
        if (is_last_row(c.node)) replacements.emplace_back(c.node->output(0), last);
        else
          for (const auto& c2 : fg.clients(c.node->output_ptr(0))) replacements.emplace_back(c2.node->output(0), last);
      }
    }
    for (const auto& [old_var, new_var] : replacements)
      if (!old_var->owner() || fg.contains(old_var->owner())) fg.replace(old_var, new_var);
  }
}

}  // namespace

void register_scan_rewrites(RewriteDatabase& db) {
  db.add("canonicalize", {"scan_pushout_invariants", {"fast_run", "scan"}, node_rewriter({"Scan"}, pushout_invariants)});
  db.add_pass("specialize", "scan_save_mem", {"fast_run", "scan"}, &save_memory);
}

}  // namespace kiln::detail
