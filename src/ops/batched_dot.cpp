// BatchedDot: result[i] = dot(x[i], y[i]) for x and y of 2 or 3 dimensions (Theano's BatchedDot):
//
//   x (B, M, K), y (B, K, N) -> (B, M, N)        x (B, M, K), y (B, K) -> (B, M)
//   x (B, K),    y (B, K, N) -> (B, N)           x (B, K),    y (B, K) -> (B,)
//
// Each batch entry is one BLAS call (gemm, gemv or dot) on strided views, as Dot makes them;
// other dtypes use Dot's plain loop. Gradients are BatchedDot again and broadcasting products.
#include "kiln/error.hpp"
#include "kiln/ops/blas.hpp"
#include "kiln/ops/elemwise.hpp"
#include "ops/blas_impl.hpp"
#include "runtime/convert.hpp"

namespace kiln {
namespace {

using namespace detail;

// Entry i of a along its first axis, as a view.
Array entry(const Array& a, int64_t i) {
  Shape shape(a.shape().begin() + 1, a.shape().end()), strides(a.strides().begin() + 1, a.strides().end());
  return a.view(shape, strides, a.offset() + i * a.strides()[0]);
}

class BatchedDot final : public Op {
 public:
  std::string name() const override { return "BatchedDot"; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    KILN_USER_CHECK(in.size() == 2, TypeError) << "BatchedDot takes 2 inputs, got " << in.size();
    static const char* names[] = {"x", "y"};
    for (int i = 0; i < 2; ++i) {
      KILN_USER_CHECK(in[i] != nullptr, TypeError) << "BatchedDot: null input " << names[i];
      KILN_USER_CHECK(in[i]->ndim() == 2 || in[i]->ndim() == 3, TypeError)
          << "BatchedDot: " << names[i] << " (" << in[i]->label() << ") must have 2 or 3 dimensions, got "
          << in[i]->type().str();
    }
    const auto &xs = in[0]->type().shape(), &ys = in[1]->type().shape();
    const int64_t kx = xs.back(), ky = ys[1];
    KILN_USER_CHECK(kx == kUnknownDim || ky == kUnknownDim || kx == ky, ValueError)
        << "BatchedDot: static shapes of x " << in[0]->type().str() << " and y " << in[1]->type().str()
        << " are not aligned: " << kx << " != " << ky;
    KILN_USER_CHECK(xs[0] == kUnknownDim || ys[0] == kUnknownDim || xs[0] == ys[0], ValueError)
        << "BatchedDot: batch sizes of x " << in[0]->type().str() << " and y " << in[1]->type().str() << " differ";
    std::vector<int64_t> shape = {xs[0] != kUnknownDim ? xs[0] : ys[0]};
    if (in[0]->ndim() == 3) shape.push_back(xs[1]);
    if (in[1]->ndim() == 3) shape.push_back(ys[2]);
    return {TensorType(promote(in[0]->dtype(), in[1]->dtype()), shape)};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override {
    std::vector<Var> shape = {in[0][0]};
    if (node.input(0)->ndim() == 3) shape.push_back(in[0][1]);
    if (node.input(1)->ndim() == 3) shape.push_back(in[1][2]);
    return {shape};
  }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    const Var &x = node.input(0), &y = node.input(1), &g = gz[0];
    const bool x3 = x->ndim() == 3, y3 = y->ndim() == 3;
    auto swap = [](const Var& v) { return dimshuffle(v, {0, 2, 1}); };
    // The gradient of x[i] . y[i] in each entry, as Dot's, with the batch axis kept in front.
    Var gx = y3 ? batched_dot(g, swap(y))  // g[i] . y[i]^T (a vector when x is 2-d)
                : (x3 ? dimshuffle(g, {0, 1, -1}) * dimshuffle(y, {0, -1, 1}) : dimshuffle(g, {0, -1}) * y);
    Var gy = x3 ? batched_dot(swap(x), g)  // x[i]^T . g[i]
                : (y3 ? dimshuffle(x, {0, 1, -1}) * dimshuffle(g, {0, -1, 1}) : dimshuffle(g, {0, -1}) * x);
    return {product_gradient(gx, x), product_gradient(gy, y)};
  }

  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    return {bilinear_R_op(node, ev, &batched_dot)};
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    const DType dt = node.output_ptr(0)->dtype();
    Array x = in_dtype(in[0], dt), y = in_dtype(in[1], dt);
    const int64_t batch = x.shape()[0], k = x.shape().back(), ky = y.shape()[1];
    KILN_USER_CHECK(batch == y.shape()[0], ValueError)
        << "BatchedDot: batch sizes of x " << shape_str(x.shape()) << " and y " << shape_str(y.shape()) << " differ: "
        << batch << " != " << y.shape()[0];
    KILN_USER_CHECK(k == ky, ValueError) << "BatchedDot: shapes of x " << shape_str(x.shape()) << " and y "
                                         << shape_str(y.shape()) << " are not aligned: " << k << " != " << ky;
    Shape shape = {batch};
    if (x.ndim() == 3) shape.push_back(x.shape()[1]);
    if (y.ndim() == 3) shape.push_back(y.shape()[2]);
    Array result = Array::output_storage(out[0], dt, shape);
    for (int64_t i = 0; i < batch; ++i) product_into(entry(x, i), entry(y, i), entry(result, i));
    out[0] = result;
  }
};

KILN_REGISTER_OP_KINDS({{"BatchedDot", true}});

}  // namespace

Var batched_dot(const Var& a, const Var& b) {
  KILN_USER_CHECK(a && b, TypeError) << "batched_dot: null input";
  KILN_USER_CHECK(a->ndim() >= 1 && b->ndim() >= 1, TypeError)
      << "batched_dot: inputs must have a batch axis, got " << a->type().str() << " and " << b->type().str();
  if (a->ndim() == 1 || b->ndim() == 1) {  // one number per batch entry: a product broadcast along it
    auto widen = [](const Var& v, int ndim) {
      std::vector<int> pattern = {0};
      for (int d = 1; d < ndim; ++d) pattern.push_back(v->ndim() == 1 ? -1 : d);
      return v->ndim() == 1 ? dimshuffle(v, pattern) : v;
    };
    const int nd = std::max(a->ndim(), b->ndim());
    return widen(a, nd) * widen(b, nd);
  }
  if (a->ndim() > 3 || b->ndim() > 3) return batched_tensordot(a, b, {a->ndim() - 1}, {std::max(1, b->ndim() - 2)});
  static const OpPtr op = std::make_shared<BatchedDot>();
  return make_node1(op, {a, b});
}

}  // namespace kiln
