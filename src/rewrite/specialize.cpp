// specialize: cheaper forms of the same computation.
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

using namespace pat;


void add_rule(RewriteDatabase& db, const std::string& name, std::shared_ptr<NodeRewriter> r) {
  db.add("specialize", {name, {"fast_run", "specialize"}, std::move(r)});
}

PatternPtr pow_of(double exponent) { return elemwise("pow", {any_x(), constant(exponent)}); }

}  // namespace

void register_specialize_rewrites(RewriteDatabase& db) {
  // x ** 2 -> sqr(x), x ** 3 -> x * sqr(x), x ** 4 -> sqr(sqr(x)), x ** 1 -> x, x ** 0 -> 1
  add_rule(db, "pow_2", pattern_rule(pow_of(2), [](const Bindings& b) { return sqr(bound_x(b)); }));
  add_rule(db, "pow_3", pattern_rule(pow_of(3), [](const Bindings& b) { return mul(bound_x(b), sqr(bound_x(b))); }));
  add_rule(db, "pow_4", pattern_rule(pow_of(4), [](const Bindings& b) { return sqr(sqr(bound_x(b))); }));
  add_rule(db, "pow_1", pattern_rule(pow_of(1), [](const Bindings& b) { return bound_x(b); }));
  add_rule(db, "pow_0", pattern_rule(pow_of(0), [](const Bindings& b) { return ones_like(bound_x(b)); }));
  // x ** 0.5 -> sqrt(x), x ** -0.5 -> 1 / sqrt(x), x ** -1 -> 1 / x, x ** -2 -> 1 / sqr(x)
  add_rule(db, "pow_half", pattern_rule(pow_of(0.5), [](const Bindings& b) { return sqrt(bound_x(b)); }));
  add_rule(db, "pow_minus_half", pattern_rule(pow_of(-0.5), [](const Bindings& b) { return reciprocal(sqrt(bound_x(b))); }));
  add_rule(db, "pow_minus_1", pattern_rule(pow_of(-1), [](const Bindings& b) { return reciprocal(bound_x(b)); }));
  add_rule(db, "pow_minus_2", pattern_rule(pow_of(-2), [](const Bindings& b) { return reciprocal(sqr(bound_x(b))); }));
  // x * x -> sqr(x);  x * -1 -> -x
  add_rule(db, "mul_self", pattern_rule(elemwise("mul", {any_x(), any_x()}), [](const Bindings& b) { return sqr(bound_x(b)); }));
  add_rule(db, "mul_minus_one", pattern_rule(commutative("Elemwise{mul}", any_x(), constant(-1)), [](const Bindings& b) { return neg(bound_x(b)); }));
}

}  // namespace kiln::detail
