// Element types of kiln arrays and the promotion rules between them.
//
// The list is an X-macro so that every table indexed by DType (names, sizes, numpy codes, kernel
// dispatch) is generated from one place. float16 and the complex types have their slots reserved:
// they parse and print, but no kernel accepts them yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

// X(enum name, C++ type, numpy name, kind char, size in bytes)
#define KILN_DTYPES(X)                    \
  X(Bool, bool, "bool", 'b', 1)           \
  X(Int8, int8_t, "int8", 'i', 1)         \
  X(Int16, int16_t, "int16", 'i', 2)      \
  X(Int32, int32_t, "int32", 'i', 4)      \
  X(Int64, int64_t, "int64", 'i', 8)      \
  X(UInt8, uint8_t, "uint8", 'u', 1)      \
  X(UInt16, uint16_t, "uint16", 'u', 2)   \
  X(UInt32, uint32_t, "uint32", 'u', 4)   \
  X(UInt64, uint64_t, "uint64", 'u', 8)   \
  X(Float16, uint16_t, "float16", 'f', 2) \
  X(Float32, float, "float32", 'f', 4)    \
  X(Float64, double, "float64", 'f', 8)   \
  X(Complex64, void, "complex64", 'c', 8) \
  X(Complex128, void, "complex128", 'c', 16)

enum class DType : uint8_t {
#define KILN_DTYPE_ENUM(name, ctype, str, kind, size) name,
  KILN_DTYPES(KILN_DTYPE_ENUM)
#undef KILN_DTYPE_ENUM
};

inline constexpr int kNumDTypes = 14;

/// "float32", "int64", ...: numpy's name of the dtype.
std::string_view dtype_name(DType dt);
/// Size of one element in bytes.
size_t dtype_size(DType dt);
/// numpy's kind character: 'b' bool, 'i' signed, 'u' unsigned, 'f' float, 'c' complex.
char dtype_kind(DType dt);
/// Parse a numpy dtype name ("float32", "int8", also "floatX" is not resolved here). Throws TypeError.
DType dtype_from_name(std::string_view name);

inline bool is_float(DType dt) { return dtype_kind(dt) == 'f'; }
inline bool is_complex(DType dt) { return dtype_kind(dt) == 'c'; }
inline bool is_signed_int(DType dt) { return dtype_kind(dt) == 'i'; }
inline bool is_unsigned_int(DType dt) { return dtype_kind(dt) == 'u'; }
inline bool is_integer(DType dt) { return is_signed_int(dt) || is_unsigned_int(dt); }
/// bool or integer: the "discrete" dtypes of Theano.
inline bool is_discrete(DType dt) { return dt == DType::Bool || is_integer(dt); }
/// Whether kernels exist for the dtype (float16 and complex are reserved).
inline bool is_supported(DType dt) { return dt != DType::Float16 && !is_complex(dt); }

/// numpy's type promotion of two dtypes (np.result_type on arrays): int32 + float32 -> float64,
/// int64 + uint64 -> float64, bool + int8 -> int8.
DType promote(DType a, DType b);

/// Theano's upgrade_to_float: the float dtype a transcendental function of `dt` returns
/// (bool, 8- and 16-bit ints -> float32; wider ints -> float64; floats unchanged).
DType upgrade_to_float(DType dt);

/// Whether every value of `from` is representable in `to` (numpy's can_cast with 'safe').
bool can_cast_safely(DType from, DType to);

}  // namespace kiln
