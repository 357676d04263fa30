#include "kiln/compile/function.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <set>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "compile/debug_mode_impl.hpp"
#include "compile/default_update_impl.hpp"
#include "compile/lazy_schedule_impl.hpp"
#include "kiln/compile/codegen.hpp"
#include "kiln/config.hpp"
#include "kiln/debug/testing_ops.hpp"
#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/composite.hpp"
#include "kiln/rewrite/rewrite.hpp"

namespace kiln {
namespace {

std::string input_label(const Var& v, size_t index) {
  std::string s = "input " + std::to_string(index);
  if (!v->name().empty()) s += " ('" + v->name() + "')";
  return s;
}

std::string function_label(const std::string& name) {
  return name.empty() ? std::string("kiln function") : "kiln function '" + name + "'";
}

void check_update_types(const std::vector<std::pair<Var, Var>>& updates) {
  std::set<const Variable*> seen;
  for (const auto& [target, value] : updates) {
    detail::check_update_type(target, value);
    KILN_USER_CHECK(seen.insert(target.get()).second, ValueError)
        << "function: shared variable " << target->label() << " is updated twice";
  }
}

void check_givens(const std::vector<std::pair<Var, Var>>& givens) {
  for (const auto& [old_var, new_var] : givens) {
    KILN_USER_CHECK(old_var && new_var, TypeError) << "function: givens has a null variable";
    KILN_USER_CHECK(old_var->dtype() == new_var->dtype() && old_var->ndim() == new_var->ndim(), TypeError)
        << "function: givens replaces " << old_var->label() << " of type " << old_var->type().str() << " by "
        << new_var->label() << " of another type " << new_var->type().str();
  }
}

}  // namespace

void detail::check_update_type(const Var& target, const Var& value) {
  KILN_USER_CHECK(target && value, TypeError) << "function: an update has a null variable";
  KILN_USER_CHECK(target->is_shared(), TypeError)
      << "function: update target " << target->label() << " is not a shared variable";
  KILN_USER_CHECK(value->dtype() == target->dtype() && value->ndim() == target->ndim() &&
                      target->type().is_super(value->type()),
                  TypeError)
      << "function: an update must have the same type as the shared variable it updates: " << target->label()
      << " has type " << target->type().str() << " but the new value " << value->label() << " has type "
      << value->type().str()
      << (value->dtype() != target->dtype() ? "; cast the update expression (e.g. with .astype) to the shared "
                                              "variable's dtype"
                                            : "");
}

std::shared_ptr<const Function> Function::compile(std::vector<Var> inputs, std::vector<Var> outputs,
                                                  FunctionOptions options) {
  std::shared_ptr<Function> fn(new Function());
  fn->name_ = options.name;
  fn->profile_ = options.profile || Config::get().get_bool("profile");
  fn->allow_input_downcast_ = options.allow_input_downcast;
  std::string on_unused =
      options.on_unused_input.empty() ? Config::get().value("on_unused_input") : options.on_unused_input;
  KILN_USER_CHECK(on_unused == "raise" || on_unused == "warn" || on_unused == "ignore", ValueError)
      << "invalid value for on_unused_input: '" << on_unused << "'; valid values are 'raise', 'warn' and 'ignore'";

  const std::string mode = options.mode.empty() ? Config::get().value("mode") : options.mode;
  KILN_USER_CHECK(mode == "FAST_RUN" || mode == "FAST_COMPILE" || mode == "DebugMode" || mode == "DEBUG_MODE" ||
                      mode == "NanGuardMode" || mode == "NONE",
                  ValueError)
      << "function: unknown mode '" << mode << "': expected FAST_RUN, FAST_COMPILE, DebugMode, NanGuardMode or NONE";

  std::set<const Variable*> input_set;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Var& v = inputs[i];
    KILN_USER_CHECK(v != nullptr, TypeError) << "function: input " << i << " is null";
    KILN_USER_CHECK(!v->is_shared(), TypeError)
        << "function: cannot use shared variable " << v->label()
        << " as an explicit input; it is an implicit input of every function that uses it";
    KILN_USER_CHECK(!v->is_constant(), TypeError) << "function: input " << i << " is a constant";
    KILN_USER_CHECK(!v->owner(), TypeError)
        << "function: " << input_label(v, i) << " is computed by " << v->owner()->op().name()
        << "; inputs must be free variables (use givens to substitute an expression)";
    KILN_USER_CHECK(input_set.insert(v.get()).second, ValueError)
        << "function: variable " << v->label() << " is given twice as input";
  }
  for (size_t i = 0; i < outputs.size(); ++i) KILN_USER_CHECK(outputs[i] != nullptr, TypeError) << "function: output " << i << " is null";
  check_update_types(options.updates);
  check_givens(options.givens);
  {
    // Default updates of the shared variables the graph reads (random streams' states) join the
    // explicit ones.
    std::vector<Var> roots = outputs;
    for (const auto& u : options.updates) roots.push_back(u.second);
    for (auto& u : detail::collect_default_updates(roots, options)) options.updates.push_back(std::move(u));
  }

