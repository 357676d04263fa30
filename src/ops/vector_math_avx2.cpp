// SLEEF kernels for AVX2+FMA CPUs (this file is compiled with -mavx2 -mfma; see vector_math.hpp).
#include <immintrin.h>
#include <sleef.h>

namespace {
struct V {
  using F = __m256;
  using D = __m256d;
  static constexpr int kF = 8, kD = 4;
  static F loadf(const float* p) { return _mm256_loadu_ps(p); }
  static void storef(float* p, F v) { _mm256_storeu_ps(p, v); }
  static D loadd(const double* p) { return _mm256_loadu_pd(p); }
  static void stored(double* p, D v) { _mm256_storeu_pd(p, v); }
  static F set1f(float v) { return _mm256_set1_ps(v); }
  static D set1d(double v) { return _mm256_set1_pd(v); }
  static F addf(F a, F b) { return _mm256_add_ps(a, b); }
  static D addd(D a, D b) { return _mm256_add_pd(a, b); }
  static F subf(F a, F b) { return _mm256_sub_ps(a, b); }
  static D subd(D a, D b) { return _mm256_sub_pd(a, b); }
  static F divf(F a, F b) { return _mm256_div_ps(a, b); }
  static D divd(D a, D b) { return _mm256_div_pd(a, b); }
  static F maxf(F a, F b) { return _mm256_max_ps(a, b); }
  static D maxd(D a, D b) { return _mm256_max_pd(a, b); }
  static F absf(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static D absd(D a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
};
}  // namespace

#define KILN_SLEEF_F(name, u) Sleef_##name##f8_##u##avx2
#define KILN_SLEEF_D(name, u) Sleef_##name##d4_##u##avx2
#define KILN_VECTOR_TABLE kAvx2Kernels
#include "ops/vector_math_kernels.hpp"
