// Composite: fused elementwise kernels. See kiln/ops/composite.hpp.
#include "kiln/ops/composite.hpp"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "kiln/compile/codegen.hpp"
#include "kiln/debug/testing_ops.hpp"
#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/elemwise.hpp"
#include "ops/shape_impl.hpp"
#include "runtime/strided_loop.hpp"

namespace kiln {
namespace {

// The scalar program of the inner graph from `inputs` to `output`.
ScalarProgram program_of(const std::vector<Var>& inputs, const Var& output, const std::vector<Apply*>& nodes) {
  ScalarProgram p;
  p.dtype = output->dtype();
  p.num_inputs = static_cast<int>(inputs.size());
  std::unordered_map<const Variable*, ScalarProgram::Operand> operands;
  for (size_t j = 0; j < inputs.size(); ++j)
    operands[inputs[j].get()] = {ScalarProgram::Operand::Kind::Input, static_cast<int>(j), 0};
  for (const Apply* node : nodes) {
    auto id = elemwise_scalar_op(node->op());
    KILN_USER_CHECK(id && node->output_ptr(0)->dtype() == p.dtype, TypeError)
        << "Composite: " << describe_node(*node) << " is not a plain elementwise op of dtype " << dtype_name(p.dtype);
    ScalarProgram::Step step{*id, {}};
    for (const Var& in : node->inputs()) {
      const bool literal = in->is_constant() && in->constant_value().size() == 1;  // any dtype: converted
      KILN_USER_CHECK(in->dtype() == p.dtype || literal, TypeError)
          << "Composite: input " << in->label() << " of " << describe_node(*node) << " is not " << dtype_name(p.dtype);
      auto it = operands.find(in.get());
      if (it != operands.end()) {
        step.args.push_back(it->second);
      } else {
        KILN_USER_CHECK(in->is_constant() && in->constant_value().size() == 1, ValueError)
            << "Composite: " << in->label() << " is neither an input nor a scalar constant";
        step.args.push_back({ScalarProgram::Operand::Kind::Literal, 0, in->constant_value().item_as_double()});
      }
    }
    operands[node->output_ptr(0)] = {ScalarProgram::Operand::Kind::Step, static_cast<int>(p.steps.size()), 0};
    p.steps.push_back(std::move(step));
  }
  return p;
}

// A Composite's compiled kernel, shared with the background thread that may be compiling it.
// That thread holds no graph objects: their reference counts may belong to Python.
struct KernelState {
  std::string source;
  std::vector<const void*> step_kernels;  // the interpreter's vector kernels the source calls
  std::once_flag once;
  std::atomic<KernelRunFn> kernel{nullptr};
  std::string error;                      // why the interpreter runs instead, once ready
  std::atomic<bool> in_background{false};  // prepare_in_background was called
  std::atomic<bool> ready{false};          // prepare finished: kernel and error are final

  // Compile or load the kernel once; the reason the interpreter runs instead, or empty.
  const std::string& prepare() {
    std::call_once(once, [this] {
      KernelRunFn k = load_kernel(source, "kiln_kernel", step_kernels, &error);
      if (!k && error.empty()) error = "the kernel did not load";
      kernel.store(k);
      ready.store(true, std::memory_order_release);  // publishes kernel and error
    });
    return error;
  }
};

class Composite final : public Op {
 public:
  // `kernel_output` is what the generated kernel computes: the inner output itself, except in
  // the test-only composite whose kernel is deliberately wrong (see testing::composite_with_kernel_of).
  Composite(std::vector<Var> inner_inputs, Var inner_output, Var kernel_output = nullptr)
      : inputs_(std::move(inner_inputs)), output_(std::move(inner_output)) {
    for (Apply* node : toposort({output_})) nodes_.push_back(node->shared_from_this());
    if (!kernel_output) kernel_output = output_;
    program_ = program_of(inputs_, kernel_output, toposort({kernel_output}));
    source_ = emit_kernel_source(program_, "kiln_kernel");
    kernel_ = std::make_shared<KernelState>();
    kernel_->source = source_;
    kernel_->step_kernels = step_vector_kernels(program_);
  }

