// Bindings of graph printing (kiln.printing): which objects can be printed is decided here, the
// printing itself is the core's.
#include "bind_common.hpp"

namespace kiln::py {
namespace {

// The variables printed for one object: a variable, or an Apply node's outputs.
bool append_printable(std::vector<Var>& out, nb::handle obj) {
  if (nb::isinstance<Variable>(obj)) {
    out.push_back(nb::cast<Var>(obj));
    return true;
  }
  if (nb::isinstance<Apply>(obj)) {
    for (const Var& v : nb::cast<const Apply&>(obj).outputs()) out.push_back(v);
    return true;
  }
  return false;
}

std::string debugprint_object(nb::handle obj, const DebugprintOptions& options) {
  if (const Function* fn = compiled_function(obj)) return debugprint(*fn, options);
  if (nb::isinstance<FunctionGraph>(obj)) return debugprint(nb::cast<const FunctionGraph&>(obj).outputs(), options);
  std::vector<Var> outputs;
  if (append_printable(outputs, obj)) return debugprint(outputs, options);
  KILN_USER_CHECK(nb::isinstance<nb::list>(obj) || nb::isinstance<nb::tuple>(obj), TypeError)
      << "debugprint: expected a variable, an Apply node, a compiled function, a FunctionGraph or a list of "
         "variables, got "
      << nb::type_name(obj.type()).c_str();
  std::string text;
  for (nb::handle item : obj) {
    if (const Function* fn = compiled_function(item)) {
      // Each function has its own ids and execution order: print the variables gathered so far first.
      if (!outputs.empty()) text += debugprint(outputs, options);
      outputs.clear();
      text += debugprint(*fn, options);
      continue;
    }
    KILN_USER_CHECK(append_printable(outputs, item), TypeError)
        << "debugprint: list items must be variables, Apply nodes or compiled functions, got "
        << nb::type_name(item.type()).c_str();
  }
  if (!outputs.empty()) text += debugprint(outputs, options);
  return text;
}

}  // namespace

void bind_print(nb::module_& m) {
  m.def("debugprint",
        [](nb::handle obj, int depth, bool print_type, const std::string& ids, bool stop_on_name, int max_indent) {
          DebugprintOptions options;
          options.depth = depth;
          options.print_type = print_type;
          options.ids = ids;
          options.stop_on_name = stop_on_name;
          options.max_indent = max_indent;
          return debugprint_object(obj, options);
        },
        nb::arg("obj"), nb::arg("depth") = -1, nb::arg("print_type") = false, nb::arg("ids") = "CHAR",
        nb::arg("stop_on_name") = false, nb::arg("max_indent") = 100);
  m.def("pprint", [](nb::handle v) { return pprint(as_tensor_variable(v)); }, nb::arg("var"));
}

}  // namespace kiln::py
