// debugprint and pprint: exact text for small graphs, and graphs too deep for recursion.
#include <gtest/gtest.h>

#include <chrono>

#include "kiln/kiln.hpp"
#include "test_util.hpp"

using namespace kiln;

namespace {
Var dmat(const char* name) { return matrix(name, DType::Float64); }
Var dscalar(const char* name) { return scalar(name, DType::Float64); }

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

ErrorKind error_kind(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no error raised";
  return ErrorKind::InternalError;
}
}  // namespace

TEST(Debugprint, TheanoFormat) {
  Var x = dmat("x"), y = dmat("y");
  Var z = x * typed_constant(2.0, DType::Float64) + y;
  EXPECT_EQ(debugprint(z),
            "Elemwise{add} [id A] ''\n"
            " |Elemwise{mul} [id B] ''\n"
            " | |x [id C]\n"
            " | |TensorConstant{2.0} [id D]\n"
            " |y [id E]\n");
}

TEST(Debugprint, SharedNodeIsPrintedOnceThenReferenced) {
  Var x = dmat("x");
  Var m = exp(x);
  m->set_name("m");
  Var z = m * m;
  EXPECT_EQ(debugprint(z),
            "Elemwise{mul} [id A] ''\n"
            " |Elemwise{exp} [id B] 'm'\n"
            " | |x [id C]\n"
            " |Elemwise{exp} [id B] 'm'\n");
  // Several outputs share one set of ids: the second tree refers to the first one's lines.
  EXPECT_EQ(debugprint(std::vector<Var>{z, m + x}),
            "Elemwise{mul} [id A] ''\n"
            " |Elemwise{exp} [id B] 'm'\n"
            " | |x [id C]\n"
            " |Elemwise{exp} [id B] 'm'\n"
            "Elemwise{add} [id D] ''\n"
            " |Elemwise{exp} [id B] 'm'\n"
            " |x [id C]\n");
}

TEST(Debugprint, MultipleOutputsShowTheirIndex) {
  Var x = vector("x", DType::Float64);
  std::vector<Var> parts = split(x, std::vector<int64_t>{2, 3});
  // Both outputs carry the node's id; the node's inputs are printed under the first one only.
  EXPECT_EQ(debugprint(sum(parts[1]) - sum(parts[0])),
            "Elemwise{sub} [id A] ''\n"
            " |Sum{axis=[0]} [id B] ''\n"
            " | |Split{n_splits=2, axis=0}.1 [id C] ''\n"
            " |   |x [id D]\n"
            " |   |TensorConstant{[2, 3]} [id E]\n"
            " |Sum{axis=[0]} [id F] ''\n"
            "   |Split{n_splits=2, axis=0}.0 [id C] ''\n");
  EXPECT_EQ(pprint(parts[0]), "split(x, TensorConstant{[2, 3]}, n_splits=2, axis=0)[0]");
}

TEST(Debugprint, PrintTypeAndUnnamedLeaves) {
  Var x = Variable::input(TensorType(DType::Float32, {kUnknownDim, kUnknownDim}));
  Var w = shared(Array::zeros(DType::Float32, {3}), "w");
  DebugprintOptions o;
  o.print_type = true;
  EXPECT_EQ(debugprint(x + w, o),
            "Elemwise{add} [id A] <TensorType(float32, matrix)> ''\n"
            " |<TensorType(float32, matrix)> [id B] <TensorType(float32, matrix)>\n"
            " |DimShuffle{x,0} [id C] <TensorType(float32, row)> ''\n"
            "   |w [id D] <TensorType(float32, vector)>\n");
}

TEST(Debugprint, IdModes) {
  Var x = dmat("x");
  Var z = exp(x) + x;
  DebugprintOptions o;
  o.ids = "int";
  EXPECT_EQ(debugprint(z, o), "Elemwise{add} [id 0] ''\n |Elemwise{exp} [id 1] ''\n | |x [id 2]\n |x [id 2]\n");
  o.ids = "";
  EXPECT_EQ(debugprint(z, o), "Elemwise{add} ''\n |Elemwise{exp} ''\n | |x\n |x\n");
  o.ids = "id";
  EXPECT_NE(debugprint(z, o).find("[id " + std::to_string(z->owner()->id()) + "]"), std::string::npos);
  o.ids = "hex";
  EXPECT_EQ(error_kind([&] { debugprint(z, o); }), ErrorKind::ValueError);

  // CHAR ids count in base 26 with A as zero: ..., Z, BA, BB.
  Var c = dmat("c");
  for (int i = 0; i < 27; ++i) c = exp(c);
  std::string text = debugprint(c);
  EXPECT_NE(text.find("|Elemwise{exp} [id Z] ''\n"), std::string::npos);
  EXPECT_NE(text.find("|Elemwise{exp} [id BA] ''\n"), std::string::npos);
  EXPECT_NE(text.find("|c [id BB]\n"), std::string::npos);
}

