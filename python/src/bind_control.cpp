// Bindings of the control-flow ops: IfElse. The Python wrapper kiln/ifelse.py accepts single
// variables or lists for the branches, as Theano's ifelse does.
#include "bind_common.hpp"

namespace kiln::py {

void bind_control(nb::module_& m) {
  m.def("ifelse", [](nb::handle condition, const std::vector<Var>& then_branch, const std::vector<Var>& else_branch,
                     const std::string& name) { return ifelse(v(condition), then_branch, else_branch, name); },
        nb::arg("condition"), nb::arg("then_branch"), nb::arg("else_branch"), nb::arg("name") = "");
}

}  // namespace kiln::py
