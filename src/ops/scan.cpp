// The Scan op (layout in ops/scan_impl.hpp): type checking, shape inference, and the loop.
//
// The loop body is compiled once per op into a kiln Function (with its rewrites and generated
// kernels) and then run step after step by a small interpreter over the Function's schedule, on
// one workspace reused by every step: Function::operator() validates and detaches its arguments
// and results on each call, which the loop does not need, since it hands the body arrays of the
// body's own types and copies what it keeps into its own output buffers.
#include <algorithm>
#include <cstring>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "kiln/config.hpp"
#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/scan.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/scan_impl.hpp"
#include "ops/shape_impl.hpp"
#include "ops/subtensor_impl.hpp"

namespace kiln::detail {

int ScanLayout::mintap(int s) const { return -*std::min_element(state_taps[s].begin(), state_taps[s].end()); }

int ScanLayout::n_tap_inputs() const {
  int n = 0;
  for (const auto& taps : state_taps) n += static_cast<int>(taps.size());
  return n;
}

int ScanLayout::inner_tap(int s, int k) const {
  int pos = n_seqs;
  for (int i = 0; i < s; ++i) pos += static_cast<int>(state_taps[i].size());
  return pos + k;
}

// ---------------------------------------------------------------- the compiled body

class ScanProgram {
 public:
  ScanProgram(const ScanBody& body, const ScanLayout& layout, const std::string& mode) {
    FunctionOptions options;
    options.mode = mode.empty() || mode == "DebugMode" || mode == "DEBUG_MODE" ? "FAST_RUN" : mode;
    options.on_unused_input = "ignore";
    options.no_default_updates = true;
    function_ = Function::compile(body.inputs, body.outputs, options);
    std::unordered_map<const Variable*, int> slot_of;
    auto slot = [&](const Variable* v) { return slot_of.emplace(v, static_cast<int>(slot_of.size())).first->second; };
    for (const Var& in : function_->inputs()) input_slots_.push_back(slot(in.get()));
    for (const Apply* node : function_->nodes()) {
      Step step{node, {}, 0, 0, {}};
      for (const Var& in : node->inputs()) {
        const bool known = slot_of.count(in.get()) != 0;
        step.inputs.push_back(slot(in.get()));
        if (!known && in->is_constant()) fixed_.emplace_back(step.inputs.back(), in->constant_value());
        if (!known && in->is_shared()) shared_.emplace_back(step.inputs.back(), in);
      }
      step.num_outputs = node->num_outputs();
      for (size_t i = 0; i < step.num_outputs; ++i) {
        const int s = slot(node->output_ptr(static_cast<int>(i)));
        if (i == 0) step.first_output = s;
        KILN_ASSERT(s == step.first_output + static_cast<int>(i)) << "scan: outputs of " << node->op().name() << " are not consecutive slots";
      }
      steps_.push_back(std::move(step));
    }
    for (const Var& out : function_->outputs()) {
      const bool known = slot_of.count(out.get()) != 0;
      output_slots_.push_back(slot(out.get()));
      if (!known && out->is_constant()) fixed_.emplace_back(output_slots_.back(), out->constant_value());
      if (!known && out->is_shared()) shared_.emplace_back(output_slots_.back(), out);
    }
    num_slots_ = static_cast<int>(slot_of.size());
    hoist_invariant_steps(layout);
    std::vector<bool> computed_in_loop(num_slots_, false);
    for (const Step& step : steps_)
      for (size_t i = 0; i < step.num_outputs; ++i) computed_in_loop[step.first_output + i] = true;
    for (int s : output_slots_) {
      loop_output_.push_back(computed_in_loop[s]);
      computed_in_loop[s] = false;  // one offer per slot: a value returned twice is copied for the second
    }
  }

  /// Per-run state: the value of every slot, the storage offered for the next value of some
  /// slots, and each loop node's argument vector (kept from step to step: only the arguments
  /// that change are assigned).
  struct Workspace {
    std::vector<Array> slots, offers;
    std::vector<std::vector<Array>> args;
  };

