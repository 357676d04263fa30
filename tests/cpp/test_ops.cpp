// Ops through the C++ API: dtype rules, kernels against closed-form values, reductions, dot.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/kiln.hpp"

using namespace kiln;

namespace {

Array run1(const Var& in, const Var& out, const Array& value) { return (*function({in}, {out}))({value})[0]; }

Array iota(DType dt, Shape shape) {
  Array a = Array::empty(DType::Float64, shape);
  for (int64_t i = 0; i < a.size(); ++i) a.data_as<double>()[i] = static_cast<double>(i) - 2.0;
  return a.astype(dt);
}

}  // namespace

TEST(Elemwise, OutputDtypeRules) {
  Var f32 = vector("f", DType::Float32), i32 = vector("i", DType::Int32), i8 = vector("b", DType::Int8);
  EXPECT_EQ((f32 + 1.5)->dtype(), DType::Float32);
  EXPECT_EQ((f32 * 1.1)->dtype(), DType::Float32);
  EXPECT_EQ(add(i32, f32)->dtype(), DType::Float64);
  EXPECT_EQ(add(i8, f32)->dtype(), DType::Float32);
  EXPECT_EQ(true_div(i32, i32)->dtype(), floatX());
  EXPECT_EQ(exp(i8)->dtype(), DType::Float32);
  EXPECT_EQ(exp(i32)->dtype(), DType::Float64);
  EXPECT_EQ(lt(f32, i32)->dtype(), DType::Bool);
  EXPECT_EQ(add(i8, scalar_constant(int64_t{1000}))->dtype(), DType::Int16);
  EXPECT_THROW(and_(f32, f32), Error);
  EXPECT_THROW(round_half_to_even(i32), Error);
}

TEST(Elemwise, KernelsOverDtypes) {
  for (DType dt : {DType::Int8, DType::Int32, DType::UInt16, DType::Int64, DType::Float32, DType::Float64}) {
    Var x = vector("x", dt);
    Array out = run1(x, abs(x * x - x), iota(dt, {6}));
    for (int i = 0; i < 6; ++i) {
      double v = i - 2.0;
      if (is_unsigned_int(dt)) continue;  // wraps; covered by the numpy tests
      EXPECT_EQ(out.item_as_double(i), std::abs(v * v - v)) << dtype_name(dt) << " at " << i;
    }
  }
}

TEST(Elemwise, BroadcastingAndStridedViews) {
  Var r = row("r", DType::Float64), c = col("c", DType::Float64);
  auto f = function({r, c}, {r - c});
  Array rv = iota(DType::Float64, {1, 4}), cv = iota(DType::Float64, {3, 1});
  Array out = (*f)({rv, cv})[0];
  ASSERT_EQ(out.shape(), (Shape{3, 4}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out.item_as_double(i * 4 + j), (j - 2.0) - (i - 2.0));
  // A transposed view as input.
  Var m = matrix("m", DType::Float64);
  Array base = iota(DType::Float64, {2, 3});
  Array t = base.view({3, 2}, {8, 24}, 0);
  Array neg = run1(m, -m, t);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j) EXPECT_EQ(neg.item_as_double(i * 2 + j), -(j * 3 + i - 2.0));
}

TEST(Reduce, AxesKeepdimsAndAccumulation) {
  Var m = matrix("m", DType::Int8);
  Var s0 = sum(m, std::vector<int>{0}), s1 = sum(m, std::vector<int>{-1}, true), all_axes = sum(m);
  EXPECT_EQ(s0->dtype(), DType::Int64);
  EXPECT_EQ(s1->ndim(), 2);
  Array value = Array::empty(DType::Int8, {2, 200});
  for (int i = 0; i < 400; ++i) value.data_as<int8_t>()[i] = 100;
  auto out = (*function({m}, {s0, s1, all_axes, mean(m)}))({value});
  EXPECT_EQ(out[0].item_as_int(0), 200);
  EXPECT_EQ(out[1].shape(), (Shape{2, 1}));
  EXPECT_EQ(out[1].item_as_int(0), 20000);
  EXPECT_EQ(out[2].item_as_int(), 40000);
  EXPECT_EQ(out[3].dtype(), DType::Float64);
  EXPECT_EQ(out[3].item_as_double(), 100.0);
}

TEST(Reduce, ArgmaxAndVar) {
  Var x = vector("x", DType::Float64);
  auto out = (*function({x}, {argmax(x), argmin(x), var(x), stddev(x, std::nullopt, false, 1)}))(
      {iota(DType::Float64, {5})});
  EXPECT_EQ(out[0].item_as_int(), 4);
  EXPECT_EQ(out[1].item_as_int(), 0);
  EXPECT_DOUBLE_EQ(out[2].item_as_double(), 2.0);
  EXPECT_DOUBLE_EQ(out[3].item_as_double(), std::sqrt(2.5));
}

TEST(Blas, MatrixVectorProductsAgainstLoops) {
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32}) {
    Var a = matrix("a", dt), b = matrix("b", dt), v = vector("v", dt);
    auto f = function({a, b, v}, {dot(a, b), dot(a, v), dot(v, b), dot(v, v)});
    Array av = iota(dt, {3, 4}), bv = iota(dt, {4, 2}), vv = iota(dt, {4});
    auto out = (*f)({av, bv, vv});
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 2; ++j) {
        double acc = 0;
        for (int k = 0; k < 4; ++k) acc += (i * 4 + k - 2.0) * (k * 2 + j - 2.0);
        EXPECT_NEAR(out[0].item_as_double(i * 2 + j), acc, 1e-4);
      }
    double vv_dot = 0;
    for (int k = 0; k < 4; ++k) vv_dot += (k - 2.0) * (k - 2.0);
    EXPECT_NEAR(out[3].item_as_double(), vv_dot, 1e-5);
    EXPECT_EQ(out[1].shape(), (Shape{3}));
    EXPECT_EQ(out[2].shape(), (Shape{2}));
  }
}
