// Reverse mode (grad, Lop) and forward mode (Rop) over a topological order of the graph.
#include "kiln/grad/grad.hpp"

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "kiln/config.hpp"
#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/shape_impl.hpp"

namespace kiln {
namespace {

using VarSet = std::unordered_set<const Variable*>;

// Variables that depend on any of `wrt` along paths not cut by `blocked`.
VarSet dependents(const std::vector<Apply*>& order, const std::vector<Var>& wrt, const VarSet& blocked) {
  VarSet dep;
  for (const Var& w : wrt)
    if (!blocked.count(w.get())) dep.insert(w.get());
  for (Apply* node : order) {
    bool any = false;
    for (const Var& in : node->inputs()) any = any || dep.count(in.get());
    if (!any) continue;
    for (size_t i = 0; i < node->num_outputs(); ++i) {
      const Variable* out = node->output_ptr(static_cast<int>(i));
      if (!blocked.count(out)) dep.insert(out);
    }
  }
  return dep;
}

DType grad_dtype(const Variable& v) { return is_float(v.dtype()) ? v.dtype() : floatX(); }

// Check and normalise what an op's L_op returned for input `i`.
Var checked_input_grad(const Apply& node, size_t i, Var g) {
  if (!g) return g;
  const Var& in = node.input(static_cast<int>(i));
  KILN_ASSERT(g->ndim() == in->ndim()) << node.op().name() << ".L_op returned a gradient of rank " << g->ndim()
                                       << " for input " << i << " of rank " << in->ndim();
  // Sum over axes the input has of static size 1 but the gradient does not, and cast: every
  // gradient then has its input's exact static type, which ops further back rely on.
  return is_float(in->dtype()) ? detail::fit_to_input(g, in) : g;
}

void add_term(std::unordered_map<const Variable*, Var>& grads, const Variable* v, const Var& g) {
  auto [it, inserted] = grads.emplace(v, g);
  if (!inserted) it->second = add(it->second, g);
}

// The backward pass: gradients of the seeds (variable -> its gradient) with respect to every
// variable that lies between `wrt` and the seeds.
std::unordered_map<const Variable*, Var> backward(const std::vector<std::pair<Var, Var>>& seeds,
                                                  const std::vector<Var>& wrt, const VarSet& blocked) {
  std::vector<Var> roots;
  for (const auto& s : seeds) roots.push_back(s.first);
  std::vector<Apply*> order = toposort(roots);
  VarSet dep = dependents(order, wrt, blocked);
  std::unordered_map<const Variable*, Var> grads;
  for (const auto& [v, g] : seeds)
    if (dep.count(v.get())) add_term(grads, v.get(), g);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Apply* node = *it;
    std::vector<Var> out_grads;
    bool any = false;
    for (size_t i = 0; i < node->num_outputs(); ++i) {
      const Variable* out = node->output_ptr(static_cast<int>(i));
      auto g = grads.find(out);
      any = any || g != grads.end();
      Var v = node->output(static_cast<int>(i));
      out_grads.push_back(g != grads.end() ? g->second : zeros_like(v, grad_dtype(*v)));
    }
    if (!any) continue;
    bool needed = false;
    for (const Var& in : node->inputs()) needed = needed || dep.count(in.get());
    if (!needed) continue;
    std::vector<Var> in_grads = node->op().L_op(*node, out_grads);
    KILN_ASSERT(in_grads.size() == node->inputs().size())
        << node->op().name() << ".L_op returned " << in_grads.size() << " gradients for " << node->inputs().size()
        << " inputs";
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Variable* in = node->input(static_cast<int>(i)).get();
      if (!dep.count(in)) continue;
      Var g = checked_input_grad(*node, i, in_grads[i]);
      if (g) add_term(grads, in, g);
    }
  }
  return grads;
}

void check_choice(const std::string& value, std::initializer_list<const char*> allowed, const char* what) {
  for (const char* a : allowed)
    if (value == a) return;
  Error e(ErrorKind::ValueError);
  e << "grad: invalid " << what << " '" << value << "': expected one of";
  for (const char* a : allowed) e << " '" << a << "'";
  throw e;
}

}  // namespace

