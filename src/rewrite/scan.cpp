// Rewrites of Scan loops.
//
// scan_pushout_invariants (canonicalize): a node of the loop body whose inputs are all
//   non-sequences or constants computes the same value at every step; compute it once before the
//   loop and pass the result in as a new non-sequence (Halide's and LLVM's LICM).
// scan_pushout_seq_ops (canonicalize): an elementwise op or a vector-matrix Dot whose per-step
//   inputs all come from sequences (the others being non-sequences or constants) computes row t
//   of one whole-array operation; do that operation once before the loop (one GEMM instead of a
//   GEMV per step) and pass its rows in as a new sequence (Theano's scan_pushout_seqs_ops).
// scan_pushout_add (specialize): a state that only accumulates, acc + term_t with acc read nowhere
//   else and only its last value read outside (the gradient of a non-sequence in a backward loop),
//   is init + sum_t term_t: the loop collects the terms and one reduction after the loop adds them
//   up. An outer product x_t y_t^T (a weight gradient) becomes one GEMM, X^T Y, over the collected
//   vectors, and a product a_t^T b_t of matrices (a minibatch) one GEMM over the stacked rows, instead
//   of a GER or GEMM per step (Theano's PushOutScanOutput).
// scan_remove_unused (specialize): outputs nothing reads leave the loop, with the states,
//   sequences and non-sequences only they needed.
// scan_save_mem (specialize): when every reader of a loop output takes only its last row
//   (out[-1], or out[m:][-1] as kiln.scan's own slicing of a state's initial rows spells it), or
//   nothing reads it, the loop keeps just that row instead of one row per step (Theano's
//   scan_save_mem).
#include <functional>
#include <map>
#include <set>

#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/blas.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
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

// Points every reader of `v` (each ends in a [-1], see only_last_row_read) at `last`.
void redirect_last_row_readers(const FunctionGraph& fg, const Variable* v, const Var& last,
                               std::vector<std::pair<Var, Var>>& replacements) {
  for (const auto& c : fg.clients(v)) {
    if (is_last_row(c.node)) replacements.emplace_back(c.node->output(0), last);
    else
      for (const auto& c2 : fg.clients(c.node->output_ptr(0))) replacements.emplace_back(c2.node->output(0), last);
  }
}

void apply_replacements(FunctionGraph& fg, const std::vector<std::pair<Var, Var>>& replacements) {
  for (const auto& [old_var, new_var] : replacements)
    if (!old_var->owner() || fg.contains(old_var->owner())) fg.replace(old_var, new_var);
}

// Runs `rewrite` on every Scan node of the graph. Replacing a scan may prune nodes later in the
// order (a gradient loop reading it): they are held alive, and skipped once out of the graph.
void for_each_scan(FunctionGraph& fg, const std::function<void(Apply&, const ScanOp&)>& rewrite) {
  std::vector<std::shared_ptr<Apply>> order;
  for (Apply* node : fg.toposort()) order.push_back(node->shared_from_this());
  for (const auto& held : order)
    if (fg.contains(held.get()))
      if (const ScanOp* op = as_scan(*held)) rewrite(*held, *op);
}

void save_memory(FunctionGraph& fg) {
  for_each_scan(fg, [&](Apply& scan, const ScanOp& scan_op) {
    Apply* node = &scan;
    const ScanOp* op = &scan_op;
    ScanLayout layout = op->layout();
    bool changed = false;
    for (int o = 0; o < layout.n_states() + layout.n_nit_sot; ++o) {
      if (layout.keep_last[o]) continue;
      // A state's output holds its initial rows first: kiln.scan slices them off.
      const bool is_state = o < layout.n_states();
      if (only_last_row_read(fg, node->output_ptr(o), is_state)) layout.keep_last[o] = changed = true;
    }
    if (!changed) return;
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
      redirect_last_row_readers(fg, old_out.get(), subtensor(outs[o], {Index::at(-1)}), replacements);
    }
    apply_replacements(fg, replacements);
  });
}

// ---------------------------------------------------------------- accumulators

// How many steps a scan ran: n_steps itself unless an until condition can stop it early.
Var steps_run(const Apply& node, const std::vector<Var>& outs) {
  if (as_scan(node)->layout().has_until) return outs.back();
  const Var& n = node.input(0);
  return n->dtype() == DType::Int64 ? n : cast(n, DType::Int64);
}

