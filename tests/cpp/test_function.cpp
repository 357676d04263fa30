// function(): evaluation, updates, givens, input checking and run-time errors, through the C++ API.
#include <gtest/gtest.h>

#include <cmath>
#include <atomic>
#include <functional>
#include <thread>

#include "kiln/kiln.hpp"
#include "test_util.hpp"

using namespace kiln;
using kiln::test_util::kind_of;

namespace {

Array vec(std::vector<double> values) {
  Array a = Array::empty(DType::Float64, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) a.data_as<double>()[i] = values[i];
  return a;
}

void expect_values(const Array& a, std::vector<double> expected, double tol = 1e-12) {
  ASSERT_EQ(a.size(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(a.item_as_double(i), expected[i], tol) << "at " << i;
}

}  // namespace

TEST(Function, ComputesElemwiseReductionsAndDot) {
  Var x = vector("x", DType::Float64), m = matrix("m", DType::Float64);
  auto f = function({x, m}, {exp(x) * 2.0, sum(x), dot(m, x), max(m, std::vector<int>{0}), mean(x)});
  Array mv = Array::empty(DType::Float64, {2, 3});
  for (int i = 0; i < 6; ++i) mv.data_as<double>()[i] = i;
  auto out = (*f)({vec({0.0, 1.0, 2.0}), mv});
  expect_values(out[0], {2.0, 2 * std::exp(1.0), 2 * std::exp(2.0)});
  expect_values(out[1], {3.0});
  expect_values(out[2], {0 * 0 + 1 * 1 + 2 * 2, 3 * 0 + 4 * 1 + 5 * 2});
  expect_values(out[3], {3.0, 4.0, 5.0});
  expect_values(out[4], {1.0});
}

TEST(Function, UpdatesReadOldValuesAndApplyAfterwards) {
  Var a = shared(Array::scalar(DType::Float64, 1.0), "a");
  Var b = shared(Array::scalar(DType::Float64, 2.0), "b");
  FunctionOptions options;
  options.updates = {{a, b}, {b, a + b}};
  auto f = function({}, {a * b}, options);
  expect_values((*f)({})[0], {2.0});
  EXPECT_EQ(a->storage()->get().item_as_double(), 2.0);
  EXPECT_EQ(b->storage()->get().item_as_double(), 3.0);
}

// W - lr * dot(a, b) as an update becomes one Gemm accumulating into W's own buffer.
TEST(Function, SgdUpdateIsAnInPlaceGemm) {
  Array w0 = Array::empty(DType::Float64, {2, 2});
  for (int i = 0; i < 4; ++i) w0.data_as<double>()[i] = i;
  Var w = shared(w0, "w");
  Var a = matrix("a", DType::Float64), b = matrix("b", DType::Float64);
  FunctionOptions options;
  options.updates = {{w, w - 0.5 * dot(a, b)}};
  auto step = function({a, b}, {}, options);
  bool gemm_inplace = false;
  for (const Apply* node : step->nodes()) gemm_inplace = gemm_inplace || node->op().name() == "Gemm{inplace}";
  EXPECT_TRUE(gemm_inplace);
  const void* storage = w->storage()->get().data();
  Array ones = Array::empty(DType::Float64, {2, 2});
  for (int i = 0; i < 4; ++i) ones.data_as<double>()[i] = 1.0;
  (*step)({ones, ones});
  (*step)({ones, ones});
  expect_values(w->storage()->get().reshape({4}), {-2.0, -1.0, 0.0, 1.0});  // w - 2 * 0.5 * (2 everywhere)
  EXPECT_EQ(w->storage()->get().data(), storage);
}

TEST(Function, GivensReplaceVariables) {
  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64);
  FunctionOptions options;
  options.givens = {{x, y * 2.0}};
  auto f = function({y}, {x + 1.0}, options);
  expect_values((*f)({vec({1.0, 2.0})})[0], {3.0, 5.0});
}

TEST(Function, InputCheckingErrors) {
  Var x = vector("x", DType::Float32);
  auto f = function({x}, {x * 2.0});
  EXPECT_EQ(kind_of([&] { (*f)({vec({1.0})}); }), ErrorKind::TypeError);  // float64 into float32
  Array m = Array::zeros(DType::Float32, {2, 2});
  EXPECT_EQ(kind_of([&] { (*f)({m}); }), ErrorKind::TypeError);  // wrong ndim
  EXPECT_EQ(kind_of([&] { (*f)({}); }), ErrorKind::TypeError);    // wrong count
  FunctionOptions options;
  options.allow_input_downcast = true;
  auto g = function({x}, {x * 2.0}, options);
  EXPECT_EQ((*g)({vec({1.5})})[0].dtype(), DType::Float32);
}

TEST(Function, CompileErrors) {
  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64);
  EXPECT_EQ(kind_of([&] { function({x}, {x + y}); }), ErrorKind::MissingInputError);
  EXPECT_EQ(kind_of([&] { function({x, y}, {x}); }), ErrorKind::UnusedInputError);
  FunctionOptions ignore;
  ignore.on_unused_input = "ignore";
  EXPECT_NO_THROW(function({x, y}, {x}, ignore));
  Var s = shared(Array::zeros(DType::Float32, {3}), "s");
  FunctionOptions bad_update;
  bad_update.updates = {{s, x}};
  EXPECT_EQ(kind_of([&] { function({x}, {x}, bad_update); }), ErrorKind::TypeError);
}

