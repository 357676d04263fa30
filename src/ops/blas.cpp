// Dot: vector and matrix products. float32/float64 go through OpenBLAS (sdot/ddot, sgemv/dgemv,
// sgemm/dgemm) directly on strided operands when BLAS can address them, copying only when it
// cannot; other dtypes use a plain loop in the output dtype.
//
// Gemm: beta * z + alpha * dot(x, y) in one sgemm/dgemm call (Theano's Gemm). Users write dot and
// add; the blas rewrites introduce Gemm, and the inplace phase lets it accumulate into z's buffer
// (a dead intermediate, or a shared variable this very node updates: W - lr * dot(a, b)).
// Gemv and Ger (blas_level2.cpp) share Gemm's base class, BlasUpdateOp.
#include "kiln/ops/blas.hpp"

#include <cstring>

#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/blas_impl.hpp"
#include "runtime/convert.hpp"

namespace kiln {
namespace detail {

BlasMatrix as_blas_matrix(const Array& m) {
  const int64_t item = static_cast<int64_t>(m.itemsize());
  const int64_t rows = m.shape()[0], cols = m.shape()[1];
  const int64_t s0 = m.strides()[0], s1 = m.strides()[1];
  if ((s1 == item || cols <= 1) && s0 % item == 0 && s0 / item >= std::max<int64_t>(1, cols))
    return {m.data(), false, s0 / item, Array()};
  if ((s0 == item || rows <= 1) && s1 % item == 0 && s1 / item >= std::max<int64_t>(1, rows))
    return {m.data(), true, s1 / item, Array()};
  Array c = m.copy();
  return {c.data(), false, std::max<int64_t>(1, cols), c};
}

BlasVector as_blas_vector(const Array& v) {
  const int64_t item = static_cast<int64_t>(v.itemsize());
  const int64_t s = v.strides()[0];
  if (s > 0 && s % item == 0) return {v.data(), s / item, Array()};
  Array c = v.copy();
  return {c.data(), 1, c};
}

namespace {

template <typename T>
T blas_dot(const BlasVector& x, const BlasVector& y, int64_t n) {
  if constexpr (std::is_same_v<T, float>)
    return cblas_sdot(n, blas_data<T>(x.data), x.inc, blas_data<T>(y.data), y.inc);
  else
    return cblas_ddot(n, blas_data<T>(x.data), x.inc, blas_data<T>(y.data), y.inc);
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

template <typename T>
void blas_product(const Array& a, const Array& b, T* y, int64_t m, int64_t n, int64_t k) {
  if (a.ndim() == 1 && b.ndim() == 1) {
    *y = blas_dot<T>(as_blas_vector(a), as_blas_vector(b), k);
  } else if (a.ndim() == 2 && b.ndim() == 2) {
    blas_gemm<T>(as_blas_matrix(a), as_blas_matrix(b), y, m, n, k);
  } else if (a.ndim() == 2) {  // matrix . vector: gemv
    blas_gemv<T>(as_blas_matrix(a), false, m, k, as_blas_vector(b), y);
  } else {  // vector . matrix: gemv on the transpose
    blas_gemv<T>(as_blas_matrix(b), true, k, n, as_blas_vector(a), y);
  }
}

}  // namespace

void product_into(const Array& a, const Array& b, const Array& c) {
  const int64_t k = a.shape().back();
  const int64_t m = a.ndim() == 2 ? a.shape()[0] : 1, n = b.ndim() == 2 ? b.shape()[1] : 1;
  const DType dt = c.dtype();
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::memset(c.data(), 0, static_cast<size_t>(c.size()) * c.itemsize());
    return;
  }
  if (dt == DType::Float32) return blas_product<float>(a, b, c.data_as<float>(), m, n, k);
  if (dt == DType::Float64) return blas_product<double>(a, b, c.data_as<double>(), m, n, k);
  visit_dtype(dt, [&](auto v) {
    using T = decltype(v);
    Array ac = a.contiguous(), bc = b.contiguous();
    naive_product<T>(ac.data_as<T>(), bc.data_as<T>(), c.data_as<T>(), m, n, k);
  });
}

Var product_gradient(const Var& grad, const Var& input) {
  if (is_discrete(input->dtype())) return nullptr;
  return grad->dtype() == input->dtype() ? grad : cast(grad, input->dtype());
}

Var bilinear_R_op(const Apply& node, const std::vector<Var>& ev, Var (*product)(const Var&, const Var&)) {
  Var r;
  if (ev[0]) r = product(ev[0], node.input(1));
  if (ev[1]) r = r ? r + product(node.input(0), ev[1]) : product(node.input(0), ev[1]);
  if (r && r->dtype() != node.output(0)->dtype()) r = cast(r, node.output(0)->dtype());
  return r;
}

// ---------------------------------------------------------------- update ops (Gemm, Gemv, Ger)

Array update_accumulator(const Array& z, const Shape& shape, bool inplace, bool read_z, const Array& offered) {
  const int64_t item = static_cast<int64_t>(z.itemsize());
  const int nd = z.ndim();
  bool addressable = z.strides()[nd - 1] > 0 && z.strides()[nd - 1] % item == 0;
  if (nd == 2)
    addressable = z.strides()[1] == item && z.strides()[0] % item == 0 &&
                  z.strides()[0] / item >= std::max<int64_t>(1, shape[1]);
  if (inplace && addressable && z.buffer()->writable()) return z;
  Array c = Array::output_storage(offered, z.dtype(), shape);
  if (read_z) {
    Shape strides(nd);
    for (int d = 0; d < nd; ++d) strides[d] = z.shape()[d] == 1 ? 0 : z.strides()[d];
    copy_into(z.view(shape, strides, z.offset()), c);
  }
  return c;
}

void check_update_target(const std::string& op, const char* z_name, const Array& z, const std::vector<int64_t>& z_static,
                         const Shape& shape) {
  for (size_t d = 0; d < shape.size(); ++d)
    KILN_USER_CHECK(z.shape()[d] == shape[d] || (z_static[d] == 1 && z.shape()[d] == 1), ValueError)
        << op << ": " << z_name << " of shape " << shape_str(z.shape()) << " does not match the product's shape "
        << shape_str(shape);
}

template <typename T>
void scale_in_place(const Array& c, T beta) {
  T* p = c.data_as<T>();
  const int64_t item = static_cast<int64_t>(sizeof(T));
  const int64_t rows = c.ndim() == 2 ? c.shape()[0] : 1, cols = c.shape().back();
  const int64_t row_step = c.ndim() == 2 ? c.strides()[0] / item : 0, col_step = c.strides().back() / item;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      T& e = p[i * row_step + j * col_step];
      e = beta == T(0) ? T(0) : e * beta;
    }
}
template void scale_in_place<float>(const Array&, float);
template void scale_in_place<double>(const Array&, double);

Array finish_update(const Array& c, const Array& z, bool inplace) {
  if (inplace && z.buffer()->writable() && !c.shares_buffer_with(z)) {  // z's layout was not BLAS's: copy back
    copy_into(c, z);
    return z;
  }
  return c;
}

std::vector<TensorType> BlasUpdateOp::make_outputs(const std::vector<Var>& in) const {
  const std::string& op = sig_.kind;
  const size_t arity = sig_.names.size();
  KILN_USER_CHECK(in.size() == arity, TypeError) << op << " takes " << arity << " inputs, got " << in.size();
  for (size_t i = 0; i < arity; ++i) KILN_USER_CHECK(in[i] != nullptr, TypeError) << op << ": null input " << sig_.names[i];
  const DType dt = in[0]->dtype();
  KILN_USER_CHECK(dt == DType::Float32 || dt == DType::Float64, TypeError)
      << op << ": " << sig_.names[0] << " (" << in[0]->label() << ") must be float32 or float64, got " << dtype_name(dt);
  for (size_t i = 0; i < arity; ++i) {
    KILN_USER_CHECK(in[i]->ndim() == sig_.ndims[i], TypeError)
        << op << ": " << sig_.names[i] << " (" << in[i]->label() << ") must have " << sig_.ndims[i]
        << " dimensions, got " << in[i]->type().str();
    KILN_USER_CHECK(in[i]->dtype() == dt, TypeError) << op << ": " << sig_.names[i] << " (" << in[i]->label()
                                                     << ") must be " << dtype_name(dt) << " like " << sig_.names[0]
                                                     << ", got " << dtype_name(in[i]->dtype());
  }
  return {TensorType(dt, output_shape(in))};
}

// An update op is a rewrite's product, but it is an op like any other: its gradients are those of
// the expression it computes.
std::vector<Var> BlasUpdateOp::L_op(const Apply& node, const std::vector<Var>& gz) const {
  return Lop({as_expression(node.inputs())}, node.inputs(), {gz[0]});
}

std::vector<Var> BlasUpdateOp::R_op(const Apply& node, const std::vector<Var>& ev) const {
  return Rop_through(as_expression(node.inputs()), node.inputs(), ev);
}

int64_t update_size(int64_t product, int64_t z) { return product != kUnknownDim ? product : (z != 1 ? z : kUnknownDim); }

Var update_coefficient(const Var& c, DType dt) {
  const bool literal = c->is_constant() && c->ndim() == 0 && c->dtype() != dt;
  return literal ? typed_constant(c->constant_value().item_as_double(), dt) : c;
}

}  // namespace detail

