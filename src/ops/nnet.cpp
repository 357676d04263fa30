// Composite neural-network functions.
#include "kiln/ops/nnet.hpp"

#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"

namespace kiln {
namespace {

void check_float(const Var& x, const char* op) {
  KILN_USER_CHECK(x != nullptr, TypeError) << op << ": null input";
  KILN_USER_CHECK(is_float(x->dtype()), TypeError)
      << op << ": expected a float tensor, got " << x->label() << " of type " << x->type().str();
}

// x minus its maximum along the last axis. The maximum is a constant shift that softmax does not
// see, so no gradient needs to flow through it.
Var shifted(const Var& x) { return x - disconnected_grad(max(x, std::vector<int>{-1}, true)); }

}  // namespace

Var softmax(const Var& x) {
  check_float(x, "softmax");
  Var e = exp(shifted(x));
  return e / sum(e, std::vector<int>{-1}, true);
}

Var log_softmax(const Var& x) {
  check_float(x, "log_softmax");
  Var z = shifted(x);
  return z - log(sum(exp(z), std::vector<int>{-1}, true));
}

Var relu(const Var& x, double alpha) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "relu: null input";
  if (alpha == 0.0) return maximum(x, scalar_constant(0.0));
  // 0.5 (1 + alpha) x + 0.5 (1 - alpha) |x|: alpha * x below zero, x above, one smooth expression.
  return x * (0.5 * (1 + alpha)) + abs(x) * (0.5 * (1 - alpha));
}

Var categorical_crossentropy(const Var& coding_dist, const Var& true_dist) {
  check_float(coding_dist, "categorical_crossentropy");
  KILN_USER_CHECK(true_dist != nullptr, TypeError) << "categorical_crossentropy: null true_dist";
  if (true_dist->ndim() == coding_dist->ndim()) return -sum(true_dist * log(coding_dist), std::vector<int>{-1});
  KILN_USER_CHECK(coding_dist->ndim() == 2 && true_dist->ndim() == 1 && is_integer(true_dist->dtype()), TypeError)
      << "categorical_crossentropy: true_dist must be a matrix like coding_dist or a vector of integer labels, got "
      << true_dist->type().str();
  Var rows = arange(shape_i(coding_dist, 0));
  return -log(getitem(coding_dist, {Index::array(rows), Index::array(true_dist)}));
}

Var binary_crossentropy(const Var& output, const Var& target) {
  check_float(output, "binary_crossentropy");
  return -(target * log(output) + (1.0 - target) * log(1.0 - output));
}

Var hard_sigmoid(const Var& x) {
  check_float(x, "hard_sigmoid");
  return clip(x * 0.2 + 0.5, scalar_constant(0.0), scalar_constant(1.0));
}

}  // namespace kiln
