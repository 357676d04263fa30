// Gradients and forward derivatives of the shape and indexing ops. The ops are linear in their
// float inputs, so the gradient of sum(out * c) for a constant c is known exactly: it is c moved
// back to where each output element came from.
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"

using namespace kiln;

namespace {

// 0, 1, 2, ... in C order, as `dt`.
Array iota(DType dt, const Shape& shape) {
  Array d = Array::empty(DType::Float64, shape);
  for (int64_t i = 0; i < d.size(); ++i) d.data_as<double>()[i] = static_cast<double>(i);
  return d.astype(dt);
}

Array array_of(DType dt, const Shape& shape, const std::vector<double>& v) {
  Array d = Array::empty(DType::Float64, shape);
  for (int64_t i = 0; i < d.size(); ++i) d.data_as<double>()[i] = v[static_cast<size_t>(i)];
  return d.astype(dt);
}

Var index_vector(const std::vector<int64_t>& v) {
  Array a = Array::empty(DType::Int64, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) a.data_as<int64_t>()[i] = v[i];
  return Variable::constant(a);
}

std::vector<double> values(const Array& a) {
  std::vector<double> out;
  for (int64_t i = 0; i < a.size(); ++i) out.push_back(a.item_as_double(i));
  return out;
}

std::vector<Array> run(const std::vector<Var>& in, const std::vector<Var>& out, const std::vector<Array>& args) {
  FunctionOptions options;
  options.on_unused_input = "ignore";
  return (*function(in, out, options))(args);
}

// sum(out * c) with c = 0, 1, 2, ... of the given shape (out's at run time).
Var weighted_sum(const Var& out, const Shape& shape) {
  return sum(out * Variable::constant(iota(out->dtype(), shape)));
}

}  // namespace

TEST(GradShapeOps, ReshapeSendsTheWeightsBackInXsShape) {
  Var x = tensor(DType::Float64, {2, 3}, "x");
  Var g = grad(weighted_sum(reshape(x, std::vector<int64_t>{3, 2}), {3, 2}), x);
  EXPECT_EQ(g->type(), x->type());
  auto r = run({x}, {g}, {iota(DType::Float64, {2, 3})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

TEST(GradShapeOps, AllocSumsOverTheBroadcastAxes) {
  Var v = tensor(DType::Float32, {1, 3}, "v");  // a row, broadcast along axis 0 and a new axis
  Var out = alloc(v, {scalar_constant(int64_t{2}), scalar_constant(int64_t{2}), scalar_constant(int64_t{3})});
  Var g = grad(weighted_sum(out, {2, 2, 3}), v);
  EXPECT_EQ(g->type(), v->type());
  auto r = run({v}, {g}, {iota(DType::Float32, {1, 3})});
  // Weights 0..11 over (2, 2, 3): each column sums four of them.
  EXPECT_EQ(values(r[0]), (std::vector<double>{18, 22, 26}));
}

TEST(GradShapeOps, MakeVectorAndJoinAndSplit) {
  Var a = scalar("a", DType::Float64), b = scalar("b", DType::Float32);
  auto gs = grad(weighted_sum(make_vector({a, b, a}), {3}), {a, b});
  EXPECT_EQ(gs[1]->dtype(), DType::Float32);
  auto r = run({a, b}, gs, {Array::scalar(DType::Float64, 1), Array::scalar(DType::Float32, 1)});
  EXPECT_EQ(values(r[0]), (std::vector<double>{2}));
  EXPECT_EQ(values(r[1]), (std::vector<double>{1}));

  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64);
  auto gj = grad(weighted_sum(join(0, {x, y, x}), {7}), {x, y});
  r = run({x, y}, gj, {iota(DType::Float64, {2}), iota(DType::Float64, {3})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0 + 5, 1 + 6}));
  EXPECT_EQ(values(r[1]), (std::vector<double>{2, 3, 4}));

  // Only the last piece reaches the cost; the others' gradients arrive as zeros.
  Var m = matrix("m", DType::Float64);
  auto pieces = split(m, std::vector<int64_t>{1, 2}, 1);
  Var gm = grad(sum(pieces[1] * 2.0), m);
  r = run({m}, {gm}, {iota(DType::Float64, {2, 3})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0, 2, 2, 0, 2, 2}));
}