TEST(Function, RuntimeShapeErrorNamesOpAndShapes) {
  Var a = matrix("a", DType::Float64), b = matrix("b", DType::Float64);
  auto f = function({a, b}, {dot(a, b)});
  try {
    (*f)({Array::zeros(DType::Float64, {3, 4}), Array::zeros(DType::Float64, {5, 2})});
    FAIL() << "expected a ValueError";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::ValueError);
    std::string msg = e.what();
    EXPECT_NE(msg.find("Dot"), std::string::npos);
    EXPECT_NE(msg.find("(3, 4)"), std::string::npos);
    EXPECT_NE(msg.find("(5, 2)"), std::string::npos);
  }
}

TEST(Function, ReentrantFromManyThreads) {
  Var x = vector("x", DType::Float64);
  auto f = function({x}, {sum(tanh(x) * x)});
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<double> values(1000);
      double expected = 0;
      for (int i = 0; i < 1000; ++i) {
        values[i] = (i % 17) * 0.1 * (t + 1);
        expected += std::tanh(values[i]) * values[i];
      }
      for (int rep = 0; rep < 200; ++rep)
        if (std::abs((*f)({vec(values)})[0].item_as_double() - expected) > 1e-9) ++failures;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Function, NanInfEmptyAndZeroD) {
  Var x = vector("x", DType::Float64);
  auto f = function({x}, {exp(x), sum(x)});
  auto out = (*f)({vec({NAN, INFINITY, -INFINITY})});
  EXPECT_TRUE(std::isnan(out[0].item_as_double(0)));
  EXPECT_TRUE(std::isinf(out[0].item_as_double(1)));
  EXPECT_EQ(out[0].item_as_double(2), 0.0);
  auto empty = (*f)({Array::empty(DType::Float64, {0})});
  EXPECT_EQ(empty[0].size(), 0);
  EXPECT_EQ(empty[1].item_as_double(), 0.0);
  Var s = scalar("s", DType::Float64);
  auto g = function({s}, {s * s});
  EXPECT_EQ((*g)({Array::scalar(DType::Float64, 3.0)})[0].item_as_double(), 9.0);
}

TEST(Config, FlagsParseAndValidate) {
  Config& c = Config::get();
  std::string old = c.value("floatX");
  c.apply_flags_string("floatX=float32");
  EXPECT_EQ(c.floatX(), DType::Float32);
  EXPECT_EQ(matrix("m")->dtype(), DType::Float32);
  c.apply_rc_text("[global]\nfloatX = float64\n", "test");
  EXPECT_EQ(c.floatX(), DType::Float64);
  EXPECT_THROW(c.set("floatX", "float17"), Error);
  EXPECT_THROW(c.set("no_such_flag", "1"), Error);
  c.set("floatX", old);
  EXPECT_NE(c.describe().find("compiledir"), std::string::npos);
}