  Workspace workspace() const {
    Workspace ws;
    ws.slots.resize(num_slots_);
    ws.offers.resize(num_slots_);
    ws.args.resize(steps_.size());
    for (const auto& [s, value] : fixed_) ws.slots[s] = value;
    for (const auto& [s, var] : shared_) ws.slots[s] = var->storage()->get();
    return ws;
  }
  /// Runs the steps whose inputs do not change from step to step, once, after the non-sequences
  /// are set and before the first step; then binds the loop nodes' arguments.
  void run_invariant_steps(Workspace& ws) const {
    std::vector<Array> args;
    for (const Step& step : invariant_steps_) {
      args.clear();
      for (int s : step.inputs) args.push_back(ws.slots[s]);
      step.node->op().perform(*step.node, args, {&ws.slots[step.first_output], step.num_outputs});
    }
    bind_args(ws);
  }
  Array& input(Workspace& ws, size_t i) const { return ws.slots[input_slots_[i]]; }
  const Array& output(const Workspace& ws, size_t i) const { return ws.slots[output_slots_[i]]; }
  /// Offers `storage` (the row output i's next value goes to) to the node that computes it, which
  /// may write its result there and so save the copy; ignored for outputs no loop node computes.
  void offer(Workspace& ws, size_t i, const Array& storage) const {
    if (loop_output_[i]) ws.offers[output_slots_[i]] = storage;
  }
  /// Lets go of the step's outputs once they are stored: one that is a view of another node's
  /// value (a DimShuffle adding an axis) would otherwise keep that node from reusing its buffer.
  void release_outputs(Workspace& ws) const {
    for (size_t i = 0; i < output_slots_.size(); ++i)
      if (loop_output_[i]) ws.slots[output_slots_[i]].reset();
  }
  size_t num_nodes() const { return steps_.size(); }

  /// One step of the loop (after run_invariant_steps): every node of the body, in order, each
  /// writing its outputs straight into their slots.
  void run(Workspace& ws) const {
    for (size_t k = 0; k < steps_.size(); ++k) {
      const Step& step = steps_[k];
      std::vector<Array>& args = ws.args[k];
      for (int i : step.varying) args[i] = ws.slots[step.inputs[i]];
      for (size_t i = 0; i < step.num_outputs; ++i) prepare_storage(ws, step.first_output + static_cast<int>(i));
      step.node->op().perform(*step.node, args, {&ws.slots[step.first_output], step.num_outputs});
      for (int i : step.varying) args[i].reset();  // so that a buffer's only owner is its slot
    }
  }

  const Function& function() const { return *function_; }

 private:
  struct Step {
    const Apply* node;
    std::vector<int> inputs;
    int first_output = 0;  // a node's outputs have consecutive slots
    size_t num_outputs = 0;
    std::vector<int> varying;  // positions in `inputs` whose slot changes from step to step
  };

  // The arguments that stay the same through the loop (non-sequences, constants, shared variables,
  // what the invariant steps computed) are assigned once, before the first step.
  void bind_args(Workspace& ws) const {
    for (size_t k = 0; k < steps_.size(); ++k)
      for (int s : steps_[k].inputs) ws.args[k].push_back(ws.slots[s]);
  }

  // Leaves in `slot` what its node may write the next value into (Theano's output storage
  // reuse): the row offered for it, or else the value from the last step when nothing else holds
  // its buffer (no view of it lives in another slot or argument); otherwise nothing.
  static void prepare_storage(Workspace& ws, int slot) {
    Array& value = ws.slots[slot];
    if (ws.offers[slot].defined())
      value = std::move(ws.offers[slot]);
    else if (value.defined() && value.buffer().use_count() != 1)
      value.reset();
  }