TEST(GradShapeOps, IntegerAndConstantOpsPassNoGradient) {
  Var x = matrix("x", DType::Float64);
  Var n = shape_i(x, 0);
  EXPECT_FALSE(n->owner()->op().differentiable());
  Var e = eye(n, nullptr, nullptr, DType::Float64);
  EXPECT_FALSE(e->owner()->op().differentiable());
  Var g = grad(sum(e * x), x);  // reaches Eye and Shape_i through x's shape: no error, no term
  auto r = run({x}, {g}, {iota(DType::Float64, {2, 2})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{1, 0, 0, 1}));
  Var stop = scalar("stop", DType::Float64);
  EXPECT_THROW(grad(sum(arange(scalar_constant(0.0), stop, scalar_constant(1.0))), stop), Error);
}

TEST(GradShapeOps, ArangeStartAndStep) {
  Var start = scalar("start", DType::Float64), step = scalar("step", DType::Float64);
  auto gs = grad(sum(arange(start, typed_constant(3.0, DType::Float64), step)), {start, step});
  auto r = run({start, step}, gs, {Array::scalar(DType::Float64, 0.0), Array::scalar(DType::Float64, 0.5)});
  EXPECT_EQ(values(r[0]), (std::vector<double>{6}));                       // six values
  EXPECT_EQ(values(r[1]), (std::vector<double>{0 + 1 + 2 + 3 + 4 + 5}));  // d out[i] / d step = i
}

TEST(GradShapeOps, SubtensorWithNegativeStep) {
  Var x = vector("x", DType::Float64);
  Var g = grad(weighted_sum(subtensor(x, {Index::slice({}, {}, -2)}), {3}), x);
  auto r = run({x}, {g}, {iota(DType::Float64, {5})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{2, 0, 1, 0, 0}));
}

TEST(GradShapeOps, SetSubtensorWithBroadcastRow) {
  Var x = matrix("x", DType::Float32);
  Var y = tensor(DType::Float32, {1, 2}, "y");
  Var out = set_subtensor(subtensor(x, {Index::slice(1)}), y);
  auto gs = grad(weighted_sum(out, {3, 2}), {x, y});
  EXPECT_EQ(gs[1]->type(), y->type());
  auto r = run({x, y}, gs, {iota(DType::Float32, {3, 2}), iota(DType::Float32, {1, 2})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0, 1, 0, 0, 0, 0}));  // overwritten: no gradient
  EXPECT_EQ(values(r[1]), (std::vector<double>{2 + 4, 3 + 5}));
}

TEST(GradShapeOps, IntegerArrayIndexingAccumulatesRepeats) {
  Var x = vector("x", DType::Float64);
  Var g = grad(weighted_sum(advanced_subtensor1(x, index_vector({0, 0, 2, -1})), {4}), x);
  auto r = run({x}, {g}, {iota(DType::Float64, {3})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0 + 1, 0, 2 + 3}));

  Var m = matrix("m", DType::Float64), y = vector("y", DType::Float64);
  Var out = advanced_inc_subtensor(m, y, {index_vector({0, 1, 1}), index_vector({2, 0, 0})});
  auto gs = grad(weighted_sum(out, {2, 3}), {m, y});
  r = run({m, y}, gs, {iota(DType::Float64, {2, 3}), iota(DType::Float64, {3})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(values(r[1]), (std::vector<double>{2, 3, 3}));
}

TEST(GradShapeOps, RopAppliesTheOpToTheTangent) {
  Var x = matrix("x", DType::Float64), v = matrix("v", DType::Float64);
  Var out = subtensor(x, {Index::slice({}, {}, -1), Index::at(1)});
  Var t = Rop({out}, {x}, {v})[0];
  auto r = run({x, v}, {t}, {iota(DType::Float64, {3, 2}), array_of(DType::Float64, {3, 2}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{6, 4, 2}));

  // A row value stored through an eval point that is not statically a row.
  Var y = tensor(DType::Float64, {1, 2}, "y");
  Var stored = inc_subtensor(subtensor(x, {Index::slice(1)}), y);
  Var ty = Rop({stored}, {y}, {v})[0];
  r = run({x, v}, {ty}, {iota(DType::Float64, {3, 2}), array_of(DType::Float64, {1, 2}, {7, 8})});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0, 0, 7, 8, 7, 8}));
}
