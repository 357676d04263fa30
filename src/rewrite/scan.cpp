// Rewrites of Scan loops.
//
// scan_pushout_invariants (canonicalize): a node of the loop body whose inputs are all
//   non-sequences or constants computes the same value at every step; compute it once before the
//   loop and pass the result in as a new non-sequence (Halide's and LLVM's LICM).
// scan_pushout_seq_ops (canonicalize): an elementwise op or a vector-matrix Dot whose per-step
//   inputs all come from sequences (the others being non-sequences or constants) computes row t
//   of one whole-array operation; do that operation once before the loop (one GEMM instead of a
//   GEMV per step) and pass its rows in as a new sequence (Theano's scan_pushout_seqs_ops).
// scan_save_mem (specialize): when every reader of a loop output takes only its last row
//   (out[-1], or out[m:][-1] as kiln.scan's own slicing of a state's initial rows spells it), or
//   nothing reads it, the loop keeps just that row instead of one row per step (Theano's
//   scan_save_mem).
#include <map>
#include <set>

#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/elemwise.hpp"
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
    Var p = Variable::input(v->type(), (v->name().empty() ? v->owner()->op().name() : v->name()) + "[t]");
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

// ---------------------------------------------------------------- sequence-only operations

bool is_elemwise(const Apply& node) { return node.op().kind().rfind("Elemwise{", 0) == 0; }

// The whole-array form of `node`, given each input's whole-array value and whether it has a
// leading step axis; nullptr when the node has no such form.
Var batched_node(const Apply& node, const std::vector<Var>& values, const std::vector<bool>& stepped) {
  if (node.op().kind() == "Dot") {
    // Dot(x_t, W) for a vector x_t: row t of Dot(X, W).
    if (!stepped[0] || stepped[1] || node.input(0)->ndim() != 1 || node.input(1)->ndim() != 2) return nullptr;
    return make_node1(node.op_ptr(), {values[0], values[1]});
  }
  if (!is_elemwise(node) || node.num_outputs() != 1) return nullptr;
  const int rank = node.output_ptr(0)->ndim();
  std::vector<Var> inputs;
  for (size_t i = 0; i < values.size(); ++i) {
    const int r = node.input(static_cast<int>(i))->ndim();
    if (r != rank) return nullptr;  // the op's own rank padding would misalign the step axis
    std::vector<int> pattern;
    if (!stepped[i]) pattern.push_back(-1);  // broadcast over the steps
    for (int d = 0; d < (stepped[i] ? r + 1 : r); ++d) pattern.push_back(d);
    inputs.push_back(stepped[i] ? values[i] : dimshuffle(values[i], pattern));
  }
  return make_node1(node.op_ptr(), inputs);
}

std::optional<std::vector<Var>> pushout_sequence_ops(const FunctionGraph&, const Apply& node) {
  const ScanOp* op = as_scan(node);
  if (!op) return std::nullopt;
  const ScanBody& body = op->body();
  const ScanLayout& L = op->layout();
  // Whole-array values outside: the sequences' first n_steps rows, non-sequences, constants.
  std::map<const Variable*, Var> outside;
  std::set<const Variable*> stepped;
  for (int j = 0; j < L.n_seqs; ++j) {
    outside[body.inputs[j].get()] = subtensor(node.input(L.outer_seq(j)), {Index::slice(0, node.input(0))});
    stepped.insert(body.inputs[j].get());
  }
  for (int k = 0; k < L.n_non_seqs; ++k) outside[body.inputs[L.inner_non_seq(k)].get()] = node.input(L.outer_non_seq(k));
  std::set<const Apply*> pushed;
  for (Apply* inner : toposort(body.outputs)) {
    std::vector<Var> values;
    std::vector<bool> is_stepped;
    bool known = true, any_stepped = false;
    for (const Var& in : inner->inputs()) {
      auto it = outside.find(in.get());
      Var v = it != outside.end() ? it->second : in->is_constant() ? in : nullptr;
      known = known && v;
      values.push_back(v);
      is_stepped.push_back(stepped.count(in.get()) != 0);
      any_stepped = any_stepped || is_stepped.back();
    }
    if (!known || !any_stepped) continue;
    Var whole = batched_node(*inner, values, is_stepped);
    if (!whole) continue;
    outside[inner->output_ptr(0)] = whole;
    stepped.insert(inner->output_ptr(0));
    pushed.insert(inner);
  }
  // New sequences: the pushed values that something left in the loop reads.
  std::vector<Var> frontier;
  std::set<const Variable*> seen;
  auto consider = [&](const Var& v) {
    if (v->owner() && pushed.count(v->owner()) && seen.insert(v.get()).second) frontier.push_back(v);
  };
  for (Apply* inner : toposort(body.outputs))
    if (!pushed.count(inner))
      for (const Var& in : inner->inputs()) consider(in);
  for (const Var& out : body.outputs) consider(out);
  if (frontier.empty()) return std::nullopt;

  ScanLayout layout = L;
  auto new_body = std::make_shared<ScanBody>();
  std::vector<Var> inputs = {node.input(0)};
  std::map<const Variable*, Var> to_placeholder;
  new_body->inputs.assign(body.inputs.begin(), body.inputs.begin() + L.n_seqs);
  inputs.insert(inputs.end(), node.inputs().begin() + 1, node.inputs().begin() + 1 + L.n_seqs);
  for (const Var& v : frontier) {
    Var p = Variable::input(v->type(), (v->name().empty() ? v->owner()->op().name() : v->name()) + "[t]");
    new_body->inputs.push_back(p);
    to_placeholder[v.get()] = p;
    inputs.push_back(outside.at(v.get()));
  }
  new_body->inputs.insert(new_body->inputs.end(), body.inputs.begin() + L.n_seqs, body.inputs.end());
  inputs.insert(inputs.end(), node.inputs().begin() + 1 + L.n_seqs, node.inputs().end());
  new_body->outputs = clone_graph(body.outputs, to_placeholder);
  layout.n_seqs += static_cast<int>(frontier.size());
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
  // Replacing a scan may prune nodes later in this order (a gradient loop reading it): hold them
  // alive, and skip those no longer in the graph.
  std::vector<std::shared_ptr<Apply>> order;
  for (Apply* node : fg.toposort()) order.push_back(node->shared_from_this());
  for (const auto& held : order) {
    Apply* node = held.get();
    if (!fg.contains(node)) continue;
    const ScanOp* op = as_scan(*node);
    if (!op) continue;
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
  db.add("canonicalize", {"scan_pushout_seq_ops", {"fast_run", "scan"}, node_rewriter({"Scan"}, pushout_sequence_ops)});
  db.add_pass("specialize", "scan_save_mem", {"fast_run", "scan"}, &save_memory);
}

}  // namespace kiln::detail
