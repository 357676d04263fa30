// The one header of scalar formulas. Every elementwise kernel — the interpreter's precompiled
// loops, and later the generated C++ and CUDA — evaluates the expressions of scalar_table.def with
// these inline functions, so a formula is written exactly once.
//
// Semantics follow numpy: integer division and modulo round toward negative infinity and give 0
// when dividing by zero (instead of trapping); minimum/maximum propagate NaN.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace kiln::smath {

template <typename T>
inline constexpr bool kIsFloat = std::is_floating_point_v<T>;
template <typename T>
inline constexpr bool kIsSigned = std::is_signed_v<T> && !kIsFloat<T>;

template <typename T>
inline T kiln_int_div(T a, T b) {
  if constexpr (kIsFloat<T>) {
    if (b == 0) return a / b;
    T mod = std::fmod(a, b);
    T div = (a - mod) / b;
    if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;
    if (div == 0) return std::copysign(T(0), a / b);
    T floor_div = std::floor(div);
    if (div - floor_div > T(0.5)) floor_div += 1;
    return floor_div;
  } else if constexpr (std::is_same_v<T, bool>) {
    return b ? a : false;
  } else {
    if (b == 0) return 0;
    if constexpr (kIsSigned<T>) {
      if (b == -1) return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(a));  // wraps for INT_MIN
      T q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
      return q;
    } else {
      return a / b;
    }
  }
}

template <typename T>
inline T kiln_mod(T a, T b) {
  if constexpr (kIsFloat<T>) {
    if (b == 0) return std::fmod(a, b);  // NaN
    T r = std::fmod(a, b);
    if (r != 0) {
      if ((b < 0) != (r < 0)) r += b;
    } else {
      r = std::copysign(T(0), b);
    }
    return r;
  } else if constexpr (std::is_same_v<T, bool>) {
    return false;
  } else {
    if (b == 0) return 0;
    if constexpr (kIsSigned<T>) {
      if (b == -1) return 0;
      T r = a % b;
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      return r;
    } else {
      return a % b;
    }
  }
}

template <typename T>
inline T kiln_pow(T a, T b) {
  if constexpr (kIsFloat<T>) {
    return std::pow(a, b);
  } else if constexpr (std::is_same_v<T, bool>) {
    return a || !b;
  } else {
    if constexpr (kIsSigned<T>) {
      // A negative exponent truncates toward zero, as C integer arithmetic would.
      if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
    }
    using U = std::make_unsigned_t<T>;
    U base = static_cast<U>(a), result = 1;
    U e = static_cast<U>(b);
    while (e) {
      if (e & 1) result = static_cast<U>(result * base);
      base = static_cast<U>(base * base);
      e >>= 1;
    }
    return static_cast<T>(result);
  }
}

template <typename T>
inline T kiln_neg(T a) {
  if constexpr (std::is_same_v<T, bool>) {
    return a;
  } else if constexpr (std::is_unsigned_v<T>) {
    return static_cast<T>(0 - a);
  } else if constexpr (kIsSigned<T>) {
    return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(a));
  } else {
    return -a;
  }
}

template <typename T>
inline T kiln_abs(T a) {
  if constexpr (kIsFloat<T>) return std::fabs(a);
  else if constexpr (kIsSigned<T>) return a < 0 ? kiln_neg(a) : a;
  else return a;
}

template <typename T>
inline T kiln_sgn(T a) {
  if constexpr (kIsFloat<T>) {
    if (std::isnan(a)) return a;
    return static_cast<T>((a > 0) - (a < 0));
  } else if constexpr (kIsSigned<T>) {
    return static_cast<T>((a > 0) - (a < 0));
  } else {
    return static_cast<T>(a > 0);
  }
}

