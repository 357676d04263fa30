// Dot: vector and matrix products. float32/float64 go through OpenBLAS (sdot/ddot, sgemv/dgemv,
// sgemm/dgemm) directly on strided operands when BLAS can address them, copying only when it
// cannot; other dtypes use a plain loop in the output dtype.
//
// Gemm: beta * z + alpha * dot(x, y) in one sgemm/dgemm call (Theano's Gemm). Users write dot and
// add; the blas rewrites introduce Gemm, and the inplace phase lets it accumulate into z's buffer
// (a dead intermediate, or a shared variable this very node updates: W - lr * dot(a, b)).
#include "kiln/ops/blas.hpp"

#include <cblas.h>

#include <cstring>

#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "runtime/convert.hpp"

namespace kiln {
namespace {

// A matrix as BLAS sees it: data, whether it is stored transposed, and its leading dimension.
struct BlasMatrix {
  const char* data;
  bool trans;
  int64_t ld;
  Array keep;  // owns a contiguous copy when one was needed
};

BlasMatrix as_blas_matrix(const Array& m) {
  const int64_t item = static_cast<int64_t>(m.itemsize());
  const int64_t rows = m.shape()[0], cols = m.shape()[1];
  const int64_t s0 = m.strides()[0], s1 = m.strides()[1];
  if ((s1 == item || cols <= 1) && s0 % item == 0 && s0 / item >= std::max<int64_t>(1, cols))
    return {m.data(), false, s0 / item, m};
  if ((s0 == item || rows <= 1) && s1 % item == 0 && s1 / item >= std::max<int64_t>(1, rows))
    return {m.data(), true, s1 / item, m};
  Array c = m.copy();
  return {c.data(), false, std::max<int64_t>(1, cols), c};
}

// A vector as BLAS sees it: data pointer (of element 0 when the stride is positive) and increment.
struct BlasVector {
  const char* data;
  int64_t inc;
  Array keep;
};

BlasVector as_blas_vector(const Array& v) {
  const int64_t item = static_cast<int64_t>(v.itemsize());
  const int64_t s = v.strides()[0];
  if (s > 0 && s % item == 0) return {v.data(), s / item, v};
  Array c = v.copy();
  return {c.data(), 1, c};
}

// c = alpha * op(a) op(b) + beta * c, c row-major with leading dimension ldc.
template <typename T>
void gemm(const BlasMatrix& a, const BlasMatrix& b, T* c, int64_t m, int64_t n, int64_t k, T alpha = 1, T beta = 0,
          int64_t ldc = 0) {
  auto ta = a.trans ? CblasTrans : CblasNoTrans, tb = b.trans ? CblasTrans : CblasNoTrans;
  if (ldc == 0) ldc = std::max<int64_t>(1, n);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, reinterpret_cast<const float*>(a.data), a.ld,
                reinterpret_cast<const float*>(b.data), b.ld, beta, c, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, reinterpret_cast<const double*>(a.data), a.ld,
                reinterpret_cast<const double*>(b.data), b.ld, beta, c, ldc);
}

// y = op(A) x, where A is rows x cols as stored and op transposes when `transpose` is set.
template <typename T>
void gemv(const BlasMatrix& a, bool transpose, int64_t rows, int64_t cols, const BlasVector& x, T* y) {
  // Row-major (rows x cols) with trans flag, optionally transposed again by the caller.
  bool t = a.trans != transpose;
  int64_t r = a.trans ? cols : rows, c = a.trans ? rows : cols;  // the stored (row-major) shape
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemv(CblasRowMajor, t ? CblasTrans : CblasNoTrans, r, c, 1.0f, reinterpret_cast<const float*>(a.data), a.ld,
                reinterpret_cast<const float*>(x.data), x.inc, 0.0f, y, 1);
  else
    cblas_dgemv(CblasRowMajor, t ? CblasTrans : CblasNoTrans, r, c, 1.0, reinterpret_cast<const double*>(a.data), a.ld,
                reinterpret_cast<const double*>(x.data), x.inc, 0.0, y, 1);
}

template <typename T>
T blas_dot(const BlasVector& x, const BlasVector& y, int64_t n) {
  if constexpr (std::is_same_v<T, float>)
    return cblas_sdot(n, reinterpret_cast<const float*>(x.data), x.inc, reinterpret_cast<const float*>(y.data), y.inc);
  else
    return cblas_ddot(n, reinterpret_cast<const double*>(x.data), x.inc, reinterpret_cast<const double*>(y.data), y.inc);
}

// Any-dtype fallback on contiguous operands viewed as (m x k) . (k x n).
template <typename T>
void naive_product(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T acc = T(0);
      for (int64_t p = 0; p < k; ++p) acc = static_cast<T>(acc + a[i * k + p] * b[p * n + j]);
      c[i * n + j] = acc;
    }
}