namespace {

using namespace detail;

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
    return {product_gradient(ga, a), product_gradient(gb, b)};
  }

  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    return {bilinear_R_op(node, ev, &dot)};
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    const DType dt = node.output_ptr(0)->dtype();
    Array a = in_dtype(in[0], dt), b = in_dtype(in[1], dt);
    const int64_t k = a.shape().back(), kb = b.shape()[0];
    KILN_USER_CHECK(k == kb, ValueError) << "Dot: shapes " << shape_str(in[0].shape()) << " and "
                                         << shape_str(in[1].shape()) << " are not aligned: " << k << " != " << kb;
    Shape out_shape;
    if (a.ndim() == 2) out_shape.push_back(a.shape()[0]);
    if (b.ndim() == 2) out_shape.push_back(b.shape()[1]);
    out[0] = Array::output_storage(out[0], dt, out_shape);
    product_into(a, b, out[0]);
  }
};

KILN_REGISTER_OP_KINDS({{"Dot", true}});

// ---------------------------------------------------------------- Gemm

// beta * z + alpha * dot(x, y): z a matrix broadcasting to the product's shape, alpha and beta
// 0-d, all four of one float dtype. With beta == 0, z is not read (BLAS semantics: NaN in z does
// not propagate), as in Theano.
class Gemm final : public BlasUpdateOpOf<Gemm> {
 public:
  explicit Gemm(bool inplace)
      : BlasUpdateOpOf({"Gemm", "inplace", "no_inplace", {"z", "alpha", "x", "y", "beta"}, {2, 0, 2, 2, 0}}, inplace) {}

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {{in[2][0], in[3][1]}};
  }

 protected:
  std::vector<int64_t> output_shape(const std::vector<Var>& in) const override {
    const auto &zs = in[0]->type().shape(), &xs = in[2]->type().shape(), &ys = in[3]->type().shape();
    KILN_USER_CHECK(xs[1] == kUnknownDim || ys[0] == kUnknownDim || xs[1] == ys[0], ValueError)
        << "Gemm: static shapes of x " << in[2]->type().str() << " and y " << in[3]->type().str() << " are not aligned";
    return {update_size(xs[0], zs[0]), update_size(ys[1], zs[1])};
  }
  Var as_expression(const std::vector<Var>& in) const override {
    return add(mul(in[4], in[0]), mul(in[1], dot(in[2], in[3])));
  }

 public:
  template <typename T>
  void run(const Apply& node, std::span<const Array> in, std::span<Array> out) const {
    const Array &z = in[0], &x = in[2], &y = in[3];
    const T alpha = *in[1].data_as<T>(), beta = *in[4].data_as<T>();
    const int64_t m = x.shape()[0], k = x.shape()[1], n = y.shape()[1];
    KILN_USER_CHECK(y.shape()[0] == k, ValueError) << "Gemm: shapes of x " << shape_str(x.shape()) << " and y "
                                                   << shape_str(y.shape()) << " are not aligned: " << k << " != " << y.shape()[0];
    // z broadcasts only along the axes its type declares broadcastable, as in elementwise ops.
    check_update_target("Gemm", "z", z, node.input(0)->type().shape(), {m, n});
    Array c = update_accumulator(z, {m, n}, inplace(), beta != T(0), out[0]);
    if (m > 0 && n > 0) {
      if (k == 0 || alpha == T(0))
        scale_in_place(c, beta);
      else
        blas_gemm<T>(as_blas_matrix(x), as_blas_matrix(y), c.data_as<T>(), m, n, k, alpha, beta,
                     c.strides()[0] / static_cast<int64_t>(sizeof(T)));
    }
    out[0] = finish_update(c, z, inplace());
  }
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
  static const OpPtr op = std::make_shared<Gemm>(false);
  return make_node1(op, {z, update_coefficient(alpha, z->dtype()), x, y, update_coefficient(beta, z->dtype())});
}

std::optional<Var> blas_update_inplace(const Apply& node) {
  auto* g = dynamic_cast<const BlasUpdateOp*>(&node.op());
  if (!g || g->inplace() || node.input(0)->type().shape() != node.output_ptr(0)->type().shape()) return std::nullopt;
  return make_node1(g->inplace_variant(), node.inputs());
}

Var outer(const Var& x, const Var& y) {
  KILN_USER_CHECK(x && y, TypeError) << "outer: null input";
  KILN_USER_CHECK(x->ndim() == 1 && y->ndim() == 1, NotImplementedError) << "outer: only vectors are supported yet";
  return mul(dimshuffle(x, {0, -1}), dimshuffle(y, {-1, 0}));
}

}  // namespace kiln
