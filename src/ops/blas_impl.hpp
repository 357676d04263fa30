// Private to the BLAS op files (blas.cpp, blas_level2.cpp, batched_dot.cpp): how operands are
// handed to OpenBLAS, the product kernel Dot and BatchedDot share, and the base class of the
// update ops (Gemm, Gemv, Ger) that accumulate into their first input and may do so in place.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln::detail {

// A matrix as BLAS sees it: data, whether it is stored transposed, and its leading dimension.
struct BlasMatrix {
  const char* data;
  bool trans;
  int64_t ld;
  Array keep;  // owns a contiguous copy when one was needed (else m, which outlives the product, is read)
};
/// How BLAS reads `m`: in place when its strides allow, else from a contiguous copy.
BlasMatrix as_blas_matrix(const Array& m);

// A vector as BLAS sees it: data pointer (of element 0; the stride is positive) and increment.
struct BlasVector {
  const char* data;
  int64_t inc;
  Array keep;  // as in BlasMatrix
};
BlasVector as_blas_vector(const Array& v);

template <typename T>
const T* blas_data(const char* p) {
  return reinterpret_cast<const T*>(p);
}

// c = alpha * op(a) op(b) + beta * c, c row-major with leading dimension ldc.
template <typename T>
void blas_gemm(const BlasMatrix& a, const BlasMatrix& b, T* c, int64_t m, int64_t n, int64_t k, T alpha = 1,
               T beta = 0, int64_t ldc = 0) {
  auto ta = a.trans ? CblasTrans : CblasNoTrans, tb = b.trans ? CblasTrans : CblasNoTrans;
  if (ldc == 0) ldc = std::max<int64_t>(1, n);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, blas_data<T>(a.data), a.ld, blas_data<T>(b.data), b.ld, beta, c,
                ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, blas_data<T>(a.data), a.ld, blas_data<T>(b.data), b.ld, beta, c,
                ldc);
}

// Level-2 products of at most this many matrix elements run on kiln's own single-threaded
// kernels (blas_small.cpp) rather than OpenBLAS, which would split them over its threads.
inline constexpr int64_t kSmallLevel2Elements = int64_t{1} << 16;

template <typename T>
void small_gemv(bool trans, int64_t rows, int64_t cols, T alpha, const T* a, int64_t lda, const T* x, int64_t incx,
                T beta, T* y, int64_t incy);
template <typename T>
void small_ger(int64_t m, int64_t n, T alpha, const T* x, int64_t incx, const T* y, int64_t incy, T* a, int64_t lda);

// y = alpha * op(A) x + beta * y, where A is rows x cols as stored and op transposes when
// `transpose` is set; y has increment incy.
template <typename T>
void blas_gemv(const BlasMatrix& a, bool transpose, int64_t rows, int64_t cols, const BlasVector& x, T* y,
               T alpha = 1, T beta = 0, int64_t incy = 1) {
  const bool t = a.trans != transpose;
  const int64_t r = a.trans ? cols : rows, c = a.trans ? rows : cols;  // the stored (row-major) shape
  if (r * c <= kSmallLevel2Elements)
    small_gemv<T>(t, r, c, alpha, blas_data<T>(a.data), a.ld, blas_data<T>(x.data), x.inc, beta, y, incy);
  else if constexpr (std::is_same_v<T, float>)
    cblas_sgemv(CblasRowMajor, t ? CblasTrans : CblasNoTrans, r, c, alpha, blas_data<T>(a.data), a.ld,
                blas_data<T>(x.data), x.inc, beta, y, incy);
  else
    cblas_dgemv(CblasRowMajor, t ? CblasTrans : CblasNoTrans, r, c, alpha, blas_data<T>(a.data), a.ld,
                blas_data<T>(x.data), x.inc, beta, y, incy);
}

// a += alpha * x y^T for a row-major m x n matrix with leading dimension lda.
template <typename T>
void blas_ger(int64_t m, int64_t n, T alpha, const BlasVector& x, const BlasVector& y, T* a, int64_t lda) {
  if (m * n <= kSmallLevel2Elements)
    small_ger<T>(m, n, alpha, blas_data<T>(x.data), x.inc, blas_data<T>(y.data), y.inc, a, lda);
  else if constexpr (std::is_same_v<T, float>)
    cblas_sger(CblasRowMajor, m, n, alpha, blas_data<T>(x.data), x.inc, blas_data<T>(y.data), y.inc, a, lda);
  else
    cblas_dger(CblasRowMajor, m, n, alpha, blas_data<T>(x.data), x.inc, blas_data<T>(y.data), y.inc, a, lda);
}

