#include "kiln/graph/graph.hpp"

#include <typeinfo>

#include "kiln/config.hpp"
#include "kiln/error.hpp"

namespace kiln {
namespace {

std::atomic<uint64_t> g_next_id{1};
std::atomic<LocationProvider> g_location_provider{nullptr};

}  // namespace

// ---------------------------------------------------------------- location

thread_local const std::string* t_location_override = nullptr;

void set_location_provider(LocationProvider provider) { g_location_provider.store(provider); }

std::string current_user_location() {
  if (t_location_override) return *t_location_override;
  LocationProvider p = g_location_provider.load();
  return p ? p() : std::string();
}

ScopedUserLocation::ScopedUserLocation(std::string location)
    : location_(std::move(location)), previous_(t_location_override) {
  t_location_override = &location_;
}

ScopedUserLocation::~ScopedUserLocation() { t_location_override = previous_; }

// ---------------------------------------------------------------- Variable

Variable::Variable(Kind kind, TensorType type, std::string name)
    : kind_(kind), type_(std::move(type)), name_(std::move(name)), id_(g_next_id++) {}

Var Variable::input(TensorType type, std::string name) {
  Var v(new Variable(Kind::Input, std::move(type), std::move(name)));
  v->self_ = v;
  v->source_location_ = current_user_location();
  return v;
}

Var Variable::constant(Array value, std::string name, bool weak) {
  KILN_USER_CHECK(is_supported(value.dtype()), TypeError)
      << "constant: dtype " << dtype_name(value.dtype()) << " is not supported yet";
  std::vector<int64_t> shape = value.shape();  // constants have a fully static shape
  Var v(new Variable(Kind::Constant, TensorType(value.dtype(), shape), std::move(name)));
  v->constant_ = std::move(value);
  v->weak_ = weak;
  v->self_ = v;
  return v;
}

Var Variable::shared(Array value, TensorType type, std::string name) {
  KILN_USER_CHECK(type.accepts(value), TypeError) << "shared variable '" << name << "': " << type.mismatch(value);
  Var v(new Variable(Kind::Shared, std::move(type), std::move(name)));
  v->storage_ = std::make_shared<SharedStorage>(std::move(value));
  v->self_ = v;
  v->source_location_ = current_user_location();
  return v;
}

const Array& Variable::constant_value() const {
  KILN_ASSERT(constant_.has_value()) << "constant_value() of a non-constant";
  return *constant_;
}

const std::shared_ptr<SharedStorage>& Variable::storage() const {
  KILN_ASSERT(storage_ != nullptr) << "storage() of a non-shared variable";
  return storage_;
}

Var Variable::handle() const {
  if (owner_) return owner_->output(index_);
  Var v = self_.lock();
  KILN_ASSERT(v != nullptr) << "handle() of a dead variable";
  return v;
}

std::string Variable::label() const {
  if (!name_.empty()) return name_;
  if (kind_ == Kind::Constant) {
    const Array& a = *constant_;
    if (a.size() == 1) {
      double v = a.item_as_double();
      std::ostringstream os;
      os << v;
      return os.str();
    }
    return "Constant{" + shape_str(a.shape()) + "}";
  }
  if (owner_) {
    std::string s = owner_->op().name();
    if (owner_->num_outputs() > 1) s += "." + std::to_string(index_);
    return s;
  }
  return "<" + type_.str() + ">";
}

// ---------------------------------------------------------------- Apply

std::shared_ptr<Apply> Apply::create_unchecked(OpPtr op, std::vector<Var> inputs,
                                               const std::vector<TensorType>& output_types) {
  std::shared_ptr<Apply> node(new Apply());
  node->op_ = std::move(op);
  node->inputs_ = std::move(inputs);
  node->id_ = g_next_id++;
  node->source_location_ = current_user_location();
  for (size_t i = 0; i < output_types.size(); ++i) {
    auto v = std::unique_ptr<Variable>(new Variable(Variable::Kind::Output, output_types[i], {}));
    v->owner_ = node.get();
    v->index_ = static_cast<int>(i);
    v->source_location_ = node->source_location_;
    node->outputs_.push_back(std::move(v));
  }
  return node;
}

std::shared_ptr<Apply> Apply::create(OpPtr op, std::vector<Var> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i)
    KILN_USER_CHECK(inputs[i] != nullptr, TypeError) << op->name() << ": input " << i << " is null";
  std::vector<TensorType> types = op->make_outputs(inputs);
  return create_unchecked(std::move(op), std::move(inputs), types);
}

// Releasing a long chain must not recurse once per node (a 100,000-node chain would overflow the
// stack): inputs of dying nodes are parked here and released by the outermost destructor.
Apply::~Apply() {
  thread_local std::vector<Var> graveyard;
  thread_local bool draining = false;
  for (Var& v : inputs_) graveyard.push_back(std::move(v));
  inputs_.clear();
  if (draining) return;
  draining = true;
  while (!graveyard.empty()) {
    Var v = std::move(graveyard.back());
    graveyard.pop_back();
    v.reset();
  }
  draining = false;
}

