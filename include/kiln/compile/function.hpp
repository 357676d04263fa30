// kiln::function: compile a graph from inputs to outputs (with updates of shared variables and
// givens substitutions) into a callable Function.
//
// A Function is immutable once built and re-entrant: each call gets its own workspace, so one
// Function may be called from many threads at once. Updates are computed from the values the
// shared variables had when the call started and are applied only after every output and update
// is computed, so a call that fails leaves all shared variables as they were.
//
// Exception, as in Theano: in FAST_RUN an update such as W - lr * g may be written straight into
// W's buffer (the inplace rewrites decide; the nodes doing it run after every other node). Calls
// of such a function take turns, and an array obtained with get_value(borrow=True) sees the new
// values. If one of those last nodes fails, the updates written before it stay.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

namespace detail {
class DebugModeChecker;
}

struct FunctionOptions {
  /// (shared variable, new value expression) pairs.
  std::vector<std::pair<Var, Var>> updates;
  /// (variable, replacement) pairs substituted in the graph before compiling.
  std::vector<std::pair<Var, Var>> givens;
  /// "raise", "warn" or "ignore"; empty means config.on_unused_input.
  std::string on_unused_input;
  /// Cast inputs of another dtype even when precision may be lost (Theano's allow_input_downcast).
  bool allow_input_downcast = false;
  /// Name shown in error messages and printing.
  std::string name;
  /// "FAST_RUN", "FAST_COMPILE", "NONE" (no rewrites), "DebugMode" (FAST_RUN, checking every
  /// result against the graph as written and each node: destroy/view contract, compiled kernel
  /// against the interpreter, infer_shape against the real shapes, strided inputs) or
  /// "NanGuardMode" (FAST_RUN, raising at the first node whose output is NaN, inf or huge, see
  /// nan_guard); empty means config.mode.
  std::string mode;
  /// NanGuardMode's checks, Theano's flags; unset means config.NanGuardMode__nan_is_error etc.
  struct NanGuard {
    bool nan_is_error = true;
    bool inf_is_error = true;
    bool big_is_error = true;  // any magnitude above 1e10
  };
  std::optional<NanGuard> nan_guard;
  /// Time every node of every call (see Function::profile_summary).
  bool profile = false;
  /// Indices of inputs whose arrays the function may overwrite (Theano's In(mutable=True)): an
  /// input read by a single elementwise, Gemm or store node may then hold that node's result.
  std::vector<int> mutable_inputs;
  /// Theano's no_default_updates: true ignores every default update (see set_default_update);
  /// otherwise the shared variables listed in skip_default_updates keep their values.
  bool no_default_updates = false;
  std::vector<Var> skip_default_updates;
};

class Function {
 public:
  /// Compile. Throws MissingInputError when the outputs need a leaf that is neither an input, a
  /// constant nor a shared variable; UnusedInputError for an unused input (per on_unused_input);
  /// TypeError for an update whose type differs from its shared variable's.
  static std::shared_ptr<const Function> compile(std::vector<Var> inputs, std::vector<Var> outputs,
                                                 FunctionOptions options = {});

  /// Run on one array per input. Arrays of another dtype are cast when that is safe (or when
  /// allow_input_downcast is set); wrong ndim or static shape raises TypeError naming the input.
  /// Returned arrays never alias the inputs, constants or shared values.
  std::vector<Array> operator()(const std::vector<Array>& inputs) const;

  const std::vector<Var>& inputs() const { return inputs_; }
  const std::vector<Var>& outputs() const { return outputs_; }
  const std::string& name() const { return name_; }
  /// Warnings produced while compiling (e.g. unused inputs with on_unused_input="warn").
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// With config.optimizer_verbose: one line per rewrite applied while compiling.
  const std::vector<std::string>& rewrite_log() const { return rewrite_log_; }
  /// The compiled nodes, in execution order.
  std::vector<const Apply*> nodes() const;
  /// Bring an input value to the input's type (dtype cast where allowed) or throw TypeError.
  Array filter_input(size_t index, const Array& value) const;
  /// With options.profile: the compile time per stage, then a table of the time spent in each node
  /// over all calls, slowest first.
  std::string profile_summary() const;

  struct Step;

 private:
  Function() = default;
  void build_schedule();
  void prepare_kernels();
  Array lend_mutable_input(const std::vector<Array>& ws, size_t i) const;
  std::vector<Var> inputs_;            // the user's input variables
  std::vector<Var> outputs_;           // compiled copies of the outputs
  std::vector<Var> shared_;            // shared variables read by the graph
  std::vector<Var> update_targets_;    // shared variables updated, parallel to update_values_
  std::vector<Var> update_values_;     // compiled copies of the update expressions
  std::vector<Array> constants_;       // values of constant slots, parallel to constant_slots_
  std::vector<int> constant_slots_;
  std::vector<int> input_slots_, shared_slots_, output_slots_, update_slots_;
  std::vector<Step> steps_;
  int num_slots_ = 0;
  bool allow_input_downcast_ = false;
  std::string name_;
  std::vector<std::string> warnings_;
  std::vector<std::string> rewrite_log_;
  std::vector<std::shared_ptr<Apply>> keep_alive_;
  bool profile_ = false;
  bool debug_ = false;
  std::optional<FunctionOptions::NanGuard> nan_guard_;
  void check_finite(const std::string& what, const Array& value) const;
  struct CompileTimes {
    double rewrite = 0, schedule = 0, kernels = 0;  // seconds
    size_t num_kernels = 0;
  } compile_times_;
  std::shared_ptr<const Function> reference_;  // DebugMode's oracle
  std::shared_ptr<const detail::DebugModeChecker> debug_checker_;  // DebugMode's per-node checks
  void compare_with_reference(const std::vector<Array>& expected, const std::vector<Array>& results,
                              const std::vector<Array>& new_values) const;
  std::vector<bool> mutable_input_;    // per input: In(mutable=True)
  std::vector<bool> update_in_place_;  // per update: its value is written into the target's buffer
  bool serialize_calls_ = false;       // some update is written in place
  mutable std::mutex call_mutex_;
  std::unique_ptr<std::atomic<int64_t>[]> step_ns_;  // per step, when profiling
  mutable std::atomic<int64_t> calls_{0};
};

struct Function::Step {
  const Apply* node;
  std::vector<int> input_slots;
  std::vector<int> output_slots;
  std::vector<int> free_after;  // slots whose last use is this step (allow_gc)
  /// (condition slot, branch) pairs: the step runs only if each condition is non-zero == branch
  /// (the nodes of lazy IfElse branches); empty: always runs.
  std::vector<std::pair<int, bool>> guard;
};

/// Shortcut for Function::compile.
inline std::shared_ptr<const Function> function(std::vector<Var> inputs, std::vector<Var> outputs,
                                                FunctionOptions options = {}) {
  return Function::compile(std::move(inputs), std::move(outputs), std::move(options));
}

/// Theano's shared_var.default_update: the new value `shared` takes after every call of a function
/// whose graph reads it, unless the function gives it an explicit update or opts out
/// (FunctionOptions::no_default_updates / skip_default_updates). Random streams use it to advance
/// their generator state. A null `update` removes it. The expression may use `shared` itself; it
/// is kept without holding `shared` alive. Throws TypeError when `shared` is not a shared variable
/// or `update` has another type.
void set_default_update(const Var& shared, const Var& update);
/// The default update of `shared`, or null.
Var default_update(const Var& shared);

/// Create a shared variable holding a copy of `value` (all dimensions of unknown static size,
/// as Theano's shared()).
Var shared(const Array& value, const std::string& name = {});

}  // namespace kiln