/// c = a . b for a, b of 1 or 2 dimensions, already of c's dtype and aligned (numpy's dot rules);
/// c is a C-contiguous array of the product's shape. float32/float64 go through BLAS (dot, gemv
/// or gemm); other dtypes through a plain loop.
void product_into(const Array& a, const Array& b, const Array& c);

/// A product's gradient for `input`: cast to its dtype; disconnected (nullptr) for integers.
Var product_gradient(const Var& grad, const Var& input);
/// The forward-mode derivative of product(x, y) at the node's inputs: product(ex, y) +
/// product(x, ey), cast to the output's dtype (Dot and BatchedDot).
Var bilinear_R_op(const Apply& node, const std::vector<Var>& ev, Var (*product)(const Var&, const Var&));

/// The array an update op (Gemm, Gemv, Ger) accumulates into: z itself when `inplace`, kiln may
/// write z's memory and BLAS can address it (unit stride along its last axis, positive strides),
/// else a C-contiguous array of `shape` holding z broadcast to it (left unset unless `read_z`): the
/// storage `offered` for the output when it fits (see Array::output_storage), or a new one.
Array update_accumulator(const Array& z, const Shape& shape, bool inplace, bool read_z, const Array& offered);
/// ValueError unless z (of static shape `z_static`) has `shape`, or size 1 along the axes its type
/// declares broadcastable.
void check_update_target(const std::string& op, const char* z_name, const Array& z, const std::vector<int64_t>& z_static,
                         const Shape& shape);
/// c *= beta over a 1-d or 2-d array (0 where beta is 0: z's NaN do not propagate, BLAS semantics).
template <typename T>
void scale_in_place(const Array& c, T beta);
/// The update's result: c, copied back into z first when the op works in place but z's layout
/// was not BLAS's.
Array finish_update(const Array& c, const Array& z, bool inplace);

/// Gemm, Gemv and Ger: out = f(z, ...) where the first input z is read once and may be destroyed.
/// A subclass declares its input names and ranks (all of one float dtype), its output shape, and
/// the expression it computes: gradients (L_op, R_op) are those of that expression.
class BlasUpdateOp : public Op {
 public:
  struct Signature {
    std::string kind, inplace_tag, no_inplace_tag;
    std::vector<const char*> names;
    std::vector<int> ndims;
  };
  BlasUpdateOp(Signature sig, bool inplace) : sig_(std::move(sig)), inplace_(inplace) {}
  bool inplace() const { return inplace_; }
  virtual OpPtr inplace_variant() const = 0;

  std::string name() const override {
    return sig_.kind + "{" + (inplace_ ? sig_.inplace_tag : sig_.no_inplace_tag) + "}";
  }
  std::map<int, int> destroy_map() const override {
    return inplace_ ? std::map<int, int>{{0, 0}} : std::map<int, int>{};
  }
  bool equals(const Op& other) const override { return other.name() == name(); }
  size_t hash() const override { return std::hash<std::string>()(name()); }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override;
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override;
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override;

 protected:
  /// The output's static shape from the inputs' (already checked for rank and dtype).
  virtual std::vector<int64_t> output_shape(const std::vector<Var>& in) const = 0;
  /// The computation as a graph of other ops.
  virtual Var as_expression(const std::vector<Var>& in) const = 0;
  const Signature& signature() const { return sig_; }

 private:
  Signature sig_;
  bool inplace_;
};

/// The shared parts of a concrete update op: its in-place twin, and perform dispatching to the
/// op's `run<T>` for float32 and float64.
template <typename Derived>
class BlasUpdateOpOf : public BlasUpdateOp {
 public:
  using BlasUpdateOp::BlasUpdateOp;
  OpPtr inplace_variant() const override { return std::make_shared<Derived>(true); }
  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    const auto& self = static_cast<const Derived&>(*this);
    if (in[0].dtype() == DType::Float32) return self.template run<float>(node, in, out);
    self.template run<double>(node, in, out);
  }
};

/// `a` in dtype `dt` (itself when it already is).
inline Array in_dtype(const Array& a, DType dt) { return a.dtype() == dt ? a : a.astype(dt); }

/// One static output size of an update: the product's, or z's where z does not broadcast along it.
int64_t update_size(int64_t product, int64_t z);

/// The coefficient of a BLAS update builder: a literal 0-d constant of another dtype takes z's
/// dtype (gemm(z, 1.0, x, y, 0.5) as z * 0.5 would).
Var update_coefficient(const Var& c, DType dt);

}  // namespace kiln::detail
