// jacobian and hessian. The Jacobian of a vector y is computed row by row at run time by an op
// that holds a compiled inner function: row i is the gradient of y[i]. So one graph serves every
// length of y (a symbolic loop; Theano uses scan for the same purpose).
#include <atomic>
#include <set>

#include "kiln/compile/function.hpp"
#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "runtime/convert.hpp"

namespace kiln {
namespace {

class JacobianOp final : public Op {
 public:
  // leaves: the free variables y depends on (the node's inputs); size_fn computes len(y) from
  // them; row_fn computes the gradients of y[i] from them and i.
  JacobianOp(std::vector<Var> leaves, std::vector<Var> wrt, std::shared_ptr<const Function> size_fn,
             std::shared_ptr<const Function> row_fn, std::vector<TensorType> out_types, uint64_t id)
      : leaves_(std::move(leaves)), wrt_(std::move(wrt)), size_fn_(std::move(size_fn)), row_fn_(std::move(row_fn)),
        out_types_(std::move(out_types)), id_(id) {}

  std::string name() const override { return "Jacobian{" + std::to_string(id_) + "}"; }
  std::string kind() const override { return "Jacobian"; }
  bool equals(const Op& o) const override { return this == &o; }
  bool differentiable() const override { return false; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_ASSERT(inputs.size() == leaves_.size()) << "Jacobian: wrong number of inputs";
    return out_types_;
  }

  std::vector<Var> L_op(const Apply&, const std::vector<Var>&) const override {
    KILN_THROW(NotImplementedError) << "the gradient of a Jacobian (a third derivative) is not implemented";
  }

  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    std::vector<Array> args(in.begin(), in.end());
    const int64_t n = (*size_fn_)(args)[0].item_as_int();
    if (n == 0) {
      for (size_t j = 0; j < out.size(); ++j) out[j] = Array::zeros(out_types_[j].dtype(), empty_shape(j, in));
      return;
    }
    args.push_back(Array());
    for (int64_t i = 0; i < n; ++i) {
      args.back() = Array::scalar_int(i);
      std::vector<Array> rows = (*row_fn_)(args);
      for (size_t j = 0; j < rows.size(); ++j) {
        if (i == 0) {
          Shape shape{n};
          shape.insert(shape.end(), rows[j].shape().begin(), rows[j].shape().end());
          out[j] = Array::empty(out_types_[j].dtype(), shape);
        }
        // Row i of the result: a view with the row's shape at offset i along the first axis.
        const Shape& strides = out[j].strides();
        copy_into(rows[j], out[j].view(rows[j].shape(), Shape(strides.begin() + 1, strides.end()),
                                       out[j].offset() + i * strides[0]));
      }
    }
  }

  // Shape of an empty Jacobian: (0,) + the shape of wrt j, found among the inputs or shared values.
  Shape empty_shape(size_t j, std::span<const Array> in) const {
    const Var& w = wrt_[j];
    Shape shape{0};
    for (size_t k = 0; k < leaves_.size(); ++k)
      if (leaves_[k] == w) {
        shape.insert(shape.end(), in[k].shape().begin(), in[k].shape().end());
        return shape;
      }
    if (w->is_shared()) {
      Array v = w->storage()->get();
      shape.insert(shape.end(), v.shape().begin(), v.shape().end());
    }
    return shape;
  }

 private:
  std::vector<Var> leaves_;
  std::vector<Var> wrt_;
  std::shared_ptr<const Function> size_fn_, row_fn_;
  std::vector<TensorType> out_types_;
  uint64_t id_;
};

std::atomic<uint64_t> g_next_jacobian{1};

}  // namespace

std::vector<Var> jacobian(const Var& expression, const std::vector<Var>& wrt, const std::string& disconnected_inputs) {
  KILN_USER_CHECK(expression != nullptr, TypeError) << "jacobian: null expression";
  KILN_USER_CHECK(expression->ndim() <= 1, ValueError)
      << "jacobian expects a scalar or a vector expression, got " << expression->type().str()
      << "; flatten it first";
  GradOptions options;
  options.disconnected_inputs = disconnected_inputs;
  if (expression->ndim() == 0) return grad(expression, wrt, options);

  // The free variables of y and of wrt become the node's inputs (shared variables are read by the
  // inner functions themselves).
  std::vector<Var> leaves;
  std::set<const Variable*> seen;
  std::vector<Var> roots = wrt;
  roots.push_back(expression);
  for (const Var& leaf : graph_inputs(roots))
    if (leaf->kind() == Variable::Kind::Input && seen.insert(leaf.get()).second) leaves.push_back(leaf);

  Var i = Variable::input(TensorType(DType::Int64, {}), "i");
  std::vector<Var> rows = grad(getitem(expression, {Index::at(i)}), wrt, options);
  FunctionOptions quiet;
  quiet.on_unused_input = "ignore";
  auto size_fn = function(leaves, {shape_i(expression, 0)}, quiet);
  std::vector<Var> row_inputs = leaves;
  row_inputs.push_back(i);
  auto row_fn = function(row_inputs, rows, quiet);

  std::vector<TensorType> types;
  for (size_t j = 0; j < wrt.size(); ++j) {
    std::vector<int64_t> shape{expression->type().shape()[0]};
    const auto& ws = rows[j]->type().shape();
    shape.insert(shape.end(), ws.begin(), ws.end());
    types.emplace_back(rows[j]->dtype(), shape);
  }
  return make_node(std::make_shared<JacobianOp>(leaves, wrt, size_fn, row_fn, types, g_next_jacobian++), leaves);
}

std::vector<Var> hessian(const Var& cost, const std::vector<Var>& wrt, const std::string& disconnected_inputs) {
  KILN_USER_CHECK(cost && cost->ndim() == 0, TypeError) << "hessian: the cost must be a scalar";
  std::vector<Var> out;
  GradOptions options;
  options.disconnected_inputs = disconnected_inputs;
  for (const Var& w : wrt) {
    KILN_USER_CHECK(w->ndim() == 1, ValueError) << "hessian: " << w->label() << " must be a vector, got " << w->type().str();
    Var g = grad(cost, std::vector<Var>{w}, options)[0];
    out.push_back(jacobian(g, {w}, disconnected_inputs)[0]);
  }
  return out;
}

KILN_REGISTER_OP_KINDS({{"Jacobian", false}});

}  // namespace kiln
