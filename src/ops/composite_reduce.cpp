// CompositeReduce: an elementwise computation followed by a reduction in one generated kernel
// (Theano's CAReduce over a Composite scalar op). `sum(exp(x) * y)` reads x and y once and never
// materialises exp(x) * y: each block of results is folded into the accumulator while it is still
// in L1.
//
// The kernel walks the elementwise (pre-reduction) shape in memory order, with the accumulator as
// operand 0 at stride 0 along the reduced axes, as CAReduce does. Large inputs are split between
// threads, each folding into its own accumulator, merged at the end.
#include <array>

#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/composite.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/composite_impl.hpp"
#include "ops/reduce_impl.hpp"
#include "runtime/strided_loop.hpp"

namespace kiln {
namespace {

constexpr size_t kMaxOperands = 32;  // accumulator + inputs; fusion caps inputs well below

bool reduced_axis(const std::vector<int>& axes, int d) { return std::binary_search(axes.begin(), axes.end(), d); }

class CompositeReduce final : public detail::FusedOp {
 public:
  // `reduced` is a Sum/Prod/Max/Min node's output whose input is the elementwise graph from `inputs`.
  CompositeReduce(const std::vector<Var>& inputs, const Var& reduced)
      : graph_(std::make_shared<detail::FusedGraph>(inputs, reduced)) {
    const Apply* reduce_node = graph_->output()->owner();
    info_ = *reduce_info(reduce_node->op());
    reduce_name_ = reduce_node->op().name();
    elementwise_ = reduce_node->input(0);
    std::vector<Apply*> nodes = graph_->nodes();
    nodes.pop_back();  // the reduction itself: the toposort ends with the output's owner
    program_ = detail::scalar_program(graph_->inputs(), elementwise_, nodes);
    kernel_ = std::make_shared<detail::LazyKernel>(
        emit_kernel_source(program_, "kiln_kernel", KernelReduction{info_.kind, info_.acc_dtype}),
        step_vector_kernels(program_));
  }

  std::string name() const override { return "CompositeReduce{" + reduce_name_ + ", " + program_.expression() + "}"; }
  std::string kind() const override { return "CompositeReduce"; }
  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const CompositeReduce*>(&other);
    return o && o->kernel_->source() == kernel_->source() && o->info_.axes == info_.axes &&
           o->info_.out_dtype == info_.out_dtype;
  }
  size_t hash() const override { return std::hash<std::string>()(kernel_->source()) * 31 + info_.axes.size(); }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    const auto& inner = graph_->inputs();
    KILN_USER_CHECK(in.size() == inner.size(), TypeError) << name() << " takes " << inner.size() << " inputs, got " << in.size();
    const int nd = elementwise_->ndim();
    std::vector<int64_t> shape;
    for (int d = 0; d < nd; ++d) {
      if (reduced_axis(info_.axes, d)) continue;
      int64_t size = 1;
      for (size_t j = 0; j < in.size(); ++j) {
        KILN_USER_CHECK(in[j]->dtype() == program_.input_dtypes[j] && in[j]->ndim() == nd, TypeError)
            << name() << ": input " << j << " (" << in[j]->label() << ") must be " << inner[j]->type().str()
            << ", got " << in[j]->type().str();
        const int64_t s = in[j]->type().shape()[d];
        if (s != 1 && (size == 1 || size == kUnknownDim)) size = s;
      }
      shape.push_back(size);
    }
    return {TensorType(info_.out_dtype, shape)};
  }

