// The rewrite engine on a private database: patterns, guards against failing, endless and
// graph-growing rules, and the built-in FAST_RUN pipeline through function().
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kiln/kiln.hpp"
#include "test_util.hpp"

using namespace kiln;

namespace {

std::vector<std::string> kinds(const FunctionGraph& fg) {
  std::vector<std::string> out;
  for (Apply* n : fg.toposort()) out.push_back(n->op().kind());
  return out;
}

PatternPtr any_x_for_test() { return pat::any("x"); }

RewriteQuery everything() {
  RewriteQuery q;
  q.include = {"test"};
  return q;
}

}  // namespace

TEST(Pattern, MatchesCommutativeAndBindsTheSameVariableOnce) {
  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64);
  Bindings b;
  EXPECT_TRUE(match_pattern(pat::commutative("Elemwise{add}", pat::constant(1), pat::any("x")), 1.0 + x, b));
  EXPECT_EQ(b.at("x"), x);
  b.clear();
  EXPECT_TRUE(match_pattern(pat::commutative("Elemwise{add}", pat::constant(1), pat::any("x")), x + 1.0, b));
  b.clear();
  EXPECT_FALSE(match_pattern(pat::elemwise("sub", {pat::any("x"), pat::any("x")}), x - y, b));
  b.clear();
  EXPECT_TRUE(match_pattern(pat::elemwise("sub", {pat::any("x"), pat::any("x")}), x - x, b));
}

TEST(RewriteEngine, AppliesRulesToAFixedPoint) {
  RewriteDatabase db;
  db.add_phase("p", 0);
  // log(1 + x) -> log1p(x), and a rule that turns exp into exp(log(exp)) once... applied repeatedly.
  db.add("p", {"log1p", {"test"}, pattern_rule(pat::elemwise("log", {pat::commutative("Elemwise{add}", pat::constant(1), pat::any("x"))}),
                                                [](const Bindings& b) { return log1p(b.at("x")); })});
  Var x = vector("x", DType::Float64);
  FunctionGraph fg({x}, {log(1.0 + log(1.0 + x))});
  auto report = db.run(fg, everything());
  EXPECT_EQ(kinds(fg), (std::vector<std::string>{"Elemwise{log1p}", "Elemwise{log1p}"}));
  EXPECT_EQ(report.stats.at("log1p").applied, 2);
  EXPECT_TRUE(report.warnings.empty());
}

TEST(RewriteEngine, FailingRuleIsReportedAndSkipped) {
  RewriteDatabase db;
  db.add_phase("p", 0);
  db.add("p", {"broken", {"test"}, node_rewriter({"Elemwise{exp}"}, [](const FunctionGraph&, const Apply&) -> std::optional<std::vector<Var>> {
                 KILN_THROW(ValueError) << "this rule always fails";
               })});
  db.add("p", {"wrong_type", {"test"}, node_rewriter({"Elemwise{exp}"}, [](const FunctionGraph&, const Apply& n) -> std::optional<std::vector<Var>> {
                 return std::vector<Var>{cast(n.input(0), DType::Float32)};
               })});
  Var x = vector("x", DType::Float64);
  FunctionGraph fg({x}, {exp(x)});
  auto report = db.run(fg, everything());
  EXPECT_EQ(kinds(fg), (std::vector<std::string>{"Elemwise{exp}"}));
  ASSERT_EQ(report.warnings.size(), 2u);  // one pass: nothing changed, so no second one
  EXPECT_NE(report.warnings[0].find("broken"), std::string::npos);
  EXPECT_NE(report.warnings[1].find("wrong_type"), std::string::npos);
}

TEST(RewriteEngine, GraphGrowingRuleIsDisabledWithAWarning) {
  RewriteDatabase db;
  db.add_phase("p", 0);
  // exp(x) -> exp(x) * 1 + 0 ... forever: each application adds nodes.
  db.add("p", {"grower", {"test"}, node_rewriter({"Elemwise{exp}"}, [](const FunctionGraph&, const Apply& n) -> std::optional<std::vector<Var>> {
                 Var again = exp(n.input(0));
                 return std::vector<Var>{again * 1.0 + again * 0.0};
               })});
  Var x = vector("x", DType::Float64);
  FunctionGraph fg({x}, {exp(x)});
  auto report = db.run(fg, everything());
  bool warned = false;
  for (const auto& w : report.warnings) warned = warned || w.find("grower") != std::string::npos;
  EXPECT_TRUE(warned);
  EXPECT_LT(fg.size(), 100000u);
}

