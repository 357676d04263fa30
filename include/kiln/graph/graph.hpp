// The symbolic graph: Variable, Apply and Op.
//
// A Variable is a typed value in a graph: a free input, a Constant (holds an Array), a shared
// variable (holds a SharedStorage read by compiled functions), or the output of an Apply node.
// An Apply is one application of an Op to input Variables; it owns its output Variables, and a
// handle to an output keeps the whole node alive through shared_ptr aliasing, so there are no
// reference cycles and no owner pointer can dangle.
//
// Ops are immutable values: equality and hash come from their declared properties.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kiln/graph/type.hpp"
#include "kiln/runtime/array.hpp"

namespace kiln {

class Apply;
class FunctionGraph;
class Op;
class Variable;
using Var = std::shared_ptr<Variable>;
using OpPtr = std::shared_ptr<const Op>;

/// The value cell of a shared variable. Compiled functions read it at the start of a call and
/// replace it after the call's outputs are computed; access is guarded by a mutex so several
/// threads may call functions that share it.
class SharedStorage {
 public:
  explicit SharedStorage(Array value) : value_(std::move(value)) {}
  Array get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
  }
  void set(Array value) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ = std::move(value);
  }

 private:
  mutable std::mutex mutex_;
  Array value_;
};

class Variable {
 public:
  enum class Kind : uint8_t { Input, Constant, Shared, Output };

  /// A free input variable of the given type.
  static Var input(TensorType type, std::string name = {});
  /// A constant. `weak` marks constants made from Python/C++ scalars, which do not upcast the
  /// tensors they are combined with (x_float32 * 2.5 stays float32).
  static Var constant(Array value, std::string name = {}, bool weak = false);
  /// A shared variable holding `value`; its type is `type`.
  static Var shared(Array value, TensorType type, std::string name = {});

  Variable(const Variable&) = delete;
  Variable& operator=(const Variable&) = delete;

  const TensorType& type() const { return type_; }
  DType dtype() const { return type_.dtype(); }
  int ndim() const { return type_.ndim(); }
  Kind kind() const { return kind_; }
  bool is_constant() const { return kind_ == Kind::Constant; }
  bool is_shared() const { return kind_ == Kind::Shared; }
  bool is_weak() const { return weak_; }
  /// The Apply node computing this variable, or nullptr for inputs, constants and shared variables.
  Apply* owner() const { return owner_; }
  /// Which output of its owner this is.
  int index() const { return index_; }
  /// The value of a constant (asserts is_constant()).
  const Array& constant_value() const;
  /// The storage of a shared variable (asserts is_shared()).
  const std::shared_ptr<SharedStorage>& storage() const;

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  /// "file.py:12": where user code created this variable (empty if unknown).
  const std::string& source_location() const { return source_location_; }
  void set_source_location(std::string loc) { source_location_ = std::move(loc); }
  /// Unique, increasing creation number: a deterministic tie-breaker for ordering and printing.
  uint64_t id() const { return id_; }

  /// A shared handle to this variable (works for node outputs too).
  Var handle() const;
  /// Name if set, else a description such as "Elemwise{add}.0" or "<TensorType(float32, matrix)>".
  std::string label() const;

 private:
  friend class Apply;
  Variable(Kind kind, TensorType type, std::string name);
  Kind kind_;
  TensorType type_;
  Apply* owner_ = nullptr;
  int index_ = 0;
  bool weak_ = false;
  std::string name_;
  std::string source_location_;
  uint64_t id_;
  std::optional<Array> constant_;
  std::shared_ptr<SharedStorage> storage_;
  std::weak_ptr<Variable> self_;  // for free variables, to implement handle()
};

/// One application of an Op. Immutable after construction.
class Apply : public std::enable_shared_from_this<Apply> {
 public:
  /// Builds the node through the op's type checking (Op::make_outputs). Prefer make_node().
  static std::shared_ptr<Apply> create(OpPtr op, std::vector<Var> inputs);
  /// Builds the node with given output types (no checking: for cloning).
  static std::shared_ptr<Apply> create_unchecked(OpPtr op, std::vector<Var> inputs,
                                                 const std::vector<TensorType>& output_types);
  Apply(const Apply&) = delete;
  Apply& operator=(const Apply&) = delete;
  ~Apply();

  const Op& op() const { return *op_; }
  const OpPtr& op_ptr() const { return op_; }
  const std::vector<Var>& inputs() const { return inputs_; }
  const Var& input(int i) const { return inputs_[i]; }
  size_t num_outputs() const { return outputs_.size(); }
  /// A handle to output i; keeps the node alive.
  Var output(int i) const;
  std::vector<Var> outputs() const;
  Variable* output_ptr(int i) const { return outputs_[i].get(); }
  const std::string& source_location() const { return source_location_; }
  uint64_t id() const { return id_; }

  /// A copy of this node applied to other inputs of the same types.
  std::shared_ptr<Apply> clone_with_new_inputs(std::vector<Var> inputs) const;

 private:
  friend class FunctionGraph;  // rewires its own copies of nodes in replace()
  Apply() = default;
  void set_input(int i, Var v) { inputs_[i] = std::move(v); }
  OpPtr op_;
  std::vector<Var> inputs_;
  std::vector<std::unique_ptr<Variable>> outputs_;
  std::string source_location_;
  uint64_t id_ = 0;
};

/// The interface every operation implements (see DESIGN.md, "The Op contract").
class Op {
 public:
  virtual ~Op() = default;

