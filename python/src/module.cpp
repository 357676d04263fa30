// kiln._core: the native module. Registers error translation, the user-location provider, and
// the bindings of each public header group.
#include <Python.h>
#include <frameobject.h>

#include "bind_common.hpp"

namespace kiln::py {
namespace {

std::string g_package_dir;  // frames from files under here are kiln's own, not the user's
PyObject* g_missing_input_error = nullptr;
PyObject* g_linalg_error = nullptr;  // numpy.linalg.LinAlgError (a ValueError), as numpy and Theano raise
PyObject* g_unused_input_error = nullptr;

// The innermost Python frame outside the kiln package, as "file:line".
std::string python_user_location() {
  if (!PyGILState_Check()) return {};
  PyFrameObject* frame = PyEval_GetFrame();
  if (frame) Py_INCREF(frame);
  std::string result;
  while (frame) {
    PyCodeObject* code = PyFrame_GetCode(frame);
    const char* file = PyUnicode_AsUTF8(code->co_filename);
    std::string path = file ? file : "";
    Py_DECREF(code);
    if (!path.empty() && (g_package_dir.empty() || path.rfind(g_package_dir, 0) != 0)) {
      result = path + ":" + std::to_string(PyFrame_GetLineNumber(frame));
      Py_DECREF(frame);
      break;
    }
    PyFrameObject* back = PyFrame_GetBack(frame);
    Py_DECREF(frame);
    frame = back;
  }
  if (PyErr_Occurred()) PyErr_Clear();
  return result;
}

PyObject* python_exception_type(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::TypeError: return PyExc_TypeError;
    case ErrorKind::ValueError: return PyExc_ValueError;
    case ErrorKind::IndexError: return PyExc_IndexError;
    case ErrorKind::NotImplementedError: return PyExc_NotImplementedError;
    case ErrorKind::MissingInputError: return g_missing_input_error;
    case ErrorKind::UnusedInputError: return g_unused_input_error;
    case ErrorKind::LinAlgError: return g_linalg_error;
    case ErrorKind::RuntimeError:
    case ErrorKind::InternalError: return PyExc_RuntimeError;
  }
  return PyExc_RuntimeError;
}

}  // namespace
}  // namespace kiln::py

NB_MODULE(_core, m) {
  using namespace kiln::py;
  m.doc() = "kiln's native core: graph, ops, compilation and runtime.";
  nb::object file = m.attr("__file__");
  std::string path = nb::cast<std::string>(file);
  g_package_dir = path.substr(0, path.find_last_of('/') + 1);
  kiln::set_location_provider(&python_user_location);
  kiln::Config::get();  // read ~/.kilnrc and KILN_FLAGS now, so a bad flag fails the import

  g_missing_input_error = PyErr_NewExceptionWithDoc(
      "kiln.MissingInputError", "A variable the outputs need was neither an input nor given a value.", nullptr, nullptr);
  g_unused_input_error = PyErr_NewExceptionWithDoc(
      "kiln.UnusedInputError", "function() was given an input the outputs do not depend on.", nullptr, nullptr);
  m.attr("MissingInputError") = nb::handle(g_missing_input_error);
  m.attr("UnusedInputError") = nb::handle(g_unused_input_error);
  g_linalg_error = nb::object(nb::module_::import_("numpy.linalg").attr("LinAlgError")).release().ptr();
  m.attr("LinAlgError") = nb::handle(g_linalg_error);
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const kiln::Error& e) {
      PyErr_SetString(python_exception_type(e.kind()), e.what());
    }
  });

  init_numpy_api();
  bind_runtime(m);
  bind_graph(m);
  bind_ops(m);
  bind_function(m);
  bind_shape_ops(m);
  bind_subtensor(m);
  bind_grad(m);
  bind_print(m);
  bind_linalg(m);
  bind_random(m);
  bind_conv(m);
  bind_control(m);
  bind_scan(m);
  bind_testing(m);
}
