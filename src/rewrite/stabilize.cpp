// stabilize: numerically safer forms of common expressions. Each rule is exact in real
// arithmetic; the rewritten form keeps its digits where the original rounds to 0, 1 or inf.
#include <algorithm>
#include <cmath>

#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/shape.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

using namespace pat;


void add_rule(RewriteDatabase& db, const std::string& name, std::shared_ptr<NodeRewriter> r) {
  db.add("stabilize", {name, {"fast_run", "fast_compile", "stabilize"}, std::move(r)});
}

// log(sum(exp(x), axes)) -> m + log(sum(exp(x - m), axes)) with m = max(x, axes): no overflow for
// large x, no log(0) for very negative x. The shift carries no gradient: the result does not
// depend on it.
std::optional<std::vector<Var>> stable_logsumexp(const FunctionGraph&, const Apply& node) {
  const Apply* sum_node = node.input(0)->owner();
  if (!sum_node || sum_node->op().kind() != "Sum") return std::nullopt;
  const Apply* exp_node = sum_node->input(0)->owner();
  if (!exp_node || exp_node->op().kind() != "Elemwise{exp}") return std::nullopt;
  const Var& in = exp_node->input(0);
  if (!is_float(in->dtype())) return std::nullopt;
  auto reduced = reduce_axes(*sum_node);
  if (!reduced || reduced->empty()) return std::nullopt;
  const std::vector<int>& axes = *reduced;
  const int nd = in->ndim();
  // An infinite maximum (all -inf, or some +inf) is not subtracted: that would make NaN.
  Var m = max(in, axes, true);
  Var shift = disconnected_grad(switch_cond(isinf(m), zeros_like(m), m));
  Var stable = log(sum(exp(in - shift), axes, true)) + shift;
  std::vector<int> pattern;  // back to the rank of the original, which had no keepdims
  for (int d = 0; d < nd; ++d)
    if (std::find(axes.begin(), axes.end(), d) == axes.end()) pattern.push_back(d);
  return std::vector<Var>{dimshuffle(stable, pattern)};
}

// log(erfc(x)) for large x, where erfc underflows: the asymptotic series
// -x^2 - log(x) - log(pi)/2 + log(1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6)).
Var log_erfc_stable(const Var& x) {
  Var x2 = sqr(x);
  Var series = 1.0 - 0.5 / x2 + 0.75 / sqr(x2) - 1.875 / (x2 * sqr(x2));
  Var asymptotic = -x2 - log(x) - 0.5 * std::log(M_PI) + log(series);
  // The direct branch goes through identity so that this rule does not match it again.
  return switch_cond(lt(x, scalar_constant(10.0)), log(identity(erfc(x))), asymptotic);
}

}  // namespace

void register_stabilize_rewrites(RewriteDatabase& db) {
  // log(1 + x) -> log1p(x);  log(1 - x) -> log1p(-x)
  add_rule(db, "log1p", pattern_rule(elemwise("log", {commutative("Elemwise{add}", constant(1), any_x())}),
                                     [](const Bindings& b) { return log1p(bound_x(b)); }));
  add_rule(db, "log1p_neg", pattern_rule(elemwise("log", {elemwise("sub", {constant(1), any_x()})}),
                                         [](const Bindings& b) { return log1p(neg(bound_x(b))); }));
  // exp(x) - 1 -> expm1(x)
  add_rule(db, "expm1", pattern_rule(elemwise("sub", {elemwise("exp", {any_x()}), constant(1)}),
                                     [](const Bindings& b) { return expm1(bound_x(b)); }));
  // 1 / (1 + exp(-x)) -> sigmoid(x)
  add_rule(db, "sigmoid", pattern_rule(elemwise("true_div", {constant(1), commutative("Elemwise{add}", constant(1), elemwise("exp", {elemwise("neg", {any_x()})}))}),
                                       [](const Bindings& b) { return sigmoid(bound_x(b)); }));
  add_rule(db, "sigmoid_reciprocal", pattern_rule(elemwise("reciprocal", {commutative("Elemwise{add}", constant(1), elemwise("exp", {elemwise("neg", {any_x()})}))}),
                                                  [](const Bindings& b) { return sigmoid(bound_x(b)); }));
  // 1 - sigmoid(x) -> sigmoid(-x): no cancellation for large x
  add_rule(db, "one_minus_sigmoid", pattern_rule(elemwise("sub", {constant(1), elemwise("sigmoid", {any_x()})}),
                                                 [](const Bindings& b) { return sigmoid(neg(bound_x(b))); }));
  // log(sigmoid(x)) -> -softplus(-x);  log(1 - sigmoid(x)) -> -softplus(x)
  add_rule(db, "log_sigmoid", pattern_rule(elemwise("log", {elemwise("sigmoid", {any_x()})}),
                                           [](const Bindings& b) { return neg(softplus(neg(bound_x(b)))); }));
  add_rule(db, "log1m_sigmoid", pattern_rule(elemwise("log", {elemwise("sub", {constant(1), elemwise("sigmoid", {any_x()})})}),
                                             [](const Bindings& b) { return neg(softplus(bound_x(b))); }));
  add_rule(db, "log1p_neg_sigmoid", pattern_rule(elemwise("log1p", {elemwise("neg", {elemwise("sigmoid", {any_x()})})}),
                                                 [](const Bindings& b) { return neg(softplus(bound_x(b))); }));
  // log1p(exp(x)) -> softplus(x)
  add_rule(db, "softplus", pattern_rule(elemwise("log1p", {elemwise("exp", {any_x()})}),
                                        [](const Bindings& b) { return softplus(bound_x(b)); }));
  // log(exp(a) / b) -> a - log(b): log(softmax(x)) becomes log_softmax without forming exp.
  add_rule(db, "log_div_exp", pattern_rule(elemwise("log", {elemwise("true_div", {elemwise("exp", {any("a")}), any("b")})}),
                                           [](const Bindings& b) { return sub(b.at("a"), log(b.at("b"))); }));
  add_rule(db, "logsumexp", node_rewriter({"Elemwise{log}"}, &stable_logsumexp));
  // log(erfc(x)) for large x
  add_rule(db, "log_erfc", pattern_rule(elemwise("log", {elemwise("erfc", {any_x()})}),
                                        [](const Bindings& b) { return log_erfc_stable(bound_x(b)); },
                                        [](const Bindings& b) { return is_float(b.at("x")->dtype()); }));
}

}  // namespace kiln::detail
