// How printed graphs show constant values: Python's literals, so that printed formulas read as the
// code that built them.
#include <charconv>
#include <cmath>
#include <cstring>

#include "kiln/print/printing.hpp"

namespace kiln {
namespace {

// Python's repr of a float: the shortest digits that round-trip, in positional notation when the
// decimal exponent is in [-4, 16), else scientific with a two-digit exponent ("1e-05", "1e+16").
template <typename F>
std::string python_float_str(F v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e+02": sign, digits with one '.', exponent
  size_t e_pos = sci.find('e');
  int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string sign = sci[0] == '-' ? "-" : "";
  std::string digits;
  for (size_t i = sign.size(); i < e_pos; ++i)
    if (sci[i] != '.') digits += sci[i];
  if (exponent < -4 || exponent >= 16) {
    std::string mant = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
    std::string exp_digits = std::to_string(std::abs(exponent));
    if (exp_digits.size() < 2) exp_digits = "0" + exp_digits;
    return sign + mant + (exponent < 0 ? "e-" : "e+") + exp_digits;
  }
  if (exponent < 0) return sign + "0." + std::string(-exponent - 1, '0') + digits;
  size_t int_len = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_len) return sign + digits + std::string(int_len - digits.size(), '0') + ".0";
  return sign + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

std::string element_str(const Array& a, int64_t i) {
  DType dt = a.dtype();
  if (dt == DType::Bool) return a.item_as_int(i) ? "True" : "False";
  if (dt == DType::UInt64) {
    uint64_t u;
    std::memcpy(&u, a.data() + a.byte_offset_of(i), sizeof u);
    return std::to_string(u);
  }
  if (is_integer(dt)) return std::to_string(a.item_as_int(i));
  if (is_complex(dt)) return "<" + std::string(dtype_name(dt)) + ">";  // no kernels read them yet
  if (dt == DType::Float64) return python_float_str(a.item_as_double(i));
  return python_float_str(static_cast<float>(a.item_as_double(i)));
}

std::string shape_tuple_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Elements [from, to) of the nested lists in C order ([[1, 2], [3, 4]]), with the brackets that
// open and close at them.
std::string nested_list_str(const Array& a, int64_t from, int64_t to) {
  std::string s;
  const Shape& shape = a.shape();
  for (int64_t i = from; i < to; ++i) {
    int64_t stride = 1;
    for (int d = a.ndim() - 1; d >= 0; --d) {  // one '[' per axis starting at this element
      if (i % (stride * shape[d]) != 0) break;
      s += '[';
      stride *= shape[d];
    }
    s += element_str(a, i);
    stride = 1;
    for (int d = a.ndim() - 1; d >= 0; --d) {  // one ']' per axis ending at this element
      stride *= shape[d];
      if ((i + 1) % stride != 0) break;
      s += ']';
    }
    if (i + 1 < a.size()) s += ", ";
  }
  return s;
}

bool all_elements_equal(const Array& a) {
  const size_t item = a.itemsize();
  const char* first = a.data() + a.byte_offset_of(0);
  for (int64_t i = 1; i < a.size(); ++i)
    if (std::memcmp(first, a.data() + a.byte_offset_of(i), item) != 0) return false;
  return true;
}

}  // namespace

std::string constant_value_str(const Array& value) {
  const int64_t n = value.size();
  if (n == 1) return element_str(value, 0);
  if (n == 0) return "[]";
  if (all_elements_equal(value)) return shape_tuple_str(value.shape()) + " of " + element_str(value, 0);
  // Long values keep their first and last three elements, as numpy summarizes, so that each node
  // stays one short line.
  if (n <= 16) {
    std::string full = nested_list_str(value, 0, n);
    if (n <= 6 || full.size() <= 40) return full;
  }
  return nested_list_str(value, 0, 3) + "..., " + nested_list_str(value, n - 3, n);
}

}  // namespace kiln