// The body nodes reading each of the body's variables, and how often each is a body output.
struct BodyUses {
  std::map<const Variable*, int> readers, as_output;
  explicit BodyUses(const ScanBody& body) {
    for (Apply* node : toposort(body.outputs))
      for (const Var& in : node->inputs()) ++readers[in.get()];
    for (const Var& out : body.outputs) ++as_output[out.get()];
  }
  int uses(const Variable* v) const {
    auto r = readers.find(v), o = as_output.find(v);
    return (r == readers.end() ? 0 : r->second) + (o == as_output.end() ? 0 : o->second);
  }
};

// The term of state s when its new value is acc + term, acc (its one tap, -1) and the sum being
// read nowhere else in the body; nullptr otherwise.
Var accumulated_term(const ScanOp& op, int s, const BodyUses& uses) {
  const ScanLayout& L = op.layout();
  const ScanBody& body = op.body();
  if (L.state_taps[s] != std::vector<int>{-1}) return nullptr;
  const Var& acc = body.inputs[L.inner_tap(s, 0)];
  const Var& next = body.outputs[s];
  const Apply* add = next->owner();
  if (!add || elemwise_scalar_op(add->op()) != ScalarOpId::add || add->inputs().size() != 2) return nullptr;
  const int at = add->input(0) == acc ? 0 : add->input(1) == acc ? 1 : -1;
  if (at < 0 || uses.uses(acc.get()) != 1 || uses.uses(next.get()) != 1) return nullptr;
  Var term = add->input(1 - at);
  if (term->dtype() != acc->dtype() || next->dtype() != acc->dtype() || term->ndim() != acc->ndim()) return nullptr;
  return term;
}

// The two factors of term when it is a product the loop's rows can be stacked for: an outer
// product x y^T of vectors, or a^T b of matrices.
std::optional<std::pair<Var, Var>> product_factors(const Var& term) {
  const Apply* node = term->owner();
  if (!node) return std::nullopt;
  auto pattern_input = [](const Var& v, const std::vector<int>& pattern) -> Var {
    const Apply* d = v->owner();
    return d && dimshuffle_pattern(*d) == pattern ? d->input(0) : nullptr;
  };
  if (elemwise_scalar_op(node->op()) == ScalarOpId::mul && node->inputs().size() == 2 && term->ndim() == 2) {
    Var x = pattern_input(node->input(0), {0, -1}), y = pattern_input(node->input(1), {-1, 0});
    if (x && y && x->dtype() == term->dtype() && y->dtype() == term->dtype()) return std::make_pair(x, y);
    return std::nullopt;
  }
  if (node->op().kind() == "Dot" && term->ndim() == 2) {
    Var a = pattern_input(node->input(0), {1, 0});
    const Var& b = node->input(1);
    if (a && a->ndim() == 2 && b->ndim() == 2 && a->dtype() == term->dtype() && b->dtype() == term->dtype())
      return std::make_pair(a, b);
  }
  return std::nullopt;
}

// The loop's values of inner variables as rows of outer ones, for the steps that ran: a sequence's
// own rows, or a new collected output.
class Collector {
 public:
  Collector(const Apply& node, const ScanOp& op) : node_(node), op_(op) {}
  /// Registers an inner value to collect; returns its index.
  int add(const Var& inner) {
    for (size_t i = 0; i < wanted_.size(); ++i)
      if (wanted_[i] == inner) return static_cast<int>(i);
    wanted_.push_back(inner);
    return static_cast<int>(wanted_.size()) - 1;
  }
  const std::vector<Var>& wanted() const { return wanted_; }
  /// The new collected outputs (the wanted values that are not sequences).
  std::vector<Var> new_outputs() const {
    std::vector<Var> out;
    for (const Var& v : wanted_)
      if (sequence_of(v) < 0) out.push_back(v);
    return out;
  }
  /// Rows of wanted value i, given the outputs of the new node.
  Var rows(int i, const std::vector<Var>& outs) const {
    const ScanLayout& L = op_.layout();
    const int j = sequence_of(wanted_[i]);
    if (j >= 0) return subtensor(node_.input(L.outer_seq(j)), {Index::slice(0, steps_run(node_, outs))});
    int k = 0;
    for (int w = 0; w < i; ++w) k += sequence_of(wanted_[w]) < 0;
    return outs[L.n_states() + L.n_nit_sot + k];
  }