class Dot final : public Op {
 public:
  std::string name() const override { return "Dot"; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() == 2, TypeError) << "Dot takes 2 inputs";
    const TensorType &a = inputs[0]->type(), &b = inputs[1]->type();
    for (int i = 0; i < 2; ++i)
      KILN_USER_CHECK(inputs[i]->ndim() == 1 || inputs[i]->ndim() == 2, TypeError)
          << "Dot: input " << i << " (" << inputs[i]->label() << ") must be a vector or a matrix, got "
          << inputs[i]->type().str();
    int64_t ka = a.shape().back(), kb = b.ndim() == 2 ? b.shape()[0] : b.shape()[0];
    KILN_USER_CHECK(ka == kUnknownDim || kb == kUnknownDim || ka == kb, ValueError)
        << "Dot: static shapes of " << inputs[0]->label() << " " << a.str() << " and " << inputs[1]->label() << " "
        << b.str() << " are not aligned: " << ka << " != " << kb;
    std::vector<int64_t> shape;
    if (a.ndim() == 2) shape.push_back(a.shape()[0]);
    if (b.ndim() == 2) shape.push_back(b.shape()[1]);
    return {TensorType(promote(a.dtype(), b.dtype()), shape)};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override {
    std::vector<Var> shape;
    if (node.input(0)->ndim() == 2) shape.push_back(in[0][0]);
    if (node.input(1)->ndim() == 2) shape.push_back(in[1][1]);
    return {shape};
  }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    const Var &a = node.input(0), &b = node.input(1);
    const Var& g = gz[0];
    Var ga, gb;
    if (a->ndim() == 2 && b->ndim() == 2) {
      ga = dot(g, transpose(b));
      gb = dot(transpose(a), g);
    } else if (a->ndim() == 2) {  // matrix . vector
      ga = outer(g, b);
      gb = dot(transpose(a), g);
    } else if (b->ndim() == 2) {  // vector . matrix
      ga = dot(b, g);
      gb = outer(a, g);
    } else {  // vector . vector
      ga = g * b;
      gb = g * a;
    }
    auto fit = [](const Var& grad, const Var& input) -> Var {
      if (is_discrete(input->dtype())) return nullptr;
      return grad->dtype() == input->dtype() ? grad : cast(grad, input->dtype());
    };
    return {fit(ga, a), fit(gb, b)};
  }

  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    Var r;
    if (ev[0]) r = dot(ev[0], node.input(1));
    if (ev[1]) r = r ? r + dot(node.input(0), ev[1]) : dot(node.input(0), ev[1]);
    if (r && r->dtype() != node.output(0)->dtype()) r = cast(r, node.output(0)->dtype());
    return {r};
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    const DType dt = node.output_ptr(0)->dtype();
    Array a = in[0].dtype() == dt ? in[0] : in[0].astype(dt);
    Array b = in[1].dtype() == dt ? in[1] : in[1].astype(dt);
    const int64_t k = a.shape().back(), kb = b.shape()[0];
    KILN_USER_CHECK(k == kb, ValueError) << "Dot: shapes " << shape_str(in[0].shape()) << " and "
                                         << shape_str(in[1].shape()) << " are not aligned: " << k << " != " << kb;
    const int64_t m = a.ndim() == 2 ? a.shape()[0] : 1, n = b.ndim() == 2 ? b.shape()[1] : 1;
    Shape out_shape;
    if (a.ndim() == 2) out_shape.push_back(m);
    if (b.ndim() == 2) out_shape.push_back(n);
    const bool empty_sum = m == 0 || n == 0 || k == 0;
    Array c = empty_sum ? Array::zeros(dt, out_shape) : Array::empty(dt, out_shape);  // BLAS writes every element
    out[0] = c;
    if (empty_sum) return;
    if (dt == DType::Float32) return blas_product<float>(a, b, c, m, n, k);
    if (dt == DType::Float64) return blas_product<double>(a, b, c, m, n, k);
    detail::visit_dtype(dt, [&](auto v) {
      using T = decltype(v);
      Array ac = a.contiguous(), bc = b.contiguous();
      naive_product<T>(ac.data_as<T>(), bc.data_as<T>(), c.data_as<T>(), m, n, k);
    });
  }

 private:
  template <typename T>
  void blas_product(const Array& a, const Array& b, Array& c, int64_t m, int64_t n, int64_t k) const {
    T* y = c.data_as<T>();
    if (a.ndim() == 1 && b.ndim() == 1) {
      *y = blas_dot<T>(as_blas_vector(a), as_blas_vector(b), k);
    } else if (a.ndim() == 2 && b.ndim() == 2) {
      gemm<T>(as_blas_matrix(a), as_blas_matrix(b), y, m, n, k);
    } else if (a.ndim() == 2) {
      gemv<T>(as_blas_matrix(a), false, m, k, as_blas_vector(b), y);
    } else {
      gemv<T>(as_blas_matrix(b), true, k, n, as_blas_vector(a), y);
    }
  }
};