TEST(RewriteEngine, FastRunThroughFunction) {
  Var x = vector("x", DType::Float64);
  auto f = function({x}, {log(1.0 + x), pow(x, scalar_constant(2.0))});
  std::vector<std::string> got;
  for (const Apply* n : f->nodes()) got.push_back(n->op().kind());
  EXPECT_NE(std::find(got.begin(), got.end(), "Elemwise{log1p}"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "Elemwise{sqr}"), got.end());
  Array tiny = Array::scalar(DType::Float64, 1e-20).reshape({1});
  EXPECT_DOUBLE_EQ((*f)({tiny})[0].item_as_double(), 1e-20);
}

namespace {

// An op that writes into its input without declaring it: DebugMode must catch it.
class SneakyDouble final : public Op {
 public:
  std::string name() const override { return "SneakyDouble"; }
  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override { return {in[0]->type()}; }
  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    Array x = in[0];
    for (int64_t i = 0; i < x.size(); ++i) x.data_as<double>()[i] *= 2;  // the violation
    out[0] = x.copy();
  }
};

}  // namespace

TEST(DebugMode, CatchesUndeclaredInputChanges) {
  Var x = vector("x", DType::Float64);
  Var y = make_node1(std::make_shared<SneakyDouble>(), {exp(x)});
  FunctionOptions debug;
  debug.mode = "DebugMode";
  auto f = function({x}, {y}, debug);
  Array xv = Array::zeros(DType::Float64, {3});
  try {
    (*f)({xv});
    FAIL() << "DebugMode did not notice";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("changed its input 0"), std::string::npos) << e.what();
  }
}

TEST(DebugMode, CatchesAWrongRewrite) {
  // A deliberately wrong rule, only selected through optimizer_including.
  RewriteDatabase::get().add("specialize", {"wrong_for_debugmode_test", {"debugmode_test"},
                                            pattern_rule(pat::elemwise("exp", {any_x_for_test()}),
                                                         [](const Bindings& b) { return log(b.at("x")); })});
  Config::get().set("optimizer_including", "debugmode_test");
  Var x = vector("x", DType::Float64);
  FunctionOptions debug;
  debug.mode = "DebugMode";
  auto f = function({x}, {exp(x)}, debug);
  Config::get().set("optimizer_including", "");
  ASSERT_EQ(f->nodes().size(), 1u);
  EXPECT_EQ(f->nodes()[0]->op().kind(), "Elemwise{log}");
  Array xv = Array::zeros(DType::Float64, {2});
  xv = (*function({x}, {x + 1.0}))({xv})[0];
  try {
    (*f)({xv});
    FAIL() << "DebugMode did not notice";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("differs"), std::string::npos) << e.what();
  }
}

namespace {

std::vector<std::string> compiled_kinds(const Function& f) {
  std::vector<std::string> out;
  for (const Apply* n : f.nodes()) out.push_back(n->op().kind());
  return out;
}

bool has_kind(const std::vector<std::string>& kinds, const std::string& kind) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

Array doubles(std::initializer_list<double> values) {
  Array a = Array::empty(DType::Float64, {static_cast<int64_t>(values.size())});
  int64_t i = 0;
  for (double v : values) a.data_as<double>()[i++] = v;
  return a;
}

}  // namespace

TEST(Canonicalize, CastToTheSameDtypeIsRemoved) {
  // The cast builder never makes such a node, but reusing a Cast{float64} op on a float64 input
  // (as a gradient or tangent rebuilt from a node's op may) does.
  OpPtr to_float64 = cast(vector("a", DType::Float32), DType::Float64)->owner()->op_ptr();
  Var x = vector("x", DType::Float64);
  Var same = make_node1(to_float64, {x});
  ASSERT_EQ(same->owner()->op().kind(), "Elemwise{Cast}");
  auto f = function({x}, {exp(same)});
  EXPECT_FALSE(has_kind(compiled_kinds(*f), "Elemwise{Cast}"));
  EXPECT_DOUBLE_EQ((*f)({doubles({0.0, 1.0})})[0].item_as_double(1), std::exp(1.0));
}

