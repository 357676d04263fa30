// The rewrite engine on a private database: patterns, guards against failing, endless and
// graph-growing rules, and the built-in FAST_RUN pipeline through function().
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"

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