KILN_REGISTER_OP_KINDS({{"Dot", true}});

// ---------------------------------------------------------------- Gemm

// beta * z + alpha * dot(x, y): z a matrix broadcasting to the product's shape, alpha and beta
// 0-d, all four of one float dtype. With beta == 0, z is not read (BLAS semantics: NaN in z does
// not propagate), as in Theano.
class Gemm final : public Op {
 public:
  explicit Gemm(bool inplace) : inplace_(inplace) {}
  std::string name() const override { return inplace_ ? "Gemm{inplace}" : "Gemm{no_inplace}"; }
  std::map<int, int> destroy_map() const override { return inplace_ ? std::map<int, int>{{0, 0}} : std::map<int, int>{}; }
  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const Gemm*>(&other);
    return o && o->inplace_ == inplace_;
  }
  size_t hash() const override { return std::hash<std::string>()(name()); }
  OpPtr inplace_variant() const { return std::make_shared<Gemm>(true); }
  bool inplace() const { return inplace_; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    KILN_USER_CHECK(in.size() == 5, TypeError) << "Gemm takes 5 inputs (z, alpha, x, y, beta), got " << in.size();
    static const char* names[] = {"z", "alpha", "x", "y", "beta"};
    static const int ndims[] = {2, 0, 2, 2, 0};
    const DType dt = in[0]->dtype();
    KILN_USER_CHECK(dt == DType::Float32 || dt == DType::Float64, TypeError)
        << "Gemm: z (" << in[0]->label() << ") must be float32 or float64, got " << dtype_name(dt);
    for (int i = 0; i < 5; ++i) {
      KILN_USER_CHECK(in[i]->ndim() == ndims[i], TypeError) << "Gemm: " << names[i] << " (" << in[i]->label() << ") must have "
                                                            << ndims[i] << " dimensions, got " << in[i]->type().str();
      KILN_USER_CHECK(in[i]->dtype() == dt, TypeError) << "Gemm: " << names[i] << " (" << in[i]->label() << ") must be "
                                                       << dtype_name(dt) << " like z, got " << dtype_name(in[i]->dtype());
    }
    const auto &zs = in[0]->type().shape(), &xs = in[2]->type().shape(), &ys = in[3]->type().shape();
    KILN_USER_CHECK(xs[1] == kUnknownDim || ys[0] == kUnknownDim || xs[1] == ys[0], ValueError)
        << "Gemm: static shapes of x " << in[2]->type().str() << " and y " << in[3]->type().str() << " are not aligned";
    // Each output size comes from the product, or from z where z does not broadcast along it.
    auto size = [](int64_t product, int64_t z) { return product != kUnknownDim ? product : (z != 1 ? z : kUnknownDim); };
    return {TensorType(dt, {size(xs[0], zs[0]), size(ys[1], zs[1])})};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {{in[2][0], in[3][1]}};
  }

  // Gemm is a rewrite's product, but it is an op like any other: its gradients are those of the
  // expression it computes.
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    return Lop({as_expression(node.inputs())}, node.inputs(), {gz[0]});
  }

  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    return Rop_through(as_expression(node.inputs()), node.inputs(), ev);
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    if (in[0].dtype() == DType::Float32) return run<float>(node, in, out);
    run<double>(node, in, out);
  }

 private:
  static Var as_expression(const std::vector<Var>& in) { return add(mul(in[4], in[0]), mul(in[1], dot(in[2], in[3]))); }

  template <typename T>
  void run(const Apply& node, std::span<const Array> in, std::span<Array> out) const {
    const Array &z = in[0], &x = in[2], &y = in[3];
    const T alpha = *in[1].data_as<T>(), beta = *in[4].data_as<T>();
    const int64_t m = x.shape()[0], k = x.shape()[1], n = y.shape()[1];
    KILN_USER_CHECK(y.shape()[0] == k, ValueError) << "Gemm: shapes of x " << shape_str(x.shape()) << " and y "
                                                   << shape_str(y.shape()) << " are not aligned: " << k << " != " << y.shape()[0];
    // z broadcasts only along the axes its type declares broadcastable, as in elementwise ops.
    const auto& z_static = node.input(0)->type().shape();
    for (int d = 0; d < 2; ++d) {
      const int64_t want = d ? n : m;
      KILN_USER_CHECK(z.shape()[d] == want || (z_static[d] == 1 && z.shape()[d] == 1), ValueError)
          << "Gemm: z of shape " << shape_str(z.shape()) << " does not match the product's shape (" << m << ", " << n << ")";
    }
    Array c = accumulator(z, m, n, beta != T(0));
    if (m > 0 && n > 0) {
      if (k == 0 || alpha == T(0))
        scale(c, beta);
      else
        gemm<T>(as_blas_matrix(x), as_blas_matrix(y), c.data_as<T>(), m, n, k, alpha, beta,
                c.strides()[0] / static_cast<int64_t>(sizeof(T)));
    }
    if (inplace_ && z.buffer()->writable() && !c.shares_buffer_with(z)) {  // z's layout was not BLAS's: copy back
      copy_into(c, z);
      c = z;
    }
    out[0] = c;
  }

  // The array the product accumulates into: z itself when inplace and BLAS can address z's rows
  // (and kiln may write z's memory: never a caller's array unless lent), else a new array holding z broadcast to the product's shape (nothing to read when beta is 0).
  Array accumulator(const Array& z, int64_t m, int64_t n, bool read_z) const {
    const int64_t item = static_cast<int64_t>(z.itemsize());
    const bool rows_addressable = z.strides()[1] == item && z.strides()[0] % item == 0 &&
                                  z.strides()[0] / item >= std::max<int64_t>(1, n);
    if (inplace_ && rows_addressable && z.buffer()->writable()) return z;
    Array c = Array::empty(z.dtype(), {m, n});
    if (read_z) {
      const Shape strides = {z.shape()[0] == 1 ? 0 : z.strides()[0], z.shape()[1] == 1 ? 0 : z.strides()[1]};
      copy_into(z.view({m, n}, strides, z.offset()), c);
    }
    return c;
  }

  template <typename T>
  static void scale(Array& c, T beta) {
    T* p = c.data_as<T>();
    const int64_t ld = c.strides()[0] / static_cast<int64_t>(sizeof(T));
    for (int64_t i = 0; i < c.shape()[0]; ++i)
      for (int64_t j = 0; j < c.shape()[1]; ++j) p[i * ld + j] = beta == T(0) ? T(0) : p[i * ld + j] * beta;
  }

  bool inplace_;
};

