// verify_grad: the symbolic gradient against central finite differences.
#include <cmath>
#include <random>

#include "kiln/compile/function.hpp"
#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"

namespace kiln {
namespace {

double default_step(DType dt) { return dt == DType::Float32 ? 2e-3 : 1e-6; }
double default_tol(DType dt) { return dt == DType::Float32 ? 1e-2 : 1e-4; }

Array random_projection(DType dt, const Shape& shape, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 1.5);
  Array a = Array::empty(DType::Float64, shape);
  for (int64_t i = 0; i < a.size(); ++i) a.data_as<double>()[i] = u(rng);
  return a.astype(dt);
}

// d cost / d point[k] by central differences, as float64.
Array numeric_gradient(const Function& cost, std::vector<Array> point, size_t k, double step) {
  Array x = point[k].astype(DType::Float64);
  Array g = Array::empty(DType::Float64, x.shape());
  for (int64_t i = 0; i < x.size(); ++i) {
    double orig = x.data_as<double>()[i];
    double f[2];
    double taken[2];
    for (int side = 0; side < 2; ++side) {
      x.data_as<double>()[i] = orig + (side ? -step : step);
      point[k] = x.astype(point[k].dtype());  // evaluate in the input's own precision
      taken[side] = point[k].item_as_double(i);
      f[side] = cost(point)[0].item_as_double();
    }
    x.data_as<double>()[i] = orig;
    g.data_as<double>()[i] = (f[0] - f[1]) / (taken[0] - taken[1]);
  }
  return g;
}

}  // namespace

void verify_grad(const std::function<Var(const std::vector<Var>&)>& fun, const std::vector<Array>& point,
                 const VerifyGradOptions& options) {
  double tol_default = 0;
  std::vector<Var> inputs;
  for (size_t k = 0; k < point.size(); ++k) {
    KILN_USER_CHECK(is_float(point[k].dtype()), TypeError)
        << "verify_grad can work only with floating point inputs, but input " << k << " has dtype "
        << dtype_name(point[k].dtype());
    tol_default = std::max(tol_default, default_tol(point[k].dtype()));
    std::vector<int64_t> shape;
    for (int64_t d : point[k].shape()) shape.push_back(d == 1 ? 1 : kUnknownDim);
    inputs.push_back(Variable::input(TensorType(point[k].dtype(), shape), "input " + std::to_string(k)));
  }
  const double abs_tol = options.abs_tol.value_or(tol_default), rel_tol = options.rel_tol.value_or(tol_default);
  Var out = fun(inputs);
  FunctionOptions quiet;
  quiet.on_unused_input = "ignore";
  Array value = (*function(inputs, {out}, quiet))(point)[0];
  std::mt19937_64 rng(options.seed);
  Var projection = shared(random_projection(value.dtype(), value.shape(), rng), "projection");
  Var cost = sum(projection * out);
  auto cost_fn = function(inputs, {cost}, quiet);
  GradOptions g;
  g.disconnected_inputs = "ignore";
  auto grad_fn = function(inputs, grad(cost, inputs, g), quiet);
  for (int test = 0; test < options.n_tests; ++test) {
    std::vector<Array> analytic = (*grad_fn)(point);
    for (size_t k = 0; k < point.size(); ++k) {
      double step = options.eps.value_or(default_step(point[k].dtype()));
      Array numeric = numeric_gradient(*cost_fn, point, k, step);
      for (int64_t i = 0; i < numeric.size(); ++i) {
        double a = analytic[k].item_as_double(i), n = numeric.item_as_double(i);
        double abs_err = std::abs(a - n), denom = std::abs(a) + std::abs(n);
        double rel_err = denom > 0 ? abs_err / denom : 0;
        KILN_USER_CHECK(abs_err <= abs_tol || rel_err <= rel_tol, ValueError)
            << "verify_grad: numeric and analytic gradients disagree for input " << k << " at flat position " << i
            << " of shape " << shape_str(point[k].shape()) << ": analytic " << a << ", numeric " << n
            << ", absolute error " << abs_err << " (tolerance " << abs_tol << "), relative error " << rel_err
            << " (tolerance " << rel_tol << ")";
      }
    }
    projection->storage()->set(random_projection(value.dtype(), value.shape(), rng));
  }
}

}  // namespace kiln