  // Copy the graph of outputs and update values, with givens substituted.
  std::map<const Variable*, Var> replace;
  for (const auto& [old_var, new_var] : options.givens) replace[old_var.get()] = new_var;
  std::vector<Var> roots = outputs;
  for (const auto& u : options.updates) roots.push_back(u.second);
  std::vector<Var> copies = clone_graph(roots, replace);
  fn->inputs_ = inputs;
  fn->outputs_.assign(copies.begin(), copies.begin() + outputs.size());
  for (size_t i = 0; i < options.updates.size(); ++i) {
    fn->update_targets_.push_back(options.updates[i].first);
    fn->update_values_.push_back(copies[outputs.size() + i]);
  }

  // Every leaf must be an input, a constant or a shared variable.
  std::set<const Variable*> used;
  for (const Var& leaf : graph_inputs(copies)) {
    used.insert(leaf.get());
    if (leaf->is_constant() || leaf->is_shared() || input_set.count(leaf.get())) continue;
    KILN_THROW(MissingInputError) << function_label(options.name) << ": the graph needs the variable "
                                  << leaf->label() << " (" << leaf->type().str() << ")"
                                  << (leaf->source_location().empty() ? "" : " created at " + leaf->source_location())
                                  << ", which is not among the inputs, not a shared variable and not given a value "
                                     "through givens";
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (used.count(inputs[i].get()) || on_unused == "ignore") continue;
    std::string msg = function_label(options.name) + " was asked to compute outputs from " + input_label(inputs[i], i) +
                      ", which is not part of the graph needed to compute the outputs.";
    if (on_unused == "raise")
      KILN_THROW(UnusedInputError) << msg << " To make this error a warning, pass on_unused_input='warn'; to "
                                              "silence it, on_unused_input='ignore'.";
    fn->warnings_.push_back(msg + " To make this warning an error, pass on_unused_input='raise'; to silence it, "
                                  "on_unused_input='ignore'.");
  }
  // Rewrite the copied graph (never the user's) for the mode; outputs and updates follow along.
  FunctionGraph fg(inputs, copies, /*clone=*/false);
  for (size_t i = 0; i < options.updates.size(); ++i)
    fg.mark_update(options.updates[i].first, static_cast<int>(outputs.size() + i));
  fn->mutable_input_.assign(inputs.size(), false);
  for (int i : options.mutable_inputs) {
    KILN_USER_CHECK(i >= 0 && i < static_cast<int>(inputs.size()), ValueError)
        << function_label(options.name) << ": mutable input index " << i << " is out of range";
    fn->mutable_input_[i] = true;
    fg.mark_mutable(inputs[i]);
  }
  const bool nan_guard = mode == "NanGuardMode";
  if (nan_guard) {
    const Config& config = Config::get();
    fn->nan_guard_ = options.nan_guard.value_or(FunctionOptions::NanGuard{
        config.get_bool("NanGuardMode__nan_is_error"), config.get_bool("NanGuardMode__inf_is_error"),
        config.get_bool("NanGuardMode__big_is_error")});
  }
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  auto stage_started = Clock::now();
  RewriteReport report = rewrite_for_mode(fg, nan_guard ? "FAST_RUN" : mode);
  fn->compile_times_.rewrite = seconds_since(stage_started);
  fn->outputs_.assign(fg.outputs().begin(), fg.outputs().begin() + outputs.size());
  fn->update_values_.assign(fg.outputs().begin() + outputs.size(), fg.outputs().end());
  fn->warnings_.insert(fn->warnings_.end(), report.warnings.begin(), report.warnings.end());
  fn->rewrite_log_ = std::move(report.log);
  if (Config::get().get_bool("profile_optimizer")) {
    // One line per rewrite applied: applications, time, and the node count change it caused.
    std::vector<std::pair<double, std::string>> rows;
    for (const auto& [name, st] : report.stats) {
      char line[160];
      std::snprintf(line, sizeof line, "%10.3f ms %6d applied %+7ld nodes  %s", st.seconds * 1e3, st.applied,
                    st.node_change, name.c_str());
      rows.emplace_back(st.seconds, line);
    }
    std::sort(rows.rbegin(), rows.rend());
    fn->rewrite_log_.push_back("rewrite profile of " + function_label(options.name) + ":");
    for (const auto& r : rows) fn->rewrite_log_.push_back(r.second);
  }
  stage_started = Clock::now();
  fn->build_schedule();
  fn->compile_times_.schedule = seconds_since(stage_started);
  stage_started = Clock::now();
  fn->debug_ = mode == "DebugMode" || mode == "DEBUG_MODE";
  fn->prepare_kernels();
  fn->compile_times_.kernels = seconds_since(stage_started);
  if (mode == "DebugMode" || mode == "DEBUG_MODE") {
    // DebugMode's oracle: the same graph without rewrites, returning the update values as outputs.
    fn->debug_ = true;
    fn->debug_checker_ = std::make_shared<const detail::DebugModeChecker>(fn->nodes());
    FunctionOptions plain;
    plain.mode = "NONE";
    plain.givens = options.givens;
    plain.on_unused_input = "ignore";
    plain.no_default_updates = true;  // they are among options.updates already
    plain.allow_input_downcast = options.allow_input_downcast;
    std::vector<Var> all = outputs;
    for (const auto& u : options.updates) all.push_back(u.second);
    fn->reference_ = compile(inputs, all, plain);
  }
  return fn;
}

