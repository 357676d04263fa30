// The body of the SLEEF kernel tables, instantiated once per instruction set by
// vector_math_avx2.cpp and vector_math_avx512.cpp. Before including, a file defines:
//   V                  a struct with the vector types F/D, widths kF/kD, load/store, set1, add,
//                      sub, div, max, abs for both;
//   KILN_SLEEF_F(n, u) and KILN_SLEEF_D(n, u): the SLEEF function names for float and double;
//   KILN_VECTOR_TABLE  the name of the table to define.
// Tails shorter than a vector go through a zero-padded stack buffer, so no masked loads are needed.
#include <cstring>

#include "ops/vector_math.hpp"

namespace kiln::detail {
namespace {

template <typename T, typename Vec, int W, typename Load, typename Store, typename Fn>
inline void map_unary(const T* a, T* out, int64_t n, Load load, Store store, Fn fn) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(out + i, fn(load(a + i)));
  if (i < n) {
    alignas(64) T ta[W] = {}, to[W];
    std::memcpy(ta, a + i, (n - i) * sizeof(T));
    store(to, fn(load(ta)));
    std::memcpy(out + i, to, (n - i) * sizeof(T));
  }
}

template <typename T, typename Vec, int W, typename Load, typename Store, typename Fn>
inline void map_binary(const T* a, const T* b, T* out, int64_t n, Load load, Store store, Fn fn) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(out + i, fn(load(a + i), load(b + i)));
  if (i < n) {
    alignas(64) T ta[W] = {}, tb[W] = {}, to[W];
    std::memcpy(ta, a + i, (n - i) * sizeof(T));
    std::memcpy(tb, b + i, (n - i) * sizeof(T));
    store(to, fn(load(ta), load(tb)));
    std::memcpy(out + i, to, (n - i) * sizeof(T));
  }
}

#define KILN_SLEEF_UNARY(op, name, u)                                                                      \
  void op##_f32(const void* const* in, void* out, int64_t n) {                                            \
    map_unary<float, V::F, V::kF>(static_cast<const float*>(in[0]), static_cast<float*>(out), n, V::loadf, \
                                  V::storef, [](V::F x) { return KILN_SLEEF_F(name, u)(x); });             \
  }                                                                                                        \
  void op##_f64(const void* const* in, void* out, int64_t n) {                                            \
    map_unary<double, V::D, V::kD>(static_cast<const double*>(in[0]), static_cast<double*>(out), n,       \
                                   V::loadd, V::stored, [](V::D x) { return KILN_SLEEF_D(name, u)(x); });  \
  }
#define KILN_SLEEF_BINARY(op, name, u)                                                                    \
  void op##_f32(const void* const* in, void* out, int64_t n) {                                           \
    map_binary<float, V::F, V::kF>(static_cast<const float*>(in[0]), static_cast<const float*>(in[1]),    \
                                   static_cast<float*>(out), n, V::loadf, V::storef,                      \
                                   [](V::F x, V::F y) { return KILN_SLEEF_F(name, u)(x, y); });           \
  }                                                                                                       \
  void op##_f64(const void* const* in, void* out, int64_t n) {                                           \
    map_binary<double, V::D, V::kD>(static_cast<const double*>(in[0]), static_cast<const double*>(in[1]), \
                                    static_cast<double*>(out), n, V::loadd, V::stored,                    \
                                    [](V::D x, V::D y) { return KILN_SLEEF_D(name, u)(x, y); });          \
  }
#include "ops/vector_math.def"
#undef KILN_SLEEF_UNARY
#undef KILN_SLEEF_BINARY

// sigmoid(x) = 1 / (1 + exp(-x)): exp(-x) overflowing to inf gives exactly 0, so no branch is needed.
void sigmoid_f32(const void* const* in, void* out, int64_t n) {
  map_unary<float, V::F, V::kF>(static_cast<const float*>(in[0]), static_cast<float*>(out), n, V::loadf, V::storef,
                                [](V::F x) {
                                  V::F one = V::set1f(1.0f);
                                  return V::divf(one, V::addf(one, KILN_SLEEF_F(exp, u10)(V::subf(V::set1f(0), x))));
                                });
}
void sigmoid_f64(const void* const* in, void* out, int64_t n) {
  map_unary<double, V::D, V::kD>(static_cast<const double*>(in[0]), static_cast<double*>(out), n, V::loadd, V::stored,
                                 [](V::D x) {
                                   V::D one = V::set1d(1.0);
                                   return V::divd(one, V::addd(one, KILN_SLEEF_D(exp, u10)(V::subd(V::set1d(0), x))));
                                 });
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)); a NaN input propagates through the log1p term.
void softplus_f32(const void* const* in, void* out, int64_t n) {
  map_unary<float, V::F, V::kF>(static_cast<const float*>(in[0]), static_cast<float*>(out), n, V::loadf, V::storef,
                                [](V::F x) {
                                  V::F tail = KILN_SLEEF_F(log1p, u10)(KILN_SLEEF_F(exp, u10)(V::subf(V::set1f(0), V::absf(x))));
                                  return V::addf(V::maxf(x, V::set1f(0)), tail);
                                });
}
void softplus_f64(const void* const* in, void* out, int64_t n) {
  map_unary<double, V::D, V::kD>(static_cast<const double*>(in[0]), static_cast<double*>(out), n, V::loadd, V::stored,
                                 [](V::D x) {
                                   V::D tail = KILN_SLEEF_D(log1p, u10)(KILN_SLEEF_D(exp, u10)(V::subd(V::set1d(0), V::absd(x))));
                                   return V::addd(V::maxd(x, V::set1d(0)), tail);
                                 });
}

}  // namespace

#define KILN_SLEEF_UNARY(op, name, u) \
  {ScalarOpId::op, DType::Float32, &op##_f32}, {ScalarOpId::op, DType::Float64, &op##_f64},
#define KILN_SLEEF_BINARY(op, name, u) KILN_SLEEF_UNARY(op, name, u)
extern const VectorKernelEntry KILN_VECTOR_TABLE[] = {
#include "ops/vector_math.def"
    {ScalarOpId::sigmoid, DType::Float32, &sigmoid_f32},
    {ScalarOpId::sigmoid, DType::Float64, &sigmoid_f64},
    {ScalarOpId::softplus, DType::Float32, &softplus_f32},
    {ScalarOpId::softplus, DType::Float64, &softplus_f64},
    {ScalarOpId::identity, DType::Bool, nullptr},  // end marker
};
#undef KILN_SLEEF_UNARY
#undef KILN_SLEEF_BINARY

}  // namespace kiln::detail
