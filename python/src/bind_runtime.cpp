// numpy <-> kiln Array conversion (zero-copy both ways where the layout allows), and config.
#include <Python.h>

#include <nanobind/ndarray.h>

#include "bind_common.hpp"
#include "runtime/convert.hpp"

namespace kiln::py {
namespace {

// Process-lifetime references (never released: they must outlive interpreter shutdown).
nb::handle numpy() {
  static nb::handle np = nb::module_::import_("numpy").release();
  return np;
}

PyTypeObject* ndarray_type() {
  static PyTypeObject* t = reinterpret_cast<PyTypeObject*>(numpy().attr("ndarray").inc_ref().ptr());
  return t;
}

// The dtype of a buffer-protocol format string, if kiln supports it in native byte order.
std::optional<DType> dtype_from_format(const char* fmt, Py_ssize_t itemsize) {
  if (!fmt) return DType::UInt8;
  char order = '@';
  if (*fmt == '<' || *fmt == '>' || *fmt == '=' || *fmt == '@' || *fmt == '!') order = *fmt++;
  if (order == '>' || order == '!') return std::nullopt;  // big-endian: not native on our targets
  if (fmt[0] == 0 || fmt[1] != 0) return std::nullopt;
  switch (fmt[0]) {
    case '?': return DType::Bool;
    case 'b': case 'h': case 'i': case 'l': case 'q':
      switch (itemsize) {
        case 1: return DType::Int8;
        case 2: return DType::Int16;
        case 4: return DType::Int32;
        case 8: return DType::Int64;
      }
      return std::nullopt;
    case 'B': case 'H': case 'I': case 'L': case 'Q':
      switch (itemsize) {
        case 1: return DType::UInt8;
        case 2: return DType::UInt16;
        case 4: return DType::UInt32;
        case 8: return DType::UInt64;
      }
      return std::nullopt;
    case 'f': return DType::Float32;
    case 'd': return DType::Float64;
    default: return std::nullopt;
  }
}

struct BufferView {
  Py_buffer view{};
  bool acquired = false;
  ~BufferView() {
    if (!acquired) return;
    // The last reference may die on a thread that does not hold the GIL.
    PyGILState_STATE s = PyGILState_Ensure();
    PyBuffer_Release(&view);
    PyGILState_Release(s);
  }
};

// Wrap an ndarray's memory; nullopt when its layout or dtype needs a conversion first.
std::optional<Array> wrap_ndarray(nb::handle obj) {
  auto holder = std::make_shared<BufferView>();
  if (PyObject_GetBuffer(obj.ptr(), &holder->view, PyBUF_RECORDS_RO) != 0) {
    PyErr_Clear();
    return std::nullopt;
  }
  holder->acquired = true;
  Py_buffer& v = holder->view;
  std::optional<DType> dt = dtype_from_format(v.format, v.itemsize);
  if (!dt) return std::nullopt;
  Shape shape(v.shape, v.shape + v.ndim), strides(v.strides, v.strides + v.ndim);
  bool aligned = reinterpret_cast<uintptr_t>(v.buf) % v.itemsize == 0;
  for (int i = 0; i < v.ndim; ++i) aligned = aligned && (shape[i] <= 1 || strides[i] % v.itemsize == 0);
  if (!aligned) return std::nullopt;
  void* data = v.buf;
  auto buffer = Buffer::borrow(data, static_cast<size_t>(v.len), holder);
  return Array(*dt, std::move(shape), std::move(strides), std::move(buffer), 0);
}

template <typename T>
nb::object make_numpy(const Array& a) {
  auto* holder = new std::shared_ptr<Buffer>(a.buffer());
  nb::capsule owner(holder, [](void* p) noexcept { delete static_cast<std::shared_ptr<Buffer>*>(p); });
  std::vector<size_t> shape(a.shape().begin(), a.shape().end());
  std::vector<int64_t> strides;
  for (int64_t s : a.strides()) strides.push_back(s / static_cast<int64_t>(sizeof(T)));
  nb::ndarray<nb::numpy, T> arr(a.data(), a.ndim(), shape.data(), owner, strides.data());
  return arr.cast();
}

}  // namespace

Array array_from_python(nb::handle obj) {
  nb::object arr;
  if (PyObject_TypeCheck(obj.ptr(), ndarray_type())) {
    arr = nb::borrow(obj);
  } else {
    arr = numpy().attr("asarray")(obj);
  }
  if (auto a = wrap_ndarray(arr)) return *a;
  // Non-native byte order, unaligned memory or a dtype kiln lacks: let numpy convert it.
  nb::object dtype = arr.attr("dtype");
  std::string kind = nb::cast<std::string>(dtype.attr("kind"));
  KILN_USER_CHECK(kind == "b" || kind == "i" || kind == "u" || kind == "f", TypeError)
      << "kiln cannot use an array of dtype " << nb::cast<std::string>(nb::str(dtype))
      << ": expected bool, (u)int8-64, float32 or float64";
  // A fresh copy: numpy allocates it aligned and in native byte order.
  nb::object native = numpy().attr("array")(arr, nb::arg("dtype") = dtype.attr("newbyteorder")("="),
                                            nb::arg("copy") = true, nb::arg("order") = "C");
  auto a = wrap_ndarray(native);
  KILN_USER_CHECK(a.has_value(), TypeError)
      << "kiln cannot use an array of dtype " << nb::cast<std::string>(nb::str(dtype));
  return *a;
}

nb::object array_to_numpy(const Array& in) {
  Array a = in;
  // numpy must never see a broadcast view: writing to it would change several elements.
  for (int i = 0; i < a.ndim(); ++i)
    if (a.strides()[i] == 0 && a.shape()[i] > 1) {
      a = a.copy();
      break;
    }
  return detail::visit_dtype(a.dtype(), [&](auto v) { return make_numpy<decltype(v)>(a); });
}

DType dtype_from_python(nb::handle obj) {
  if (obj.is_none()) return floatX();
  if (nb::isinstance<nb::str>(obj)) {
    std::string s = nb::cast<std::string>(obj);
    if (s == "floatX") return floatX();
    return dtype_from_name(s);
  }
  // numpy dtypes, scalar types (np.float32) and Python types (float, int, bool).
  nb::object dt = numpy().attr("dtype")(obj);
  return dtype_from_name(nb::cast<std::string>(dt.attr("name")));
}

Axes axes_from_python(nb::handle obj) {
  if (obj.is_none()) return std::nullopt;
  if (PyLong_Check(obj.ptr()) || PyIndex_Check(obj.ptr())) return std::vector<int>{nb::cast<int>(obj)};
  std::vector<int> axes;
  for (nb::handle h : obj) axes.push_back(nb::cast<int>(h));
  return axes;
}

void bind_runtime(nb::module_& m) {
  m.def("config_get", [](const std::string& name) { return Config::get().value(name); });
  m.def("config_set", [](const std::string& name, const std::string& value) { Config::get().set(name, value); });
  m.def("config_describe", [] { return Config::get().describe(); });
  m.def("config_flags", [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& f : Config::get().flags()) out.emplace_back(f.name, f.doc);
    return out;
  });
  m.def("config_is_bool", [](const std::string& name) {
    for (const auto& f : Config::get().flags())
      if (f.name == name) return f.is_bool;
    return false;
  });
  m.def("config_reload", [] { Config::get().load_from_environment(); });
  m.def("config_apply_rc_text", [](const std::string& text) { Config::get().apply_rc_text(text, "<text>"); });
  m.def("config_apply_flags", [](const std::string& text) { Config::get().apply_flags_string(text); });
  // Round-trip a value through kiln's Array (used by tests of the zero-copy conversion).
  m.def("_roundtrip", [](nb::handle obj) { return array_to_numpy(array_from_python(obj)); });
  m.def("_shares_memory_with_input", [](nb::handle obj) {
    Array a = array_from_python(obj);
    return !a.buffer()->owned();
  });
}

}  // namespace kiln::py
