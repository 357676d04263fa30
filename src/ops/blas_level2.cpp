// Gemv and Ger: the BLAS level-2 updates, as Theano's Gemv{inplace} and Ger{destructive}.
//
//   gemv(y, alpha, A, x, beta) = beta * y + alpha * A x        (sgemv/dgemv)
//   ger(A, alpha, x, y)        = A + alpha * x y^T             (sger/dger)
//
// Like Gemm they read their first input once and may overwrite it: the blas rewrites build them
// from dot, outer, scale and add, and the inplace phase lets them accumulate into that input when
// it is dead afterwards (or is the shared variable the node updates).
#include "kiln/error.hpp"
#include "kiln/ops/blas.hpp"
#include "kiln/ops/elemwise.hpp"
#include "ops/blas_impl.hpp"

namespace kiln {
namespace {

using namespace detail;

// beta * y + alpha * dot(A, x): y a vector broadcasting to the product's length, alpha and beta
// 0-d. With beta == 0, y is not read (BLAS semantics).
class Gemv final : public BlasUpdateOpOf<Gemv> {
 public:
  explicit Gemv(bool inplace)
      : BlasUpdateOpOf({"Gemv", "inplace", "no_inplace", {"y", "alpha", "A", "x", "beta"}, {1, 0, 2, 1, 0}}, inplace) {}

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {{in[2][0]}};
  }

 protected:
  std::vector<int64_t> output_shape(const std::vector<Var>& in) const override {
    const auto &ys = in[0]->type().shape(), &as = in[2]->type().shape(), &xs = in[3]->type().shape();
    KILN_USER_CHECK(as[1] == kUnknownDim || xs[0] == kUnknownDim || as[1] == xs[0], ValueError)
        << "Gemv: static shapes of A " << in[2]->type().str() << " and x " << in[3]->type().str() << " are not aligned";
    return {update_size(as[0], ys[0])};
  }
  Var as_expression(const std::vector<Var>& in) const override {
    return add(mul(in[4], in[0]), mul(in[1], dot(in[2], in[3])));
  }

 public:
  template <typename T>
  void run(const Apply& node, std::span<const Array> in, std::span<Array> out) const {
    const Array &y = in[0], &a = in[2], &x = in[3];
    const T alpha = *in[1].data_as<T>(), beta = *in[4].data_as<T>();
    const int64_t m = a.shape()[0], k = a.shape()[1];
    KILN_USER_CHECK(x.shape()[0] == k, ValueError) << "Gemv: shapes of A " << shape_str(a.shape()) << " and x "
                                                   << shape_str(x.shape()) << " are not aligned: " << k
                                                   << " != " << x.shape()[0];
    check_update_target("Gemv", "y", y, node.input(0)->type().shape(), {m});
    Array c = update_accumulator(y, {m}, inplace(), beta != T(0), out[0]);
    if (m > 0) {
      if (k == 0 || alpha == T(0))
        scale_in_place(c, beta);
      else
        blas_gemv<T>(as_blas_matrix(a), false, m, k, as_blas_vector(x), c.data_as<T>(), alpha, beta,
                     c.strides()[0] / static_cast<int64_t>(sizeof(T)));
    }
    out[0] = finish_update(c, y, inplace());
  }
};

// A + alpha * outer(x, y): A a matrix broadcasting to the outer product's shape, alpha 0-d.
class Ger final : public BlasUpdateOpOf<Ger> {
 public:
  explicit Ger(bool destructive)
      : BlasUpdateOpOf({"Ger", "destructive", "non-destructive", {"A", "alpha", "x", "y"}, {2, 0, 1, 1}}, destructive) {}

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {{in[2][0], in[3][0]}};
  }

 protected:
  std::vector<int64_t> output_shape(const std::vector<Var>& in) const override {
    const auto &as = in[0]->type().shape(), &xs = in[2]->type().shape(), &ys = in[3]->type().shape();
    return {update_size(xs[0], as[0]), update_size(ys[0], as[1])};
  }
  Var as_expression(const std::vector<Var>& in) const override { return add(in[0], mul(in[1], outer(in[2], in[3]))); }

 public:
  template <typename T>
  void run(const Apply& node, std::span<const Array> in, std::span<Array> out) const {
    const Array &a = in[0], &x = in[2], &y = in[3];
    const T alpha = *in[1].data_as<T>();
    const int64_t m = x.shape()[0], n = y.shape()[0];
    check_update_target("Ger", "A", a, node.input(0)->type().shape(), {m, n});
    Array c = update_accumulator(a, {m, n}, inplace(), true, out[0]);
    if (m > 0 && n > 0 && alpha != T(0))
      blas_ger<T>(m, n, alpha, as_blas_vector(x), as_blas_vector(y), c.data_as<T>(),
                  c.strides()[0] / static_cast<int64_t>(sizeof(T)));
    out[0] = finish_update(c, a, inplace());
  }
};

KILN_REGISTER_OP_KINDS({{"Gemv", true}, {"Ger", true}});

}  // namespace

Var gemv(const Var& y, const Var& alpha, const Var& a, const Var& x, const Var& beta) {
  KILN_USER_CHECK(y && alpha && a && x && beta, TypeError) << "gemv: null input";
  static const OpPtr op = std::make_shared<Gemv>(false);
  return make_node1(op, {y, update_coefficient(alpha, y->dtype()), a, x, update_coefficient(beta, y->dtype())});
}

Var ger(const Var& a, const Var& alpha, const Var& x, const Var& y) {
  KILN_USER_CHECK(a && alpha && x && y, TypeError) << "ger: null input";
  static const OpPtr op = std::make_shared<Ger>(false);
  return make_node1(op, {a, update_coefficient(alpha, a->dtype()), x, y});
}

}  // namespace kiln
