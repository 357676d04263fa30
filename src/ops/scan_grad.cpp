// Backpropagation through time: the gradient of a Scan is a second Scan that runs over the same
// steps backwards (only the last truncate_gradient steps when that is set).
//
// For a state with taps reading mintap steps back, the value written at step t is read by steps
// t+1 .. t+mintap, so when the backward loop reaches step t the gradient with respect to that value
// is complete, and the gradients of the mintap values before it are still partial. The backward
// loop carries those partial gradients as a window W of mintap rows (W[j]: the value at buffer
// position t + j), shifting it by one row per step. Gradients of non-sequences are summed over the
// steps in an accumulator carried the same way; gradients of sequences are collected per step.
#include <map>

#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/scan.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "ops/scan_impl.hpp"
#include "ops/shape_impl.hpp"

namespace kiln::detail {
namespace {

// x[a:b][::-1]: the rows of the steps the backward loop visits, last step first.
Var reversed_rows(const Var& x, const Var& a, const Var& b) {
  Var rows = subtensor(x, {Index::slice(a, b)});
  return subtensor(rows, {Index::slice(std::nullopt, std::nullopt, -1)});
}

Var row_at(const Var& x, int64_t i) { return subtensor(x, {Index::at(i)}); }

Var unknown_like(const Var& v, const std::string& name) {
  return Variable::input(TensorType(v->dtype(), std::vector<int64_t>(v->ndim(), kUnknownDim)), name);
}

// The backward loop under construction, one stage per method: record the forward values it reads,
// set up the cotangents of the recomputed step, differentiate the step, then assemble the loop
// and the gradients of the forward node's inputs.
class Backward {
 public:
  Backward(const ScanOp& op, const Apply& node, const std::vector<Var>& output_grads)
      : op_(op), L_(op.layout()), node_(node), g_(output_grads), fwd_in_(op.body().inputs) {
    steps_run_ = node.output(L_.n_outer_outputs() - 1);
    K_ = op.truncate_gradient() < 0 ? steps_run_ : minimum(steps_run_, int64_constant(op.truncate_gradient()));
    start_ = sub(steps_run_, K_);
  }

  std::vector<Var> run() {
    record_forward_values();
    add_cotangents();
    std::vector<Var> wrt = differentiated_inputs();
    std::vector<Var> result(node_.inputs().size());
    if (f_.empty() || wrt.empty()) return result;
    GradOptions options;
    options.disconnected_inputs = "ignore";
    options.return_disconnected = "zero";
    d_ = Lop(f_, wrt, cot_, options);
    read_states_from_forward();
    add_step_results();
    std::vector<Var> back = make_loop();
    outer_gradients(back, result);
    return result;
  }

 private:
  // Rows [start + offset, steps_run + offset) of x, last step first.
  Var visited_rows(const Var& x, int offset) const {
    return reversed_rows(x, add(start_, int64_constant(offset)), add(steps_run_, int64_constant(offset)));
  }
  Var add_sequence(const Var& inner_like, const Var& outer, const std::string& name) {
    seq_inner_.push_back(unknown_like(inner_like, name));
    seq_outer_.push_back(outer);
    return seq_inner_.back();
  }
  // A value carried from step to step (taps {-1}) starting at `init`; its new value is set later.
  int add_carried(const Var& init, const std::string& name) {
    state_inner_.push_back(unknown_like(init, name));
    state_init_.push_back(with_leading_axis(init));
    state_step_.push_back(nullptr);
    return static_cast<int>(state_inner_.size()) - 1;
  }

  // Sequences of the backward loop: the forward sequences and the state rows each step read;
  // non-sequences: the forward ones. Each replaces its forward placeholder.
  void record_forward_values() {
    for (int j = 0; j < L_.n_seqs; ++j)
      replace_[fwd_in_[j].get()] = add_sequence(fwd_in_[j], visited_rows(node_.input(L_.outer_seq(j)), 0), fwd_in_[j]->name());
    for (int s = 0; s < L_.n_states(); ++s)
      for (size_t k = 0; k < L_.state_taps[s].size(); ++k) {
        const Var& p = fwd_in_[L_.inner_tap(s, static_cast<int>(k))];
        // Step t reads buffer row t + mintap + tap.
        replace_[p.get()] = add_sequence(p, visited_rows(node_.output(s), L_.mintap(s) + L_.state_taps[s][k]), p->name());
      }
    for (int k = 0; k < L_.n_non_seqs; ++k) {
      const Var& p = fwd_in_[L_.inner_non_seq(k)];
      non_seq_inner_.push_back(unknown_like(p, p->name()));
      non_seq_outer_.push_back(node_.input(L_.outer_non_seq(k)));
      replace_[p.get()] = non_seq_inner_.back();
    }
  }

