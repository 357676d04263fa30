// Small helpers shared by the C++ tests.
#pragma once

#include <functional>

#include "kiln/error.hpp"

namespace kiln::test_util {

/// The kind of kiln::Error that `f` throws, or InternalError when it throws none.
inline ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::InternalError;
}

}  // namespace kiln::test_util