TEST(Canonicalize, LosslessDoubleCastCollapsesAndLossyOneStays) {
  Var a = vector("a", DType::Float32);
  auto f = function({a}, {cast(cast(a, DType::Float64), DType::Float32)});
  EXPECT_TRUE(f->nodes().empty());  // the output is the input
  Array av = Array::empty(DType::Float32, {2});
  av.data_as<float>()[0] = 0.1f;
  av.data_as<float>()[1] = -3e38f;
  Array got = (*f)({av})[0];
  ASSERT_EQ(got.dtype(), DType::Float32);
  EXPECT_EQ(got.data_as<float>()[0], 0.1f);
  EXPECT_EQ(got.data_as<float>()[1], -3e38f);
  Var i = vector("i", DType::Int64);
  auto g = function({i}, {cast(cast(i, DType::Float64), DType::Int64)});
  auto kinds = compiled_kinds(*g);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "Elemwise{Cast}"), 2);
  Array big = Array::empty(DType::Int64, {1});
  big.data_as<int64_t>()[0] = (int64_t{1} << 53) + 1;
  EXPECT_EQ((*g)({big})[0].data_as<int64_t>()[0], int64_t{1} << 53);  // rounded through float64
}

TEST(Canonicalize, QuotientsCancelAndKeepTheResultType) {
  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64), z = vector("z", DType::Float64);
  test_util::ScopedFlag no_fusion("optimizer_excluding", "fusion");
  auto f = function({x, y, z}, {(x * y) / (x * z), (x / y) / (z / x)});
  auto kinds = compiled_kinds(*f);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "Elemwise{true_div}"), 2);
  auto out = (*f)({doubles({2, 3}), doubles({5, 7}), doubles({11, 13})});
  EXPECT_DOUBLE_EQ(out[0].item_as_double(1), 7.0 / 13.0);
  EXPECT_DOUBLE_EQ(out[1].item_as_double(0), 4.0 / 55.0);
  // A scalar cancelled against a vector: the result is still a vector of ones.
  Var s = scalar("s", DType::Float64);
  auto g = function({x, s}, {(x * s) / (s * x)});
  Array ones = (*g)({doubles({2, 3, 4}), Array::scalar(DType::Float64, 5)})[0];
  ASSERT_EQ(ones.shape(), (Shape{3}));
  EXPECT_DOUBLE_EQ(ones.item_as_double(2), 1.0);
  EXPECT_FALSE(has_kind(compiled_kinds(*g), "Elemwise{true_div}"));
}

TEST(Canonicalize, SubtensorIndexRebuildsTheSameNode) {
  Var x = matrix("x", DType::Float64);
  Var i = scalar("i", DType::Int32), j = scalar("j", DType::Int64);
  Var v = subtensor(x, {Index::slice(i, std::nullopt, 2), Index::newaxis(), Index::at(j)});
  auto idx = subtensor_index(*v->owner());
  ASSERT_TRUE(idx.has_value());
  ASSERT_EQ(idx->size(), 3u);
  EXPECT_EQ((*idx)[0].start.var(), i);
  EXPECT_EQ((*idx)[0].step.literal(), 2);
  EXPECT_EQ((*idx)[2].start.var(), j);
  Var again = subtensor(x, *idx);
  EXPECT_TRUE(again->owner()->op().equals(v->owner()->op()));
  EXPECT_EQ(again->owner()->inputs(), v->owner()->inputs());
  EXPECT_FALSE(subtensor_index(*exp(x)->owner()).has_value());
}

TEST(Canonicalize, ReduceLikeAndJoinAxisReadTheirNodes) {
  Var x = matrix("x", DType::Float32);
  Var p = prod(x, std::vector<int>{0});
  Var moved = reduce_like(*p->owner(), transpose(x), {1});
  EXPECT_TRUE(moved->owner()->op().equals(prod(transpose(x), std::vector<int>{1})->owner()->op()));
  EXPECT_NE(moved->owner()->op().name().find("acc_dtype=float64"), std::string::npos);
  EXPECT_EQ(moved->dtype(), p->dtype());
  EXPECT_EQ(join_axis(*join(1, {x, x})->owner()), 1);
  EXPECT_FALSE(join_axis(*p->owner()).has_value());
}
