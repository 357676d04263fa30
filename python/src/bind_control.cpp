// Bindings of the control-flow ops: IfElse and OpFromGraph. The Python wrappers kiln/ifelse.py and
// kiln/compile/builders.py add Theano's spellings (a variable or a list per branch; the forms of
// the gradient overrides).
#include <Python.h>

#include "bind_common.hpp"

namespace kiln::py {
namespace {

// A Python callable kept by a C++ op: called and released with the GIL held.
class PythonCallable {
 public:
  explicit PythonCallable(nb::object f) : f_(std::move(f)) {}
  ~PythonCallable() {
    if (!Py_IsInitialized()) {
      f_.release();  // the interpreter is gone: nothing to release
      return;
    }
    nb::gil_scoped_acquire gil;
    f_.reset();
  }
  template <typename... Args>
  std::vector<Var> operator()(Args&&... args) const {
    nb::gil_scoped_acquire gil;
    nb::object result = f_(std::forward<Args>(args)...);
    return nb::cast<std::vector<Var>>(result);
  }

 private:
  nb::object f_;
};

nb::object python_op(const OpFromGraph& op) {
  return nb::cast(std::const_pointer_cast<OpFromGraph>(op.shared_from_this()));
}

OpFromGraphOptions op_from_graph_options(bool inline_graph, const std::string& name, nb::object lop, nb::object rop,
                                         const std::string& mode) {
  OpFromGraphOptions options;
  options.inline_graph = inline_graph;
  options.name = name;
  options.mode = mode;
  if (!lop.is_none()) {
    auto f = std::make_shared<PythonCallable>(std::move(lop));
    options.lop_override = [f](const OpFromGraph& op, const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                               const std::vector<Var>& grads) { return (*f)(python_op(op), inputs, outputs, grads); };
  }
  if (!rop.is_none()) {
    auto f = std::make_shared<PythonCallable>(std::move(rop));
    options.rop_override = [f](const OpFromGraph& op, const std::vector<Var>& inputs,
                               const std::vector<Var>& eval_points) { return (*f)(python_op(op), inputs, eval_points); };
  }
  return options;
}

}  // namespace

void bind_control(nb::module_& m) {
  m.def("ifelse", [](nb::handle condition, const std::vector<Var>& then_branch, const std::vector<Var>& else_branch,
                     const std::string& name) { return ifelse(v(condition), then_branch, else_branch, name); },
        nb::arg("condition"), nb::arg("then_branch"), nb::arg("else_branch"), nb::arg("name") = "");

  nb::class_<OpFromGraph, Op>(m, "OpFromGraph")
      .def_static("create", [](const std::vector<Var>& inputs, const std::vector<Var>& outputs, bool inline_graph,
                               const std::string& name, nb::object lop, nb::object rop, const std::string& mode) {
        return std::const_pointer_cast<OpFromGraph>(OpFromGraph::create(
            inputs, outputs, op_from_graph_options(inline_graph, name, std::move(lop), std::move(rop), mode)));
      }, nb::arg("inputs"), nb::arg("outputs"), nb::arg("inline_graph") = false, nb::arg("name") = "",
         nb::arg("lop") = nb::none(), nb::arg("rop") = nb::none(), nb::arg("mode") = "")
      .def_prop_ro("mode", &OpFromGraph::mode)
      .def("apply", [](const OpFromGraph& op, nb::handle inputs) {
        std::vector<Var> vars;
        for (nb::handle h : inputs) vars.push_back(v(h));
        return op(vars);
      }, nb::arg("inputs"))
      .def("expand", &OpFromGraph::expand, nb::arg("inputs"))
      .def("default_lop", &OpFromGraph::default_lop, nb::arg("inputs"), nb::arg("output_grads"))
      .def("default_rop", &OpFromGraph::default_rop, nb::arg("inputs"), nb::arg("eval_points"))
      .def_prop_ro("inline_graph", &OpFromGraph::inline_graph)
      .def_prop_ro("num_explicit_inputs", &OpFromGraph::num_explicit_inputs)
      .def_prop_ro("shared_inputs", &OpFromGraph::shared_inputs)
      .def_prop_ro("inner_inputs", &OpFromGraph::inner_inputs)
      .def_prop_ro("inner_outputs", &OpFromGraph::inner_outputs);
}

}  // namespace kiln::py