  // The body's own rewrites can make values that depend only on non-sequences (the transposed
  // weight matrix a Gemv reads): those steps move to invariant_steps_, run once per loop. A step
  // whose output some step overwrites in place stays in the loop, since every step needs the
  // value it computes.
  void hoist_invariant_steps(const ScanLayout& layout) {
    std::vector<bool> invariant(num_slots_, false), destroyed(num_slots_, false);
    for (int k = 0; k < layout.n_non_seqs; ++k) invariant[input_slots_[layout.inner_non_seq(k)]] = true;
    for (const auto& [s, value] : fixed_) invariant[s] = true;
    for (const auto& [s, var] : shared_) invariant[s] = true;
    for (const Step& step : steps_)
      for (const auto& [out, in] : step.node->op().destroy_map()) destroyed[step.inputs[in]] = true;
    std::vector<Step> loop;
    for (Step& step : steps_) {
      bool hoist = !step.inputs.empty() && step.node->op().destroy_map().empty();
      for (int s : step.inputs) hoist = hoist && invariant[s];
      for (size_t i = 0; i < step.num_outputs; ++i) hoist = hoist && !destroyed[step.first_output + i];
      if (!hoist) {
        loop.push_back(std::move(step));
        continue;
      }
      for (size_t i = 0; i < step.num_outputs; ++i) invariant[step.first_output + i] = true;
      invariant_steps_.push_back(std::move(step));
    }
    steps_ = std::move(loop);
    for (Step& step : steps_)
      for (size_t i = 0; i < step.inputs.size(); ++i)
        if (!invariant[step.inputs[i]]) step.varying.push_back(static_cast<int>(i));
  }

  std::shared_ptr<const Function> function_;
  std::vector<int> input_slots_, output_slots_;
  std::vector<std::pair<int, Array>> fixed_;
  std::vector<std::pair<int, Var>> shared_;
  std::vector<Step> steps_;
  std::vector<Step> invariant_steps_;
  std::vector<bool> loop_output_;  // per body output: whether a loop node computes it and may take an offer
  int num_slots_ = 0;
};

namespace {

// ---------------------------------------------------------------- helpers

bool same_constant(const Array& a, const Array& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Array ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data(), cb.data(), static_cast<size_t>(ca.size()) * ca.itemsize()) == 0;
}

// Whether the graphs computing a's and b's outputs are the same computation, input i of one standing
// for input i of the other: equal ops applied to matching inputs, equal constants, the same shared
// variables.
class ComputationMatcher {
 public:
  bool match(const ScanBody& a, const ScanBody& b) {
    if (a.inputs.size() != b.inputs.size() || a.outputs.size() != b.outputs.size()) return false;
    for (size_t i = 0; i < a.inputs.size(); ++i) {
      if (a.inputs[i]->type() != b.inputs[i]->type()) return false;
      same_[a.inputs[i].get()] = b.inputs[i].get();
    }
    for (size_t i = 0; i < a.outputs.size(); ++i)
      if (!match(a.outputs[i].get(), b.outputs[i].get())) return false;
    return true;
  }

 private:
  bool match(const Variable* a, const Variable* b) {
    if (auto it = same_.find(a); it != same_.end()) return it->second == b;
    if (a->type() != b->type()) return false;
    bool equal = false;
    if (a->is_constant() && b->is_constant()) {
      equal = same_constant(a->constant_value(), b->constant_value());
    } else if (a->owner() && b->owner()) {
      const Apply &na = *a->owner(), &nb = *b->owner();
      equal = na.op().equals(nb.op()) && na.inputs().size() == nb.inputs().size() &&
              a->index() == b->index();
      for (size_t i = 0; equal && i < na.inputs().size(); ++i) equal = match(na.input(i).get(), nb.input(i).get());
    } else {
      equal = a == b;  // shared variables and other free variables: the same object
    }
    if (equal) same_[a] = b;
    return equal;
  }

