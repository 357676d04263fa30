// Composite: fused elementwise kernels. See kiln/ops/composite.hpp.
#include "kiln/ops/composite.hpp"

#include <unordered_map>

#include "kiln/debug/testing_ops.hpp"
#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/elemwise.hpp"
#include "ops/composite_impl.hpp"
#include "ops/elemwise_impl.hpp"
#include "ops/shape_impl.hpp"
#include "runtime/strided_loop.hpp"

namespace kiln {
namespace detail {

FusedGraph::FusedGraph(const std::vector<Var>& outer_inputs, const Var& outer_output) {
  std::map<const Variable*, Var> replace;
  for (size_t j = 0; j < outer_inputs.size(); ++j) {
    inputs_.push_back(Variable::input(outer_inputs[j]->type(), "i" + std::to_string(j)));
    replace[outer_inputs[j].get()] = inputs_.back();
  }
  output_ = clone_graph({outer_output}, replace)[0];
  for (Apply* node : toposort({output_})) nodes_.push_back(node->shared_from_this());
}

std::vector<Apply*> FusedGraph::nodes() const {
  std::vector<Apply*> raw;
  for (const auto& n : nodes_) raw.push_back(n.get());
  return raw;
}

Var FusedGraph::inline_on(const std::vector<Var>& outer) const {
  std::map<const Variable*, Var> replace;
  for (size_t j = 0; j < inputs_.size(); ++j) replace[inputs_[j].get()] = outer[j];
  return clone_graph({output_}, replace)[0];
}

Array FusedGraph::interpret(std::span<const Array> in) const {
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

namespace {

bool fusable_value_dtype(DType dt) { return dt == DType::Bool || dt == DType::Float32 || dt == DType::Float64; }

}  // namespace

ScalarProgram scalar_program(const std::vector<Var>& inputs, const Var& output, const std::vector<Apply*>& nodes) {
  ScalarProgram p;
  p.dtype = output->dtype();
  KILN_USER_CHECK(p.dtype == DType::Float32 || p.dtype == DType::Float64, TypeError)
      << "Composite: the fused output " << output->label() << " must be float32 or float64, not " << dtype_name(p.dtype);
  p.num_inputs = static_cast<int>(inputs.size());
  std::unordered_map<const Variable*, ScalarProgram::Operand> operands;
  for (size_t j = 0; j < inputs.size(); ++j) {
    KILN_USER_CHECK(fusable_value_dtype(inputs[j]->dtype()), TypeError)
        << "Composite: input " << j << " (" << inputs[j]->label() << ") must be bool, float32 or float64";
    operands[inputs[j].get()] = {ScalarProgram::Operand::Kind::Input, static_cast<int>(j), 0};
    p.input_dtypes.push_back(inputs[j]->dtype());
  }
  for (const Apply* node : nodes) {
    const auto id = fusable_scalar_op(node->op());
    const DType out = node->output_ptr(0)->dtype();
    KILN_USER_CHECK(id && fusable_value_dtype(out), TypeError)
        << "Composite: " << describe_node(*node) << " is not an elementwise op with a bool or float output";
    ScalarProgram::Step step{*id, {}, DType::Float64, out};
    std::vector<DType> arg_dtypes;
    for (const Var& in : node->inputs()) {
      const bool literal = in->is_constant() && in->constant_value().size() == 1;  // any dtype: converted
      arg_dtypes.push_back(in->dtype());
      auto it = operands.find(in.get());
      if (it != operands.end()) {
        step.args.push_back(it->second);
      } else {
        KILN_USER_CHECK(literal, ValueError) << "Composite: " << in->label() << " is neither an input nor a scalar constant";
        step.args.push_back({ScalarProgram::Operand::Kind::Literal, 0, in->constant_value().item_as_double()});
      }
    }
    step.compute = detail::elemwise_compute_dtype(*id, arg_dtypes, out);
    KILN_USER_CHECK(fusable_value_dtype(step.compute) && detail::scalar_kernel(*id, step.compute), TypeError)
        << "Composite: " << describe_node(*node) << " computes in " << dtype_name(step.compute)
        << "; fused steps compute in bool, float32 or float64";
    operands[node->output_ptr(0)] = {ScalarProgram::Operand::Kind::Step, static_cast<int>(p.steps.size()), 0};
    p.steps.push_back(std::move(step));
  }
  return p;
}

Shape fused_broadcast_shape(const Apply& node, std::span<const Array> in, int nd) {
  Shape shape(nd, 1);
  for (size_t j = 0; j < in.size(); ++j)
    for (int d = 0; d < nd; ++d)
      if (node.input(static_cast<int>(j))->type().shape()[d] != 1) shape[d] = in[j].shape()[d];
  for (size_t j = 0; j < in.size(); ++j)
    for (int d = 0; d < nd; ++d)
      KILN_USER_CHECK(in[j].shape()[d] == shape[d] ||
                          (node.input(static_cast<int>(j))->type().shape()[d] == 1 && in[j].shape()[d] == 1),
                      ValueError)
          << node.op().name() << ": input " << j << " has shape " << shape_str(in[j].shape())
          << ", which does not match the other inputs' shape " << shape_str(shape);
  return shape;
}

Shape broadcast_strides(const Shape& shape, const Array& a) {
  Shape strides(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) strides[d] = a.shape()[d] == shape[d] ? a.strides()[d] : 0;
  return strides;
}

std::vector<Shape> broadcast_strides(const Shape& shape, std::span<const Array> in) {
  std::vector<Shape> strides;
  for (const Array& a : in) strides.push_back(broadcast_strides(shape, a));
  return strides;
}

const std::string& LazyKernel::prepare() const {
  if (ready_.load(std::memory_order_acquire)) return error_;  // the common case, without call_once's cost
  std::call_once(once_, [this] {
    KernelRunFn k = load_kernel(source_, "kiln_kernel", step_kernels_, &error_);
    if (!k && error_.empty()) error_ = "the kernel did not load";
    kernel_.store(k);
    ready_.store(true, std::memory_order_release);  // publishes kernel_ and error_
  });
  return error_;
}

KernelRunFn LazyKernel::get() const {
  // Tiered execution: while the kernel compiles in the background, the interpreter runs.
  if (in_background_.load() && !ready_.load(std::memory_order_acquire)) return nullptr;
  return prepare().empty() ? kernel_.load() : nullptr;
}

void LazyKernel::prepare_in_background(const std::shared_ptr<const LazyKernel>& self) {
  if (self->in_background_.exchange(true)) return;
  compile_in_background([self] { self->prepare(); });
}

}  // namespace detail

namespace {

class Composite final : public detail::FusedOp {
 public:
  // `kernel_output` is what the generated kernel computes: the output itself, except in the
  // test-only composite whose kernel is deliberately wrong (see testing::composite_with_kernel_of).
  Composite(const std::vector<Var>& outer_inputs, const Var& outer_output, const Var& kernel_output)
      : graph_(std::make_shared<detail::FusedGraph>(outer_inputs, outer_output)) {
    const detail::FusedGraph kernel_graph(outer_inputs, kernel_output);
    program_ = detail::scalar_program(kernel_graph.inputs(), kernel_graph.output(), kernel_graph.nodes());
    kernel_ = std::make_shared<detail::LazyKernel>(emit_kernel_source(program_, "kiln_kernel"),
                                                   step_vector_kernels(program_));
  }

