// OpFromGraph through the C++ API: compiled as a unit or inlined, gradients of the graph and an
// override, shared variables as implicit inputs.
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"

using namespace kiln;

namespace {

Array vec(std::vector<double> values) {
  Array a = Array::empty(DType::Float64, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) a.data_as<double>()[i] = values[i];
  return a;
}

bool has_op_from_graph(const Function& f) {
  for (const Apply* node : f.nodes())
    if (node->op().kind() == "OpFromGraph") return true;
  return false;
}

}  // namespace

TEST(OpFromGraph, ComputesItsGraphAsAUnitOrInlined) {
  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64);
  for (bool inline_graph : {false, true}) {
    OpFromGraphOptions options;
    options.inline_graph = inline_graph;
    auto op = OpFromGraph::create({x, y}, {x + y * 2.0}, options);
    Var a = vector("a", DType::Float64), b = vector("b", DType::Float64);
    auto f = function({a, b}, {(*op)({a, b})[0] - (*op)({b, a})[0]});
    EXPECT_EQ(has_op_from_graph(*f), !inline_graph);
    Array out = (*f)({vec({1, 2}), vec({10, 20})})[0];
    EXPECT_EQ(out.item_as_double(0), (1 + 20) - (10 + 2));
    EXPECT_EQ(out.item_as_double(1), (2 + 40) - (20 + 4));
  }
}

TEST(OpFromGraph, SharedVariablesBecomeImplicitInputsWithGradients) {
  Var x = vector("x", DType::Float64);
  Var s = shared(vec({3, 4}), "s");
  auto op = OpFromGraph::create({x}, {x * s});
  ASSERT_EQ(op->shared_inputs().size(), 1u);
  Var a = vector("a", DType::Float64);
  Var out = (*op)({a})[0];
  EXPECT_EQ(out->owner()->inputs().size(), 2u);
  std::vector<Var> g = grad(sum(out * a), {a, s});
  auto f = function({a}, {out, g[0], g[1]});
  auto r = (*f)({vec({1, 2})});
  EXPECT_EQ(r[0].item_as_double(1), 8.0);
  EXPECT_EQ(r[1].item_as_double(0), 6.0);  // d(a * a * s)/da = 2 a s
  EXPECT_EQ(r[2].item_as_double(1), 4.0);  // d/ds = a * a
}

TEST(OpFromGraph, GradientOverrideReplacesTheGraphsGradient) {
  Var x = vector("x", DType::Float64);
  OpFromGraphOptions options;
  options.lop_override = [](const OpFromGraph&, const std::vector<Var>&, const std::vector<Var>&,
                            const std::vector<Var>& grads) { return std::vector<Var>{grads[0] * 10.0}; };
  auto op = OpFromGraph::create({x}, {x * 2.0}, options);
  Var a = vector("a", DType::Float64);
  auto f = function({a}, {grad(sum((*op)({a})[0]), a)});
  EXPECT_EQ((*f)({vec({1, 2})})[0].item_as_double(0), 10.0);
}

TEST(OpFromGraph, RejectsBadInputs) {
  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64);
  auto op = OpFromGraph::create({x}, {x * 2.0});
  EXPECT_THROW((*op)({x, y}), Error);
  EXPECT_THROW((*op)({matrix("m", DType::Float64)}), Error);
  EXPECT_THROW(OpFromGraph::create({x}, {x + y}), Error);
  EXPECT_THROW(OpFromGraph::create({shared(vec({1}))}, {x}), Error);
}