  // The forward step recomputed from the recorded values, and the cotangent of each float output:
  // the output gradient at that step, plus for a state the partial gradient its later readers
  // left in the window.
  void add_cotangents() {
    const auto& outs = op_.body().outputs;
    std::vector<Var> step_outputs(outs.begin(), outs.begin() + L_.n_states() + L_.n_nit_sot);
    std::vector<Var> recomputed = clone_graph(step_outputs, replace_);
    windows_.assign(L_.n_states(), nullptr);
    state_value_.assign(L_.n_states(), nullptr);
    window_slot_.assign(L_.n_states(), -1);
    for (int s = 0; s < L_.n_states(); ++s) {
      if (!is_float(outs[s]->dtype())) continue;
      const int m = L_.mintap(s);
      Var g_rows = add_sequence(outs[s], visited_rows(g_[s], m), "grad_state" + std::to_string(s));
      std::vector<Var> window_shape = {int64_constant(m)};
      for (int d = 1; d < node_.output_ptr(s)->ndim(); ++d) window_shape.push_back(shape_i(node_.input(L_.outer_init(s)), d));
      window_slot_[s] = add_carried(zeros(window_shape, outs[s]->dtype()), "window" + std::to_string(s));
      windows_[s] = state_inner_[window_slot_[s]];
      f_.push_back(recomputed[s]);
      state_value_[s] = recomputed[s];
      cot_.push_back(add(g_rows, row_at(windows_[s], m - 1)));
    }
    for (int k = 0; k < L_.n_nit_sot; ++k) {
      const int o = L_.n_states() + k;
      if (!is_float(outs[o]->dtype())) continue;
      f_.push_back(recomputed[o]);
      cot_.push_back(add_sequence(outs[o], visited_rows(g_[o], 0), "grad_out" + std::to_string(k)));
    }
  }

  // Gradients that read a state's new value (tanh's reads its output) read the row the forward
  // loop stored at that step instead of recomputing it: the same value, without recomputing the
  // step (which the loop rewrites would otherwise do as whole-array operations outside the loop).
  // Unused, the extra sequence leaves the loop (scan_remove_unused).
  void read_states_from_forward() {
    std::map<const Variable*, Var> stored;
    for (int s = 0; s < L_.n_states(); ++s) {
      if (!state_value_[s]) continue;
      stored[state_value_[s].get()] = add_sequence(state_value_[s], visited_rows(node_.output(s), L_.mintap(s)),
                                                   "state" + std::to_string(s) + "[t]");
    }
    if (!stored.empty()) d_ = clone_graph(d_, stored);
  }

  // Float sequences, float states' taps, float non-sequences, in that order.
  std::vector<Var> differentiated_inputs() const {
    std::vector<Var> wrt;
    for (int j = 0; j < L_.n_seqs; ++j)
      if (is_float(fwd_in_[j]->dtype())) wrt.push_back(replace_.at(fwd_in_[j].get()));
    for (int s = 0; s < L_.n_states(); ++s)
      if (windows_[s])
        for (size_t k = 0; k < L_.state_taps[s].size(); ++k)
          wrt.push_back(replace_.at(fwd_in_[L_.inner_tap(s, static_cast<int>(k))].get()));
    for (int k = 0; k < L_.n_non_seqs; ++k)
      if (is_float(fwd_in_[L_.inner_non_seq(k)]->dtype())) wrt.push_back(non_seq_inner_[k]);
    return wrt;
  }

  // The backward step's results: per-step sequence gradients, the windows shifted by one row
  // (W'[j] = W[j-1] + the gradients of the taps reading row t + j), accumulators summed.
  void add_step_results() {
    size_t next = 0;
    seq_grad_index_.assign(L_.n_seqs, -1);
    for (int j = 0; j < L_.n_seqs; ++j)
      if (is_float(fwd_in_[j]->dtype())) {
        seq_grad_index_[j] = static_cast<int>(collected_.size());
        collected_.push_back(d_[next++]);
      }
    for (int s = 0; s < L_.n_states(); ++s) {
      if (!windows_[s]) continue;
      const int m = L_.mintap(s);
      // Row 0 starts with no gradient (nullptr) rather than zeros + d: one node less per step.
      std::vector<Var> rows(m);
      for (int j = 1; j < m; ++j) rows[j] = row_at(windows_[s], j - 1);
      const Var first_row = row_at(windows_[s], 0);
      for (size_t k = 0; k < L_.state_taps[s].size(); ++k) {
        const int j = m + L_.state_taps[s][k];
        const Var& d = d_[next++];
        if (rows[j]) rows[j] = add(rows[j], d);
        else rows[j] = d->type() == first_row->type() ? d : add(zeros_like(first_row), d);
      }
      if (!rows[0]) rows[0] = zeros_like(first_row);
      state_step_[window_slot_[s]] = stack(rows);
    }
    accumulator_.assign(L_.n_non_seqs, -1);
    for (int k = 0; k < L_.n_non_seqs; ++k) {
      if (!is_float(fwd_in_[L_.inner_non_seq(k)]->dtype())) continue;
      accumulator_[k] = add_carried(zeros_like(node_.input(L_.outer_non_seq(k))), "grad_acc" + std::to_string(k));
      state_step_[accumulator_[k]] = add(state_inner_[accumulator_[k]], d_[next++]);
    }
  }

