// canonicalize: one spelling per computation, so later phases and merging see through the many
// ways users write the same thing. Rules quote the algebra they apply.
#include <algorithm>

#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

using namespace pat;


// DimShuffle(DimShuffle(x, p), q) -> DimShuffle(x, p o q): one view instead of two.
std::optional<std::vector<Var>> compose_dimshuffles(const FunctionGraph&, const Apply& node) {
  auto outer = dimshuffle_pattern(node);
  const Apply* inner_node = node.input(0)->owner();
  if (!outer || !inner_node) return std::nullopt;
  auto inner = dimshuffle_pattern(*inner_node);
  if (!inner) return std::nullopt;
  std::vector<int> composed;
  for (int p : *outer) composed.push_back(p < 0 ? -1 : (*inner)[p]);
  return std::vector<Var>{dimshuffle(inner_node->input(0), composed)};
}

PatternPtr any_constant(const std::string& name) {
  return any_if(name, [](const Var& v) { return v->is_constant(); });
}

// True when `sizes` (a shape vector's graph) is exactly x's own shape: make_vector(Shape_i(x, 0),
// ..., Shape_i(x, n-1)), or static sizes equal to x's static shape.
bool is_own_shape(const std::vector<Var>& sizes, const Var& x) {
  if (static_cast<int>(sizes.size()) != x->ndim()) return false;
  for (int d = 0; d < x->ndim(); ++d) {
    const Var& s = sizes[d];
    const Apply* o = s->owner();
    bool same = o && shape_i_axis(*o) == d && o->input(0) == x;
    if (!same && s->is_constant() && x->type().shape()[d] != kUnknownDim)
      same = s->constant_value().item_as_int() == x->type().shape()[d];
    if (!same) return false;
  }
  return true;
}

// reshape(x, x.shape) -> x
std::optional<std::vector<Var>> reshape_to_own_shape(const FunctionGraph&, const Apply& node) {
  const Var& x = node.input(0);
  const Apply* vec = node.input(1)->owner();
  if (!vec || vec->op().kind() != "MakeVector" || !is_own_shape(vec->inputs(), x)) return std::nullopt;
  return std::vector<Var>{x};
}

// alloc(v, *v.shape) -> v
std::optional<std::vector<Var>> alloc_of_own_shape(const FunctionGraph&, const Apply& node) {
  const Var& v = node.input(0);
  std::vector<Var> sizes(node.inputs().begin() + 1, node.inputs().end());
  if (!is_own_shape(sizes, v)) return std::nullopt;
  return std::vector<Var>{v};
}

// sum(x.dimshuffle(p), axes) -> sum(x, p[axes]).dimshuffle(q): reduce the input directly; new
// broadcastable axes among `axes` just disappear.
std::optional<std::vector<Var>> sum_of_dimshuffle(const FunctionGraph&, const Apply& node) {
  auto axes = reduce_axes(node);
  const Apply* ds = node.input(0)->owner();
  if (!axes || node.op().kind() != "Sum" || !ds) return std::nullopt;
  auto pattern = dimshuffle_pattern(*ds);
  if (!pattern) return std::nullopt;
  const Var& x = ds->input(0);
  std::vector<int> input_axes;
  for (int a : *axes)
    if ((*pattern)[a] >= 0) input_axes.push_back((*pattern)[a]);
  std::sort(input_axes.begin(), input_axes.end());
  std::vector<int> kept;  // input axes left after the sum, in order
  for (int d = 0; d < x->ndim(); ++d)
    if (!std::binary_search(input_axes.begin(), input_axes.end(), d)) kept.push_back(d);
  std::vector<int> order;  // the remaining output axes, in terms of the reduced input
  for (int i = 0; i < static_cast<int>(pattern->size()); ++i) {
    if (std::find(axes->begin(), axes->end(), i) != axes->end()) continue;
    int p = (*pattern)[i];
    order.push_back(p < 0 ? -1 : static_cast<int>(std::find(kept.begin(), kept.end(), p) - kept.begin()));
  }
  const DType out = node.output_ptr(0)->dtype();
  Var reduced = input_axes.empty() ? (x->dtype() == out ? x : cast(x, out)) : sum(x, input_axes, false, out);
  return std::vector<Var>{dimshuffle(reduced, order)};
}

