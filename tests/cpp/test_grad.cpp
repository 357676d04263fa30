// Symbolic differentiation through the C++ API: verify_grad over op families, grad's contract,
// forward mode against reverse mode.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kiln/kiln.hpp"
#include "test_util.hpp"

using namespace kiln;
using kiln::test_util::kind_of;

namespace {

Array random_array(const Shape& shape, uint64_t seed, double lo = -2, double hi = 2, DType dt = DType::Float64) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Array a = Array::empty(DType::Float64, shape);
  for (int64_t i = 0; i < a.size(); ++i) a.data_as<double>()[i] = u(rng);
  return a.astype(dt);
}

}  // namespace

TEST(VerifyGrad, ElemwiseReductionsAndDot) {
  verify_grad([](const std::vector<Var>& v) { return tanh(v[0]) * exp(v[1]) / (1.0 + sqr(v[0])); },
              {random_array({3, 4}, 1), random_array({3, 4}, 2)});
  verify_grad([](const std::vector<Var>& v) { return sum(sigmoid(v[0]), std::vector<int>{0}); },
              {random_array({3, 4}, 3)});
  verify_grad([](const std::vector<Var>& v) { return dot(v[0], v[1]); }, {random_array({3, 4}, 4), random_array({4, 2}, 5)});
  verify_grad([](const std::vector<Var>& v) { return log(v[0]) + v[1]; }, {random_array({2, 5}, 6, 0.5, 2), random_array({1, 5}, 7)});
  verify_grad([](const std::vector<Var>& v) { return softmax(v[0]); }, {random_array({3, 5}, 8)});
  verify_grad([](const std::vector<Var>& v) { return prod(v[0], std::vector<int>{1}); }, {random_array({3, 4}, 9, 0.5, 1.5)});
}

TEST(VerifyGrad, Float32UsesFloat32Tolerances) {
  verify_grad([](const std::vector<Var>& v) { return tanh(dot(v[0], v[1])); },
              {random_array({3, 4}, 1, -1, 1, DType::Float32), random_array({4, 2}, 2, -1, 1, DType::Float32)});
}

TEST(VerifyGrad, DetectsAWrongGradient) {
  EXPECT_EQ(kind_of([] {
              verify_grad([](const std::vector<Var>& v) { return exp(grad_scale(v[0], 2.0)); }, {random_array({3}, 1)});
            }),
            ErrorKind::ValueError);
  EXPECT_EQ(kind_of([] { verify_grad([](const std::vector<Var>& v) { return v[0]; }, {Array::zeros(DType::Int32, {2})}); }),
            ErrorKind::TypeError);
}

TEST(Grad, ContractErrors) {
  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64);
  EXPECT_EQ(kind_of([&] { grad(x * 2.0, x); }), ErrorKind::TypeError);  // non-scalar cost
  EXPECT_EQ(kind_of([&] { grad(sum(x), y); }), ErrorKind::ValueError);   // disconnected
  GradOptions ignore;
  ignore.disconnected_inputs = "ignore";
  Var gy = grad(sum(x), y, ignore);
  Array out = (*function({y}, {gy}))({random_array({3}, 1)})[0];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out.item_as_double(i), 0.0);
}

TEST(Grad, RopMatchesGradProjection) {
  Var x = vector("x", DType::Float64), v = vector("v", DType::Float64), r = vector("r", DType::Float64);
  Var out = tanh(x) * exp(x) + sqr(x);
  Var jvp = Rop({out}, {x}, {v})[0];
  Var vjp = grad(sum(out * r), x);
  auto f = function({x, v, r}, {sum(jvp * r), sum(vjp * v)});
  auto res = (*f)({random_array({5}, 1), random_array({5}, 2), random_array({5}, 3)});
  EXPECT_NEAR(res[0].item_as_double(), res[1].item_as_double(), 1e-10);
}

TEST(Grad, SecondDerivative) {
  Var x = scalar("x", DType::Float64);
  Var d2 = grad(grad(pow(x, scalar_constant(4.0)), x), x);
  Array out = (*function({x}, {d2}))({Array::scalar(DType::Float64, 1.5)})[0];
  EXPECT_NEAR(out.item_as_double(), 12 * 1.5 * 1.5, 1e-9);
}

TEST(Grad, JacobianAndHessian) {
  Var x = vector("x", DType::Float64);
  Var J = jacobian(sqr(x) * 3.0, {x})[0];
  Var H = hessian(sum(pow(x, scalar_constant(3.0))), {x})[0];
  auto out = (*function({x}, {J, H}))({random_array({3}, 4)});
  Array xv = random_array({3}, 4);
  ASSERT_EQ(out[0].shape(), (Shape{3, 3}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double xi = xv.item_as_double(i);
      EXPECT_NEAR(out[0].item_as_double(i * 3 + j), i == j ? 6 * xi : 0.0, 1e-12);
      EXPECT_NEAR(out[1].item_as_double(i * 3 + j), i == j ? 6 * xi : 0.0, 1e-12);
    }
}