  std::string name() const override {
    return "Composite{" + program_.expression() + "}" + (inplace_ >= 0 ? "[inplace i" + std::to_string(inplace_) + "]" : "");
  }
  std::string kind() const override { return "Composite"; }
  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const Composite*>(&other);
    return o && o->source_ == source_ && o->inplace_ == inplace_;
  }
  size_t hash() const override { return std::hash<std::string>()(source_) * 31 + static_cast<size_t>(inplace_ + 1); }
  std::map<int, int> destroy_map() const override {
    return inplace_ >= 0 ? std::map<int, int>{{0, inplace_}} : std::map<int, int>{};
  }
  // The same kernel writing its result over input `input` (each element is read before the
  // element at the same place is written, so the loop is safe on exactly aliased operands).
  std::shared_ptr<Composite> with_inplace(int input) const {
    auto c = std::make_shared<Composite>(*this);
    c->inplace_ = input;
    return c;
  }
  Composite(const Composite& other)
      : Op(other), inputs_(other.inputs_), output_(other.output_), nodes_(other.nodes_), program_(other.program_),
        source_(other.source_), kernel_(other.kernel_) {}
  const std::string& source() const { return source_; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    KILN_USER_CHECK(in.size() == inputs_.size(), TypeError) << name() << " takes " << inputs_.size() << " inputs, got " << in.size();
    const int nd = output_->ndim();
    std::vector<int64_t> shape(nd, 1);
    for (size_t j = 0; j < in.size(); ++j) {
      KILN_USER_CHECK(in[j]->dtype() == program_.dtype && in[j]->ndim() == nd, TypeError)
          << name() << ": input " << j << " (" << in[j]->label() << ") must be " << inputs_[j]->type().str() << ", got "
          << in[j]->type().str();
      for (int d = 0; d < nd; ++d) {
        const int64_t s = in[j]->type().shape()[d];
        if (s == 1) continue;
        if (shape[d] == 1 || shape[d] == kUnknownDim) shape[d] = s;
      }
    }
    return {TensorType(program_.dtype, shape)};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override {
    return {elemwise_output_shape(node, in)};
  }

  // Gradients are those of the inner graph, applied to this node's inputs.
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    return Lop({inline_on(node.inputs())}, node.inputs(), {gz[0]});
  }
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    return Rop_through(inline_on(node.inputs()), node.inputs(), ev);
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    const Shape shape = broadcast_shape(node, in);
    // Inplace when the run-time layout allows it: the destroyed input has the output's shape and
    // memory kiln may write.
    Array target;
    if (inplace_ >= 0 && in[inplace_].shape() == shape && in[inplace_].buffer()->writable()) target = in[inplace_];
    // Tiered execution: while the kernel compiles in the background, the interpreter runs.
    const bool compiling = kernel_->in_background.load() && !kernel_->ready.load(std::memory_order_acquire);
    if (KernelRunFn kernel = !compiling && prepare().empty() ? kernel_->kernel.load() : nullptr) {
      out[0] = run_compiled(kernel, shape, in, target);
      return;
    }
    out[0] = interpret(in);
    if (target.defined()) {
      copy_into(out[0], target);
      out[0] = target;
    }
  }

  // DebugMode's reference: the interpreter, out of place, whatever kernel perform() would use.
  void perform_interpreted(const Apply& node, std::span<const Array> in, std::span<Array> out) const {
    broadcast_shape(node, in);  // the same shape checks as perform
    out[0] = interpret(in);
  }

  // Compile or load the kernel once; the reason the interpreter runs instead, or empty.
  const std::string& prepare() const { return kernel_->prepare(); }

  // Compile or load the kernel on a background thread; perform runs the interpreter meanwhile.
  void prepare_in_background() const {
    if (kernel_->in_background.exchange(true)) return;
    compile_in_background([state = kernel_] { state->prepare(); });
  }

 private:
  Var inline_on(const std::vector<Var>& outer) const {
    std::map<const Variable*, Var> replace;
    for (size_t j = 0; j < inputs_.size(); ++j) replace[inputs_[j].get()] = outer[j];
    return clone_graph({output_}, replace)[0];
  }

  // The output shape; inputs broadcast only along axes their type declares broadcastable.
  Shape broadcast_shape(const Apply& node, std::span<const Array> in) const {
    const int nd = output_->ndim();
    Shape shape(nd, 1);
    for (size_t j = 0; j < in.size(); ++j)
      for (int d = 0; d < nd; ++d)
        if (node.input(static_cast<int>(j))->type().shape()[d] != 1) shape[d] = in[j].shape()[d];
    for (size_t j = 0; j < in.size(); ++j)
      for (int d = 0; d < nd; ++d)
        KILN_USER_CHECK(in[j].shape()[d] == shape[d] || (node.input(static_cast<int>(j))->type().shape()[d] == 1 &&
                                                        in[j].shape()[d] == 1),
                        ValueError)
            << name() << ": input " << j << " has shape " << shape_str(in[j].shape())
            << ", which does not match the other inputs' shape " << shape_str(shape);
    return shape;
  }

