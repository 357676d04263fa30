// Shape operations.
#include "kiln/ops/shape.hpp"

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"

namespace kiln {
namespace {

// Shape: the shape of its input as an int64 vector.
class ShapeOp final : public Op {
 public:
  std::string name() const override { return "Shape"; }
  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() == 1, TypeError) << "Shape takes 1 input";
    return {TensorType(DType::Int64, {inputs[0]->ndim()})};
  }
  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>&) const override {
    return {{typed_constant(node.input(0)->ndim(), DType::Int64)}};
  }
  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    Array r = Array::empty(DType::Int64, {in[0].ndim()});
    for (int i = 0; i < in[0].ndim(); ++i) r.data_as<int64_t>()[i] = in[0].shape()[i];
    out[0] = r;
  }
};

// Shape_i: the size of one axis as an int64 scalar.
class ShapeI final : public Op {
 public:
  explicit ShapeI(int axis) : axis_(axis) {}
  std::string name() const override { return "Shape_i{" + std::to_string(axis_) + "}"; }
  bool equals(const Op& o) const override {
    auto* s = dynamic_cast<const ShapeI*>(&o);
    return s && s->axis_ == axis_;
  }
  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() == 1, TypeError) << name() << " takes 1 input";
    KILN_USER_CHECK(axis_ >= 0 && axis_ < inputs[0]->ndim(), ValueError)
        << "shape_i: axis " << axis_ << " out of range for " << inputs[0]->label() << " with " << inputs[0]->ndim()
        << " dimensions";
    return {TensorType(DType::Int64, {})};
  }
  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>&) const override {
    return {{}};
  }
  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    out[0] = Array::scalar_int(in[0].shape()[axis_]);
  }

 private:
  int axis_;
};

}  // namespace

Var shape(const Var& x) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "shape: null input";
  static const OpPtr op = std::make_shared<ShapeOp>();
  return make_node1(op, {x});
}

Var shape_i(const Var& x, int i) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "shape_i: null input";
  int axis = i < 0 ? i + x->ndim() : i;
  if (axis >= 0 && axis < x->ndim() && x->type().shape()[axis] != kUnknownDim)
    return typed_constant(static_cast<double>(x->type().shape()[axis]), DType::Int64);
  return make_node1(std::make_shared<ShapeI>(axis), {x});
}

std::vector<Var> shape_list(const Var& x) {
  std::vector<Var> out;
  for (int i = 0; i < x->ndim(); ++i) out.push_back(shape_i(x, i));
  return out;
}

}  // namespace kiln
