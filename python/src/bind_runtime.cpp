// numpy <-> kiln Array conversion (zero-copy both ways where the layout allows), and config.
#include <Python.h>

#include "bind_common.hpp"
#include "numpy_api.hpp"
#include "runtime/convert.hpp"

namespace kiln::py {
namespace {

// Process-lifetime references (never released: they must outlive interpreter shutdown).
nb::handle numpy() {
  static nb::handle np = nb::module_::import_("numpy").release();
  return np;
}

// numpy type numbers of kiln's dtypes, and back.
int npy_type_of(DType dt) {
  switch (dt) {
    case DType::Bool: return NPY_BOOL;
    case DType::Int8: return NPY_INT8;
    case DType::Int16: return NPY_INT16;
    case DType::Int32: return NPY_INT32;
    case DType::Int64: return NPY_INT64;
    case DType::UInt8: return NPY_UINT8;
    case DType::UInt16: return NPY_UINT16;
    case DType::UInt32: return NPY_UINT32;
    case DType::UInt64: return NPY_UINT64;
    case DType::Float16: return NPY_FLOAT16;
    case DType::Float32: return NPY_FLOAT32;
    case DType::Float64: return NPY_FLOAT64;
    case DType::Complex64: return NPY_COMPLEX64;
    case DType::Complex128: return NPY_COMPLEX128;
  }
  return NPY_NOTYPE;
}

std::optional<DType> dtype_of_npy(PyArray_Descr* descr) {
  if (!PyArray_ISNBO(descr->byteorder)) return std::nullopt;
  switch (descr->kind) {
    case 'b': return DType::Bool;
    case 'i':
    case 'u': {
      bool u = descr->kind == 'u';
      switch (PyDataType_ELSIZE(descr)) {
        case 1: return u ? DType::UInt8 : DType::Int8;
        case 2: return u ? DType::UInt16 : DType::Int16;
        case 4: return u ? DType::UInt32 : DType::Int32;
        case 8: return u ? DType::UInt64 : DType::Int64;
      }
      return std::nullopt;
    }
    case 'f':
      if (PyDataType_ELSIZE(descr) == 4) return DType::Float32;
      if (PyDataType_ELSIZE(descr) == 8) return DType::Float64;
      return std::nullopt;
    default: return std::nullopt;
  }
}

// Keeps a numpy array alive for as long as a kiln Buffer borrows its memory.
struct NumpyOwner {
  explicit NumpyOwner(PyObject* a) : array(a) { Py_INCREF(array); }
  NumpyOwner(const NumpyOwner&) = delete;
  NumpyOwner& operator=(const NumpyOwner&) = delete;
  PyObject* array;
  ~NumpyOwner() {
    // The last reference may die on a thread that does not hold the GIL.
    PyGILState_STATE s = PyGILState_Ensure();
    Py_DECREF(array);
    PyGILState_Release(s);
  }
};

// Wrap an ndarray's memory; nullopt when its layout or dtype needs a conversion first.
std::optional<Array> wrap_ndarray(PyObject* obj) {
  auto* arr = reinterpret_cast<PyArrayObject*>(obj);
  std::optional<DType> dt = dtype_of_npy(PyArray_DESCR(arr));
  if (!dt || !PyArray_ISALIGNED(arr)) return std::nullopt;
  const int nd = PyArray_NDIM(arr);
  Shape shape(PyArray_DIMS(arr), PyArray_DIMS(arr) + nd), strides(PyArray_STRIDES(arr), PyArray_STRIDES(arr) + nd);
  auto owner = std::make_shared<NumpyOwner>(obj);
  size_t nbytes = static_cast<size_t>(PyArray_NBYTES(arr));
  return Array(*dt, std::move(shape), std::move(strides), Buffer::borrow(PyArray_DATA(arr), nbytes, owner, PyArray_ISWRITEABLE(arr)), 0);
}

void release_buffer_capsule(PyObject* capsule) {
  delete static_cast<std::shared_ptr<Buffer>*>(PyCapsule_GetPointer(capsule, "kiln.Buffer"));
}

}  // namespace

Array array_from_python(nb::handle obj) {
  nb::object arr;
  if (PyArray_Check(obj.ptr())) {
    arr = nb::borrow(obj);
  } else {
    arr = numpy().attr("asarray")(obj);
  }
  if (auto a = wrap_ndarray(arr.ptr())) return *a;
  // Non-native byte order, unaligned memory or a dtype kiln lacks: let numpy convert it.
  nb::object dtype = arr.attr("dtype");
  std::string kind = nb::cast<std::string>(dtype.attr("kind"));
  KILN_USER_CHECK(kind == "b" || kind == "i" || kind == "u" || kind == "f", TypeError)
      << "kiln cannot use an array of dtype " << nb::cast<std::string>(nb::str(dtype))
      << ": expected bool, (u)int8-64, float32 or float64";
  // A fresh copy: numpy allocates it aligned and in native byte order.
  nb::object native = numpy().attr("array")(arr, nb::arg("dtype") = dtype.attr("newbyteorder")("="),
                                            nb::arg("copy") = true, nb::arg("order") = "C");
  auto a = wrap_ndarray(native.ptr());
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
  KILN_USER_CHECK(is_supported(a.dtype()), TypeError) << "cannot return an array of dtype " << dtype_name(a.dtype());
  npy_intp dims[NPY_MAXDIMS], strides[NPY_MAXDIMS];
  KILN_USER_CHECK(a.ndim() <= NPY_MAXDIMS, ValueError) << "numpy supports at most " << NPY_MAXDIMS << " dimensions";
  for (int i = 0; i < a.ndim(); ++i) {
    dims[i] = a.shape()[i];
    strides[i] = a.strides()[i];
  }
  PyObject* arr = PyArray_New(&PyArray_Type, a.ndim(), dims, npy_type_of(a.dtype()), strides, a.data(), 0,
                              NPY_ARRAY_WRITEABLE | NPY_ARRAY_ALIGNED, nullptr);
  if (!arr) throw nb::python_error();
  // numpy releases kiln's buffer through this capsule when the array dies.
  PyObject* capsule = PyCapsule_New(new std::shared_ptr<Buffer>(a.buffer()), "kiln.Buffer", &release_buffer_capsule);
  if (!capsule || PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(arr), capsule) != 0) {
    Py_XDECREF(capsule);
    Py_DECREF(arr);
    throw nb::python_error();
  }
  return nb::steal(arr);
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

void init_numpy_api() {
  if (_import_array() < 0) throw nb::python_error();
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
