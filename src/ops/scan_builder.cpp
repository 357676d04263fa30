// kiln::scan: calls the step function on placeholders, finds the shared and outer variables the
// body reads, turns shared-variable updates (explicit ones and random streams' default updates)
// into states carried from step to step, slices the sequences for their taps, and applies the
// Scan op (ops/scan_impl.hpp).
#include <algorithm>
#include <map>
#include <set>

#include "kiln/compile/function.hpp"
#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/scan.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "compile/default_update_impl.hpp"
#include "ops/scan_impl.hpp"
#include "ops/shape_impl.hpp"

namespace kiln {
namespace {

using detail::ScanBody;
using detail::ScanLayout;
using detail::int64_constant;

std::string taps_str(const std::vector<int>& taps) {
  std::string s = "[";
  for (size_t i = 0; i < taps.size(); ++i) s += (i ? ", " : "") + std::to_string(taps[i]);
  return s + "]";
}

std::vector<int64_t> row_shape(const Var& v) {
  const auto& shape = v->type().shape();
  return {shape.begin() + 1, shape.end()};
}

Var placeholder(const TensorType& type, const std::string& name) { return Variable::input(type, name); }

// What the builder accumulates: the body's placeholders by role, and the outer values they stand for.
struct ScanParts {
  std::vector<Var> seq_inner, seq_outer;     // one per (sequence, tap)
  std::vector<Var> seq_lengths;              // per sequence: the steps it allows
  struct State {
    std::vector<int> taps;
    std::vector<Var> inner;  // one placeholder per tap
    Var init;                // outer (mintap, S...) buffer
    Var step;                // inner new value
    int user_output = -1;    // position among the step function's outputs, -1 for an update
    Var shared;              // the shared variable an update state updates
  };
  std::vector<State> states;
  std::vector<Var> non_seq_inner, non_seq_outer;
};

// Sequence j, reversed for go_backwards, sliced once per tap so that step t reads row t.
void add_sequence(ScanParts& parts, const ScanSequence& seq, size_t j, bool go_backwards) {
  KILN_USER_CHECK(seq.value, TypeError) << "scan: sequences[" << j << "] is null";
  KILN_USER_CHECK(seq.value->ndim() >= 1, ValueError)
      << "scan: sequences[" << j << "] (" << seq.value->label() << ", " << seq.value->type().str()
      << ") has no axis to iterate over; a sequence needs at least one dimension";
  KILN_USER_CHECK(!seq.taps.empty(), ValueError) << "scan: sequences[" << j << "] has an empty list of taps";
  Var value = go_backwards ? subtensor(seq.value, {Index::slice(std::nullopt, std::nullopt, -1)}) : seq.value;
  const int lo = std::max(0, -*std::min_element(seq.taps.begin(), seq.taps.end()));
  const int hi = std::max(0, *std::max_element(seq.taps.begin(), seq.taps.end()));
  Var length = shape_i(value, 0);
  Var steps = sub(length, int64_constant(lo + hi));
  parts.seq_lengths.push_back(steps);
  const std::string base = seq.value->name().empty() ? "sequence" + std::to_string(j) : seq.value->name();
  for (int tap : seq.taps) {
    Var sliced = subtensor(value, {Index::slice(lo + tap, add(steps, int64_constant(lo + tap)))});
    parts.seq_outer.push_back(sliced);
    std::string suffix = tap == 0 ? "[t]" : tap > 0 ? "[t+" + std::to_string(tap) + "]" : "[t" + std::to_string(tap) + "]";
    parts.seq_inner.push_back(placeholder(TensorType(value->dtype(), row_shape(value)), base + suffix));
  }
}

// A recurrent output: placeholders for its taps and the (mintap, S...) buffer of initial values.
void add_state(ScanParts& parts, const ScanOutputInfo& info, size_t i) {
  for (int tap : info.taps)
    KILN_USER_CHECK(tap < 0, ValueError) << "scan: outputs_info[" << i << "] has taps " << taps_str(info.taps)
                                         << "; the taps of an output must be negative (past steps)";
  ScanParts::State st;
  st.taps = info.taps;
  st.user_output = static_cast<int>(i);
  const int mintap = -*std::min_element(info.taps.begin(), info.taps.end());
  const Var& init = info.initial;
  const std::string base = init->name().empty() ? "output" + std::to_string(i) : init->name();
  const bool sit_sot = mintap == 1 && info.taps.size() == 1;
  TensorType tap_type = init->type();
  if (sit_sot) {
    st.init = detail::with_leading_axis(init);
  } else {
    KILN_USER_CHECK(init->ndim() >= 1, ValueError)
        << "scan: outputs_info[" << i << "] has taps " << taps_str(info.taps) << ", so its initial value must hold the "
        << mintap << " values before the first step along a leading axis; got " << init->type().str();
    const int64_t have = init->type().shape()[0];
    KILN_USER_CHECK(have == kUnknownDim || have >= mintap, ValueError)
        << "scan: outputs_info[" << i << "] has taps " << taps_str(info.taps) << " but its initial value has only "
        << have << " entries along its first axis; expected at least " << mintap;
    tap_type = TensorType(init->dtype(), row_shape(init));
    st.init = subtensor(init, {Index::slice(0, mintap)});
  }
  for (int tap : info.taps) st.inner.push_back(placeholder(tap_type, base + "[t" + std::to_string(tap) + "]"));
  parts.states.push_back(std::move(st));
}

// The variables the body reads that are none of the placeholders: shared variables, and (unless
// strict) outer variables, which become implicit non-sequences.
std::vector<Var> free_leaves(const std::vector<Var>& roots, const std::set<const Variable*>& placeholders) {
  std::vector<Var> out;
  for (const Var& leaf : graph_inputs(roots))
    if (!leaf->is_constant() && !placeholders.count(leaf.get())) out.push_back(leaf);
  return out;
}

// Checks the step function's outputs against the outputs_info entries they pair with.
void check_step_outputs(const ScanStepResult& step, const std::vector<ScanOutputInfo>& outputs_info) {
  KILN_USER_CHECK(outputs_info.empty() || outputs_info.size() == step.outputs.size(), ValueError)
      << "scan: the step function returns " << step.outputs.size() << " outputs but outputs_info has "
      << outputs_info.size() << " entries; give one entry per output (None for an output that is not fed back)";
  for (size_t i = 0; i < step.outputs.size(); ++i) {
    const Var& out = step.outputs[i];
    KILN_USER_CHECK(out, TypeError) << "scan: the step function's output " << i << " is null";
    if (i >= outputs_info.size() || !outputs_info[i].initial) continue;
    const Var& init = outputs_info[i].initial;
    const bool sit_sot = outputs_info[i].taps.size() == 1 && outputs_info[i].taps[0] == -1;
    const int expected_ndim = sit_sot ? init->ndim() : init->ndim() - 1;
    KILN_USER_CHECK(out->dtype() == init->dtype(), TypeError)
        << "scan: the step function's output " << i << " has dtype " << dtype_name(out->dtype())
        << " but its initial value outputs_info[" << i << "] has dtype " << dtype_name(init->dtype())
        << "; they must match (cast one of them)";
    KILN_USER_CHECK(out->ndim() == expected_ndim, ValueError)
        << "scan: the step function's output " << i << " has " << out->ndim() << " dimensions ("
        << out->type().str() << ") but its initial value outputs_info[" << i << "] ("
        << init->type().str() << ") implies " << expected_ndim;
    const std::vector<int64_t> state_shape = sit_sot ? init->type().shape() : row_shape(init);
    for (int d = 0; d < out->ndim(); ++d) {
      const int64_t a = out->type().shape()[d], b = state_shape[d];
      KILN_USER_CHECK(a == kUnknownDim || b == kUnknownDim || a == b, ValueError)
          << "scan: the step function's output " << i << " has shape " << out->type().str()
          << " but its initial value outputs_info[" << i << "] implies a state of shape "
          << TensorType(init->dtype(), state_shape).str();
    }
  }
}

Var steps_to_run(const ScanParts& parts, const ScanOptions& options) {
  if (options.n_steps) {
    KILN_USER_CHECK(options.n_steps->ndim() == 0 && is_discrete(options.n_steps->dtype()), TypeError)
        << "scan: n_steps must be an integer scalar, got " << options.n_steps->type().str();
    return cast(options.n_steps, DType::Int64);
  }
  KILN_USER_CHECK(!parts.seq_lengths.empty(), ValueError)
      << "scan: no sequences and no n_steps: give n_steps to say how many steps to run";
  Var n = parts.seq_lengths[0];
  for (size_t j = 1; j < parts.seq_lengths.size(); ++j) n = minimum(n, parts.seq_lengths[j]);
  return n;
}

}  // namespace

ScanResult scan(const ScanStepFunction& fn, const std::vector<ScanSequence>& sequences,
                const std::vector<ScanOutputInfo>& outputs_info, const std::vector<Var>& non_sequences,
                const ScanOptions& options) {
  ScanParts parts;
  for (size_t j = 0; j < sequences.size(); ++j) add_sequence(parts, sequences[j], j, options.go_backwards);
  for (size_t i = 0; i < outputs_info.size(); ++i) {
    if (outputs_info[i].initial) {
      KILN_USER_CHECK(!outputs_info[i].taps.empty(), ValueError)
          << "scan: outputs_info[" << i << "] has an initial value but no taps";
      add_state(parts, outputs_info[i], i);
    } else {
      KILN_USER_CHECK(outputs_info[i].taps.empty(), ValueError)
          << "scan: outputs_info[" << i << "] asks for taps " << taps_str(outputs_info[i].taps)
          << " but has no initial value; give 'initial' or no taps";
    }
  }
  for (size_t k = 0; k < non_sequences.size(); ++k) {
    const Var& v = non_sequences[k];
    KILN_USER_CHECK(v, TypeError) << "scan: non_sequences[" << k << "] is null";
    parts.non_seq_outer.push_back(v);
    parts.non_seq_inner.push_back(placeholder(v->type(), v->name()));
  }

  // Call the step function: sequences' taps, states' taps, non-sequences.
  std::vector<Var> args = parts.seq_inner;
  for (const auto& st : parts.states) args.insert(args.end(), st.inner.begin(), st.inner.end());
  args.insert(args.end(), parts.non_seq_inner.begin(), parts.non_seq_inner.end());
  ScanStepResult step = fn(args);
  check_step_outputs(step, outputs_info);
  if (step.until) {
    KILN_USER_CHECK(step.until->ndim() == 0, TypeError)
        << "scan: the until condition must be a scalar, got " << step.until->type().str();
  }
  for (auto& st : parts.states) st.step = step.outputs[st.user_output];

  // Outer non-sequences are replaced inside by their placeholders; the body sees only placeholders.
  std::map<const Variable*, Var> replace;
  for (size_t k = 0; k < non_sequences.size(); ++k) replace[non_sequences[k].get()] = parts.non_seq_inner[k];
  std::set<const Variable*> placeholders;
  for (const Var& v : args) placeholders.insert(v.get());

  // Updates of shared variables become states with tap -1; the update expressions may read further
  // shared variables with default updates (a random stream's state), so collect to a fixed point.
  std::vector<std::pair<Var, Var>> updates = step.updates;
  std::set<const Variable*> updated;
  for (const auto& [target, value] : updates) {
    KILN_USER_CHECK(target && target->is_shared(), TypeError)
        << "scan: the step function returns an update of " << (target ? target->label() : "null")
        << ", which is not a shared variable";
    KILN_USER_CHECK(updated.insert(target.get()).second, ValueError)
        << "scan: the step function updates " << target->label() << " twice";
  }
  auto roots_of = [&] {
    std::vector<Var> roots = step.outputs;
    for (const auto& u : updates) roots.push_back(u.second);
    if (step.until) roots.push_back(step.until);
    return roots;
  };
  std::vector<Var> implicit;
  for (bool changed = true; changed;) {
    changed = false;
    for (const Var& leaf : free_leaves(roots_of(), placeholders)) {
      if (replace.count(leaf.get()) || updated.count(leaf.get())) continue;
      if (leaf->is_shared()) {
        if (Var u = default_update(leaf)) {
          updates.emplace_back(leaf, u);
          updated.insert(leaf.get());
          changed = true;
          continue;
        }
      }
      KILN_USER_CHECK(!options.strict, ValueError)
          << "scan (strict=True): the step function uses " << (leaf->is_shared() ? "shared variable " : "variable ")
          << leaf->label() << " (" << leaf->type().str() << ")"
          << (leaf->source_location().empty() ? "" : " created at " + leaf->source_location())
          << ", which is not passed in sequences, outputs_info or non_sequences";
      Var p = placeholder(leaf->type(), leaf->name());
      replace[leaf.get()] = p;
      implicit.push_back(leaf);
      parts.non_seq_outer.push_back(leaf);
      parts.non_seq_inner.push_back(p);
    }
  }
  for (const auto& [target, value] : updates) {
    detail::check_update_type(target, value);
    ScanParts::State st;
    st.taps = {-1};
    st.inner = {placeholder(target->type(), target->name().empty() ? "shared[t-1]" : target->name() + "[t-1]")};
    st.init = detail::with_leading_axis(target);
    st.step = value;
    st.shared = target;
    replace[target.get()] = st.inner[0];
    parts.states.push_back(std::move(st));
  }

  // The body: states' new values, collected outputs, the until condition, over the placeholders.
  ScanLayout layout;
  layout.n_seqs = static_cast<int>(parts.seq_inner.size());
  std::vector<Var> inner_roots;
  std::vector<Var> inner_inputs = parts.seq_inner;
  for (const auto& st : parts.states) {
    layout.state_taps.push_back(st.taps);
    inner_roots.push_back(st.step);
    inner_inputs.insert(inner_inputs.end(), st.inner.begin(), st.inner.end());
  }
  std::vector<int> collected;  // user output positions of the collected outputs
  for (size_t i = 0; i < step.outputs.size(); ++i)
    if (i >= outputs_info.size() || !outputs_info[i].initial) {
      collected.push_back(static_cast<int>(i));
      inner_roots.push_back(step.outputs[i]);
    }
  layout.n_nit_sot = static_cast<int>(collected.size());
  layout.n_non_seqs = static_cast<int>(parts.non_seq_inner.size());
  inner_inputs.insert(inner_inputs.end(), parts.non_seq_inner.begin(), parts.non_seq_inner.end());
  if (step.until) {
    layout.has_until = true;
    inner_roots.push_back(step.until);
  }
  auto body = std::make_shared<ScanBody>();
  body->inputs = inner_inputs;
  body->outputs = clone_graph(inner_roots, replace);

  std::vector<Var> outer = {steps_to_run(parts, options)};
  outer.insert(outer.end(), parts.seq_outer.begin(), parts.seq_outer.end());
  for (const auto& st : parts.states) outer.push_back(st.init);
  outer.insert(outer.end(), parts.non_seq_outer.begin(), parts.non_seq_outer.end());
  std::vector<Var> results = detail::make_scan_node(body, layout, options.truncate_gradient, options.mode,
                                                    options.name, outer);

  ScanResult result;
  result.outputs.resize(step.outputs.size());
  for (size_t s = 0; s < parts.states.size(); ++s) {
    const auto& st = parts.states[s];
    if (st.user_output >= 0) {
      const int mintap = -*std::min_element(st.taps.begin(), st.taps.end());
      result.outputs[st.user_output] = subtensor(results[s], {Index::slice(mintap, std::nullopt)});
    }
    else result.updates.emplace_back(st.shared, subtensor(results[s], {Index::at(-1)}));
  }
  for (size_t k = 0; k < collected.size(); ++k) result.outputs[collected[k]] = results[parts.states.size() + k];
  return result;
}

}  // namespace kiln
