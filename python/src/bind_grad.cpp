// Bindings of symbolic differentiation (kiln.gradient): grad, Lop, Rop, jacobian, hessian, and
// the gradient gates.
#include "bind_common.hpp"

namespace kiln::py {
namespace {

std::vector<Var> var_list(nb::handle h) {
  std::vector<Var> out;
  if (h.is_none()) return out;
  if (nb::isinstance<nb::list>(h) || nb::isinstance<nb::tuple>(h)) {
    for (nb::handle e : h) out.push_back(v(e));
  } else {
    out.push_back(v(h));
  }
  return out;
}

}  // namespace

void bind_grad(nb::module_& m) {
  m.def("grad",
        [](nb::handle cost, nb::handle wrt, nb::handle consider_constant, const std::string& disconnected_inputs,
           nb::handle known_grads, const std::string& return_disconnected, const std::string& null_gradients) {
          GradOptions o;
          o.consider_constant = var_list(consider_constant);
          o.disconnected_inputs = disconnected_inputs;
          o.return_disconnected = return_disconnected;
          o.null_gradients = null_gradients;
          if (!known_grads.is_none())
            for (auto [k, g] : nb::cast<nb::dict>(known_grads)) o.known_grads.emplace_back(v(k), v(g));
          std::vector<std::string> warnings;
          auto grads = grad(cost.is_none() ? nullptr : v(cost), var_list(wrt), o, &warnings);
          return std::make_pair(grads, warnings);
        },
        nb::arg("cost").none(), nb::arg("wrt"), nb::arg("consider_constant").none(), nb::arg("disconnected_inputs"),
        nb::arg("known_grads").none(), nb::arg("return_disconnected"), nb::arg("null_gradients"));
  m.def("Lop", [](nb::handle f, nb::handle wrt, nb::handle eval_points, const std::string& disconnected_inputs) {
    GradOptions o;
    o.disconnected_inputs = disconnected_inputs;
    return Lop(var_list(f), var_list(wrt), var_list(eval_points), o);
  });
  m.def("Rop", [](nb::handle f, nb::handle wrt, nb::handle eval_points) {
    return Rop(var_list(f), var_list(wrt), var_list(eval_points));
  });
  m.def("jacobian", [](nb::handle expression, nb::handle wrt, const std::string& disconnected_inputs) {
    return jacobian(v(expression), var_list(wrt), disconnected_inputs);
  });
  m.def("hessian", [](nb::handle cost, nb::handle wrt, const std::string& disconnected_inputs) {
    return hessian(v(cost), var_list(wrt), disconnected_inputs);
  });
  m.def("zero_grad", [](nb::handle x) { return zero_grad(v(x)); });
  m.def("disconnected_grad", [](nb::handle x) { return disconnected_grad(v(x)); });
  m.def("grad_clip", [](nb::handle x, double lo, double hi) { return grad_clip(v(x), lo, hi); });
  m.def("grad_scale", [](nb::handle x, double mult) { return grad_scale(v(x), mult); });
  m.def("registered_op_kinds", [] {
    std::vector<std::pair<std::string, bool>> out;
    for (const auto& k : registered_op_kinds()) out.emplace_back(k.kind, k.differentiable);
    return out;
  });
  m.def("op_differentiable", [](const Var& out) { return out->owner() && out->owner()->op().differentiable(); });
}

}  // namespace kiln::py
