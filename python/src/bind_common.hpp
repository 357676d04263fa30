// Shared helpers of the Python bindings: conversion between Python objects and kiln values.
// Everything here only converts; graph logic stays in the C++ core.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "kiln/kiln.hpp"

namespace nb = nanobind;

namespace kiln::py {

/// A numpy array (or anything np.asarray accepts) as a kiln Array. numpy arrays of native byte
/// order and aligned elements are wrapped without copying (the Array keeps the numpy object
/// alive); others are converted with numpy first.
Array array_from_python(nb::handle obj);
/// A kiln Array as a numpy array that owns (shares) kiln's buffer: no copy.
nb::object array_to_numpy(const Array& a);
/// Theano's as_tensor_variable: Variables pass through; Python int/float become weak constants
/// typed as Theano's autocast does; numpy values and lists become constants of their dtype.
Var as_tensor_variable(nb::handle obj);
/// A dtype from a string ('float32', 'floatX'), a numpy dtype or a numpy scalar type.
DType dtype_from_python(nb::handle obj);
/// Short spelling of as_tensor_variable for the builder bindings.
inline Var v(nb::handle h) { return as_tensor_variable(h); }
/// None -> std::nullopt, else the dtype.
inline std::optional<DType> opt_dtype(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return dtype_from_python(h);
}
/// None -> all axes; an int or a sequence of ints.
Axes axes_from_python(nb::handle obj);

/// The compiled Function inside a kiln Function object (bind_function.cpp), or nullptr when `obj`
/// is something else.
const Function* compiled_function(nb::handle obj);

/// Load numpy's C API; called once when kiln._core is imported.
void init_numpy_api();
void bind_runtime(nb::module_& m);
void bind_graph(nb::module_& m);
void bind_ops(nb::module_& m);
void bind_function(nb::module_& m);
void bind_shape_ops(nb::module_& m);  // bind_shape.cpp
void bind_subtensor(nb::module_& m);  // bind_subtensor.cpp
void bind_grad(nb::module_& m);       // bind_grad.cpp
void bind_print(nb::module_& m);      // bind_print.cpp
void bind_linalg(nb::module_& m);     // bind_linalg.cpp
void bind_random(nb::module_& m);     // bind_random.cpp
void bind_conv(nb::module_& m);       // bind_conv.cpp
void bind_control(nb::module_& m);    // bind_control.cpp
void bind_scan(nb::module_& m);       // bind_scan.cpp
void bind_testing(nb::module_& m);    // bind_testing.cpp

}  // namespace kiln::py