namespace {

// The shared variable `node` overwrites (an update written in place), or null.
const Variable* destroys_shared(const Apply& node) {
  for (const auto& [o, i] : node.op().destroy_map())
    if (node.input(i)->is_shared()) return node.input(i).get();
  return nullptr;
}

// Topological order, with the nodes that write a shared variable's update into its own buffer
// moved last: every other reader of the old value must run first. Nothing reads those nodes'
// results but the updates (the inplace rewrite checks it), so moving them keeps the order valid.
std::vector<Apply*> schedule_order(const std::vector<Var>& roots) {
  std::vector<Apply*> order = toposort(roots);
  std::stable_partition(order.begin(), order.end(), [](const Apply* n) { return !destroys_shared(*n); });
  return order;
}

// The reasons kernels ran on the interpreter that a warning already named, and their lock.
std::pair<std::mutex, std::set<std::string>>& interpreter_warnings_given() {
  static std::pair<std::mutex, std::set<std::string>> given;
  return given;
}

}  // namespace

void testing::forget_interpreter_warnings() {
  auto& [mutex, warned] = interpreter_warnings_given();
  std::lock_guard<std::mutex> lock(mutex);
  warned.clear();
}

// Compile the generated kernels now (in parallel, each from the cache when seen before) rather
// than at the first call. Without a working compiler the interpreter runs them, after one warning
// per process.
void Function::prepare_kernels() {
  std::vector<const Apply*> pending;
  for (const Step& s : steps_)
    if (!kernel_source(s.node->op()).empty()) pending.push_back(s.node);
  compile_times_.num_kernels = pending.size();
  if (pending.empty()) return;
  // Tiered execution: return now and let the nodes switch from the interpreter to their kernels
  // as these become ready. Not in DebugMode, which compares the compiled kernels themselves, nor
  // without a working compiler, whose one warning is given here.
  if (Config::get().get_bool("tiered_compile") && !debug_ && compiler_runs()) {
    for (const Apply* node : pending) prepare_kernel_in_background(*node);
    return;
  }
  std::vector<std::string> errors(pending.size());
  const size_t workers = std::min<size_t>(pending.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < pending.size();) errors[i] = prepare_kernel(pending[i]->op());
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  // One warning per process and reason.
  auto& [mutex, warned] = interpreter_warnings_given();
  std::lock_guard<std::mutex> lock(mutex);
  for (const std::string& e : errors)
    if (!e.empty() && warned.insert(e).second)
      warnings_.push_back("kiln: generated kernels run on the interpreter (same results, slower): " + e);
}

