// Which vector math library the generated kernels should call: SLEEF (what kiln uses) or glibc's
// libmvec (what g++ calls when it vectorises a loop of expf/logf under -ffast-math).
//
//   g++ -O3 -march=native -ffast-math -fopenmp-simd -std=c++17 bench/vector_math_sleef_vs_libmvec.cpp \
//       -o /tmp/vm -I/usr/include/x86_64-linux-gnu -lsleef -lmvec -lm && /tmp/vm
//
// Times exp, log and log1p over 10M float32 and 10M float64 values in [-5, 5] (log: (0, 10]),
// single-threaded, and reports the worst error in ulps against the long double result.
// glibc declares its vector variants to g++ only under -ffast-math, hence the flag here; kiln's
// own code keeps IEEE semantics (and SLEEF does not depend on the flag).
#include <sleef.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

constexpr size_t kN = 10'000'000;

template <typename F>
double best_seconds(F&& f) {
  double best = 1e30;
  for (int r = 0; r < 7; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// With -ffast-math, g++ vectorises these loops into calls of _ZGVdN8v_expf and friends.
#define LIBMVEC_LOOP(name, T, fn)                                        \
  void name(const T* x, T* y, size_t n) {                               \
    _Pragma("omp simd") for (size_t i = 0; i < n; ++i) y[i] = fn(x[i]); \
  }
LIBMVEC_LOOP(libmvec_expf, float, expf)
LIBMVEC_LOOP(libmvec_logf, float, logf)
LIBMVEC_LOOP(libmvec_exp, double, exp)
LIBMVEC_LOOP(libmvec_log, double, log)

#ifdef __AVX2__
void sleef_expf(const float* x, float* y, size_t n) {
  for (size_t i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Sleef_expf8_u10avx2(_mm256_loadu_ps(x + i)));
}
void sleef_logf(const float* x, float* y, size_t n) {
  for (size_t i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Sleef_logf8_u10avx2(_mm256_loadu_ps(x + i)));
}
void sleef_log1pf(const float* x, float* y, size_t n) {
  for (size_t i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Sleef_log1pf8_u10avx2(_mm256_loadu_ps(x + i)));
}
void sleef_exp(const double* x, double* y, size_t n) {
  for (size_t i = 0; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, Sleef_expd4_u10avx2(_mm256_loadu_pd(x + i)));
}
void sleef_log(const double* x, double* y, size_t n) {
  for (size_t i = 0; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, Sleef_logd4_u10avx2(_mm256_loadu_pd(x + i)));
}
#endif

// Worst error in units of the result's last place, against a more precise reference.
template <typename T, typename Ref>
double max_ulps(const std::vector<T>& x, const std::vector<T>& y, Ref ref) {
  double worst = 0;
  for (size_t i = 0; i < x.size(); i += 97) {
    const long double r = ref(static_cast<long double>(x[i]));
    const T rt = static_cast<T>(r);
    const double ulp = std::nextafter(rt, std::numeric_limits<T>::infinity()) - rt;
    worst = std::max(worst, static_cast<double>(std::fabs(static_cast<long double>(y[i]) - r) / ulp));
  }
  return worst;
}

template <typename T, typename Ref>
void row(const char* what, const std::vector<T>& x, void (*sleef)(const T*, T*, size_t),
         void (*mvec)(const T*, T*, size_t), Ref ref) {
  std::vector<T> y(x.size());
  const double ts = best_seconds([&] { sleef(x.data(), y.data(), x.size()); });
  const double es = max_ulps(x, y, ref);
  double tm = 0, em = 0;
  if (mvec) {
    tm = best_seconds([&] { mvec(x.data(), y.data(), x.size()); });
    em = max_ulps(x, y, ref);
  }
  std::printf("%-14s sleef %7.2f ms (%.2f ulp)   libmvec %7.2f ms (%.2f ulp)   sleef/libmvec %.2f\n", what, ts * 1e3,
              es, tm * 1e3, em, mvec ? ts / tm : 0.0);
}

}  // namespace

int main() {
#ifndef __AVX2__
  std::puts("needs an AVX2 machine (-march=native)");
  return 0;
#else
  std::mt19937_64 gen(0);
  std::uniform_real_distribution<double> wide(-5, 5), positive(1e-3, 10);
  std::vector<float> xf(kN), pf(kN);
  std::vector<double> xd(kN), pd(kN);
  for (size_t i = 0; i < kN; ++i) {
    xd[i] = wide(gen), pd[i] = positive(gen);
    xf[i] = static_cast<float>(xd[i]), pf[i] = static_cast<float>(pd[i]);
  }
  std::printf("10M elements, one thread, best of 7\n");
  row<float>("expf", xf, sleef_expf, libmvec_expf, [](long double v) { return std::exp(v); });
  row<float>("logf", pf, sleef_logf, libmvec_logf, [](long double v) { return std::log(v); });
  row<float>("log1pf", pf, sleef_log1pf, nullptr, [](long double v) { return std::log1p(v); });
  row<double>("exp", xd, sleef_exp, libmvec_exp, [](long double v) { return std::exp(v); });
  row<double>("log", pd, sleef_log, libmvec_log, [](long double v) { return std::log(v); });
  std::printf("(libmvec has no log1p)\n");
  return 0;
#endif
}