  std::unordered_map<const Variable*, const Variable*> same_;
};

bool same_computation(const ScanBody& a, const ScanBody& b) { return ComputationMatcher().match(a, b); }

Shape drop_first(const Shape& dims) { return Shape(dims.begin() + 1, dims.end()); }

// Row i of `a` (a view, no copy).
Array row(const Array& a, int64_t i) {
  return a.view(drop_first(a.shape()), drop_first(a.strides()), a.offset() + i * a.strides()[0]);
}

// Makes `dst` row i of `a`. When dst already is a row of a (the same view one step earlier), only
// its offset moves: feeding a step costs no new view.
void point_at_row(const Array& a, int64_t i, Array& dst) {
  const int64_t offset = a.offset() + i * a.strides()[0];
  bool same_rows = dst.shares_buffer_with(a) && dst.ndim() + 1 == a.ndim();
  for (int d = 0; same_rows && d < dst.ndim(); ++d)
    same_rows = dst.shape()[d] == a.shape()[d + 1] && dst.strides()[d] == a.strides()[d + 1];
  if (same_rows)
    dst.set_offset(offset);
  else
    dst = a.view(drop_first(a.shape()), drop_first(a.strides()), offset);
}

// Where state values live during the loop. The output holds the initial values followed by one
// row per step; when only the last value is kept, the steps go to a ring of mintap + 1 rows (the
// row written at step t is never one the step reads) and the output is the one last row.
struct StateStore {
  Array init;
  Array values;
  int64_t mintap = 0;
  bool ring = false;
  std::vector<Array> ring_rows;  // views made once: the initial rows, then the ring's rows

  void allocate(int64_t steps) {
    Shape shape = init.shape();
    shape[0] = ring ? mintap + 1 : mintap + steps;
    values = Array::empty(init.dtype(), shape);
    if (ring) {
      for (int64_t i = 0; i < mintap; ++i) ring_rows.push_back(row(init, i));
      for (int64_t i = 0; i <= mintap; ++i) ring_rows.push_back(row(values, i));
      return;
    }
    Shape head = init.shape();
    head[0] = mintap;
    copy_into(init.view(head, init.strides(), init.offset()), values.view(head, values.strides(), values.offset()));
  }
  // Copies the row at buffer position `position` into `dst` (an assignment that reuses dst's
  // storage when the row is a cached view).
  void read(int64_t position, Array& dst) const {
    if (!ring) {
      point_at_row(values, position, dst);
      return;
    }
    dst = ring_rows[position < mintap ? position : mintap + (position - mintap) % (mintap + 1)];
  }
  Array at(int64_t position) const {
    Array a;
    read(position, a);
    return a;
  }
  // The rows up to step `steps` (for ring storage: the last one only).
  Array result(int64_t steps) const {
    Shape shape = values.shape();
    if (!ring) {
      shape[0] = mintap + steps;
      return values.view(shape, values.strides(), values.offset());
    }
    shape[0] = 1;
    Array out = Array::empty(values.dtype(), shape);
    copy_into(at(mintap + steps - 1), row(out, 0));
    return out;
  }
};

// Writes a step's value into its row: one memmove in the common case of contiguous arrays of the
// same dtype (the value may be a view of another row of the same buffer).
void store_row(const Array& value, const Array& dst) {
  if (value.data() == dst.data() && value.dtype() == dst.dtype() && value.strides() == dst.strides()) return;  // written in place
  if (value.dtype() == dst.dtype() && value.is_c_contiguous() && dst.is_c_contiguous()) {
    std::memmove(dst.data(), value.data(), static_cast<size_t>(value.size()) * value.itemsize());
    return;
  }
  copy_into(value, dst);
}

std::string scan_label(const std::string& name) { return "scan '" + name + "'"; }

std::vector<int64_t> join_static(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> out(a.size(), kUnknownDim);
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (a[i] == b[i]) out[i] = a[i];
  return out;
}

}  // namespace

// ---------------------------------------------------------------- the op

ScanOp::ScanOp(std::shared_ptr<const ScanBody> body, ScanLayout layout, int truncate_gradient, std::string mode,
               std::string name)
    : body_(std::move(body)),
      layout_(std::move(layout)),
      truncate_gradient_(truncate_gradient),
      mode_(std::move(mode)),
      name_(name.empty() ? "scan_fn" : std::move(name)) {
  layout_.keep_last.resize(layout_.n_states() + layout_.n_nit_sot, false);
}