KILN_REGISTER_OP_KINDS({{"Gemm", true}});

}  // namespace

Var dot(const Var& a, const Var& b) {
  KILN_USER_CHECK(a && b, TypeError) << "dot: null input";
  if (a->ndim() == 0 || b->ndim() == 0) return mul(a, b);
  KILN_USER_CHECK(a->ndim() <= 2 && b->ndim() <= 2, NotImplementedError)
      << "dot: inputs of more than 2 dimensions (" << a->type().str() << ", " << b->type().str()
      << ") are not supported yet";
  static const OpPtr op = std::make_shared<Dot>();
  return make_node1(op, {a, b});
}

Var gemm(const Var& z, const Var& alpha, const Var& x, const Var& y, const Var& beta) {
  KILN_USER_CHECK(z && alpha && x && y && beta, TypeError) << "gemm: null input";
  // Literal coefficients (gemm(z, 1.0, x, y, 0.5)) take z's dtype, as they would in z * 0.5.
  auto coefficient = [&](const Var& c) {
    const bool literal = c->is_constant() && c->ndim() == 0 && c->dtype() != z->dtype();
    return literal ? typed_constant(c->constant_value().item_as_double(), z->dtype()) : c;
  };
  static const OpPtr op = std::make_shared<Gemm>(false);
  return make_node1(op, {z, coefficient(alpha), x, y, coefficient(beta)});
}

std::optional<Var> gemm_inplace(const Apply& node) {
  auto* g = dynamic_cast<const Gemm*>(&node.op());
  if (!g || g->inplace() || node.input(0)->type().shape() != node.output_ptr(0)->type().shape()) return std::nullopt;
  return make_node1(g->inplace_variant(), node.inputs());
}

Var matmul(const Var& a, const Var& b) {
  KILN_USER_CHECK(a && b, TypeError) << "matmul: null input";
  KILN_USER_CHECK(a->ndim() >= 1 && b->ndim() >= 1, ValueError) << "matmul: scalar operands are not allowed, use *";
  return dot(a, b);
}

Var outer(const Var& x, const Var& y) {
  KILN_USER_CHECK(x && y, TypeError) << "outer: null input";
  KILN_USER_CHECK(x->ndim() == 1 && y->ndim() == 1, NotImplementedError) << "outer: only vectors are supported yet";
  return mul(dimshuffle(x, {0, -1}), dimshuffle(y, {-1, 0}));
}

}  // namespace kiln
