// Graph construction, types, FunctionGraph, toposort and cloning.
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"

using namespace kiln;

namespace {
Var dvec(const char* name) { return vector(name, DType::Float64); }
}  // namespace

TEST(TensorType, BroadcastablePatternAndPrinting) {
  TensorType row = TensorType::from_broadcastable(DType::Float32, {true, false});
  EXPECT_TRUE(row.broadcastable(0));
  EXPECT_FALSE(row.broadcastable(1));
  EXPECT_EQ(row.str(), "TensorType(float32, row)");
  EXPECT_EQ(TensorType(DType::Int64, {kUnknownDim, kUnknownDim}).str(), "TensorType(int64, matrix)");
  EXPECT_EQ(TensorType(DType::Float64, {3, kUnknownDim}).str(), "TensorType(float64, (3, ?))");
  EXPECT_TRUE(TensorType(DType::Float64, {kUnknownDim}).is_super(TensorType(DType::Float64, {4})));
  EXPECT_FALSE(TensorType(DType::Float64, {4}).is_super(TensorType(DType::Float64, {kUnknownDim})));
}

TEST(Graph, NodesRecordOpsInputsAndTypes) {
  Var x = dvec("x"), y = dvec("y");
  Var z = x * y + 1.0;
  ASSERT_NE(z->owner(), nullptr);
  EXPECT_EQ(z->owner()->op().name(), "Elemwise{add}");
  EXPECT_EQ(z->dtype(), DType::Float64);
  EXPECT_EQ(z->owner()->input(0)->owner()->op().name(), "Elemwise{mul}");
  // The constant 1.0 was reshaped to rank 1 and is broadcastable.
  EXPECT_TRUE(z->owner()->input(1)->is_constant());
  EXPECT_TRUE(z->owner()->input(1)->type().broadcastable(0));
}

TEST(Graph, OpsCompareByProperties) {
  Var x = dvec("x");
  auto a = sum(x, std::vector<int>{0}), b = sum(x, std::vector<int>{0});
  EXPECT_TRUE(a->owner()->op().equals(b->owner()->op()));
  EXPECT_FALSE(a->owner()->op().equals(max(x)->owner()->op()));
}

TEST(Graph, ToposortIsDeterministicAndOrdered) {
  Var x = dvec("x");
  Var a = exp(x), b = log(x), c = a * b, d = c + a;
  auto order = toposort({d});
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order.back(), d->owner());
  auto pos = [&](Apply* n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  EXPECT_LT(pos(a->owner()), pos(c->owner()));
  EXPECT_LT(pos(b->owner()), pos(c->owner()));
  EXPECT_EQ(order, toposort({d}));
}

TEST(FunctionGraph, ClientsAndReplace) {
  Var x = dvec("x");
  Var a = exp(x);
  Var out = a * a;
  FunctionGraph fg({x}, {out});
  ASSERT_EQ(fg.size(), 2u);
  Var cloned_out = fg.outputs()[0];
  EXPECT_NE(cloned_out.get(), out.get());  // the user's graph is copied
  Var cloned_a = cloned_out->owner()->input(0);
  EXPECT_EQ(fg.clients(cloned_a.get()).size(), 2u);
  Var replacement = log(x);
  fg.replace(cloned_a, replacement);
  EXPECT_EQ(fg.outputs()[0]->owner()->input(0), replacement);
  EXPECT_EQ(fg.clients(replacement.get()).size(), 2u);
  EXPECT_EQ(fg.size(), 2u);  // exp was pruned, log added
  EXPECT_EQ(out->owner()->input(0), a);  // original untouched
  EXPECT_THROW(fg.replace(replacement, vector("i", DType::Int32)), Error);
}

TEST(Graph, CloneWithReplacement) {
  Var x = dvec("x"), y = dvec("y");
  Var z = exp(x) + x;
  Var w = clone_graph({z}, {{x.get(), y}})[0];
  auto leaves = graph_inputs({w});
  ASSERT_EQ(leaves.size(), 1u);
  EXPECT_EQ(leaves[0], y);
}

TEST(Graph, HundredThousandNodeChainBuildsSortsAndReleasesIteratively) {
  Var x = scalar("x", DType::Float64);
  Var y = x;
  for (int i = 0; i < 100000; ++i) y = y + 1.0;
  EXPECT_EQ(toposort({y}).size(), 100000u);
  auto f = function({x}, {y});
  Array out = (*f)({Array::scalar(DType::Float64, 0.0)})[0];
  EXPECT_EQ(out.item_as_double(), 100000.0);
  f.reset();
  y.reset();  // must not overflow the stack
}

TEST(Errors, DimShuffleRejectsBadPatterns) {
  Var m = matrix("m", DType::Float64);
  EXPECT_THROW(dimshuffle(m, {0, 0}), Error);
  EXPECT_THROW(dimshuffle(m, {0, 2}), Error);
  EXPECT_THROW(dimshuffle(m, {0}), Error);  // drops a non-broadcastable axis
  Var r = row("r", DType::Float64);
  EXPECT_EQ(dimshuffle(r, {1})->ndim(), 1);  // dropping the broadcastable axis is fine
  try {
    dimshuffle(m, {1, 1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::ValueError);
    EXPECT_NE(std::string(e.what()).find("(1,1)"), std::string::npos);
  }
}
