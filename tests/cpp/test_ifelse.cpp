// Lazy IfElse through the C++ API: a counting op proves that the nodes of the branch not taken
// never run (nested branches, a node both branches need, a condition computed inside a branch).
#include <gtest/gtest.h>

#include <atomic>

#include "kiln/kiln.hpp"

using namespace kiln;

namespace {

// x + 1, counting how often it runs (per instance: each test makes its own).
class CountingIncrement final : public Op {
 public:
  explicit CountingIncrement(std::string tag) : tag_(std::move(tag)) {}
  std::string name() const override { return "CountingIncrement{" + tag_ + "}"; }
  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override { return {in[0]->type()}; }
  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    ++runs;
    out[0] = in[0].copy();
    for (int64_t i = 0; i < out[0].size(); ++i) out[0].data_as<double>()[i] += 1;
  }
  mutable std::atomic<int> runs{0};

 private:
  std::string tag_;
};

struct Counted {
  std::shared_ptr<CountingIncrement> op;
  Var out;
};

Counted counted(const Var& x, const std::string& tag) {
  auto op = std::make_shared<CountingIncrement>(tag);
  return {op, make_node1(op, {x})};
}

Array scalar_int(int64_t v) { return Array::scalar_int(v); }
Array scalar_double(double v) { return Array::scalar(DType::Float64, v); }

double run(const std::shared_ptr<const Function>& f, std::vector<Array> args) { return (*f)(args)[0].item_as_double(); }

}  // namespace

TEST(IfElse, RunsOnlyTheBranchTaken) {
  Var c = scalar("c", DType::Int64), x = scalar("x", DType::Float64);
  Counted then_branch = counted(x, "then"), else_branch = counted(x * 10.0, "else");
  auto f = function({c, x}, {ifelse(c, then_branch.out, else_branch.out)});
  EXPECT_EQ(run(f, {scalar_int(1), scalar_double(2)}), 3.0);
  EXPECT_EQ(then_branch.op->runs, 1);
  EXPECT_EQ(else_branch.op->runs, 0);
  EXPECT_EQ(run(f, {scalar_int(0), scalar_double(2)}), 21.0);
  EXPECT_EQ(then_branch.op->runs, 1);
  EXPECT_EQ(else_branch.op->runs, 1);
}

TEST(IfElse, NestedBranchesRunOnlyThePathTaken) {
  Var c1 = scalar("c1", DType::Int64), c2 = scalar("c2", DType::Int64), x = scalar("x", DType::Float64);
  Counted a = counted(x, "a"), b = counted(x * 2.0, "b"), d = counted(x * 3.0, "d");
  auto f = function({c1, c2, x}, {ifelse(c1, ifelse(c2, a.out, b.out), d.out)});
  EXPECT_EQ(run(f, {scalar_int(1), scalar_int(0), scalar_double(1)}), 3.0);
  EXPECT_EQ(a.op->runs + b.op->runs * 10 + d.op->runs * 100, 10);
  EXPECT_EQ(run(f, {scalar_int(0), scalar_int(1), scalar_double(1)}), 4.0);
  EXPECT_EQ(a.op->runs + b.op->runs * 10 + d.op->runs * 100, 110);
}

TEST(IfElse, NodeNeededByBothBranchesOrAnOutputRunsAlways) {
  Var c = scalar("c", DType::Int64), x = scalar("x", DType::Float64);
  Counted both = counted(x, "both"), direct = counted(x * 5.0, "direct");
  auto f = function({c, x}, {ifelse(c, both.out * 2.0, both.out * 3.0), ifelse(c, x, direct.out), direct.out});
  (*f)({scalar_int(1), scalar_double(1)});
  (*f)({scalar_int(0), scalar_double(1)});
  EXPECT_EQ(both.op->runs, 2);
  EXPECT_EQ(direct.op->runs, 2);
}

TEST(IfElse, ConditionComputedInsideABranchIsRead) {
  Var c = scalar("c", DType::Int64), x = scalar("x", DType::Float64);
  Counted cond = counted(x, "cond"), inner = counted(x * 7.0, "inner");
  auto f = function({c, x}, {ifelse(c, ifelse(gt(cond.out, Variable::constant(Array::scalar(DType::Float64, 1.5))), inner.out, x), x * 0.0)});
  EXPECT_EQ(run(f, {scalar_int(0), scalar_double(1)}), 0.0);
  EXPECT_EQ(cond.op->runs + inner.op->runs, 0);
  EXPECT_EQ(run(f, {scalar_int(1), scalar_double(0)}), 0.0);  // cond = 1: not > 1.5, inner skipped
  EXPECT_EQ(cond.op->runs, 1);
  EXPECT_EQ(inner.op->runs, 0);
  EXPECT_EQ(run(f, {scalar_int(1), scalar_double(1)}), 8.0);
  EXPECT_EQ(inner.op->runs, 1);
}

TEST(IfElse, GradientFlowsToTheBranchTaken) {
  Var c = scalar("c", DType::Int64), x = scalar("x", DType::Float64), y = scalar("y", DType::Float64);
  std::vector<Var> g = grad(ifelse(c, x * x, y * y * 3.0), {x, y});
  auto f = function({c, x, y}, g);
  auto taken_then = (*f)({scalar_int(1), scalar_double(2), scalar_double(5)});
  EXPECT_EQ(taken_then[0].item_as_double(), 4.0);
  EXPECT_EQ(taken_then[1].item_as_double(), 0.0);
  auto taken_else = (*f)({scalar_int(0), scalar_double(2), scalar_double(5)});
  EXPECT_EQ(taken_else[0].item_as_double(), 0.0);
  EXPECT_EQ(taken_else[1].item_as_double(), 30.0);
}

TEST(IfElse, RejectsBadConditionsAndBranches) {
  Var c = scalar("c", DType::Int64), x = vector("x", DType::Float64);
  EXPECT_THROW(ifelse(x, x, x), Error);
  EXPECT_THROW(ifelse(c, std::vector<Var>{x, x}, std::vector<Var>{x}), Error);
  EXPECT_THROW(ifelse(c, x, vector("f", DType::Float32)), Error);
  EXPECT_THROW(ifelse(c, x, matrix("m", DType::Float64)), Error);
}