  std::string name() const override {
    return "Composite{" + program_.expression() + "}" + (inplace_ >= 0 ? "[inplace i" + std::to_string(inplace_) + "]" : "");
  }
  std::string kind() const override { return "Composite"; }
  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const Composite*>(&other);
    return o && o->kernel_->source() == kernel_->source() && o->inplace_ == inplace_;
  }
  size_t hash() const override {
    return std::hash<std::string>()(kernel_->source()) * 31 + static_cast<size_t>(inplace_ + 1);
  }
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

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    const auto& inner = graph_->inputs();
    KILN_USER_CHECK(in.size() == inner.size(), TypeError) << name() << " takes " << inner.size() << " inputs, got " << in.size();
    const int nd = graph_->output()->ndim();
    std::vector<int64_t> shape(nd, 1);
    for (size_t j = 0; j < in.size(); ++j) {
      KILN_USER_CHECK(in[j]->dtype() == program_.input_dtypes[j] && in[j]->ndim() == nd, TypeError)
          << name() << ": input " << j << " (" << in[j]->label() << ") must be " << inner[j]->type().str() << ", got "
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
    return Lop({graph_->inline_on(node.inputs())}, node.inputs(), {gz[0]});
  }
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    return Rop_through(graph_->inline_on(node.inputs()), node.inputs(), ev);
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    const Shape shape = detail::fused_broadcast_shape(node, in, graph_->output()->ndim());
    // Into storage the caller offers (saving it a copy), else inplace when the run-time layout
    // allows it: the destroyed input has the output's shape and memory kiln may write.
    Array target;
    if (Array::fits_output(out[0], program_.dtype, shape))
      target = out[0];
    else if (inplace_ >= 0 && in[inplace_].shape() == shape && in[inplace_].buffer()->writable())
      target = in[inplace_];
    if (KernelRunFn kernel = kernel_->get()) {
      out[0] = run_compiled(kernel, shape, in, target);
      return;
    }
    out[0] = graph_->interpret(in);
    if (target.defined()) {
      copy_into(out[0], target);
      out[0] = target;
    }
  }

