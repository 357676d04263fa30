// kiln._core._testing: ops that break the Op contract on purpose, for the tests of DebugMode.
#include "bind_common.hpp"
#include "kiln/debug/testing_ops.hpp"

namespace kiln::py {

void bind_testing(nb::module_& m) {
  nb::module_ t = m.def_submodule("_testing", "Test-only ops that break the Op contract on purpose.");
  t.def("broken_op", [](const std::string& flaw, nb::handle x) { return testing::broken_op(flaw, v(x)); },
        nb::arg("flaw"), nb::arg("x"));
  t.def(
      "composite_with_kernel_of",
      [](const std::vector<Var>& inputs, const Var& output, const Var& kernel_output) {
        return testing::composite_with_kernel_of(inputs, output, kernel_output);
      },
      nb::arg("inputs"), nb::arg("output"), nb::arg("kernel_output"));
  t.def("forget_interpreter_warnings", &testing::forget_interpreter_warnings);
}

}  // namespace kiln::py
