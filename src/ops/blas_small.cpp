// kiln's own single-threaded gemv and ger for small operands.
//
// OpenBLAS 0.3.21 splits a gemv over its thread pool from 9,216 matrix elements on and a ger from
// 8,193, so a 100 x 100 product (a recurrent network's step) is handed to two threads that then
// wait for each other with sched_yield. Measured on the 2-core machine, a tanh RNN of hidden size
// 100 ran its 1,000 steps in 6.4 ms with OPENBLAS_NUM_THREADS=1 and 19 ms with 2 threads while a
// build was running; these operations are memory-bound and fit in cache, so one core does them at
// full speed. Below kSmallLevel2Elements (blas_impl.hpp) they run here, on 32-byte vectors (GCC's
// vector extension), in an AVX2+FMA clone where the CPU has it.
#include <cstring>
#include <vector>

#include "ops/blas_impl.hpp"

// The vector helpers below are always inlined, so passing 32-byte vectors by value in the default
// (pre-AVX) clone never crosses a function boundary and its ABI does not matter.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace kiln::detail {
namespace {

template <typename T>
struct Vec;
template <>
struct Vec<double> {
  typedef double type __attribute__((vector_size(32)));
  static constexpr int width = 4;
};
template <>
struct Vec<float> {
  typedef float type __attribute__((vector_size(32)));
  static constexpr int width = 8;
};

template <typename T>
using V = typename Vec<T>::type;

template <typename T>
[[gnu::always_inline]] inline V<T> load(const T* p) {
  V<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
[[gnu::always_inline]] inline void store(T* p, V<T> v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
[[gnu::always_inline]] inline T lane_sum(V<T> v) {
  T s = 0;
  for (int i = 0; i < Vec<T>::width; ++i) s += v[i];
  return s;
}

// y[i] = beta * y[i] + alpha * (A[i, :] . x) for the r rows of A (y is not read when beta is 0).
// Four rows at a time share each load of x.
template <typename T>
[[gnu::always_inline]] inline void gemv_rows(int64_t r, int64_t c, T alpha, const T* a, int64_t lda, const T* x,
                                             T beta, T* y) {
  constexpr int W = Vec<T>::width;
  auto finish = [&](int64_t i, T dot) { y[i] = (beta == T(0) ? T(0) : beta * y[i]) + alpha * dot; };
  int64_t i = 0;
  for (; i + 4 <= r; i += 4) {
    const T *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    V<T> s0 = {}, s1 = {}, s2 = {}, s3 = {};
    int64_t j = 0;
    for (; j + W <= c; j += W) {
      const V<T> xv = load(x + j);
      s0 += load(a0 + j) * xv;
      s1 += load(a1 + j) * xv;
      s2 += load(a2 + j) * xv;
      s3 += load(a3 + j) * xv;
    }
    T t0 = lane_sum<T>(s0), t1 = lane_sum<T>(s1), t2 = lane_sum<T>(s2), t3 = lane_sum<T>(s3);
    for (; j < c; ++j) {
      t0 += a0[j] * x[j];
      t1 += a1[j] * x[j];
      t2 += a2[j] * x[j];
      t3 += a3[j] * x[j];
    }
    finish(i, t0), finish(i + 1, t1), finish(i + 2, t2), finish(i + 3, t3);
  }
  for (; i < r; ++i) {
    const T* a0 = a + i * lda;
    V<T> s0 = {};
    int64_t j = 0;
    for (; j + W <= c; j += W) s0 += load(a0 + j) * load(x + j);
    T t0 = lane_sum<T>(s0);
    for (; j < c; ++j) t0 += a0[j] * x[j];
    finish(i, t0);
  }
}

// y[j] = beta * y[j] + alpha * sum_i A[i, j] x[i] for the c columns of A: y is scaled first, then
// four rows of A at a time are added into it.
template <typename T>
[[gnu::always_inline]] inline void gemv_columns(int64_t r, int64_t c, T alpha, const T* a, int64_t lda, const T* x,
                                                T beta, T* y) {
  constexpr int W = Vec<T>::width;
  if (beta == T(0))
    std::fill(y, y + c, T(0));
  else if (beta != T(1))
    for (int64_t j = 0; j < c; ++j) y[j] *= beta;
  int64_t i = 0;
  for (; i + 4 <= r; i += 4) {
    const T *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    const T x0 = alpha * x[i], x1 = alpha * x[i + 1], x2 = alpha * x[i + 2], x3 = alpha * x[i + 3];
    int64_t j = 0;
    for (; j + W <= c; j += W)
      store(y + j, load(y + j) + x0 * load(a0 + j) + x1 * load(a1 + j) + x2 * load(a2 + j) + x3 * load(a3 + j));
    for (; j < c; ++j) y[j] += x0 * a0[j] + x1 * a1[j] + x2 * a2[j] + x3 * a3[j];
  }
  for (; i < r; ++i) {
    const T* a0 = a + i * lda;
    const T x0 = alpha * x[i];
    int64_t j = 0;
    for (; j + W <= c; j += W) store(y + j, load(y + j) + x0 * load(a0 + j));
    for (; j < c; ++j) y[j] += x0 * a0[j];
  }
}

// A[i, :] += (alpha * x[i]) * y for the m rows of A.
template <typename T>
[[gnu::always_inline]] inline void ger_rows(int64_t m, int64_t n, T alpha, const T* x, const T* y, T* a, int64_t lda) {
  constexpr int W = Vec<T>::width;
  for (int64_t i = 0; i < m; ++i) {
    T* row = a + i * lda;
    const T xi = alpha * x[i];
    int64_t j = 0;
    for (; j + W <= n; j += W) store(row + j, load(row + j) + xi * load(y + j));
    for (; j < n; ++j) row[j] += xi * y[j];
  }
}

#define KILN_SMALL_BLAS_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

KILN_SMALL_BLAS_CLONES void gemv_rows_f32(int64_t r, int64_t c, float alpha, const float* a, int64_t lda,
                                          const float* x, float beta, float* y) {
  gemv_rows<float>(r, c, alpha, a, lda, x, beta, y);
}
KILN_SMALL_BLAS_CLONES void gemv_rows_f64(int64_t r, int64_t c, double alpha, const double* a, int64_t lda,
                                          const double* x, double beta, double* y) {
  gemv_rows<double>(r, c, alpha, a, lda, x, beta, y);
}
KILN_SMALL_BLAS_CLONES void gemv_columns_f32(int64_t r, int64_t c, float alpha, const float* a, int64_t lda,
                                             const float* x, float beta, float* y) {
  gemv_columns<float>(r, c, alpha, a, lda, x, beta, y);
}
KILN_SMALL_BLAS_CLONES void gemv_columns_f64(int64_t r, int64_t c, double alpha, const double* a, int64_t lda,
                                             const double* x, double beta, double* y) {
  gemv_columns<double>(r, c, alpha, a, lda, x, beta, y);
}
KILN_SMALL_BLAS_CLONES void ger_rows_f32(int64_t m, int64_t n, float alpha, const float* x, const float* y, float* a,
                                         int64_t lda) {
  ger_rows<float>(m, n, alpha, x, y, a, lda);
}
KILN_SMALL_BLAS_CLONES void ger_rows_f64(int64_t m, int64_t n, double alpha, const double* x, const double* y,
                                         double* a, int64_t lda) {
  ger_rows<double>(m, n, alpha, x, y, a, lda);
}

// A strided vector as a unit-stride one: the data itself, or a copy in `buffer`.
template <typename T>
const T* unit_stride(const T* v, int64_t n, int64_t inc, std::vector<T>& buffer) {
  if (inc == 1) return v;
  buffer.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) buffer[i] = v[i * inc];
  return buffer.data();
}

}  // namespace

template <typename T>
void small_gemv(bool trans, int64_t rows, int64_t cols, T alpha, const T* a, int64_t lda, const T* x, int64_t incx,
                T beta, T* y, int64_t incy) {
  thread_local std::vector<T> x_buffer, y_buffer;
  const int64_t nx = trans ? rows : cols, ny = trans ? cols : rows;
  const T* xs = unit_stride(x, nx, incx, x_buffer);
  T* ys = incy == 1 ? y : const_cast<T*>(unit_stride<T>(y, ny, incy, y_buffer));
  if constexpr (std::is_same_v<T, float>)
    (trans ? gemv_columns_f32 : gemv_rows_f32)(rows, cols, alpha, a, lda, xs, beta, ys);
  else
    (trans ? gemv_columns_f64 : gemv_rows_f64)(rows, cols, alpha, a, lda, xs, beta, ys);
  if (incy != 1)
    for (int64_t i = 0; i < ny; ++i) y[i * incy] = ys[i];
}

template <typename T>
void small_ger(int64_t m, int64_t n, T alpha, const T* x, int64_t incx, const T* y, int64_t incy, T* a, int64_t lda) {
  thread_local std::vector<T> x_buffer, y_buffer;
  const T *xs = unit_stride(x, m, incx, x_buffer), *ys = unit_stride(y, n, incy, y_buffer);
  if constexpr (std::is_same_v<T, float>)
    ger_rows_f32(m, n, alpha, xs, ys, a, lda);
  else
    ger_rows_f64(m, n, alpha, xs, ys, a, lda);
}

template void small_gemv<float>(bool, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                                float*, int64_t);
template void small_gemv<double>(bool, int64_t, int64_t, double, const double*, int64_t, const double*, int64_t,
                                 double, double*, int64_t);
template void small_ger<float>(int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float*, int64_t);
template void small_ger<double>(int64_t, int64_t, double, const double*, int64_t, const double*, int64_t, double*,
                                int64_t);

}  // namespace kiln::detail