std::vector<Var> grad(const Var& cost, const std::vector<Var>& wrt, const GradOptions& options,
                      std::vector<std::string>* warnings) {
  check_choice(options.disconnected_inputs, {"raise", "warn", "ignore"}, "disconnected_inputs");
  check_choice(options.return_disconnected, {"zero", "None", "Disconnected"}, "return_disconnected");
  check_choice(options.null_gradients, {"raise", "return"}, "null_gradients");
  KILN_USER_CHECK(cost || !options.known_grads.empty(), TypeError) << "grad: cost is None and no known_grads given";
  std::vector<std::pair<Var, Var>> seeds;
  if (cost) {
    KILN_USER_CHECK(cost->ndim() == 0, TypeError)
        << "grad: the cost must be a scalar, but " << cost->label() << " has type " << cost->type().str()
        << "; use T.sum or T.mean on it, or Lop / jacobian for a non-scalar expression";
    seeds.emplace_back(cost, ones_like(cost, grad_dtype(*cost)));
  }
  for (const auto& [v, g] : options.known_grads) {
    KILN_USER_CHECK(v && g, TypeError) << "grad: known_grads has a null entry";
    KILN_USER_CHECK(g->ndim() == v->ndim(), TypeError)
        << "grad: the known gradient of " << v->label() << " has rank " << g->ndim() << " but the variable has rank "
        << v->ndim();
    seeds.emplace_back(v, g);
  }
  for (size_t i = 0; i < wrt.size(); ++i) KILN_USER_CHECK(wrt[i] != nullptr, TypeError) << "grad: wrt " << i << " is null";
  VarSet blocked;
  for (const Var& c : options.consider_constant) blocked.insert(c.get());

  auto grads = backward(seeds, wrt, blocked);
  std::vector<Var> result;
  for (const Var& w : wrt) {
    auto it = grads.find(w.get());
    Var g = it == grads.end() ? nullptr : it->second;
    if (!g) {
      std::string msg = "grad method was asked to compute the gradient with respect to a variable that is not part "
                        "of the computational graph of the cost, or is used only by a non-differentiable operator: " +
                        w->label() + (w->source_location().empty() ? "" : " (created at " + w->source_location() + ")");
      if (options.disconnected_inputs == "raise") KILN_THROW(ValueError) << msg;
      if (options.disconnected_inputs == "warn" && warnings) warnings->push_back(msg);
      result.push_back(options.return_disconnected == "zero" ? zeros_like(w, grad_dtype(*w)) : nullptr);
      continue;
    }
    std::string reason;
    if (options.null_gradients == "raise" && contains_undefined_grad(g, &reason))
      KILN_THROW(TypeError) << "grad: the gradient with respect to " << w->label() << " is undefined: " << reason;
    if (is_float(w->dtype()) && g->dtype() != w->dtype()) g = cast(g, w->dtype());
    result.push_back(g);
  }
  return result;
}

Var grad(const Var& cost, const Var& wrt, const GradOptions& options) { return grad(cost, std::vector<Var>{wrt}, options)[0]; }

std::vector<Var> Lop(const std::vector<Var>& f, const std::vector<Var>& wrt, const std::vector<Var>& eval_points,
                     const GradOptions& options) {
  KILN_USER_CHECK(f.size() == eval_points.size(), ValueError)
      << "Lop: " << f.size() << " expressions but " << eval_points.size() << " eval points";
  GradOptions o = options;
  for (size_t i = 0; i < f.size(); ++i) {
    KILN_USER_CHECK(f[i] && eval_points[i] && f[i]->ndim() == eval_points[i]->ndim(), TypeError)
        << "Lop: eval point " << i << " must have the rank of " << (f[i] ? f[i]->label() : "its expression");
    o.known_grads.emplace_back(f[i], eval_points[i]);
  }
  return grad(nullptr, wrt, o);
}

