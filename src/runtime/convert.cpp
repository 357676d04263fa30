#include "runtime/convert.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kiln/error.hpp"

namespace kiln::detail {
namespace {

// Float -> integer conversion of NaN/inf/out-of-range values is undefined in C++; numpy gives an
// unspecified value. We saturate (NaN -> 0) so the result is at least deterministic.
template <typename To, typename From>
inline To convert_value(From v) {
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To> && !std::is_same_v<To, bool>) {
    if (std::isnan(v)) return 0;
    if (v <= static_cast<From>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

template <typename From, typename To>
void convert_run(const char* src, int64_t ss, char* dst, int64_t ds, int64_t n) {
  if constexpr (std::is_same_v<From, To>) {
    if (ss == static_cast<int64_t>(sizeof(From)) && ds == static_cast<int64_t>(sizeof(To))) {
      std::memcpy(dst, src, n * sizeof(To));
      return;
    }
  }
  if (ss == static_cast<int64_t>(sizeof(From)) && ds == static_cast<int64_t>(sizeof(To))) {
    const From* s = reinterpret_cast<const From*>(src);
    To* d = reinterpret_cast<To*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = convert_value<To>(s[i]);
    return;
  }
  // Strided: kiln arrays are aligned to their element size (unaligned numpy arrays are copied
  // on the way in), so typed loads and stores are safe.
  if (ss == 0) {
    const To v = convert_value<To>(*reinterpret_cast<const From*>(src));
    for (int64_t i = 0; i < n; ++i) *reinterpret_cast<To*>(dst + i * ds) = v;
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    *reinterpret_cast<To*>(dst + i * ds) = convert_value<To>(*reinterpret_cast<const From*>(src + i * ss));
}

}  // namespace

ConvertFn convert_fn(DType from, DType to) {
  KILN_USER_CHECK(is_supported(from) && is_supported(to), TypeError)
      << "conversion from " << dtype_name(from) << " to " << dtype_name(to) << " is not supported yet";
  return visit_dtype(from, [&](auto f) {
    using From = decltype(f);
    return visit_dtype(to, [&](auto t) -> ConvertFn {
      using To = decltype(t);
      return &convert_run<From, To>;
    });
  });
}

}  // namespace kiln::detail
