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

Var with_leading_axis(const Var& x) {
  std::vector<int> pattern = {-1};
  for (int d = 0; d < x->ndim(); ++d) pattern.push_back(d);
  return dimshuffle(x, pattern);
}

Var unknown_like(const Var& v, const std::string& name) {
  return Variable::input(TensorType(v->dtype(), std::vector<int64_t>(v->ndim(), kUnknownDim)), name);
}

// The backward loop under construction: its body's placeholders and outputs, and its outer inputs.
struct Backward {
  std::vector<Var> seq_inner, seq_outer;
  std::vector<Var> state_inner, state_init, state_step;
  std::vector<Var> collected;
  std::vector<Var> non_seq_inner, non_seq_outer;

  Var add_sequence(const Var& inner_like, const Var& outer, const std::string& name) {
    seq_inner.push_back(unknown_like(inner_like, name));
    seq_outer.push_back(outer);
    return seq_inner.back();
  }
  // A carried value (taps {-1}) starting at `init`; returns its placeholder. Its new value is
  // set later through state_step.
  Var add_carried(const Var& init, const std::string& name) {
    state_inner.push_back(unknown_like(init, name));
    state_init.push_back(with_leading_axis(init));
    state_step.push_back(nullptr);
    return state_inner.back();
  }
};

}  // namespace

