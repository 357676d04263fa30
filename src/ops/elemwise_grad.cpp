// The gradient column of scalar_table.def: the scalar derivative rules as graphs. Elemwise::L_op
// takes care of broadcasting and dtypes around them.
#include <cmath>

#include "kiln/grad/grad.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/elemwise_impl.hpp"

namespace kiln::detail {
namespace {

constexpr double kSqrtPiOver2 = 0.88622692545275801365;  // sqrt(pi) / 2

Var C(double v) { return scalar_constant(v); }

}  // namespace

std::vector<Var> scalar_grad(ScalarOpId id, const Op& op, const Var& x, const Var& y, const Var& z, const Var& out,
                             const Var& gz) {
  (void)op;
  (void)C;
  switch (id) {
#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad) \
  case ScalarOpId::name: return std::vector<Var> grad;
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP
  }
  return {};
}

}  // namespace kiln::detail