void Function::build_schedule() {
  std::unordered_map<const Variable*, int> slot_of;
  auto slot = [&](const Variable* v) {
    auto [it, inserted] = slot_of.emplace(v, num_slots_);
    if (inserted) ++num_slots_;
    return it->second;
  };
  for (const Var& v : inputs_) input_slots_.push_back(slot(v.get()));
  std::vector<Var> roots = outputs_;
  roots.insert(roots.end(), update_values_.begin(), update_values_.end());
  for (const Var& leaf : graph_inputs(roots)) {
    if (leaf->is_constant()) {
      constant_slots_.push_back(slot(leaf.get()));
      constants_.push_back(leaf->constant_value());
    } else if (leaf->is_shared()) {
      shared_.push_back(leaf);
      shared_slots_.push_back(slot(leaf.get()));
    }
  }
  const detail::LazySchedule lazy = detail::plan_lazy_schedule(schedule_order(roots), roots);
  for (size_t k = 0; k < lazy.order.size(); ++k) {
    Apply* node = lazy.order[k];
    keep_alive_.push_back(node->shared_from_this());
    Step step{node, {}, {}, {}, {}};
    for (const Var& in : node->inputs()) step.input_slots.push_back(slot(in.get()));
    for (size_t i = 0; i < node->num_outputs(); ++i) step.output_slots.push_back(slot(node->output_ptr(static_cast<int>(i))));
    for (const detail::GuardTerm& term : lazy.guards[k]) step.guard.emplace_back(slot(term.condition), term.branch);
    steps_.push_back(std::move(step));
  }
  for (const Var& o : outputs_) output_slots_.push_back(slot(o.get()));
  for (const Var& u : update_values_) update_slots_.push_back(slot(u.get()));
  for (size_t i = 0; i < update_values_.size(); ++i) {
    const Apply* owner = update_values_[i]->owner();
    update_in_place_.push_back(owner && destroys_shared(*owner) && destroys_shared(*owner) == update_targets_[i].get());
    serialize_calls_ = serialize_calls_ || update_in_place_.back();
  }

  if (profile_) {
    step_ns_.reset(new std::atomic<int64_t>[steps_.size()]);
    for (size_t i = 0; i < steps_.size(); ++i) step_ns_[i] = 0;
  }
  // Free each intermediate after its last reader, unless it is returned.
  std::set<int> pinned(output_slots_.begin(), output_slots_.end());
  pinned.insert(update_slots_.begin(), update_slots_.end());
  std::vector<int> last_use(num_slots_, -1);
  for (size_t s = 0; s < steps_.size(); ++s)
    for (int in : steps_[s].input_slots) last_use[in] = static_cast<int>(s);
  for (int slot_index = 0; slot_index < num_slots_; ++slot_index)
    if (last_use[slot_index] >= 0 && !pinned.count(slot_index)) steps_[last_use[slot_index]].free_after.push_back(slot_index);
}

