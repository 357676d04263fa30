// Test-only ops that break the Op contract on purpose. See kiln/debug/testing_ops.hpp.
#include "kiln/debug/testing_ops.hpp"

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"

namespace kiln::testing {
namespace {

class BrokenOp final : public Op {
 public:
  explicit BrokenOp(std::string flaw) : flaw_(std::move(flaw)) {}
  std::string name() const override { return "BrokenOp{" + flaw_ + "}"; }
  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const BrokenOp*>(&other);
    return o && o->flaw_ == flaw_;
  }
  size_t hash() const override { return std::hash<std::string>()(flaw_); }
  bool differentiable() const override { return false; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    KILN_USER_CHECK(in[0]->dtype() == DType::Float64, TypeError) << name() << ": x must be float64";
    return {TensorType(DType::Float64, std::vector<int64_t>(in[0]->ndim(), kUnknownDim))};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    std::vector<Var> shape = in[0];
    if (flaw_ == "wrong_infer_shape" && !shape.empty()) shape[0] = shape[0] + scalar_constant(int64_t{1});
    return {shape};
  }

  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    const Array& x = in[0];
    if (flaw_ == "undeclared_view") {
      out[0] = x;
      return;
    }
    out[0] = Array::empty(DType::Float64, x.shape());
    double* y = out[0].data_as<double>();
    for (int64_t i = 0; i < x.size(); ++i) {
      // The flaw: element i taken at i * itemsize from the start, whatever the strides.
      const double xi = flaw_ == "ignores_strides" ? x.data_as<double>()[i] : x.item_as_double(i);
      y[i] = xi + 1;
    }
    if (flaw_ == "undeclared_destroy")
      for (int64_t i = 0; i < x.size(); ++i) *reinterpret_cast<double*>(x.data() + x.byte_offset_of(i)) = y[i];
  }

 private:
  std::string flaw_;
};

}  // namespace

Var broken_op(const std::string& flaw, const Var& x) {
  KILN_USER_CHECK(flaw == "wrong_infer_shape" || flaw == "ignores_strides" || flaw == "undeclared_destroy" ||
                      flaw == "undeclared_view" || flaw == "none",
                  ValueError)
      << "broken_op: unknown flaw '" << flaw << "'";
  return make_node1(std::make_shared<BrokenOp>(flaw), {x});
}

}  // namespace kiln::testing