 private:
  int sequence_of(const Var& v) const {
    for (int j = 0; j < op_.layout().n_seqs; ++j)
      if (op_.body().inputs[j] == v) return j;
    return -1;
  }
  const Apply& node_;
  const ScanOp& op_;
  std::vector<Var> wanted_;
};

// sum over the steps of term_t, from the collected rows.
Var summed_over_steps(const Var& term, const Collector& collector, const std::vector<int>& factors, const std::vector<Var>& outs) {
  if (factors.size() == 1) return sum(collector.rows(factors[0], outs), std::vector<int>{0}, false, term->dtype());
  Var a = collector.rows(factors[0], outs), b = collector.rows(factors[1], outs);
  if (a->ndim() == 3) {  // rows of matrices a_t^T b_t: stack the rows of every step
    auto stacked = [](const Var& x) { return reshape(x, std::vector<Var>{shape_i(x, 0) * shape_i(x, 1), shape_i(x, 2)}); };
    a = stacked(a);
    b = stacked(b);
  }
  return dot(transpose(a), b);
}

void pushout_accumulators(FunctionGraph& fg) {
  for_each_scan(fg, [&](Apply& node, const ScanOp& op) {
    const ScanLayout& L = op.layout();
    const BodyUses uses(op.body());
    Collector collector(node, op);
    struct Found {
      int state;
      Var term;
      std::vector<int> factors;  // collected values: the term itself, or a product's two factors
    };
    std::vector<Found> found;
    for (int s = 0; s < L.n_states(); ++s) {
      Var term = accumulated_term(op, s, uses);
      if (!term || !(L.keep_last[s] || only_last_row_read(fg, node.output_ptr(s), true))) continue;
      Found f{s, term, {}};
      if (auto factors = product_factors(term)) f.factors = {collector.add(factors->first), collector.add(factors->second)};
      else f.factors = {collector.add(term)};
      found.push_back(std::move(f));
    }
    if (found.empty()) return;
    const std::vector<Var> collected = collector.new_outputs();
    auto body = std::make_shared<ScanBody>(op.body());
    ScanLayout layout = L;
    body->outputs.insert(body->outputs.begin() + L.n_states() + L.n_nit_sot, collected.begin(), collected.end());
    layout.n_nit_sot += static_cast<int>(collected.size());
    layout.keep_last.insert(layout.keep_last.end(), collected.size(), false);
    ScopedUserLocation location(node.source_location());
    std::vector<Var> outs = make_scan_node(body, layout, op.truncate_gradient(), op.mode(), op.label(), node.inputs());
    std::vector<std::pair<Var, Var>> replacements;
    for (const Found& f : found) {
      Var init = subtensor(node.input(L.outer_init(f.state)), {Index::at(-1)});
      Var total = init + summed_over_steps(f.term, collector, f.factors, outs);
      if (L.keep_last[f.state]) replacements.emplace_back(node.output(f.state), with_leading_axis(total));
      else redirect_last_row_readers(fg, node.output_ptr(f.state), total, replacements);
    }
    for (int o = 0; o < L.n_states() + L.n_nit_sot; ++o) replacements.emplace_back(node.output(o), outs[o]);
    replacements.emplace_back(node.output(L.n_outer_outputs() - 1), outs.back());
    apply_replacements(fg, replacements);
  });
}

// ---------------------------------------------------------------- unused outputs

// The body's inputs that computing `outputs` reads.
std::set<const Variable*> inputs_read(const std::vector<Var>& outputs) {
  std::set<const Variable*> read;
  for (const Var& out : outputs)
    if (!out->owner()) read.insert(out.get());
  for (Apply* node : toposort(outputs))
    for (const Var& in : node->inputs())
      if (!in->owner()) read.insert(in.get());
  return read;
}