Var Apply::output(int i) const {
  KILN_ASSERT(i >= 0 && i < static_cast<int>(outputs_.size())) << "output index " << i;
  return Var(std::const_pointer_cast<Apply>(shared_from_this()), outputs_[i].get());
}

std::vector<Var> Apply::outputs() const {
  std::vector<Var> out;
  for (size_t i = 0; i < outputs_.size(); ++i) out.push_back(output(static_cast<int>(i)));
  return out;
}

std::shared_ptr<Apply> Apply::clone_with_new_inputs(std::vector<Var> inputs) const {
  KILN_ASSERT(inputs.size() == inputs_.size()) << "clone_with_new_inputs: arity";
  bool same_types = true;
  for (size_t i = 0; i < inputs.size(); ++i) same_types = same_types && inputs[i]->type() == inputs_[i]->type();
  std::shared_ptr<Apply> node;
  if (same_types) {
    std::vector<TensorType> types;
    for (const auto& o : outputs_) types.push_back(o->type());
    node = create_unchecked(op_, std::move(inputs), types);
  } else {
    node = create(op_, std::move(inputs));  // other input types: the op recomputes its output types
  }
  // A copy is the same computation: it keeps the user's names and source locations.
  node->source_location_ = source_location_;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    node->outputs_[i]->name_ = outputs_[i]->name_;
    node->outputs_[i]->source_location_ = outputs_[i]->source_location_;
  }
  return node;
}

// ---------------------------------------------------------------- Op

std::vector<std::vector<Var>> Op::infer_shape(const Apply&, const std::vector<std::vector<Var>>&) const { return {}; }

std::string Op::kind() const {
  std::string n = name();
  return n.substr(0, n.find('{'));
}

namespace {
std::mutex g_kinds_mutex;
std::vector<OpKindInfo>& kinds_storage() {
  static std::vector<OpKindInfo>* kinds = new std::vector<OpKindInfo>();
  return *kinds;
}
}  // namespace

void register_op_kind(const std::string& kind, bool differentiable) {
  std::lock_guard<std::mutex> lock(g_kinds_mutex);
  for (auto& k : kinds_storage())
    if (k.kind == kind) {
      k.differentiable = differentiable;
      return;
    }
  kinds_storage().push_back({kind, differentiable});
}

std::vector<OpKindInfo> registered_op_kinds() {
  std::lock_guard<std::mutex> lock(g_kinds_mutex);
  return kinds_storage();
}

bool Op::equals(const Op& other) const { return typeid(*this) == typeid(other) && name() == other.name(); }

size_t Op::hash() const { return std::hash<std::string>()(name()); }

std::vector<Var> make_node(OpPtr op, std::vector<Var> inputs) {
  return Apply::create(std::move(op), std::move(inputs))->outputs();
}

Var make_node1(OpPtr op, std::vector<Var> inputs) {
  auto node = Apply::create(std::move(op), std::move(inputs));
  KILN_ASSERT(node->num_outputs() == 1) << node->op().name() << " has " << node->num_outputs() << " outputs";
  return node->output(0);
}

Var tensor(DType dtype, std::vector<int64_t> shape, const std::string& name) {
  return Variable::input(TensorType(dtype, std::move(shape)), name);
}

namespace {
Var free_var(std::vector<int64_t> shape, const std::string& name, std::optional<DType> dtype) {
  return tensor(dtype ? *dtype : floatX(), std::move(shape), name);
}
}  // namespace

Var scalar(const std::string& name, std::optional<DType> dtype) { return free_var({}, name, dtype); }
Var vector(const std::string& name, std::optional<DType> dtype) { return free_var({kUnknownDim}, name, dtype); }
Var matrix(const std::string& name, std::optional<DType> dtype) { return free_var({kUnknownDim, kUnknownDim}, name, dtype); }
Var row(const std::string& name, std::optional<DType> dtype) { return free_var({1, kUnknownDim}, name, dtype); }
Var col(const std::string& name, std::optional<DType> dtype) { return free_var({kUnknownDim, 1}, name, dtype); }
Var tensor3(const std::string& name, std::optional<DType> dtype) { return free_var(std::vector<int64_t>(3, kUnknownDim), name, dtype); }
Var tensor4(const std::string& name, std::optional<DType> dtype) { return free_var(std::vector<int64_t>(4, kUnknownDim), name, dtype); }

std::string describe_node(const Apply& node) {
  std::string s = node.op().name() + "(";
  for (size_t i = 0; i < node.inputs().size(); ++i) {
    if (i) s += ", ";
    s += node.inputs()[i]->label();
  }
  s += ")";
  if (!node.source_location().empty()) s += " built at " + node.source_location();
  return s;
}

}  // namespace kiln
