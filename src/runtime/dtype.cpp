#include "kiln/runtime/dtype.hpp"

#include <array>

#include "kiln/error.hpp"

namespace kiln {
namespace {

struct DTypeInfo {
  std::string_view name;
  char kind;
  size_t size;
};

constexpr std::array<DTypeInfo, kNumDTypes> kInfo = {{
#define KILN_DTYPE_INFO(name, ctype, str, kind, size) {str, kind, size},
    KILN_DTYPES(KILN_DTYPE_INFO)
#undef KILN_DTYPE_INFO
}};

const DTypeInfo& info(DType dt) { return kInfo[static_cast<size_t>(dt)]; }

// Smallest signed integer that holds every value of an unsigned type of `size` bytes.
DType signed_holding_unsigned(size_t size) {
  switch (size) {
    case 1: return DType::Int16;
    case 2: return DType::Int32;
    case 4: return DType::Int64;
    default: return DType::Float64;  // numpy: int64 with uint64 goes to float64
  }
}

DType signed_of_size(size_t size) {
  switch (size) {
    case 1: return DType::Int8;
    case 2: return DType::Int16;
    case 4: return DType::Int32;
    default: return DType::Int64;
  }
}

DType unsigned_of_size(size_t size) {
  switch (size) {
    case 1: return DType::UInt8;
    case 2: return DType::UInt16;
    case 4: return DType::UInt32;
    default: return DType::UInt64;
  }
}

DType float_of_size(size_t size) {
  switch (size) {
    case 2: return DType::Float16;
    case 4: return DType::Float32;
    default: return DType::Float64;
  }
}

// The smallest float that holds every value of an integer of `size` bytes exactly (numpy's rule).
size_t float_size_for_int(size_t int_size) { return int_size <= 1 ? 2 : int_size == 2 ? 4 : 8; }

}  // namespace

std::string_view dtype_name(DType dt) { return info(dt).name; }
size_t dtype_size(DType dt) { return info(dt).size; }
char dtype_kind(DType dt) { return info(dt).kind; }

DType dtype_from_name(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (kInfo[i].name == name) return static_cast<DType>(i);
  KILN_THROW(TypeError) << "unknown dtype '" << name
                        << "': expected one of bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, "
                           "float32, float64";
}

DType promote(DType a, DType b) {
  if (a == b) return a;
  char ka = dtype_kind(a), kb = dtype_kind(b);
  size_t sa = dtype_size(a), sb = dtype_size(b);
  if (ka == 'b') return b;
  if (kb == 'b') return a;
  if (ka == 'c' || kb == 'c') {
    size_t need = std::max(ka == 'c' ? sa : (ka == 'f' ? 2 * sa : 2 * dtype_size(float_of_size(float_size_for_int(sa)))),
                           kb == 'c' ? sb : (kb == 'f' ? 2 * sb : 2 * dtype_size(float_of_size(float_size_for_int(sb)))));
    return need <= 8 ? DType::Complex64 : DType::Complex128;
  }
  if (ka == 'f' || kb == 'f') {
    size_t need = std::max(ka == 'f' ? sa : float_size_for_int(sa), kb == 'f' ? sb : float_size_for_int(sb));
    return float_of_size(need);
  }
  if (ka == kb) return ka == 'i' ? signed_of_size(std::max(sa, sb)) : unsigned_of_size(std::max(sa, sb));
  // One signed, one unsigned.
  size_t s_signed = ka == 'i' ? sa : sb;
  size_t s_unsigned = ka == 'u' ? sa : sb;
  if (s_signed > s_unsigned) return signed_of_size(s_signed);
  return signed_holding_unsigned(s_unsigned);
}

DType upgrade_to_float(DType dt) {
  if (is_float(dt) || is_complex(dt)) return dt;
  if (dt == DType::Bool || dtype_size(dt) <= 2) return DType::Float32;
  return DType::Float64;
}

bool can_cast_safely(DType from, DType to) { return promote(from, to) == to; }

}  // namespace kiln