ScanOp::~ScanOp() = default;

std::string ScanOp::name() const {
  std::string s = "Scan{" + name_;
  std::string kept;
  for (size_t i = 0; i < layout_.keep_last.size(); ++i)
    if (layout_.keep_last[i]) kept += (kept.empty() ? "" : ",") + std::to_string(i);
  if (!kept.empty()) s += ";last_only=" + kept;
  return s + "}";
}

bool ScanOp::equals(const Op& other) const {
  auto* o = dynamic_cast<const ScanOp*>(&other);
  return o && o->layout_ == layout_ && o->truncate_gradient_ == truncate_gradient_ && o->mode_ == mode_ &&
         o->name_ == name_ && (o->body_ == body_ || same_computation(*o->body_, *body_));
}

// Two loops built by separate kiln.scan calls from the same step function have equal bodies made
// of different objects: the hash depends only on what the bodies compute (the ops in order), so
// that merging can find them and equals() compares them node by node.
size_t ScanOp::hash() const {
  std::call_once(hashed_once_, [&] {
    size_t h = (static_cast<size_t>(layout_.n_seqs) << 8) ^ (static_cast<size_t>(layout_.n_states()) << 16);
    for (const Apply* node : toposort(body_->outputs)) h = h * 1000003u ^ node->op().hash();
    hash_ = h;
  });
  return hash_;
}

const ScanProgram& ScanOp::program() const {
  std::call_once(compiled_once_, [&] { program_ = std::make_unique<ScanProgram>(*body_, layout_, mode_); });
  return *program_;
}

std::vector<TensorType> ScanOp::make_outputs(const std::vector<Var>& inputs) const {
  const ScanLayout& L = layout_;
  KILN_ASSERT(static_cast<int>(inputs.size()) == L.n_outer_inputs())
      << "Scan expects " << L.n_outer_inputs() << " inputs, got " << inputs.size();
  KILN_USER_CHECK(inputs[0]->ndim() == 0 && is_discrete(inputs[0]->dtype()), TypeError)
      << scan_label(name_) << ": n_steps must be an integer scalar, got " << inputs[0]->type().str();
  for (int j = 0; j < L.n_seqs; ++j)
    KILN_USER_CHECK(inputs[L.outer_seq(j)]->ndim() >= 1, TypeError)
        << scan_label(name_) << ": sequence " << j << " must have at least one axis to iterate over, got "
        << inputs[L.outer_seq(j)]->type().str();
  std::vector<TensorType> out;
  for (int s = 0; s < L.n_states(); ++s) {
    const Var& init = inputs[L.outer_init(s)];
    const Var& step = body_->outputs[s];
    KILN_USER_CHECK(init->dtype() == step->dtype() && init->ndim() == step->ndim() + 1, TypeError)
        << scan_label(name_) << ": state " << s << " has initial values of type " << init->type().str()
        << " but the step function returns " << step->type().str();
    std::vector<int64_t> shape = {kUnknownDim};
    for (int64_t d : join_static(drop_first(init->type().shape()), step->type().shape())) shape.push_back(d);
    out.emplace_back(init->dtype(), shape);
  }
  for (int k = 0; k < L.n_nit_sot; ++k) {
    const Var& step = body_->outputs[L.n_states() + k];
    std::vector<int64_t> shape = {kUnknownDim};
    for (int64_t d : step->type().shape()) shape.push_back(d);
    out.emplace_back(step->dtype(), shape);
  }
  out.emplace_back(DType::Int64, std::vector<int64_t>{});
  return out;
}

