// Strided element conversion between any two supported dtypes: the one place where values cross
// dtypes in the runtime (copies, astype, and the gather/scatter of the elementwise kernels).
#pragma once

#include <cstdint>

#include "kiln/runtime/dtype.hpp"

namespace kiln::detail {

/// Converts n elements: dst[i * dst_stride] = (To) src[i * src_stride] (strides in bytes).
using ConvertFn = void (*)(const char* src, int64_t src_stride, char* dst, int64_t dst_stride, int64_t n);

/// The conversion routine between two supported dtypes. Throws TypeError for unsupported ones.
ConvertFn convert_fn(DType from, DType to);

/// Dispatch helper: calls f(T{}) with the C++ type of a supported dtype.
template <typename F>
decltype(auto) visit_dtype(DType dt, F&& f) {
  switch (dt) {
    case DType::Bool: return f(bool{});
    case DType::Int8: return f(int8_t{});
    case DType::Int16: return f(int16_t{});
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::UInt8: return f(uint8_t{});
    case DType::UInt16: return f(uint16_t{});
    case DType::UInt32: return f(uint32_t{});
    case DType::UInt64: return f(uint64_t{});
    case DType::Float32: return f(float{});
    default: return f(double{});
  }
}

template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }
template <> constexpr DType dtype_of<int8_t>() { return DType::Int8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::Int16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::UInt16; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::UInt32; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::UInt64; }
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }

}  // namespace kiln::detail
