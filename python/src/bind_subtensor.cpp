// Bindings of the subtensor op family: Python index keys (ints, slices, None, Ellipsis, symbolic
// scalars, integer tensors, numpy arrays and lists) parsed into kiln::Index entries for getitem,
// and the set/inc and integer-array builders under Theano's names. Errors use numpy's types.
#include <Python.h>

#include "bind_common.hpp"

namespace kiln::py {
namespace {


// A numpy type object, kept for the life of the process (never released: the module may outlive
// any static destructor order).
PyObject* numpy_type(const char* name) {
  nb::object type = nb::module_::import_("numpy").attr(name);
  return type.release().ptr();
}

std::string py_type_name(nb::handle h) { return Py_TYPE(h.ptr())->tp_name; }

// Anything with __index__ (Python int, numpy integer scalars) as an int64.
int64_t index_int(nb::handle h) {
  nb::object i = nb::steal(PyNumber_Index(h.ptr()));
  if (!i.is_valid()) throw nb::python_error();
  int overflow = 0;
  long long value = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  KILN_USER_CHECK(!overflow, IndexError) << "cannot fit " << py_type_name(h) << " into an index-sized integer";
  return value;
}

IndexScalar slice_part(nb::handle h) {
  if (h.is_none()) return {};
  if (nb::isinstance<Variable>(h)) return IndexScalar(nb::cast<Var>(h));
  KILN_USER_CHECK(PyIndex_Check(h.ptr()), TypeError)
      << "slice indices must be integers or None or have an __index__ method, got " << py_type_name(h);
  return IndexScalar(index_int(h));
}

const char* const kMaskMessage =
    "boolean mask indexing is not supported yet: index with the integer positions instead (numpy.nonzero(mask))";

// A numpy array or a (nested) list/tuple used as an index.
Index array_entry(nb::handle h) {
  Array a = array_from_python(h);
  KILN_USER_CHECK(a.dtype() != DType::Bool, NotImplementedError) << kMaskMessage;
  if (a.size() == 0 && !is_integer(a.dtype())) a = a.astype(DType::Int64);  // numpy: x[[]] selects nothing
  KILN_USER_CHECK(is_integer(a.dtype()), IndexError)
      << "arrays used as indices must be of integer (or boolean) type, got " << dtype_name(a.dtype());
  if (a.ndim() == 0) return Index::at(Variable::constant(a.copy()));
  return Index::array(Variable::constant(a.copy()));
}

Index entry_from_python(nb::handle h) {
  static PyObject* const ndarray = numpy_type("ndarray");
  static PyObject* const numpy_bool = numpy_type("bool_");
  PyObject* p = h.ptr();
  if (p == Py_Ellipsis) return Index::ellipsis();
  if (h.is_none()) return Index::newaxis();
  if (PySlice_Check(p)) return Index::slice(slice_part(h.attr("start")), slice_part(h.attr("stop")), slice_part(h.attr("step")));
  if (nb::isinstance<Variable>(h)) {
    Var var = nb::cast<Var>(h);
    return var->ndim() == 0 ? Index::at(var) : Index::array(var);
  }
  KILN_USER_CHECK(!PyBool_Check(p) && PyObject_IsInstance(p, numpy_bool) != 1, NotImplementedError) << kMaskMessage;
  if (PyObject_IsInstance(p, ndarray) == 1 || PyList_Check(p) || PyTuple_Check(p)) return array_entry(h);
  if (PyIndex_Check(p)) return Index::at(index_int(h));
  KILN_THROW(IndexError) << "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or "
                            "boolean arrays are valid indices, got "
                         << py_type_name(h);
}

std::vector<Index> index_from_python(nb::handle key) {
  std::vector<Index> out;
  if (PyTuple_Check(key.ptr())) {
    for (nb::handle h : nb::borrow<nb::tuple>(key)) out.push_back(entry_from_python(h));
  } else {
    out.push_back(entry_from_python(key));
  }
  return out;
}

std::vector<Var> vars(nb::handle seq) {
  std::vector<Var> out;
  for (nb::handle h : seq) out.push_back(v(h));
  return out;
}

}  // namespace

void bind_subtensor(nb::module_& m) {
  m.def("getitem", [](const Var& x, nb::handle key) { return getitem(x, index_from_python(key)); }, nb::arg("x"),
        nb::arg("key").none());
  m.def("set_subtensor", [](nb::handle x, nb::handle y) { return set_subtensor(v(x), v(y)); }, nb::arg("x"),
        nb::arg("y"));
  m.def("inc_subtensor", [](nb::handle x, nb::handle y, bool set) { return inc_subtensor(v(x), v(y), set); },
        nb::arg("x"), nb::arg("y"), nb::arg("set_instead_of_inc") = false);
  m.def("advanced_subtensor1", [](nb::handle x, nb::handle i) { return advanced_subtensor1(v(x), v(i)); },
        nb::arg("x"), nb::arg("ilist"));
  m.def("advanced_subtensor", [](nb::handle x, nb::handle idx) { return advanced_subtensor(v(x), vars(idx)); },
        nb::arg("x"), nb::arg("indices"));
  m.def("advanced_inc_subtensor1",
        [](nb::handle x, nb::handle y, nb::handle i) { return advanced_inc_subtensor1(v(x), v(y), v(i)); },
        nb::arg("x"), nb::arg("y"), nb::arg("ilist"));
  m.def("advanced_set_subtensor1",
        [](nb::handle x, nb::handle y, nb::handle i) { return advanced_set_subtensor1(v(x), v(y), v(i)); },
        nb::arg("x"), nb::arg("y"), nb::arg("ilist"));
  m.def("advanced_inc_subtensor",
        [](nb::handle x, nb::handle y, nb::handle idx) { return advanced_inc_subtensor(v(x), v(y), vars(idx)); },
        nb::arg("x"), nb::arg("y"), nb::arg("indices"));
  m.def("advanced_set_subtensor",
        [](nb::handle x, nb::handle y, nb::handle idx) { return advanced_set_subtensor(v(x), v(y), vars(idx)); },
        nb::arg("x"), nb::arg("y"), nb::arg("indices"));
  m.def("take", [](nb::handle a, nb::handle i, std::optional<int> axis) { return take(v(a), v(i), axis); },
        nb::arg("a"), nb::arg("indices"), nb::arg("axis") = nb::none());
}

}  // namespace kiln::py