  // DebugMode's reference: the interpreter, out of place, whatever kernel perform() would use.
  void perform_interpreted(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    detail::fused_broadcast_shape(node, in, graph_->output()->ndim());  // the same checks as perform
    out[0] = graph_->interpret(in);
  }

 private:
  Array run_compiled(KernelRunFn kernel, const Shape& shape, std::span<const Array> in, const Array& target) const {
    Array result = target.defined() ? target : Array::empty(program_.dtype, shape);
    if (result.size() == 0 || run_flat(kernel, in, result)) return result;
    const size_t k = in.size() + 1;  // the result is operand 0
    detail::SmallBuffer<Shape, 4> strides(in.size());
    detail::SmallBuffer<const int64_t*> stride_ptrs(k);
    detail::SmallBuffer<char*> bases(k);
    stride_ptrs[0] = result.strides().data();
    bases[0] = result.data();
    for (size_t j = 0; j < in.size(); ++j) {
      strides[j] = detail::broadcast_strides(shape, in[j]);
      stride_ptrs[j + 1] = strides[j].data();
      bases[j + 1] = in[j].data();
    }
    const detail::StridedLayout layout = detail::collapse_layout(shape, {stride_ptrs.data(), k});
    detail::parallel_for_each_run(layout, {bases.data(), k}, result.size(),
                                  [kernel](char** p, const int64_t* s, int64_t n) { kernel(p, s, n); });
    return result;
  }

  // The kernel in one call over the whole array, when the result is contiguous and every input is
  // too (over the result's shape) or is one value: the common case of small arrays, with no
  // layout to work out. Large arrays take the general path, which splits them over threads.
  static bool run_flat(KernelRunFn kernel, std::span<const Array> in, const Array& result) {
    if (result.size() >= detail::kParallelThreshold || !result.is_c_contiguous()) return false;
    const size_t k = in.size() + 1;
    detail::SmallBuffer<char*> ptrs(k);
    detail::SmallBuffer<int64_t> strides(k);
    ptrs[0] = result.data();
    strides[0] = static_cast<int64_t>(result.itemsize());
    for (size_t j = 0; j < in.size(); ++j) {
      if (in[j].shape() == result.shape() && in[j].is_c_contiguous())
        strides[j + 1] = static_cast<int64_t>(in[j].itemsize());
      else if (in[j].size() == 1)
        strides[j + 1] = 0;
      else
        return false;
      ptrs[j + 1] = in[j].data();
    }
    kernel(ptrs.data(), strides.data(), result.size());
    return true;
  }

  std::shared_ptr<const detail::FusedGraph> graph_;
  ScalarProgram program_;
  int inplace_ = -1;
};

KILN_REGISTER_OP_KINDS({{"Composite", true}});

}  // namespace

Var fuse_elementwise(const std::vector<Var>& inputs, const Var& output) {
  return make_node1(std::make_shared<Composite>(inputs, output, output), inputs);
}

Var testing::composite_with_kernel_of(const std::vector<Var>& inputs, const Var& output, const Var& kernel_output) {
  return make_node1(std::make_shared<Composite>(inputs, output, kernel_output), inputs);
}

bool perform_interpreted(const Apply& node, std::span<const Array> in, std::span<Array> out) {
  auto* f = dynamic_cast<const detail::FusedOp*>(&node.op());
  if (!f) return false;
  f->perform_interpreted(node, in, out);
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
  auto* f = dynamic_cast<const detail::FusedOp*>(&op);
  return f ? f->lazy_kernel().prepare() : std::string();
}

void prepare_kernel_in_background(const Apply& node) {
  if (auto* f = dynamic_cast<const detail::FusedOp*>(&node.op())) detail::LazyKernel::prepare_in_background(f->shared_kernel());
}

std::string kernel_source(const Op& op) {
  auto* f = dynamic_cast<const detail::FusedOp*>(&op);
  return f ? f->lazy_kernel().source() : std::string();
}

}  // namespace kiln
