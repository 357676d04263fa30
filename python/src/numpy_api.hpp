// numpy's C API, for zero-copy array conversion. Only bind_runtime.cpp calls import_array
// (through init_numpy_api); other files include this with KILN_NUMPY_NO_IMPORT defined.
#pragma once

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL kiln_numpy_api
#ifdef KILN_NUMPY_NO_IMPORT
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>