namespace {

// Raises when a step's value has another shape than the rows it goes into. `what` and `index`
// name the value ("new value of state", 0); the message is only built when the check fails.
void check_step_shape(const std::string& label, int64_t t, const char* what, int index, const Array& value,
                      const Shape& expected) {
  if (value.shape() == expected) return;
  KILN_THROW(ValueError) << label << ": at step " << t << " the step function's " << what << " " << index
                         << " has shape " << shape_str(value.shape()) << " but earlier values have shape "
                         << shape_str(expected);
}

// One run of a Scan node: checks the outer inputs, feeds the body step after step, stores what
// each step returns, and hands out the outer outputs.
class ScanLoop {
 public:
  ScanLoop(const ScanLayout& layout, const ScanProgram& program, std::span<const Array> in, std::string label)
      : L_(layout), prog_(program), in_(in), label_(std::move(label)), ws_(program.workspace()) {
    n_ = detail::index_value(in[0]);
    KILN_USER_CHECK(n_ >= 0, ValueError) << label_ << ": n_steps must not be negative, got " << n_;
    for (int j = 0; j < L_.n_seqs; ++j)
      KILN_USER_CHECK(in[L_.outer_seq(j)].shape()[0] >= n_, ValueError)
          << label_ << ": sequence " << j << " has " << in[L_.outer_seq(j)].shape()[0]
          << " steps (after its taps), fewer than n_steps = " << n_;
    for (int s = 0; s < L_.n_states(); ++s) {
      StateStore st;
      st.init = in[L_.outer_init(s)];
      st.mintap = L_.mintap(s);
      KILN_USER_CHECK(st.init.shape()[0] >= st.mintap, ValueError)
          << label_ << ": the initial value of state " << s << " holds " << st.init.shape()[0]
          << " steps along its first axis but its taps need " << st.mintap;
      st.ring = L_.keep_last[s];
      st.allocate(n_);
      states_.push_back(std::move(st));
    }
    rows_.resize(L_.n_states());
    collected_.resize(L_.n_nit_sot);
    collected_rows_.resize(L_.n_nit_sot);
    for (int k = 0; k < L_.n_non_seqs; ++k) prog_.input(ws_, L_.inner_non_seq(k)) = in[L_.outer_non_seq(k)];
  }

  /// Runs the steps; returns how many ran (fewer than n_steps when the until condition held).
  int64_t run() {
    if (n_ > 0) run_guarded(-1, [&] { prog_.run_invariant_steps(ws_); });
    for (int64_t t = 0; t < n_; ++t) {
      feed(t);
      offer_rows(t);
      run_guarded(t, [&] { prog_.run(ws_); });
      store(t);
      if (L_.has_until && prog_.output(ws_, L_.n_inner_outputs() - 1).item_as_double() != 0) return t + 1;
      prog_.release_outputs(ws_);
    }
    return n_;
  }


  void results(const Apply& node, int64_t steps, std::span<Array> out) const {
    for (int s = 0; s < L_.n_states(); ++s) out[s] = states_[s].result(steps);
    for (int k = 0; k < L_.n_nit_sot; ++k) {
      const int o = L_.n_states() + k;
      const Array& c = collected_[k];
      if (steps == 0) {  // no step ran: the row shape is only known statically
        const Variable* ov = node.output_ptr(o);
        Shape shape = {0};
        for (size_t d = 1; d < ov->type().shape().size(); ++d) shape.push_back(std::max<int64_t>(ov->type().shape()[d], 0));
        out[o] = Array::empty(ov->dtype(), shape);
        continue;
      }
      Shape shape = c.shape();
      shape[0] = L_.keep_last[o] ? 1 : steps;
      out[o] = c.view(shape, c.strides(), c.offset());
    }
    out[L_.n_outer_outputs() - 1] = Array::scalar_int(steps);
  }

 private:
  // Runs `body`, naming the step (-1: before the first) in the error it raises.
  template <typename Body>
  void run_guarded(int64_t t, Body&& body) {
    try {
      body();
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::InternalError) throw;
      throw Error(e.kind(), label_ + (t < 0 ? ", before the first step" : ", step " + std::to_string(t)) + ": " + e.message());
    }
  }