  std::vector<Var> make_loop() const {
    ScanLayout bl;
    auto body = std::make_shared<ScanBody>();
    body->inputs = seq_inner_;
    bl.n_seqs = static_cast<int>(seq_inner_.size());
    std::vector<Var> outer = {K_};
    outer.insert(outer.end(), seq_outer_.begin(), seq_outer_.end());
    for (size_t i = 0; i < state_inner_.size(); ++i) {
      bl.state_taps.push_back({-1});
      body->inputs.push_back(state_inner_[i]);
      body->outputs.push_back(state_step_[i]);
      outer.push_back(state_init_[i]);
    }
    body->outputs.insert(body->outputs.end(), collected_.begin(), collected_.end());
    bl.n_nit_sot = static_cast<int>(collected_.size());
    body->inputs.insert(body->inputs.end(), non_seq_inner_.begin(), non_seq_inner_.end());
    bl.n_non_seqs = static_cast<int>(non_seq_inner_.size());
    outer.insert(outer.end(), non_seq_outer_.begin(), non_seq_outer_.end());
    return make_scan_node(body, bl, -1, op_.mode(), "grad_of_" + op_.label(), outer);
  }

  void outer_gradients(const std::vector<Var>& back, std::vector<Var>& result) const {
    const int n_back_states = static_cast<int>(state_inner_.size());
    auto final_value = [&](int i) { return row_at(back[i], -1); };
    for (int j = 0; j < L_.n_seqs; ++j) {
      if (seq_grad_index_[j] < 0) continue;
      const Var& x = node_.input(L_.outer_seq(j));
      Var rows = subtensor(back[n_back_states + seq_grad_index_[j]], {Index::slice(std::nullopt, std::nullopt, -1)});
      result[L_.outer_seq(j)] = inc_subtensor(subtensor(zeros_like(x), {Index::slice(start_, steps_run_)}), rows);
    }
    for (int s = 0; s < L_.n_states(); ++s) {
      if (!windows_[s]) continue;
      const Var& init = node_.input(L_.outer_init(s));
      Var direct = subtensor(g_[s], {Index::slice(0, L_.mintap(s))});
      Var through_loop = final_value(window_slot_[s]);
      // Truncated: the window holds gradients of later rows, not of the initial values.
      if (op_.truncate_gradient() >= 0)
        through_loop = switch_cond(eq(K_, steps_run_), through_loop, zeros_like(through_loop));
      Var total = add(direct, through_loop);
      // The buffer may be longer than mintap rows; rows past mintap are not read.
      result[L_.outer_init(s)] =
          init->type().shape()[0] == L_.mintap(s)
              ? total
              : inc_subtensor(subtensor(zeros_like(init), {Index::slice(0, L_.mintap(s))}), total);
    }
    for (int k = 0; k < L_.n_non_seqs; ++k)
      if (accumulator_[k] >= 0) result[L_.outer_non_seq(k)] = final_value(accumulator_[k]);
  }

  const ScanOp& op_;
  const ScanLayout& L_;
  const Apply& node_;
  const std::vector<Var>& g_;
  const std::vector<Var>& fwd_in_;
  Var steps_run_, K_, start_;
  std::map<const Variable*, Var> replace_;  // forward placeholders -> backward ones
  std::vector<Var> seq_inner_, seq_outer_;
  std::vector<Var> state_inner_, state_init_, state_step_;
  std::vector<Var> collected_;
  std::vector<Var> non_seq_inner_, non_seq_outer_;
  std::vector<Var> f_, cot_, d_;
  std::vector<Var> state_value_;  // per float state: its recomputed new value
  std::vector<Var> windows_;
  std::vector<int> window_slot_, seq_grad_index_, accumulator_;
};

}  // namespace

std::vector<Var> ScanOp::L_op(const Apply& node, const std::vector<Var>& g) const {
  for (bool kept : layout_.keep_last)
    KILN_USER_CHECK(!kept, NotImplementedError)
        << "scan '" << name_ << "': no gradient after the loop was rewritten to keep only last values";
  return Backward(*this, node, g).run();
}

}  // namespace kiln::detail
