// Symbolic differentiation: reverse mode (grad, Lop), forward mode (Rop), jacobian, hessian, and
// the identity-like ops that steer gradients (zero_grad, disconnected_grad, grad_clip, grad_scale).
//
// Every result is a graph made of ordinary ops, so it can be rewritten, compiled and
// differentiated again. The walks are iterative over a topological order, never recursive.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

struct GradOptions {
  /// Variables treated as constants: no gradient flows through them.
  std::vector<Var> consider_constant;
  /// What to do when a requested variable does not influence the cost: "raise", "warn", "ignore".
  std::string disconnected_inputs = "raise";
  /// (variable, its gradient) pairs seeding the backward pass, in addition to (or instead of) cost.
  std::vector<std::pair<Var, Var>> known_grads;
  /// The gradient returned for a disconnected variable: "zero" (zeros like it) or "None" (nullptr).
  std::string return_disconnected = "zero";
  /// When an undefined gradient reaches a requested variable: "raise" or "return" (return it).
  std::string null_gradients = "raise";
};

/// Gradients of the scalar `cost` with respect to each of `wrt`. Raises TypeError for a
/// non-scalar cost, ValueError for a disconnected variable (per options.disconnected_inputs),
/// NotImplementedError naming the op whose gradient is undefined or missing. Warnings (for
/// disconnected_inputs="warn") are appended to `warnings` when given.
std::vector<Var> grad(const Var& cost, const std::vector<Var>& wrt, const GradOptions& options = {},
                      std::vector<std::string>* warnings = nullptr);
/// Single-variable form.
Var grad(const Var& cost, const Var& wrt, const GradOptions& options = {});

/// Lop: the vector-Jacobian product sum_i eval_points[i]^T d(f[i])/d(wrt).
std::vector<Var> Lop(const std::vector<Var>& f, const std::vector<Var>& wrt, const std::vector<Var>& eval_points,
                     const GradOptions& options = {});
/// Rop: the Jacobian-vector product d(f)/d(wrt) . eval_points, by forward mode (each op's R_op).
std::vector<Var> Rop(const std::vector<Var>& f, const std::vector<Var>& wrt, const std::vector<Var>& eval_points);
/// An op's R_op from an expression `f` of its `inputs` that computes the same (for ops such as
/// Gemm and Composite): the forward derivative along `eval_points`, nullptr ones held constant.
std::vector<Var> Rop_through(const Var& f, const std::vector<Var>& inputs, const std::vector<Var>& eval_points);

/// The Jacobian of `expression` (a scalar or a vector) with respect to each of `wrt`: an array of
/// shape expression.shape + wrt.shape, computed row by row at run time (one compile for all sizes).
std::vector<Var> jacobian(const Var& expression, const std::vector<Var>& wrt,
                          const std::string& disconnected_inputs = "raise");
/// The Hessian of the scalar `cost` with respect to each of `wrt` (vectors).
std::vector<Var> hessian(const Var& cost, const std::vector<Var>& wrt,
                         const std::string& disconnected_inputs = "raise");

/// x in the forward pass; its gradient is zero.
Var zero_grad(const Var& x);
/// x in the forward pass; no gradient flows through it (disconnected).
Var disconnected_grad(const Var& x);
/// x in the forward pass; its gradient is clipped to [lower, upper].
Var grad_clip(const Var& x, double lower, double upper);
/// x in the forward pass; its gradient is multiplied by `multiplier`.
Var grad_scale(const Var& x, double multiplier);

/// A placeholder for a gradient that is not defined: the gradient of input `index` of `op`, of
/// `like`'s type. grad() raises with `reason` if one reaches a requested variable; running it
/// raises NotImplementedError.
Var grad_undefined(const Op& op, int index, const Var& like, const std::string& reason);
/// Whether the graph of `v` contains an undefined gradient; fills `reason` with its message.
bool contains_undefined_grad(const Var& v, std::string* reason = nullptr);

struct VerifyGradOptions {
  int n_tests = 2;
  uint64_t seed = 42;
  std::optional<double> eps;      // finite-difference step; default by dtype
  std::optional<double> abs_tol;  // default: 1e-4 for float64, 1e-2 for float32
  std::optional<double> rel_tol;
};

/// Theano's verify_grad: builds fun(inputs) on one float input per array of `point`, projects
/// the output on a random direction, and compares the symbolic gradient of the projection with
/// central finite differences. Throws ValueError with the input, position, analytic and numeric
/// values and both errors when they differ beyond both tolerances.
void verify_grad(const std::function<Var(const std::vector<Var>&)>& fun, const std::vector<Array>& point,
                 const VerifyGradOptions& options = {});

}  // namespace kiln
