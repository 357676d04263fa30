// Small helpers shared by the C++ tests.
#pragma once

#include <functional>
#include <string>

#include "kiln/config.hpp"
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

/// Sets a config flag for the life of the object (e.g. optimizer_excluding=fusion, so a test sees
/// the nodes the rewrites made rather than the fused kernel).
class ScopedFlag {
 public:
  ScopedFlag(std::string name, const std::string& value) : name_(std::move(name)), saved_(Config::get().value(name_)) {
    Config::get().set(name_, value);
  }
  ~ScopedFlag() { Config::get().set(name_, saved_); }

 private:
  std::string name_, saved_;
};

}  // namespace kiln::test_util