namespace {

bool same_values(const Array& a, const Array& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.size(); ++i) {
    double x = a.item_as_double(i), y = b.item_as_double(i);
    if (x == y || (std::isnan(x) && std::isnan(y))) continue;
    if (!std::isfinite(y) && std::isfinite(x)) continue;  // a stability rewrite fixed an overflow or 0/0
    // Rewrites reorder float arithmetic and stabilised forms are more accurate than the naive ones:
    // compare as numpy.allclose with Theano's DebugMode tolerances.
    const bool f32 = a.dtype() == DType::Float32;
    const double rtol = f32 ? 1e-3 : 1e-5, atol = f32 ? 1e-5 : 1e-8;
    if (!is_float(a.dtype()) || std::isnan(x) || std::isnan(y) || std::abs(x - y) > atol + rtol * std::abs(y)) return false;
  }
  return true;
}

}  // namespace

// DebugMode: the rewritten graph must compute what the graph as written computes.
void Function::compare_with_reference(const std::vector<Array>& expected, const std::vector<Array>& results,
                                      const std::vector<Array>& new_values) const {
  for (size_t i = 0; i < results.size() + new_values.size(); ++i) {
    const Array& got = i < results.size() ? results[i] : new_values[i - results.size()];
    KILN_USER_CHECK(same_values(got, expected[i]), RuntimeError)
        << "DebugMode: " << (i < results.size() ? "output " + std::to_string(i) : "update " + std::to_string(i - results.size()))
        << " of " << function_label(name_) << " differs between the rewritten graph and the graph as written";
  }
}

// NanGuardMode: the first NaN, inf or huge value raises, naming where it appeared.
void Function::check_finite(const std::string& what, const Array& value) const {
  if (!is_float(value.dtype())) return;
  constexpr double kBig = 1e10;  // Theano's threshold for big_is_error
  for (int64_t i = 0; i < value.size(); ++i) {
    const double v = value.item_as_double(i);
    const char* problem = std::isnan(v) ? (nan_guard_->nan_is_error ? "NaN" : nullptr)
                          : std::isinf(v) ? (nan_guard_->inf_is_error ? "inf" : nullptr)
                          : std::abs(v) > kBig && nan_guard_->big_is_error ? "a value above 1e10 in magnitude"
                                                                          : nullptr;
    if (!problem) continue;
    KILN_THROW(RuntimeError) << "NanGuardMode, " << function_label(name_) << ": " << problem << " in " << what
                             << ": element " << i << " of the array of shape " << shape_str(value.shape()) << " is "
                             << v;
  }
}

std::string Function::profile_summary() const {
  if (!profile_) return "profiling is off: compile with profile=True\n";
  std::vector<std::pair<int64_t, size_t>> order;
  int64_t total = 0;
  for (size_t i = 0; i < steps_.size(); ++i) {
    order.emplace_back(step_ns_[i].load(), i);
    total += order.back().first;
  }
  std::sort(order.rbegin(), order.rend());
  std::ostringstream os;
  const int64_t calls = std::max<int64_t>(1, calls_.load());
  char compile_line[200];
  std::snprintf(compile_line, sizeof compile_line,
                "compile: %.2f ms rewriting, %.2f ms scheduling, %.2f ms preparing %zu generated kernels "
                "(code generation, and g++ for those not in the cache)\n",
                compile_times_.rewrite * 1e3, compile_times_.schedule * 1e3, compile_times_.kernels * 1e3,
                compile_times_.num_kernels);
  os << function_label(name_) << " " << compile_line;
  os << function_label(name_) << ": " << calls_.load() << " calls, " << total / 1000.0 / calls << " us per call in "
     << steps_.size() << " nodes\n  us/call      %  node\n";
  for (const auto& [ns, i] : order) {
    char line[64];
    std::snprintf(line, sizeof line, "%9.2f %6.1f  ", ns / 1000.0 / calls, total ? 100.0 * ns / total : 0.0);
    os << line << describe_node(*steps_[i].node) << "\n";
  }
  return os.str();
}

std::vector<const Apply*> Function::nodes() const {
  std::vector<const Apply*> out;
  for (const Step& s : steps_) out.push_back(s.node);
  return out;
}