  void feed(int64_t t) {
    for (int j = 0; j < L_.n_seqs; ++j) point_at_row(in_[L_.outer_seq(j)], t, prog_.input(ws_, j));
    for (int s = 0; s < L_.n_states(); ++s)
      for (size_t k = 0; k < L_.state_taps[s].size(); ++k)
        states_[s].read(t + states_[s].mintap + L_.state_taps[s][k], prog_.input(ws_, L_.inner_tap(s, static_cast<int>(k))));
  }

  // The rows step t's values go to (a collected output kept last-only has one row, rewritten at
  // every step; the others' rows exist from step 1, once step 0 has shown the row shape), offered
  // to the nodes computing them. No row written at step t is one the step reads.
  void offer_rows(int64_t t) {
    for (int s = 0; s < L_.n_states(); ++s) {
      states_[s].read(t + states_[s].mintap, rows_[s]);
      prog_.offer(ws_, s, rows_[s]);
    }
    if (t == 0) return;
    for (int k = 0; k < L_.n_nit_sot; ++k) {
      const int o = L_.n_states() + k;
      point_at_row(collected_[k], L_.keep_last[o] ? 0 : t, collected_rows_[k]);
      prog_.offer(ws_, o, collected_rows_[k]);
    }
  }

  // Copies the step's values into their rows, unless the nodes wrote them there.
  void store(int64_t t) {
    for (int s = 0; s < L_.n_states(); ++s) {
      const Array& dst = rows_[s];
      const Array& value = prog_.output(ws_, s);
      check_step_shape(label_, t, "new value of state", s, value, dst.shape());
      store_row(value, dst);
    }
    for (int k = 0; k < L_.n_nit_sot; ++k) {
      const int o = L_.n_states() + k;
      const Array& value = prog_.output(ws_, o);
      if (t == 0) {
        Shape shape = value.shape();
        shape.insert(shape.begin(), L_.keep_last[o] ? 1 : n_);
        collected_[k] = Array::empty(value.dtype(), shape);
        collected_rows_[k] = row(collected_[k], 0);
      }
      const Array& dst = collected_rows_[k];
      check_step_shape(label_, t, "output", k, value, dst.shape());
      store_row(value, dst);
    }
  }

  const ScanLayout& L_;
  const ScanProgram& prog_;
  std::span<const Array> in_;
  std::string label_;
  ScanProgram::Workspace ws_;
  int64_t n_ = 0;
  std::vector<StateStore> states_;
  std::vector<Array> rows_;       // per state: the row a step writes (reused from step to step)
  std::vector<Array> collected_;  // per collected output: its rows, allocated at step 0
  std::vector<Array> collected_rows_;  // per collected output: the row this step writes
};

}  // namespace

void ScanOp::perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const {
  ScanLoop loop(layout_, program(), in, scan_label(name_));
  loop.results(node, loop.run(), out);
}