TEST(Debugprint, DepthAndStopOnName) {
  Var x = dmat("x");
  Var h = tanh(x);
  h->set_name("h");
  Var z = exp(h);
  DebugprintOptions o;
  o.depth = 2;
  EXPECT_EQ(debugprint(z, o), "Elemwise{exp} [id A] ''\n |Elemwise{tanh} [id B] 'h'\n");
  o.depth = 0;
  EXPECT_EQ(debugprint(z, o), "");
  o = {};
  o.stop_on_name = true;
  EXPECT_EQ(debugprint(z, o), "Elemwise{exp} [id A] ''\n |Elemwise{tanh} [id B] 'h'\n");
}

TEST(Debugprint, DeepSubtreesContinueBelow) {
  Var x = dmat("x");
  Var z = exp(exp(exp(x)) + x);
  DebugprintOptions o;
  o.max_indent = 2;
  EXPECT_EQ(debugprint(z, o),
            "Elemwise{exp} [id A] ''\n"
            " |Elemwise{add} [id B] ''\n"
            "   |Elemwise{exp} [id C] '' (continued below)\n"
            "   |x [id D]\n"
            "Elemwise{exp} [id C] ''\n"
            " |Elemwise{exp} [id E] ''\n"
            "   |x [id D]\n");
  o.max_indent = 0;
  EXPECT_EQ(error_kind([&] { debugprint(z, o); }), ErrorKind::ValueError);
}

TEST(Debugprint, HundredThousandNodeChainIsIterativeAndLinear) {
  Var x = dscalar("x");
  Var z = x;
  for (int i = 0; i < 100000; ++i) z = z + 1.0;
  auto start = std::chrono::steady_clock::now();
  std::string text = debugprint(z);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // One line per node, constant and x (each z + 1.0 makes its own constant), plus one for each
  // of the 999 nodes at indentation 100, 200, ... that start a block of their own.
  EXPECT_EQ(count_lines(text), 200001u + 999u);
  size_t longest = 0;
  for (size_t pos = 0, next; pos < text.size(); pos = next + 1) {
    next = text.find('\n', pos);
    longest = std::max(longest, next - pos);
  }
  EXPECT_LE(longest, 2u * 100 + 60);
  EXPECT_LT(seconds, 5.0);
}

TEST(Debugprint, CompiledFunctionShowsExecutionOrder) {
  Var x = vector("x", DType::Float64);
  Var w = shared(Array::zeros(DType::Float64, {3}), "w");
  FunctionOptions opts;
  opts.name = "f";
  opts.updates = {{w, w + x}};
  auto fn = function({x}, {exp(x * w)}, opts);
  EXPECT_EQ(debugprint(*fn),
            "Function 'f'\n"
            "Composite{exp((i0 * i1))} [id A] '' 0\n"
            " |x [id B]\n"
            " |w [id C]\n");
  // Without fusion: the elementwise nodes, the last one writing into its dead input.
  auto unfused = [&] {
    test_util::ScopedFlag no_fusion("optimizer_excluding", "fusion");
    return function({x}, {exp(x * w)}, opts);
  }();
  EXPECT_EQ(debugprint(*unfused),
            "Function 'f'\n"
            "Elemwise{exp,inplace} [id A] '' 1\n"
            " |Elemwise{mul} [id B] '' 0\n"
            "   |x [id C]\n"
            "   |w [id D]\n");
}

TEST(Pprint, PrecedenceAndMinimalParentheses) {
  Var a = dmat("a"), b = dmat("b"), c = dmat("c");
  EXPECT_EQ(pprint((a + b) * c), "(a + b) * c");
  EXPECT_EQ(pprint(a + b * c), "a + b * c");
  EXPECT_EQ(pprint(a - (b - c)), "a - (b - c)");
  EXPECT_EQ(pprint((a - b) - c), "a - b - c");
  EXPECT_EQ(pprint(a + (b + c)), "a + (b + c)");  // a different graph (and rounding) than a + b + c
  EXPECT_EQ(pprint(-(a + b)), "-(a + b)");
  EXPECT_EQ(pprint(-(-a)), "-(-a)");
  EXPECT_EQ(pprint(-a * b), "-a * b");
  EXPECT_EQ(pprint(pow(a, -b)), "a ** -b");
  EXPECT_EQ(pprint(pow(-a, b)), "(-a) ** b");
  EXPECT_EQ(pprint(-pow(a, b)), "-a ** b");
  EXPECT_EQ(pprint(pow(a, pow(b, c))), "a ** b ** c");
  EXPECT_EQ(pprint(pow(pow(a, b), c)), "(a ** b) ** c");
  EXPECT_EQ(pprint(a / (b * c)), "a / (b * c)");
  EXPECT_EQ(pprint(int_div(mod(a, b), c)), "a % b // c");
  EXPECT_EQ(pprint(lt(a + b, c)), "a + b < c");
  EXPECT_EQ(pprint(eq(lt(a, b), c)), "(a < b) == c");
  EXPECT_EQ(pprint(or_(lt(a, b), gt(a, c))), "(a < b) | (a > c)");
}