Array Function::filter_input(size_t index, const Array& value) const {
  const Var& v = inputs_[index];
  const TensorType& type = v->type();
  Array a = value;
  if (a.dtype() != type.dtype()) {
    KILN_USER_CHECK(is_supported(a.dtype()), TypeError)
        << function_label(name_) << ", " << input_label(v, index) << ": dtype " << dtype_name(a.dtype())
        << " is not supported";
    KILN_USER_CHECK(allow_input_downcast_ || can_cast_safely(a.dtype(), type.dtype()), TypeError)
        << function_label(name_) << ", " << input_label(v, index) << " expects " << type.str()
        << " and cannot store a value of dtype " << dtype_name(a.dtype())
        << " without risking loss of precision. If you do not mind, either cast the value to " << dtype_name(type.dtype())
        << " or pass allow_input_downcast=True to function()";
    if (a.ndim() == type.ndim()) a = a.astype(type.dtype());
  }
  std::string why = type.mismatch(a);
  if (!why.empty() && a.dtype() != type.dtype()) why = type.mismatch(a.astype(type.dtype()));
  KILN_USER_CHECK(why.empty(), TypeError) << function_label(name_) << ", " << input_label(v, index) << " of type "
                                          << type.str() << ": " << why;
  return a;
}

// The array an In(mutable=True) input runs on: the caller's memory, lent for writing, unless it
// overlaps another input (writing would change that input too) or its owner forbids writes; a
// copy (which the inplace kernels may write) then.
Array Function::lend_mutable_input(const std::vector<Array>& ws, size_t i) const {
  const Array& a = ws[input_slots_[i]];
  for (size_t j = 0; j < input_slots_.size(); ++j)
    if (j != i && ws[input_slots_[j]].defined() && a.buffer()->overlaps(*ws[input_slots_[j]].buffer())) return a.copy();
  std::shared_ptr<Buffer> lent = Buffer::lend_for_writing(a.buffer());
  if (!lent) return a.copy();
  return Array(a.dtype(), a.shape(), a.strides(), lent, a.offset());
}