  // The elementwise shape (each axis from the inputs that do not broadcast along it), less the
  // reduced axes.
  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override {
    std::vector<Var> shape;
    const auto& out = node.output_ptr(0)->type().shape();
    for (int d = 0, kept = 0; d < elementwise_->ndim(); ++d) {
      if (reduced_axis(info_.axes, d)) continue;
      if (out[kept] != kUnknownDim) {
        shape.push_back(typed_constant(static_cast<double>(out[kept++]), DType::Int64));
        continue;
      }
      ++kept;
      std::vector<Var> sizes;
      for (size_t j = 0; j < in.size(); ++j)
        if (!node.input(static_cast<int>(j))->type().broadcastable(d)) sizes.push_back(in[j][d]);
      shape.push_back(same_size(sizes, name() + " dimension " + std::to_string(d)));
    }
    return {shape};
  }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    return Lop({graph_->inline_on(node.inputs())}, node.inputs(), {gz[0]});
  }
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    return Rop_through(graph_->inline_on(node.inputs()), node.inputs(), ev);
  }

  void perform_interpreted(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    detail::fused_broadcast_shape(node, in, elementwise_->ndim());  // the same checks as perform
    out[0] = graph_->interpret(in);
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    const Shape shape = detail::fused_broadcast_shape(node, in, elementwise_->ndim());
    int64_t total = 1;
    for (int64_t s : shape) total *= s;
    KernelRunFn kernel = kernel_->get();
    // Empty inputs (and max/min's error for an empty reduction) are the interpreter's business.
    if (!kernel || total == 0 || in.size() + 1 > kMaxOperands) {
      out[0] = graph_->interpret(in);
      return;
    }
    Shape out_shape, acc_strides;
    for (size_t d = 0; d < shape.size(); ++d)
      if (!reduced_axis(info_.axes, static_cast<int>(d))) out_shape.push_back(shape[d]);
    Array acc = detail::reduce_identity(info_.kind, info_.acc_dtype, out_shape);
    // The accumulator's strides over the elementwise shape: 0 along the reduced axes.
    for (size_t d = 0, kept = 0; d < shape.size(); ++d)
      acc_strides.push_back(reduced_axis(info_.axes, static_cast<int>(d)) ? 0 : acc.strides()[kept++]);
    std::vector<Shape> strides = detail::broadcast_strides(shape, in);
    strides.insert(strides.begin(), acc_strides);
    std::vector<const int64_t*> stride_ptrs;
    for (const Shape& s : strides) stride_ptrs.push_back(s.data());
    std::vector<char*> bases = {acc.data()};
    for (const Array& a : in) bases.push_back(a.data());
    run(kernel, detail::collapse_layout(shape, stride_ptrs), bases, acc, total);
    out[0] = info_.acc_dtype == info_.out_dtype ? acc : acc.astype(info_.out_dtype);
  }

 private:
  // Serial when small or when the accumulator is nearly as large as the input (private copies per
  // thread would cost more than they save); otherwise each thread folds into its own accumulator.
  void run(KernelRunFn kernel, const detail::StridedLayout& layout, const std::vector<char*>& bases, Array& acc,
           int64_t total) const {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    if (threads == 1 || total < detail::kParallelThreshold || acc.size() * threads * 4 > total) {
      detail::for_each_run(layout, bases, 0, detail::run_count(layout), kernel);
      return;
    }
    std::vector<Array> partial(threads);
    for (int t = 1; t < threads; ++t) partial[t] = detail::reduce_identity(info_.kind, info_.acc_dtype, acc.shape());
    const size_t k = bases.size();
    char* const shared_acc = bases[0];
    detail::parallel_for_each_run(layout, bases, total, [&](char** p, const int64_t* s, int64_t n) {
      int t = 0;
#ifdef _OPENMP
      t = omp_get_thread_num();
#endif
      if (t == 0) return kernel(p, s, n);
      std::array<char*, kMaxOperands> local;
      std::copy(p, p + k, local.begin());
      local[0] = partial[t].data() + (p[0] - shared_acc);
      kernel(local.data(), s, n);
    });
    for (int t = 1; t < threads; ++t) detail::reduce_combine_into(info_.kind, acc, partial[t]);
  }

  std::shared_ptr<const detail::FusedGraph> graph_;
  ReduceInfo info_;
  std::string reduce_name_;
  Var elementwise_;  // the inner graph's value before the reduction
  ScalarProgram program_;
};

KILN_REGISTER_OP_KINDS({{"CompositeReduce", true}});

}  // namespace

Var fuse_elementwise_reduce(const std::vector<Var>& inputs, const Var& reduced) {
  auto info = reduced->owner() ? reduce_info(reduced->owner()->op()) : std::nullopt;
  KILN_USER_CHECK(info && is_float(info->acc_dtype) && info->kind != ReduceKind::Any && info->kind != ReduceKind::All,
                  ValueError)
      << "CompositeReduce: " << reduced->label() << " is not a float sum, prod, max or min";
  return make_node1(std::make_shared<CompositeReduce>(inputs, reduced), inputs);
}

}  // namespace kiln