void remove_unused(FunctionGraph& fg) {
  for_each_scan(fg, [&](Apply& node, const ScanOp& op) {
    const ScanLayout& L = op.layout();
    const ScanBody& body = op.body();
    const int n_out = L.n_states() + L.n_nit_sot;
    std::vector<bool> kept(n_out);
    for (int o = 0; o < n_out; ++o) kept[o] = !fg.clients(node.output_ptr(o)).empty();
    // A state nothing reads outside is still needed when a kept output reads one of its taps.
    std::set<const Variable*> read;
    for (bool grew = true; grew;) {
      grew = false;
      std::vector<Var> roots;
      for (int o = 0; o < n_out; ++o)
        if (kept[o]) roots.push_back(body.outputs[o]);
      if (L.has_until) roots.push_back(body.outputs.back());
      read = inputs_read(roots);
      for (int s = 0; s < L.n_states(); ++s)
        for (size_t k = 0; k < L.state_taps[s].size() && !kept[s]; ++k)
          if (read.count(body.inputs[L.inner_tap(s, static_cast<int>(k))].get())) kept[s] = grew = true;
    }
    auto used = [&](int inner) { return read.count(body.inputs[inner].get()) != 0; };
    bool all_kept = std::all_of(kept.begin(), kept.end(), [](bool k) { return k; });
    for (int j = 0; j < L.n_seqs; ++j) all_kept = all_kept && used(j);
    for (int k = 0; k < L.n_non_seqs; ++k) all_kept = all_kept && used(L.inner_non_seq(k));
    if (all_kept) return;
    if (std::none_of(kept.begin(), kept.end(), [](bool k) { return k; })) {
      // Only the number of steps is read: without an until condition, that is n_steps.
      if (!L.has_until) fg.replace(node.output(L.n_outer_outputs() - 1), steps_run(node, {}));
      return;
    }

    auto new_body = std::make_shared<ScanBody>();
    ScanLayout layout;
    layout.has_until = L.has_until;
    std::vector<Var> inputs = {node.input(0)};
    for (int j = 0; j < L.n_seqs; ++j)
      if (used(j)) {
        new_body->inputs.push_back(body.inputs[j]);
        inputs.push_back(node.input(L.outer_seq(j)));
        ++layout.n_seqs;
      }
    for (int s = 0; s < L.n_states(); ++s)
      if (kept[s]) {
        for (size_t k = 0; k < L.state_taps[s].size(); ++k) new_body->inputs.push_back(body.inputs[L.inner_tap(s, static_cast<int>(k))]);
        layout.state_taps.push_back(L.state_taps[s]);
        inputs.push_back(node.input(L.outer_init(s)));
      }
    for (int k = 0; k < L.n_non_seqs; ++k)
      if (used(L.inner_non_seq(k))) {
        new_body->inputs.push_back(body.inputs[L.inner_non_seq(k)]);
        inputs.push_back(node.input(L.outer_non_seq(k)));
        ++layout.n_non_seqs;
      }
    std::vector<int> new_index(n_out, -1);
    for (int o = 0; o < n_out; ++o)
      if (kept[o]) {
        new_index[o] = static_cast<int>(new_body->outputs.size());
        new_body->outputs.push_back(body.outputs[o]);
        layout.keep_last.push_back(L.keep_last[o]);
        if (o >= L.n_states()) ++layout.n_nit_sot;
      }
    if (L.has_until) new_body->outputs.push_back(body.outputs.back());
    ScopedUserLocation location(node.source_location());
    std::vector<Var> outs = make_scan_node(new_body, layout, op.truncate_gradient(), op.mode(), op.label(), inputs);
    std::vector<std::pair<Var, Var>> replacements;
    for (int o = 0; o < n_out; ++o)
      if (kept[o]) replacements.emplace_back(node.output(o), outs[new_index[o]]);
    replacements.emplace_back(node.output(L.n_outer_outputs() - 1), outs.back());
    apply_replacements(fg, replacements);
  });
}

}  // namespace

void register_scan_rewrites(RewriteDatabase& db) {
  db.add("canonicalize", {"scan_pushout_invariants", {"fast_run", "scan"}, node_rewriter({"Scan"}, pushout_invariants)});
  db.add("canonicalize", {"scan_pushout_seq_ops", {"fast_run", "scan"}, node_rewriter({"Scan"}, pushout_sequence_ops)});
  db.add_pass("specialize", "scan_pushout_add", {"fast_run", "scan"}, &pushout_accumulators);
  db.add_pass("specialize", "scan_remove_unused", {"fast_run", "scan"}, &remove_unused);
  db.add_pass("specialize", "scan_save_mem", {"fast_run", "scan"}, &save_memory);
}

}  // namespace kiln::detail