// Output shapes from the outer inputs' shapes. The row shape of a collected output comes from
// the body's own shape inference, with each placeholder's shape replaced by the shape of the
// outer value it stands for; a size that depends on values computed in the loop stays unknown.
std::vector<std::vector<Var>> ScanOp::infer_shape(const Apply& node,
                                                  const std::vector<std::vector<Var>>& in_shapes) const {
  const ScanLayout& L = layout_;
  Var n = L.has_until ? nullptr : cast(node.input(0), DType::Int64);
  auto steps_dim = [&](int o) -> Var {
    if (o < L.n_states()) {
      if (L.keep_last[o]) return int64_constant(1);
      return n ? add(n, int64_constant(L.mintap(o))) : nullptr;
    }
    if (!n) return nullptr;
    return L.keep_last[o] ? minimum(n, int64_constant(1)) : n;
  };
  // Shapes of the body's placeholders in terms of outer shapes.
  std::unordered_map<const Variable*, std::vector<Var>> shapes;
  for (int j = 0; j < L.n_seqs; ++j)
    shapes[body_->inputs[j].get()] = {in_shapes[L.outer_seq(j)].begin() + 1, in_shapes[L.outer_seq(j)].end()};
  for (int s = 0; s < L.n_states(); ++s)
    for (size_t k = 0; k < L.state_taps[s].size(); ++k)
      shapes[body_->inputs[L.inner_tap(s, static_cast<int>(k))].get()] = {in_shapes[L.outer_init(s)].begin() + 1,
                                                                           in_shapes[L.outer_init(s)].end()};
  for (int k = 0; k < L.n_non_seqs; ++k) shapes[body_->inputs[L.inner_non_seq(k)].get()] = in_shapes[L.outer_non_seq(k)];
  std::unordered_set<const Variable*> placeholders;
  for (const Var& v : body_->inputs) placeholders.insert(v.get());
  for (Apply* inner : toposort(body_->outputs)) {
    std::vector<std::vector<Var>> inner_in;
    for (const Var& v : inner->inputs()) {
      auto it = shapes.find(v.get());
      inner_in.push_back(it != shapes.end() ? it->second : shape_list(v));
    }
    auto inferred = inner->op().infer_shape(*inner, inner_in);
    for (size_t o = 0; o < inner->num_outputs(); ++o) {
      const Var v = inner->output(static_cast<int>(o));
      std::vector<Var> dims(v->ndim());
      if (o < inferred.size() && inferred[o].size() == dims.size()) dims = inferred[o];
      for (int d = 0; d < v->ndim(); ++d)
        if (!dims[d]) dims[d] = shape_i(v, d);  // unknown: reads the body's value, so stays inside
      shapes[v.get()] = dims;
    }
  }
  // A size is usable outside only if it reads no value of the body.
  auto outside = [&](const Var& d) -> Var {
    if (!d) return nullptr;
    for (const Var& leaf : graph_inputs({d}))
      if (placeholders.count(leaf.get())) return nullptr;
    return d;
  };
  std::vector<std::vector<Var>> out;
  for (int s = 0; s < L.n_states(); ++s) {
    std::vector<Var> dims = {steps_dim(s)};
    dims.insert(dims.end(), in_shapes[L.outer_init(s)].begin() + 1, in_shapes[L.outer_init(s)].end());
    out.push_back(dims);
  }
  for (int k = 0; k < L.n_nit_sot; ++k) {
    const Var& v = body_->outputs[L.n_states() + k];
    std::vector<Var> dims = {steps_dim(L.n_states() + k)};
    auto it = shapes.find(v.get());
    for (int d = 0; d < v->ndim(); ++d) dims.push_back(it != shapes.end() ? outside(it->second[d]) : nullptr);
    out.push_back(dims);
  }
  out.push_back({});
  return out;
}

std::vector<Var> make_scan_node(std::shared_ptr<const ScanBody> body, ScanLayout layout, int truncate_gradient,
                                std::string mode, std::string name, std::vector<Var> outer_inputs) {
  return make_node(std::make_shared<ScanOp>(std::move(body), std::move(layout), truncate_gradient, std::move(mode),
                                            std::move(name)),
                   std::move(outer_inputs));
}

Var with_leading_axis(const Var& x) {
  std::vector<int> pattern = {-1};
  for (int d = 0; d < x->ndim(); ++d) pattern.push_back(d);
  return dimshuffle(x, pattern);
}

const ScanOp* as_scan(const Apply& node) { return dynamic_cast<const ScanOp*>(&node.op()); }

}  // namespace kiln::detail

namespace kiln {

bool is_scan(const Apply& node) { return detail::as_scan(node) != nullptr; }

std::vector<Var> scan_inner_outputs(const Apply& node) {
  const detail::ScanOp* op = detail::as_scan(node);
  KILN_USER_CHECK(op, TypeError) << "scan_inner_outputs: " << describe_node(node) << " is not a Scan node";
  return op->body().outputs;
}

KILN_REGISTER_OP_KINDS({{"Scan", true}});

}  // namespace kiln