std::vector<Var> ScanOp::L_op(const Apply& node, const std::vector<Var>& g) const {
  const ScanLayout& L = layout_;
  for (bool kept : L.keep_last)
    KILN_USER_CHECK(!kept, NotImplementedError)
        << "scan '" << name_ << "': no gradient after the loop was rewritten to keep only last values";
  const Var steps_run = node.output(L.n_outer_outputs() - 1);
  const Var K = truncate_gradient_ < 0 ? steps_run : minimum(steps_run, int64_constant(truncate_gradient_));
  const Var start = sub(steps_run, K);
  const auto& fwd_in = body_->inputs;

  Backward bw;
  std::map<const Variable*, Var> replace;  // forward placeholders -> backward ones
  for (int j = 0; j < L.n_seqs; ++j)
    replace[fwd_in[j].get()] = bw.add_sequence(fwd_in[j], reversed_rows(node.input(L.outer_seq(j)), start, steps_run),
                                               fwd_in[j]->name());
  for (int s = 0; s < L.n_states(); ++s)
    for (size_t k = 0; k < L.state_taps[s].size(); ++k) {
      const int offset = L.mintap(s) + L.state_taps[s][k];  // buffer row read at step t: t + offset
      const Var& p = fwd_in[L.inner_tap(s, static_cast<int>(k))];
      replace[p.get()] = bw.add_sequence(
          p, reversed_rows(node.output(s), add(start, int64_constant(offset)), add(steps_run, int64_constant(offset))),
          p->name());
    }
  for (int k = 0; k < L.n_non_seqs; ++k) {
    const Var& p = fwd_in[L.inner_non_seq(k)];
    bw.non_seq_inner.push_back(unknown_like(p, p->name()));
    bw.non_seq_outer.push_back(node.input(L.outer_non_seq(k)));
    replace[p.get()] = bw.non_seq_inner.back();
  }

  // The forward step, recomputed inside the backward loop from the recorded values.
  std::vector<Var> step_outputs(body_->outputs.begin(), body_->outputs.begin() + L.n_states() + L.n_nit_sot);
  std::vector<Var> recomputed = clone_graph(step_outputs, replace);

  // Cotangents of the step's outputs: the output gradient at that step, plus for a state the
  // partial gradient its later readers left in the window.
  std::vector<Var> f, cot;
  std::vector<Var> windows(L.n_states());
  std::vector<int> window_slot(L.n_states(), -1);  // position among the backward loop's states
  for (int s = 0; s < L.n_states(); ++s) {
    if (!is_float(body_->outputs[s]->dtype())) continue;
    const int m = L.mintap(s);
    Var g_rows = bw.add_sequence(body_->outputs[s],
                                 reversed_rows(g[s], add(start, int64_constant(m)), add(steps_run, int64_constant(m))),
                                 "grad_state" + std::to_string(s));
    std::vector<Var> window_shape = {int64_constant(m)};
    for (int d = 1; d < node.output_ptr(s)->ndim(); ++d) window_shape.push_back(shape_i(node.input(L.outer_init(s)), d));
    window_slot[s] = static_cast<int>(bw.state_inner.size());
    windows[s] = bw.add_carried(zeros(window_shape, body_->outputs[s]->dtype()), "window" + std::to_string(s));
    f.push_back(recomputed[s]);
    cot.push_back(add(g_rows, row_at(windows[s], m - 1)));
  }
  for (int k = 0; k < L.n_nit_sot; ++k) {
    const int o = L.n_states() + k;
    if (!is_float(body_->outputs[o]->dtype())) continue;
    f.push_back(recomputed[o]);
    cot.push_back(bw.add_sequence(body_->outputs[o], reversed_rows(g[o], start, steps_run), "grad_out" + std::to_string(k)));
  }

  // What to differentiate with respect to: float sequences, float states' taps, float non-sequences.
  std::vector<Var> wrt;
  for (int j = 0; j < L.n_seqs; ++j)
    if (is_float(fwd_in[j]->dtype())) wrt.push_back(replace[fwd_in[j].get()]);
  for (int s = 0; s < L.n_states(); ++s)
    if (windows[s])
      for (size_t k = 0; k < L.state_taps[s].size(); ++k) wrt.push_back(replace[fwd_in[L.inner_tap(s, static_cast<int>(k))].get()]);
  for (int k = 0; k < L.n_non_seqs; ++k)
    if (is_float(fwd_in[L.inner_non_seq(k)]->dtype())) wrt.push_back(bw.non_seq_inner[k]);
  std::vector<Var> result(node.inputs().size());
  if (f.empty() || wrt.empty()) return result;
  GradOptions options;
  options.disconnected_inputs = "ignore";
  options.return_disconnected = "zero";
  std::vector<Var> d = Lop(f, wrt, cot, options);

  // The backward step's results: per-step sequence gradients, shifted windows, accumulators.
  size_t next = 0;
  std::vector<int> seq_grad_index(L.n_seqs, -1);
  for (int j = 0; j < L.n_seqs; ++j)
    if (is_float(fwd_in[j]->dtype())) {
      seq_grad_index[j] = static_cast<int>(bw.collected.size());
      bw.collected.push_back(d[next++]);
    }
  for (int s = 0; s < L.n_states(); ++s) {
    if (!windows[s]) continue;
    const int m = L.mintap(s);
    std::vector<Var> rows(m);
    for (int j = 0; j < m; ++j) rows[j] = j > 0 ? row_at(windows[s], j - 1) : zeros_like(row_at(windows[s], 0));
    for (size_t k = 0; k < L.state_taps[s].size(); ++k) {
      const int j = m + L.state_taps[s][k];
      rows[j] = add(rows[j], d[next++]);
    }
    bw.state_step[window_slot[s]] = stack(rows);
  }
  std::vector<int> accumulator(L.n_non_seqs, -1);
  for (int k = 0; k < L.n_non_seqs; ++k) {
    if (!is_float(fwd_in[L.inner_non_seq(k)]->dtype())) continue;
    accumulator[k] = static_cast<int>(bw.state_inner.size());
    Var acc = bw.add_carried(zeros_like(node.input(L.outer_non_seq(k))), "grad_acc" + std::to_string(k));
    bw.state_step.back() = add(acc, d[next++]);
  }
  // States of the backward loop: the windows of float states, then the accumulators.
  ScanLayout bl;
  auto body = std::make_shared<ScanBody>();
  body->inputs = bw.seq_inner;
  bl.n_seqs = static_cast<int>(bw.seq_inner.size());
  std::vector<Var> outer = {K};
  outer.insert(outer.end(), bw.seq_outer.begin(), bw.seq_outer.end());
  for (size_t i = 0; i < bw.state_inner.size(); ++i) {
    bl.state_taps.push_back({-1});
    body->inputs.push_back(bw.state_inner[i]);
    body->outputs.push_back(bw.state_step[i]);
    outer.push_back(bw.state_init[i]);
  }
  body->outputs.insert(body->outputs.end(), bw.collected.begin(), bw.collected.end());
  bl.n_nit_sot = static_cast<int>(bw.collected.size());
  body->inputs.insert(body->inputs.end(), bw.non_seq_inner.begin(), bw.non_seq_inner.end());
  bl.n_non_seqs = static_cast<int>(bw.non_seq_inner.size());
  outer.insert(outer.end(), bw.non_seq_outer.begin(), bw.non_seq_outer.end());
  std::vector<Var> back = make_scan_node(body, bl, -1, mode_, "grad_of_" + name_, outer);
  const int n_back_states = bl.n_states();
  auto final_value = [&](int i) { return row_at(back[i], -1); };

  // Gradients of the outer inputs.
  for (int j = 0; j < L.n_seqs; ++j) {
    if (seq_grad_index[j] < 0) continue;
    const Var& x = node.input(L.outer_seq(j));
    Var rows = subtensor(back[n_back_states + seq_grad_index[j]], {Index::slice(std::nullopt, std::nullopt, -1)});
    result[L.outer_seq(j)] = inc_subtensor(subtensor(zeros_like(x), {Index::slice(start, steps_run)}), rows);
  }
  for (int s = 0; s < L.n_states(); ++s) {
    if (!windows[s]) continue;
    const Var& init = node.input(L.outer_init(s));
    Var direct = subtensor(g[s], {Index::slice(0, L.mintap(s))});
    Var through_loop = final_value(window_slot[s]);
    // Truncated: the window holds gradients of later rows, not of the initial values.
    if (truncate_gradient_ >= 0) through_loop = switch_cond(eq(K, steps_run), through_loop, zeros_like(through_loop));
    Var total = add(direct, through_loop);
    // The buffer may be longer than mintap rows; rows past mintap are not read.
    result[L.outer_init(s)] = init->type().shape()[0] == L.mintap(s)
                                  ? total
                                  : inc_subtensor(subtensor(zeros_like(init), {Index::slice(0, L.mintap(s))}), total);
  }
  for (int k = 0; k < L.n_non_seqs; ++k)
    if (accumulator[k] >= 0) result[L.outer_non_seq(k)] = final_value(accumulator[k]);
  return result;
}

}  // namespace kiln::detail
