// SLEEF kernels for AVX-512F CPUs (this file is compiled with -mavx512f; see vector_math.hpp).
#include <immintrin.h>
#include <sleef.h>

namespace {
struct V {
  using F = __m512;
  using D = __m512d;
  static constexpr int kF = 16, kD = 8;
  static F loadf(const float* p) { return _mm512_loadu_ps(p); }
  static void storef(float* p, F v) { _mm512_storeu_ps(p, v); }
  static D loadd(const double* p) { return _mm512_loadu_pd(p); }
  static void stored(double* p, D v) { _mm512_storeu_pd(p, v); }
  static F set1f(float v) { return _mm512_set1_ps(v); }
  static D set1d(double v) { return _mm512_set1_pd(v); }
  static F addf(F a, F b) { return _mm512_add_ps(a, b); }
  static D addd(D a, D b) { return _mm512_add_pd(a, b); }
  static F subf(F a, F b) { return _mm512_sub_ps(a, b); }
  static D subd(D a, D b) { return _mm512_sub_pd(a, b); }
  static F divf(F a, F b) { return _mm512_div_ps(a, b); }
  static D divd(D a, D b) { return _mm512_div_pd(a, b); }
  // The masked forms: GCC 12's plain _mm512_max_ps trips -Wmaybe-uninitialized in its own header.
  static F maxf(F a, F b) { return _mm512_mask_max_ps(a, static_cast<__mmask16>(0xffff), a, b); }
  static D maxd(D a, D b) { return _mm512_mask_max_pd(a, static_cast<__mmask8>(0xff), a, b); }
  // Clear the sign bit (GCC 12's _mm512_abs_ps has the same header warning).
  static F absf(F a) { return _mm512_castsi512_ps(_mm512_and_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff))); }
  static D absd(D a) {
    return _mm512_castsi512_pd(_mm512_and_epi64(_mm512_castpd_si512(a), _mm512_set1_epi64(0x7fffffffffffffffLL)));
  }
};
}  // namespace

#define KILN_SLEEF_F(name, u) Sleef_##name##f16_##u##avx512f
#define KILN_SLEEF_D(name, u) Sleef_##name##d8_##u##avx512f
#define KILN_VECTOR_TABLE kAvx512Kernels
#include "ops/vector_math_kernels.hpp"