std::vector<Var> Rop(const std::vector<Var>& f, const std::vector<Var>& wrt, const std::vector<Var>& eval_points) {
  KILN_USER_CHECK(wrt.size() == eval_points.size(), ValueError)
      << "Rop: " << wrt.size() << " variables but " << eval_points.size() << " eval points";
  std::unordered_map<const Variable*, Var> tangent;
  for (size_t i = 0; i < wrt.size(); ++i) {
    KILN_USER_CHECK(wrt[i] && eval_points[i], TypeError) << "Rop: null variable or eval point " << i;
    KILN_USER_CHECK(wrt[i]->ndim() == eval_points[i]->ndim(), TypeError)
        << "Rop: eval point " << i << " has rank " << eval_points[i]->ndim() << " but " << wrt[i]->label()
        << " has rank " << wrt[i]->ndim();
    // An eval point less constrained than its variable (a matrix for a row) is brought to its type.
    tangent[wrt[i].get()] = is_float(wrt[i]->dtype()) ? detail::fit_to_input(eval_points[i], wrt[i]) : eval_points[i];
  }
  for (Apply* node : toposort(f)) {
    std::vector<Var> ev;
    bool any = false;
    for (const Var& in : node->inputs()) {
      auto it = tangent.find(in.get());
      ev.push_back(it == tangent.end() ? nullptr : it->second);
      any = any || ev.back();
    }
    bool float_output = false;
    for (size_t j = 0; j < node->num_outputs(); ++j) float_output = float_output || !is_discrete(node->output_ptr(static_cast<int>(j))->dtype());
    if (!any || !float_output) continue;  // integer-valued outputs have no tangent
    std::vector<Var> outs = node->op().R_op(*node, ev);
    KILN_ASSERT(outs.size() == node->num_outputs()) << node->op().name() << ".R_op returned " << outs.size() << " values";
    for (size_t j = 0; j < outs.size(); ++j) {
      if (!outs[j]) continue;
      Var o = node->output(static_cast<int>(j));
      Var t = outs[j];
      if (is_float(o->dtype()) && t->dtype() != o->dtype()) t = cast(t, o->dtype());
      tangent[o.get()] = t;
    }
  }
  std::vector<Var> result;
  for (const Var& v : f) {
    auto it = tangent.find(v.get());
    result.push_back(it != tangent.end() ? it->second : zeros_like(v, grad_dtype(*v)));
  }
  return result;
}

// ---------------------------------------------------------------- the Op defaults

// Integer-valued ops (Shape, ARange, Argmax, ...) pass no gradient; any other op must say how.
std::vector<Var> Op::L_op(const Apply& node, const std::vector<Var>&) const {
  bool all_discrete = true;
  for (size_t j = 0; j < node.num_outputs(); ++j) all_discrete = all_discrete && is_discrete(node.output_ptr(static_cast<int>(j))->dtype());
  KILN_USER_CHECK(all_discrete, NotImplementedError) << "the gradient of " << name() << " is not implemented";
  return std::vector<Var>(node.inputs().size());
}

// Transpose trick: L_op(u) is linear in the output cotangents u, so the forward derivative along
// the eval points v is the gradient of sum_i <L_op(u)_i, v_i> with respect to u.
std::vector<Var> Op::R_op(const Apply& node, const std::vector<Var>& eval_points) const {
  std::vector<Var> cotangents;
  for (size_t j = 0; j < node.num_outputs(); ++j) {
    const Variable* o = node.output_ptr(static_cast<int>(j));
    cotangents.push_back(Variable::input(TensorType(grad_dtype(*o), o->type().shape()), "u"));
  }
  std::vector<Var> lin = L_op(node, cotangents);
  Var total;
  for (size_t i = 0; i < lin.size() && i < eval_points.size(); ++i) {
    if (!lin[i] || !eval_points[i]) continue;
    Var term = sum(lin[i] * eval_points[i]);
    total = total ? total + term : term;
  }
  if (!total) return std::vector<Var>(node.num_outputs());
  GradOptions o;
  o.disconnected_inputs = "ignore";
  o.return_disconnected = "None";
  std::vector<Var> tangents = grad(total, cotangents, o);
  // The result is linear in u, so u can only remain through shapes (e.g. a gradient broadcast to
  // the shape of a term that contains u): any value of the right shape may stand in for it.
  std::map<const Variable*, Var> stand_in;
  for (size_t j = 0; j < cotangents.size(); ++j)
    stand_in[cotangents[j].get()] = zeros_like(node.output(static_cast<int>(j)), cotangents[j]->dtype());
  std::vector<Var> present;
  for (const Var& t : tangents)
    if (t) present.push_back(t);
  std::vector<Var> cleaned = clone_graph(present, stand_in);
  for (size_t j = 0, k = 0; j < tangents.size(); ++j)
    if (tangents[j]) tangents[j] = cleaned[k++];
  return tangents;
}

std::vector<Var> Rop_through(const Var& f, const std::vector<Var>& inputs, const std::vector<Var>& eval_points) {
  std::vector<Var> wrt, points;
  for (size_t i = 0; i < eval_points.size(); ++i)
    if (eval_points[i]) wrt.push_back(inputs[i]), points.push_back(eval_points[i]);
  if (wrt.empty()) return {nullptr};
  return Rop({f}, wrt, points);
}

}  // namespace kiln