void add_rule(RewriteDatabase& db, const std::string& name, std::shared_ptr<NodeRewriter> r) {
  db.add("canonicalize", {name, {"fast_run", "canonicalize"}, std::move(r)});
}

}  // namespace

void register_canonicalize_rewrites(RewriteDatabase& db) {
  // x + 0 -> x,  x - 0 -> x,  x * 1 -> x,  x / 1 -> x
  add_rule(db, "add_zero", pattern_rule(commutative("Elemwise{add}", any_x(), constant(0)), [](const Bindings& b) { return b.at("x"); }));
  add_rule(db, "sub_zero", pattern_rule(elemwise("sub", {any_x(), constant(0)}), [](const Bindings& b) { return b.at("x"); }));
  add_rule(db, "mul_one", pattern_rule(commutative("Elemwise{mul}", any_x(), constant(1)), [](const Bindings& b) { return b.at("x"); }));
  add_rule(db, "div_one", pattern_rule(elemwise("true_div", {any_x(), constant(1)}), [](const Bindings& b) { return b.at("x"); }));
  // x * 0 -> 0 (as Theano does: the NaN of inf * 0 is not kept)
  add_rule(db, "mul_zero", pattern_rule(commutative("Elemwise{mul}", any_x(), constant(0)),
                                        [](const Bindings& b) { return zeros_like(b.at("x")); }));
  // x - x -> 0
  add_rule(db, "sub_self", pattern_rule(elemwise("sub", {any_x(), any_x()}), [](const Bindings& b) { return zeros_like(b.at("x")); }));
  // -(-x) -> x
  add_rule(db, "neg_neg", pattern_rule(elemwise("neg", {elemwise("neg", {any_x()})}), [](const Bindings& b) { return b.at("x"); }));
  // x + (-y) -> x - y,  (-x) + y -> y - x
  add_rule(db, "add_neg", pattern_rule(commutative("Elemwise{add}", any_x(), elemwise("neg", {any("y")})),
                                       [](const Bindings& b) { return sub(b.at("x"), b.at("y")); }));
  // exp(log(x)) -> x,  log(exp(x)) -> x
  add_rule(db, "exp_log", pattern_rule(elemwise("exp", {elemwise("log", {any_x()})}), [](const Bindings& b) { return b.at("x"); }));
  add_rule(db, "log_exp", pattern_rule(elemwise("log", {elemwise("exp", {any_x()})}), [](const Bindings& b) { return b.at("x"); }));
  // (a / b) * b -> a (as Theano's mul/div canonicalizer cancels): the gradient of log(f(x))
  // multiplies by f' after dividing by f, and cancelling keeps it finite where f underflows.
  add_rule(db, "mul_div_cancel", pattern_rule(commutative("Elemwise{mul}", elemwise("true_div", {any("a"), any("b")}), any("b")),
                                              [](const Bindings& b) { return b.at("a"); }));
  // c1 * (c2 * x) -> (c1 * c2) * x and c1 + (c2 + x) -> (c1 + c2) + x: constants collected, then
  // folded into one by constant folding. They are combined in the result's dtype (two int8 literals
  // next to a float64 x must not be added in int8).
  auto in_result_dtype = [](const Bindings& b, const char* name) { return cast(b.at(name), b.at("$root")->dtype()); };
  add_rule(db, "collect_mul_constants",
           pattern_rule(commutative("Elemwise{mul}", any_constant("c1"), commutative("Elemwise{mul}", any_constant("c2"), any_x())),
                        [=](const Bindings& b) { return mul(mul(in_result_dtype(b, "c1"), in_result_dtype(b, "c2")), bound_x(b)); }));
  add_rule(db, "collect_add_constants",
           pattern_rule(commutative("Elemwise{add}", any_constant("c1"), commutative("Elemwise{add}", any_constant("c2"), any_x())),
                        [=](const Bindings& b) { return add(add(in_result_dtype(b, "c1"), in_result_dtype(b, "c2")), bound_x(b)); }));
  add_rule(db, "reshape_to_own_shape", node_rewriter({"Reshape"}, &reshape_to_own_shape));
  add_rule(db, "alloc_of_own_shape", node_rewriter({"Alloc"}, &alloc_of_own_shape));
  add_rule(db, "sum_of_dimshuffle", node_rewriter({"Sum"}, &sum_of_dimshuffle));
  add_rule(db, "compose_dimshuffles", node_rewriter({"DimShuffle"}, &compose_dimshuffles));
}

}  // namespace kiln::detail