TEST(Pprint, CallsAndOtherOps) {
  Var x = dmat("x"), w = dmat("w");
  Var s = dscalar("s");
  EXPECT_EQ(pprint(exp(x) + tanh(x * s)), "exp(x) + tanh(x * s)");  // s's broadcast DimShuffle is implied
  EXPECT_EQ(pprint(dot(x, w)), "dot(x, w)");
  EXPECT_EQ(pprint(sum(x, std::vector<int>{1})), "sum(x, axis=[1])");
  EXPECT_EQ(pprint(transpose(x + w)), "(x + w).T");
  EXPECT_EQ(pprint(dimshuffle(x, {1, -1, 0})), "x.dimshuffle(1,'x',0)");
  EXPECT_EQ(pprint(clip(x, s, typed_constant(1.0, DType::Float64))), "clip(x, s, 1.0)");
  EXPECT_EQ(pprint(cast(x, DType::Float32)), "cast(x, 'float32')");
  EXPECT_EQ(pprint(subtensor(x, {Index::slice(1, 3), Index::at(0)})), "x[1:3, 0]");
  EXPECT_EQ(pprint(shape(x)), "x.shape");
  Var i = scalar("i", DType::Int64);
  EXPECT_EQ(pprint(subtensor(x + w, {Index::at(i)})), "(x + w)[i]");
  EXPECT_EQ(pprint(set_subtensor(subtensor(x, {Index::slice({}, i)}), w)), "set_subtensor(x[:i], w)");
}

TEST(Pprint, Leaves) {
  Var x = dmat("x");
  EXPECT_EQ(pprint(x * typed_constant(-1.5, DType::Float64)), "x * -1.5");
  EXPECT_EQ(pprint(pow(typed_constant(-2.0, DType::Float64), x)), "(-2.0) ** x");
  Var anon = Variable::input(TensorType(DType::Float64, {kUnknownDim, kUnknownDim}));
  EXPECT_EQ(pprint(anon + x), "<TensorType(float64, matrix)> + x");
  Array values = Array::empty(DType::Int64, {3});
  for (int k = 0; k < 3; ++k) values.data_as<int64_t>()[k] = k + 1;
  EXPECT_EQ(pprint(Variable::constant(values)), "TensorConstant{[1, 2, 3]}");
}

TEST(Pprint, TenThousandTermSumDoesNotRecurse) {
  Var x = dscalar("x");
  Var z = x;
  for (int i = 0; i < 10000; ++i) z = z + 1.0;
  std::string text = pprint(z);
  EXPECT_EQ(text.size(), 1 + 10000 * 6u);  // "x" then " + 1.0" per term: no parentheses at all
  EXPECT_EQ(text.substr(0, 13), "x + 1.0 + 1.0");
  Var r = x;
  for (int i = 0; i < 10000; ++i) r = x - r;  // right-nested: every level keeps its parentheses
  EXPECT_EQ(pprint(r).substr(0, 12), "x - (x - (x ");
}

TEST(Pprint, ReusedResultsThatWouldPrintTooLongRaise) {
  Var z = dscalar("x");
  for (int i = 0; i < 10; ++i) z = z * z;  // 1024 copies of x: fine
  // "x * x", then z * (z): the length L doubles plus 5 at each level, L(k) = 10 * 2**(k-1) - 5.
  EXPECT_EQ(pprint(z).size(), 10u * 512 - 5);
  for (int i = 0; i < 40; ++i) z = z * z;  // 2**50 copies: refused at once instead of filling memory
  EXPECT_EQ(error_kind([&] { pprint(z); }), ErrorKind::ValueError);
}

TEST(ConstantValueStr, PythonLiterals) {
  auto f64 = [](double v) { return constant_value_str(Array::scalar(DType::Float64, v)); };
  EXPECT_EQ(f64(2.0), "2.0");
  EXPECT_EQ(f64(0.1), "0.1");
  EXPECT_EQ(f64(1e-8), "1e-08");
  EXPECT_EQ(f64(1e16), "1e+16");
  EXPECT_EQ(f64(123456.5), "123456.5");
  EXPECT_EQ(f64(-0.0001), "-0.0001");
  EXPECT_EQ(constant_value_str(Array::scalar(DType::Float32, 0.1)), "0.1");
  EXPECT_EQ(constant_value_str(Array::scalar(DType::Bool, 1)), "True");
  EXPECT_EQ(constant_value_str(Array::scalar_int(-7)), "-7");
  EXPECT_EQ(constant_value_str(Array::zeros(DType::Float64, {2, 3})), "(2, 3) of 0.0");
  Array m = Array::empty(DType::Int64, {2, 2});
  for (int k = 0; k < 4; ++k) m.data_as<int64_t>()[k] = k;
  EXPECT_EQ(constant_value_str(m), "[[0, 1], [2, 3]]");
  Array big = Array::empty(DType::Int64, {100});
  for (int k = 0; k < 100; ++k) big.data_as<int64_t>()[k] = k;
  EXPECT_EQ(constant_value_str(big), "[0, 1, 2, ..., 97, 98, 99]");
}