std::vector<Array> Function::operator()(const std::vector<Array>& args) const {
  KILN_USER_CHECK(args.size() == inputs_.size(), TypeError)
      << function_label(name_) << " takes " << inputs_.size() << " inputs, got " << args.size();
  // Updates written into the shared variables' own buffers: calls of this function take turns.
  std::unique_lock<std::mutex> turn(call_mutex_, std::defer_lock);
  if (serialize_calls_) turn.lock();
  // DebugMode's oracle reads the shared values as they are before this call changes them.
  std::vector<Array> expected;
  if (debug_) expected = (*reference_)(args);
  std::vector<Array> ws(num_slots_);
  for (size_t i = 0; i < args.size(); ++i) ws[input_slots_[i]] = filter_input(i, args[i]);
  for (size_t i = 0; i < args.size(); ++i)
    if (mutable_input_[i]) ws[input_slots_[i]] = lend_mutable_input(ws, i);
  if (nan_guard_)
    for (size_t i = 0; i < args.size(); ++i) check_finite(input_label(inputs_[i], i), ws[input_slots_[i]]);
  for (size_t i = 0; i < constants_.size(); ++i) ws[constant_slots_[i]] = constants_[i];
  for (size_t i = 0; i < shared_.size(); ++i) ws[shared_slots_[i]] = shared_[i]->storage()->get();
  // Results must not alias memory the caller or kiln still uses elsewhere. Collected before the
  // schedule runs: with allow_gc the input slots are emptied after their last reader.
  std::vector<const Buffer*> foreign;
  foreign.reserve(args.size() + constants_.size() + shared_.size());
  for (size_t i = 0; i < args.size(); ++i) foreign.push_back(ws[input_slots_[i]].buffer().get());
  for (const Array& c : constants_) foreign.push_back(c.buffer().get());
  for (size_t i = 0; i < shared_.size(); ++i) foreign.push_back(ws[shared_slots_[i]].buffer().get());

  const bool gc = Config::get().allow_gc();
  std::vector<Array> in_values, out_values;
  ++calls_;
  for (size_t step_index = 0; step_index < steps_.size(); ++step_index) {
    const Step& step = steps_[step_index];
    if (!detail::guard_holds(step.guard, ws)) {  // a lazy IfElse branch not taken
      if (gc)
        for (int s : step.free_after) ws[s] = Array();
      continue;
    }
    const auto started = profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    in_values.clear();
    for (int s : step.input_slots) in_values.push_back(ws[s]);
    out_values.assign(step.output_slots.size(), Array());
    std::vector<Array> before;
    if (debug_)
      for (const Array& a : in_values) before.push_back(a.defined() ? a.copy() : a);  // undefined: a branch not taken
    try {
      step.node->op().perform(*step.node, in_values, out_values);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::InternalError) throw;
      Error wrapped(e.kind(), e.message());
      wrapped << "\n  Apply node: " << describe_node(*step.node) << "\n  Input shapes: ";
      for (size_t i = 0; i < in_values.size(); ++i) wrapped << (i ? ", " : "") << shape_str(in_values[i].shape());
      throw wrapped;
    } catch (const std::bad_alloc&) {
      KILN_THROW(RuntimeError) << "out of memory while computing " << describe_node(*step.node);
    }
    if (debug_) debug_checker_->check(step_index, before, in_values, out_values);
    if (nan_guard_)
      for (size_t i = 0; i < out_values.size(); ++i)
        check_finite("output " + std::to_string(i) + " of " + describe_node(*step.node), out_values[i]);
    for (size_t i = 0; i < out_values.size(); ++i) {
      const Variable* ov = step.node->output_ptr(static_cast<int>(i));
      KILN_ASSERT(out_values[i].defined() && out_values[i].dtype() == ov->dtype() && out_values[i].ndim() == ov->ndim())
          << step.node->op().name() << " produced a value that does not match its output type " << ov->type().str();
      ws[step.output_slots[i]] = std::move(out_values[i]);
    }
    if (gc)
      for (int s : step.free_after) ws[s] = Array();
    if (profile_)
      step_ns_[step_index] += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count();
  }

  auto detach = [&](const Array& a) {
    for (const Buffer* b : foreign)
      if (a.buffer().get() == b) return a.copy();
    return a;
  };
  // Update values first: outputs must not alias them either (the caller may write to an output).
  std::vector<Array> new_values;
  // The buffers handed out so far (few: a vector searched in order costs less than a set).
  // first_return(b) records b and says whether it was new.
  std::vector<const Buffer*> returned;
  returned.reserve(update_slots_.size() + output_slots_.size());
  auto first_return = [&returned](const Buffer* b) {
    if (std::find(returned.begin(), returned.end(), b) != returned.end()) return false;
    returned.push_back(b);
    return true;
  };
  for (size_t i = 0; i < update_slots_.size(); ++i) {
    const int s = update_slots_[i];
    if (update_in_place_[i]) {  // already in the shared variable's buffer
      first_return(ws[s].buffer().get());
      new_values.push_back(ws[s]);
      continue;
    }
    Array v = detach(ws[s]);
    if (!v.buffer()->owned() || !first_return(v.buffer().get())) v = v.copy();
    first_return(v.buffer().get());  // the copy's buffer, when one was made
    new_values.push_back(std::move(v));
  }
  std::vector<Array> results;
  results.reserve(output_slots_.size());
  for (int s : output_slots_) {
    Array r = detach(ws[s]);
    // Two results sharing a buffer (the same variable twice, views, an update value) get copies.
    if (!first_return(r.buffer().get())) r = r.copy();
    results.push_back(std::move(r));
  }
  if (debug_) compare_with_reference(expected, results, new_values);
  for (size_t i = 0; i < new_values.size(); ++i) update_targets_[i]->storage()->set(std::move(new_values[i]));
  return results;
}

Var shared(const Array& value, const std::string& name) {
  std::vector<int64_t> shape(value.ndim(), kUnknownDim);
  return Variable::shared(value.copy(), TensorType(value.dtype(), shape), name);
}

}  // namespace kiln