template <typename T>
inline T kiln_minimum(T a, T b) {
  if constexpr (kIsFloat<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return a < b ? a : b;
}

template <typename T>
inline T kiln_maximum(T a, T b) {
  if constexpr (kIsFloat<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return a > b ? a : b;
}

// clip(x, lo, hi): lo where x < lo, hi where x > hi, else x (NaN passes through).
template <typename T>
inline T kiln_clip(T x, T lo, T hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

template <typename T>
inline bool kiln_isnan(T a) {
  if constexpr (kIsFloat<T>) return std::isnan(a);
  else return false;
}

template <typename T>
inline bool kiln_isinf(T a) {
  if constexpr (kIsFloat<T>) return std::isinf(a);
  else return false;
}

template <typename T>
inline T kiln_invert(T a) {
  if constexpr (std::is_same_v<T, bool>) return !a;
  else return static_cast<T>(~a);
}

// 1 / (1 + exp(-x)) without overflow for large |x|.
template <typename T>
inline T kiln_sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

// log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).
template <typename T>
inline T kiln_softplus(T x) {
  if (std::isnan(x)) return x;
  return (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::fabs(x)));
}

template <typename T>
inline T kiln_gammaln(T x) {
  int sign;
  return static_cast<T>(::lgamma_r(static_cast<double>(x), &sign));
}

double ndtri_approx(double p);  // defined below

// Inverse of the standard normal CDF: Acklam's rational approximation (relative error 1.2e-9),
// refined by one Newton step on erfc so the result is accurate to double precision.
inline double kiln_ndtri(double p) {
  if (std::isnan(p) || p < 0 || p > 1) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  double x = ndtri_approx(p);
  // Newton on Phi(x) - p with Phi(x) = erfc(-x / sqrt2) / 2.
  double err = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
  if (pdf > 0) x -= err / pdf;
  return x;
}

inline double ndtri_approx(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double plow = 0.02425, phigh = 1 - plow;
  if (p < plow) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > phigh) {
    double q = std::sqrt(-2 * std::log1p(-p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// erfinv(y): Newton on erf near 0 (where 1 - y would lose the digits), the normal quantile elsewhere.
inline double kiln_erfinv_d(double y) {
  if (std::isnan(y) || y < -1 || y > 1) return std::numeric_limits<double>::quiet_NaN();
  if (y == 1) return std::numeric_limits<double>::infinity();
  if (y == -1) return -std::numeric_limits<double>::infinity();
  double ay = std::fabs(y), x;
  if (ay <= 0.5) {
    x = std::sqrt(M_PI) / 2 * (ay + M_PI / 12 * ay * ay * ay);
    for (int i = 0; i < 4; ++i) x -= (std::erf(x) - ay) / (2 / std::sqrt(M_PI) * std::exp(-x * x));
  } else {
    x = -kiln_ndtri((1 - ay) / 2) / std::sqrt(2.0);
    x -= (std::erfc(x) - (1 - ay)) / (-2 / std::sqrt(M_PI) * std::exp(-x * x));
  }
  return y < 0 ? -x : x;
}

// erfcinv(y) = erfinv(1 - y), computed from y directly in the tails so tiny y keeps its digits.
inline double kiln_erfcinv_d(double y) {
  if (std::isnan(y) || y < 0 || y > 2) return std::numeric_limits<double>::quiet_NaN();
  if (y == 0) return std::numeric_limits<double>::infinity();
  if (y == 2) return -std::numeric_limits<double>::infinity();
  if (y >= 0.5 && y <= 1.5) return kiln_erfinv_d(1 - y);
  double x = -kiln_ndtri(y / 2) / std::sqrt(2.0);
  x -= (std::erfc(x) - y) / (-2 / std::sqrt(M_PI) * std::exp(-x * x));
  return x;
}

template <typename T>
inline T kiln_erfinv(T y) { return static_cast<T>(kiln_erfinv_d(static_cast<double>(y))); }
template <typename T>
inline T kiln_erfcinv(T y) { return static_cast<T>(kiln_erfcinv_d(static_cast<double>(y))); }

// Digamma: reflection for negative x, recurrence up to x >= 10, then the asymptotic series.
inline double kiln_psi_d(double x) {
  if (std::isnan(x)) return x;
  if (x == 0) return std::copysign(std::numeric_limits<double>::infinity(), -x);
  if (x < 0) {
    if (x == std::floor(x)) return std::numeric_limits<double>::quiet_NaN();
    // tan has period pi: reducing x by the nearest integer first keeps the digits near the poles.
    return kiln_psi_d(1 - x) - M_PI / std::tan(M_PI * (x - std::round(x)));
  }
  if (std::isinf(x)) return x;
  double result = 0;
  while (x < 10) {  // the series below is accurate to double precision from 10 on
    result -= 1 / x;
    x += 1;
  }
  double f = 1 / (x * x);
  double series = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 + f * (-1.0 / 132 + f * (691.0 / 32760 - f / 12))))));
  return result + std::log(x) - 0.5 / x + series;
}

template <typename T>
inline T kiln_psi(T x) { return static_cast<T>(kiln_psi_d(static_cast<double>(x))); }

// Trigamma (the derivative of digamma): reflection for negative x, recurrence up to x >= 10, then
// the asymptotic series 1/x + 1/(2x^2) + sum B_2k / x^(2k+1).
inline double kiln_tri_gamma_d(double x) {
  if (std::isnan(x)) return x;
  if (x <= 0 && x == std::floor(x)) return std::numeric_limits<double>::infinity();
  if (x < 0) {
    double s = std::sin(M_PI * (x - std::round(x)));
    return M_PI * M_PI / (s * s) - kiln_tri_gamma_d(1 - x);
  }
  if (std::isinf(x)) return 0;
  double result = 0;
  while (x < 10) {
    result += 1 / (x * x);
    x += 1;
  }
  double f = 1 / (x * x);
  double series = 1 / x + f / 2 + f / x * (1.0 / 6 + f * (-1.0 / 30 + f * (1.0 / 42 + f * (-1.0 / 30 + f * (5.0 / 66 + f * (-691.0 / 2730 + f * 7.0 / 6))))));
  return result + series;
}

template <typename T>
inline T kiln_tri_gamma(T x) { return static_cast<T>(kiln_tri_gamma_d(static_cast<double>(x))); }

}  // namespace kiln::smath