  /// "Elemwise{add}", "Dot", "DimShuffle{1,0}": how the op prints.
  virtual std::string name() const = 0;
  /// Checks the inputs and returns the output types. Throws TypeError/ValueError naming the op.
  virtual std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const = 0;
  /// The reference kernel: computes outputs from inputs. `outputs` arrive undefined, or holding
  /// storage the caller offers for reuse (a loop offers last step's buffer, or the row the value
  /// goes to): memory nothing else reads, overlapping no input. An op may write its result there
  /// (Array::output_storage) or replace it with an array of its own.
  virtual void perform(const Apply& node, std::span<const Array> inputs, std::span<Array> outputs) const = 0;
  /// Output shapes as graphs (int64 scalars) of input shapes; an empty result means "not known",
  /// and callers fall back to the shape of the computed output.
  virtual std::vector<std::vector<Var>> infer_shape(const Apply& node,
                                                    const std::vector<std::vector<Var>>& input_shapes) const;

  /// Reverse mode: given the gradient of the cost with respect to each output (never null: a
  /// missing one arrives as zeros), return the gradient with respect to each input, one Var per
  /// input, of the input's ndim and a float dtype. nullptr means "disconnected": no gradient flows
  /// to that input (an integer index, a shape). grad_undefined() marks a gradient that exists
  /// mathematically but is not defined here; grad() raises if one reaches a requested variable.
  /// The default raises NotImplementedError naming the op.
  virtual std::vector<Var> L_op(const Apply& node, const std::vector<Var>& output_grads) const;
  /// Forward mode: given one eval point per input (nullptr for inputs held constant), the
  /// directional derivative of each output (nullptr if it does not depend on the eval points).
  /// The default derives it from L_op by transposing the linear map L_op builds.
  virtual std::vector<Var> R_op(const Apply& node, const std::vector<Var>& eval_points) const;
  /// Whether gradients flow through the op at all. Integer-valued ops (Shape, ARange, Argmax)
  /// return false; their L_op returns disconnected or zero gradients.
  virtual bool differentiable() const { return true; }

  /// Output i is a view of input view_map()[i] (no copy).
  virtual std::map<int, int> view_map() const { return {}; }
  /// Output i is written into input destroy_map()[i]'s buffer, destroying that input's value.
  /// Only the inplace rewrites create such nodes, after checking nothing else reads the input.
  virtual std::map<int, int> destroy_map() const { return {}; }

  /// The op's kind, independent of its parameters: "Elemwise{exp}", "Sum", "Subtensor". The
  /// default is name() up to its first '{'. Kinds are what register_op_kind lists.
  virtual std::string kind() const;

  /// Equality and hash from the op's properties: two equal ops on equal inputs compute the same.
  virtual bool equals(const Op& other) const;
  virtual size_t hash() const;
};

/// The registry of op kinds: every op family registers its kinds (and whether gradients flow
/// through them), so conformance tests can check that each differentiable kind is tested.
struct OpKindInfo {
  std::string kind;
  bool differentiable;
};
void register_op_kind(const std::string& kind, bool differentiable);
std::vector<OpKindInfo> registered_op_kinds();
#define KILN_REGISTER_OP_KINDS_CAT2(a, b) a##b
#define KILN_REGISTER_OP_KINDS_CAT(a, b) KILN_REGISTER_OP_KINDS_CAT2(a, b)
/// At namespace scope in an op family's .cpp: KILN_REGISTER_OP_KINDS({{"Dot", true}});
#define KILN_REGISTER_OP_KINDS(...)                                                              \
  static const bool KILN_REGISTER_OP_KINDS_CAT(kiln_op_kinds_registered_, __LINE__) = [] {       \
    for (const ::kiln::OpKindInfo& k : std::vector<::kiln::OpKindInfo> __VA_ARGS__)               \
      ::kiln::register_op_kind(k.kind, k.differentiable);                                        \
    return true;                                                                                 \
  }()

/// Apply `op` to `inputs` and return its outputs; records the user's source location.
std::vector<Var> make_node(OpPtr op, std::vector<Var> inputs);
/// Same for single-output ops.
Var make_node1(OpPtr op, std::vector<Var> inputs);

/// Where user code currently is, e.g. "train.py:12"; the Python bindings install a provider that
/// looks at the Python stack. Returns empty when no provider is set.
using LocationProvider = std::string (*)();
void set_location_provider(LocationProvider provider);
std::string current_user_location();

/// While alive, nodes built on this thread record `location` instead of asking the provider:
/// rewrites and clones give their new nodes the location of the node they replace (and skip a
/// walk of the Python stack per node).
class ScopedUserLocation {
 public:
  explicit ScopedUserLocation(std::string location);
  ~ScopedUserLocation();
  ScopedUserLocation(const ScopedUserLocation&) = delete;
  ScopedUserLocation& operator=(const ScopedUserLocation&) = delete;

 private:
  std::string location_;
  const std::string* previous_;
};

/// Free tensor variables, as Theano's T.scalar/T.vector/T.matrix/...: every dimension of unknown
/// size except the broadcastable ones of row (1, ?) and col (?, 1). The dtype defaults to floatX.
Var tensor(DType dtype, std::vector<int64_t> shape, const std::string& name = {});
Var scalar(const std::string& name = {}, std::optional<DType> dtype = std::nullopt);
Var vector(const std::string& name = {}, std::optional<DType> dtype = std::nullopt);
Var matrix(const std::string& name = {}, std::optional<DType> dtype = std::nullopt);
Var row(const std::string& name = {}, std::optional<DType> dtype = std::nullopt);
Var col(const std::string& name = {}, std::optional<DType> dtype = std::nullopt);
Var tensor3(const std::string& name = {}, std::optional<DType> dtype = std::nullopt);
Var tensor4(const std::string& name = {}, std::optional<DType> dtype = std::nullopt);

/// Description of a node for error messages: "Elemwise{add}(x, y) built at train.py:12".
std::string describe_node(const Apply& node);

}  // namespace kiln