  Array run_compiled(KernelRunFn kernel, const Shape& shape, std::span<const Array> in, const Array& target) const {
    Array result = target.defined() ? target : Array::empty(program_.dtype, shape);
    if (result.size() == 0) return result;
    std::vector<Shape> strides(in.size() + 1);
    std::vector<const int64_t*> stride_ptrs;
    std::vector<char*> bases = {result.data()};
    strides[0] = result.strides();
    for (size_t j = 0; j < in.size(); ++j) {
      for (size_t d = 0; d < shape.size(); ++d) strides[j + 1].push_back(in[j].shape()[d] == shape[d] ? in[j].strides()[d] : 0);
      bases.push_back(in[j].data());
    }
    for (const Shape& s : strides) stride_ptrs.push_back(s.data());
    const detail::StridedLayout layout = detail::collapse_layout(shape, stride_ptrs);
    detail::parallel_for_each_run(layout, bases, result.size(),
                                  [kernel](char** p, const int64_t* s, int64_t n) { kernel(p, s, n); });
    return result;
  }

  // The inner graph, node by node, on the interpreter's kernels.
  Array interpret(std::span<const Array> in) const {
    std::unordered_map<const Variable*, Array> values;
    for (size_t j = 0; j < in.size(); ++j) values[inputs_[j].get()] = in[j];
    std::vector<Array> args, results(1);
    for (const auto& node : nodes_) {
      args.clear();
      for (const Var& v : node->inputs()) args.push_back(v->is_constant() ? v->constant_value() : values.at(v.get()));
      node->op().perform(*node, args, results);
      values[node->output_ptr(0)] = std::move(results[0]);
    }
    return values.at(output_.get());
  }

  std::vector<Var> inputs_;
  Var output_;
  std::vector<std::shared_ptr<Apply>> nodes_;
  ScalarProgram program_;
  std::string source_;
  std::shared_ptr<KernelState> kernel_;  // shared by the inplace variant: the same source
  int inplace_ = -1;
};

KILN_REGISTER_OP_KINDS({{"Composite", true}});

// The Composite of the graph from `inputs` to `output`, whose generated kernel computes
// `kernel_output` (a graph of the same inputs) instead.
Var fuse(const std::vector<Var>& inputs, const Var& output, const Var& kernel_output) {
  std::vector<Var> inner;
  std::map<const Variable*, Var> replace;
  for (size_t j = 0; j < inputs.size(); ++j) {
    inner.push_back(Variable::input(inputs[j]->type(), "i" + std::to_string(j)));
    replace[inputs[j].get()] = inner.back();
  }
  std::vector<Var> inner_outputs = clone_graph({output, kernel_output}, replace);
  return make_node1(std::make_shared<Composite>(std::move(inner), inner_outputs[0], inner_outputs[1]), inputs);
}

}  // namespace

Var fuse_elementwise(const std::vector<Var>& inputs, const Var& output) { return fuse(inputs, output, output); }

Var testing::composite_with_kernel_of(const std::vector<Var>& inputs, const Var& output, const Var& kernel_output) {
  return fuse(inputs, output, kernel_output);
}

bool perform_interpreted(const Apply& node, std::span<const Array> in, std::span<Array> out) {
  auto* c = dynamic_cast<const Composite*>(&node.op());
  if (!c) return false;
  c->perform_interpreted(node, in, out);
  return true;
}

std::optional<Var> composite_inplace(const Apply& node, int input) {
  auto* c = dynamic_cast<const Composite*>(&node.op());
  if (!c || !c->destroy_map().empty()) return std::nullopt;
  const TensorType &in = node.input(input)->type(), &out = node.output_ptr(0)->type();
  if (in.dtype() != out.dtype() || in.broadcastable_pattern() != out.broadcastable_pattern()) return std::nullopt;
  return make_node1(c->with_inplace(input), node.inputs());
}

std::string prepare_kernel(const Op& op) {
  auto* c = dynamic_cast<const Composite*>(&op);
  return c ? c->prepare() : std::string();
}

void prepare_kernel_in_background(const Apply& node) {
  if (auto* c = dynamic_cast<const Composite*>(&node.op())) c->prepare_in_background();
}

std::string kernel_source(const Op& op) {
  auto* c = dynamic_cast<const Composite*>(&op);
  return c ? c->source() : std::string();
}

}  // namespace kiln
