// Indexing ops: static types, values, views, infer_shape, set/inc, integer arrays and errors.
#include <gtest/gtest.h>

#include <functional>
#include <numeric>

#include "kiln/kiln.hpp"

using namespace kiln;

namespace {

// 0, 1, 2, ... in C order, converted to `dt` (bool: alternating).
Array iota(DType dt, const Shape& shape) {
  Array d = Array::empty(DType::Float64, shape);
  for (int64_t i = 0; i < d.size(); ++i) d.data_as<double>()[i] = dt == DType::Bool ? i % 2 : static_cast<double>(i);
  return d.astype(dt);
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

Var lscalar(const std::string& name) { return scalar(name, DType::Int64); }

// Message of the kiln::Error `f` throws, checking its kind.
std::string error_of(ErrorKind kind, const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return {};
}

// The shapes infer_shape gives for `out`, evaluated for the given inputs.
Shape inferred_shape(const Var& out, const std::vector<Var>& in, const std::vector<Array>& args) {
  const Apply& node = *out->owner();
  std::vector<std::vector<Var>> shapes;
  for (const Var& i : node.inputs()) shapes.push_back(shape_list(i));
  std::vector<Var> dims = node.op().infer_shape(node, shapes).at(0);
  if (dims.empty()) return {};
  Shape r;
  for (const Array& a : run(in, dims, args)) r.push_back(a.item_as_int());
  return r;
}

}  // namespace

TEST(Subtensor, StaticTypes) {
  Var x = tensor(DType::Float32, {5, kUnknownDim, 3}, "x");
  Var i = lscalar("i");
  EXPECT_EQ(subtensor(x, {Index::at(1)})->type().shape(), (std::vector<int64_t>{kUnknownDim, 3}));
  EXPECT_EQ(subtensor(x, {Index::slice(1, 4)})->type().shape(), (std::vector<int64_t>{3, kUnknownDim, 3}));
  EXPECT_EQ(subtensor(x, {Index::slice({}, {}, -2)})->type().shape(), (std::vector<int64_t>{3, kUnknownDim, 3}));
  EXPECT_EQ(subtensor(x, {Index::ellipsis(), Index::newaxis(), Index::at(-1)})->type().shape(),
            (std::vector<int64_t>{5, kUnknownDim, 1}));
  EXPECT_EQ(subtensor(x, {Index::slice(i)})->type().shape(), (std::vector<int64_t>{kUnknownDim, kUnknownDim, 3}));
  EXPECT_EQ(subtensor(x, {Index::slice(7, 9)})->type().shape(), (std::vector<int64_t>{0, kUnknownDim, 3}));
  EXPECT_EQ(subtensor(x, {Index::all(), Index::all(), Index::slice(0, 1)})->type().shape(),
            (std::vector<int64_t>{5, kUnknownDim, 1}));
  EXPECT_EQ(subtensor(x, {Index::at(i)})->owner()->op().name(), "Subtensor{int64}");
  EXPECT_EQ(subtensor(x, {Index::slice(i, {}, -1), Index::newaxis()})->owner()->op().name(),
            "Subtensor{int64::-1, newaxis}");
  // A constant index is folded into the op.
  EXPECT_EQ(subtensor(x, {Index::at(typed_constant(2, DType::Int32))})->owner()->op().name(), "Subtensor{2}");
}

TEST(Subtensor, ViewOfInputWithoutCopy) {
  Var x = matrix("x", DType::Int32);
  Var y = subtensor(x, {Index::slice(1, {}, 2), Index::slice({}, {}, -1)});
  EXPECT_EQ(y->owner()->op().view_map(), (std::map<int, int>{{0, 0}}));
  Array a = iota(DType::Int32, {5, 3});
  std::vector<Array> out(1);
  std::vector<Array> in = {a};
  y->owner()->op().perform(*y->owner(), in, out);
  EXPECT_TRUE(out[0].shares_buffer_with(a));
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values(out[0]), (std::vector<double>{5, 4, 3, 11, 10, 9}));
}

TEST(Subtensor, ValuesWithSymbolicBoundsAndNonContiguousInput) {
  Var x = matrix("x", DType::Float64);
  Var i = lscalar("i"), j = lscalar("j"), s = scalar("s", DType::Int8);
  Var y = subtensor(transpose(x), {Index::slice(i, j, s), Index::at(-1)});
  Array a = iota(DType::Float64, {3, 4});  // x.T is 4 x 3, non-contiguous
  auto r = run({x, i, j, s}, {y}, {a, Array::scalar_int(3), Array::scalar_int(0), Array::scalar(DType::Int8, -2)});
  EXPECT_EQ(values(r[0]), (std::vector<double>{11, 9}));
  r = run({x, i, j, s}, {y}, {a, Array::scalar_int(-100), Array::scalar_int(100), Array::scalar(DType::Int8, 3)});
  EXPECT_EQ(values(r[0]), (std::vector<double>{8, 11}));
}

TEST(Subtensor, EveryDtypeAndZeroDim) {
  for (DType dt : {DType::Bool, DType::Int8, DType::Int16, DType::Int32, DType::Int64, DType::UInt8, DType::UInt16,
                   DType::UInt32, DType::UInt64, DType::Float32, DType::Float64}) {
    Var x = vector("x", dt);
    Array a = iota(dt, {6});
    auto r = run({x}, {subtensor(x, {Index::slice(-2, 0, -2)}), subtensor(x, {Index::at(3)})}, {a});
    EXPECT_EQ(values(r[0]), (std::vector<double>{a.item_as_double(4), a.item_as_double(2)})) << dtype_name(dt);
    EXPECT_EQ(r[1].ndim(), 0);
    EXPECT_EQ(r[1].item_as_double(), a.item_as_double(3));
  }
  Var z = scalar("z", DType::Float32);
  auto r = run({z}, {subtensor(z, {}), subtensor(z, {Index::newaxis(), Index::ellipsis()})}, {Array::scalar(DType::Float32, 7)});
  EXPECT_EQ(r[0].ndim(), 0);
  EXPECT_EQ(r[1].shape(), (Shape{1}));
}

TEST(Subtensor, InferShapeMatchesComputedShapes) {
  Var x = matrix("x", DType::Float32);
  Var i = lscalar("i"), j = lscalar("j"), s = lscalar("s");
  std::vector<std::vector<Index>> cases = {
      {Index::slice(i, j, s)}, {Index::slice(i, {}, s), Index::at(j)}, {Index::slice({}, j, s), Index::newaxis()},
      {Index::slice(-3, i)},   {Index::slice(i, -1, 2)},              {Index::all(), Index::slice(j, i, -1)},
  };
  const std::vector<std::array<int64_t, 3>> params = {{0, 5, 1},  {-2, 10, 1}, {4, -7, -1}, {-9, 2, 3},
                                                      {7, 1, -2}, {1, 3, -3},  {2, 2, 1},   {-1, -100, -4}};
  Array a = iota(DType::Float32, {6, 4});
  for (const auto& idx : cases) {
    Var y = subtensor(x, idx);
    for (const auto& p : params) {
      std::vector<Array> args = {a, Array::scalar_int(p[0]), Array::scalar_int(p[1] % 4), Array::scalar_int(p[2])};
      if (idx.size() == 2 && idx[1].kind == Index::Kind::Int) args[2] = Array::scalar_int(p[0] % 4);
      Shape actual = run({x, i, j, s}, {y}, args)[0].shape();
      EXPECT_EQ(inferred_shape(y, {x, i, j, s}, args), actual) << y->owner()->op().name();
    }
  }
}

TEST(Subtensor, IndexErrors) {
  Var x = tensor(DType::Float64, {3, kUnknownDim}, "x");
  std::string m = error_of(ErrorKind::IndexError, [&] { subtensor(x, {Index::at(3)}); });
  EXPECT_NE(m.find("index 3 is out of bounds for axis 0 with size 3"), std::string::npos) << m;
  m = error_of(ErrorKind::IndexError, [&] { subtensor(x, {Index::at(0), Index::at(0), Index::at(0)}); });
  EXPECT_NE(m.find("too many indices"), std::string::npos) << m;
  error_of(ErrorKind::IndexError, [&] { subtensor(x, {Index::ellipsis(), Index::ellipsis()}); });
  error_of(ErrorKind::ValueError, [&] { subtensor(x, {Index::slice({}, {}, 0)}); });
  error_of(ErrorKind::TypeError, [&] { subtensor(x, {Index::at(scalar("f", DType::Float32))}); });
  error_of(ErrorKind::TypeError, [&] { subtensor(x, {Index::slice(vector("v", DType::Int64))}); });
  error_of(ErrorKind::NotImplementedError, [&] { subtensor(x, {Index::at(scalar("b", DType::Bool))}); });

  Var i = lscalar("i");
  Var y = subtensor(x, {Index::all(), Index::at(i)});
  auto f = function({x, i}, {y});
  m = error_of(ErrorKind::IndexError, [&] { (*f)({iota(DType::Float64, {3, 4}), Array::scalar_int(-5)}); });
  EXPECT_NE(m.find("Subtensor{:, int64}: index -5 is out of bounds for axis 1 with size 4"), std::string::npos) << m;
  Var st = lscalar("st");
  auto g = function({x, st}, {subtensor(x, {Index::slice({}, {}, st)})});
  m = error_of(ErrorKind::ValueError, [&] { (*g)({iota(DType::Float64, {3, 4}), Array::scalar_int(0)}); });
  EXPECT_NE(m.find("slice step cannot be zero"), std::string::npos) << m;
}

TEST(Subtensor, EqualityFromIndexPattern) {
  Var x = matrix("x"), i = lscalar("i"), j = lscalar("j");
  Var ya = subtensor(x, {Index::slice(1, i)}), yb = subtensor(x, {Index::slice(1, j)});
  Var yc = subtensor(x, {Index::slice(2, j)});
  const Op& a = ya->owner()->op();
  EXPECT_TRUE(a.equals(yb->owner()->op()));
  EXPECT_EQ(a.hash(), yb->owner()->op().hash());
  EXPECT_FALSE(a.equals(yc->owner()->op()));
  Var first = subtensor(x, {Index::at(0)}), one = typed_constant(1, x->dtype());
  Var set = set_subtensor(first, one), inc = inc_subtensor(first, one), inc2 = inc_subtensor(first, one);
  EXPECT_FALSE(set->owner()->op().equals(inc->owner()->op()));
  EXPECT_TRUE(inc2->owner()->op().equals(inc->owner()->op()));
}

TEST(IncSubtensor, SetAndIncWithBroadcastAndCast) {
  Var x = matrix("x", DType::Int32);
  Var y = row("y", DType::Float64);  // (1, ?): stretches over the rows of the region
  Var region = subtensor(x, {Index::slice(1, 3), Index::slice({}, {}, -1)});
  Var set = set_subtensor(region, y), inc = inc_subtensor(region, y);
  EXPECT_EQ(set->dtype(), DType::Int32);
  EXPECT_EQ(set->owner()->op().name(), "IncSubtensor{Set;1:3, ::-1}");
  Array a = iota(DType::Int32, {3, 3});
  Array b = iota(DType::Float64, {1, 3});
  auto r = run({x, y}, {set, inc}, {a, b});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0, 1, 2, 2, 1, 0, 2, 1, 0}));
  EXPECT_EQ(values(r[1]), (std::vector<double>{0, 1, 2, 5, 5, 5, 8, 8, 8}));
  EXPECT_EQ(values(a), (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8}));  // x untouched
  EXPECT_EQ(inferred_shape(set, {x, y}, {a, b}), (Shape{3, 3}));
}

TEST(IncSubtensor, BroadcastErrors) {
  Var x = tensor(DType::Float32, {4, 3}, "x");
  Var region = subtensor(x, {Index::slice(0, 2)});
  std::string m = error_of(ErrorKind::ValueError, [&] { set_subtensor(region, tensor(DType::Float32, {2, 4})); });
  EXPECT_NE(m.find("cannot broadcast"), std::string::npos) << m;
  error_of(ErrorKind::ValueError, [&] { set_subtensor(region, tensor(DType::Float32, {1, 2, 3})); });
  m = error_of(ErrorKind::TypeError, [&] { set_subtensor(x, x); });
  EXPECT_NE(m.find("must be the result of indexing"), std::string::npos) << m;

  Var v = vector("v", DType::Float32);
  auto f = function({x, v}, {inc_subtensor(region, v)});
  m = error_of(ErrorKind::ValueError, [&] { (*f)({iota(DType::Float32, {4, 3}), iota(DType::Float32, {1})}); });
  EXPECT_NE(m.find("only dimensions of static size 1"), std::string::npos) << m;
}

TEST(AdvancedSubtensor1, GatherRowsWithNegativeAndRepeatedIndices) {
  Var x = tensor(DType::UInt16, {kUnknownDim, 2}, "x");
  Var idx = vector("idx", DType::Int32);
  Var y = getitem(x, {Index::array(idx), Index::all()});
  EXPECT_EQ(y->owner()->op().name(), "AdvancedSubtensor1");
  EXPECT_EQ(y->type().shape(), (std::vector<int64_t>{kUnknownDim, 2}));
  Array a = iota(DType::UInt16, {3, 2});
  Array i = Array::empty(DType::Int32, {4});
  int32_t iv[] = {2, -1, 0, 2};
  std::copy(iv, iv + 4, i.data_as<int32_t>());
  auto r = run({x, idx}, {y}, {a, i});
  EXPECT_EQ(values(r[0]), (std::vector<double>{4, 5, 4, 5, 0, 1, 4, 5}));
  EXPECT_EQ(inferred_shape(y, {x, idx}, {a, i}), (Shape{4, 2}));
  i.data_as<int32_t>()[1] = 3;
  std::string m = error_of(ErrorKind::IndexError, [&] { run({x, idx}, {y}, {a, i}); });
  EXPECT_NE(m.find("AdvancedSubtensor1: index 3 is out of bounds for axis 0 with size 3"), std::string::npos) << m;
}

TEST(AdvancedIncSubtensor1, RepeatedIndicesAccumulateAndLastSetWins) {
  Var x = vector("x", DType::Float32), y = vector("y", DType::Float32);
  Var idx = vector("idx", DType::Int64);
  Array a = Array::zeros(DType::Float32, {4});
  Array b = iota(DType::Float32, {5});
  Array i = Array::empty(DType::Int64, {5});
  int64_t iv[] = {1, 1, -1, 1, 3};
  std::copy(iv, iv + 5, i.data_as<int64_t>());
  auto r = run({x, y, idx}, {inc_subtensor(advanced_subtensor1(x, idx), y), advanced_set_subtensor1(x, y, idx)},
               {a, b, i});
  EXPECT_EQ(values(r[0]), (std::vector<double>{0, 4, 0, 6}));  // numpy.add.at
  EXPECT_EQ(values(r[1]), (std::vector<double>{0, 3, 0, 4}));
}

TEST(AdvancedSubtensor, PairedIndicesPickElements) {
  Var p = matrix("p", DType::Float64);
  Var rows = vector("rows", DType::Int64), cols = vector("cols", DType::UInt8);
  Var picked = getitem(p, {Index::array(rows), Index::array(cols)});
  EXPECT_EQ(picked->owner()->op().name(), "AdvancedSubtensor");
  Array a = iota(DType::Float64, {3, 4});
  Array r = iota(DType::Int64, {3});
  Array c = Array::empty(DType::UInt8, {3});
  uint8_t cv[] = {3, 0, 2};
  std::copy(cv, cv + 3, c.data_as<uint8_t>());
  auto out = run({p, rows, cols}, {picked, inc_subtensor(picked, typed_constant(1, DType::Float64))}, {a, r, c});
  EXPECT_EQ(values(out[0]), (std::vector<double>{3, 4, 10}));
  EXPECT_EQ(out[1].item_as_double(3), 4);
  EXPECT_EQ(out[1].item_as_double(4), 5);
  EXPECT_EQ(out[1].item_as_double(10), 11);
  EXPECT_EQ(inferred_shape(picked, {p, rows, cols}, {a, r, c}), (Shape{3}));
  // Index tensors of unknown static length broadcast at run time; infer_shape follows.
  for (int64_t n : {0, 1, 2}) {
    Array r1 = iota(DType::Int64, {1});
    Array rn = iota(DType::Int64, {n});
    Shape actual = run({p, rows, cols}, {picked}, {a, rn, r1.astype(DType::UInt8)})[0].shape();
    EXPECT_EQ(actual, (Shape{n}));
    EXPECT_EQ(inferred_shape(picked, {p, rows, cols}, {a, rn, r1.astype(DType::UInt8)}), actual);
    EXPECT_EQ(inferred_shape(picked, {p, rows, cols}, {a, r1, rn.astype(DType::UInt8)}), actual);
  }
  // An integer next to an array broadcasts with it, as in numpy.
  auto col = run({p, rows}, {getitem(p, {Index::array(rows), Index::at(-1)})}, {a, r});
  EXPECT_EQ(values(col[0]), (std::vector<double>{3, 7, 11}));
}

TEST(AdvancedSubtensor, Errors) {
  Var x = matrix("x");
  Var fv = vector("fv", DType::Float32), bv = vector("bv", DType::Bool), iv = vector("iv", DType::Int64);
  error_of(ErrorKind::TypeError, [&] { advanced_subtensor1(x, fv); });
  error_of(ErrorKind::NotImplementedError, [&] { getitem(x, {Index::array(bv)}); });
  std::string m = error_of(ErrorKind::NotImplementedError, [&] { getitem(x, {Index::all(), Index::array(iv)}); });
  EXPECT_NE(m.find("not supported yet"), std::string::npos) << m;
  error_of(ErrorKind::IndexError, [&] { advanced_subtensor(x, {iv, iv, iv}); });
  error_of(ErrorKind::IndexError,
           [&] { advanced_subtensor(x, {tensor(DType::Int64, {2}), tensor(DType::Int64, {3})}); });
  auto f = function({x, iv}, {advanced_subtensor(x, {iv, iv})});
  Array bad = iota(DType::Int64, {3});
  m = error_of(ErrorKind::IndexError, [&] { (*f)({iota(DType::Float64, {2, 5}), bad}); });
  EXPECT_NE(m.find("index 2 is out of bounds for axis 0 with size 2"), std::string::npos) << m;
}

TEST(Take, AlongAnAxis) {
  Var x = tensor3("x", DType::Int16);
  Var idx = matrix("idx", DType::Int64);
  Var t = take(x, idx, 1);
  Array a = iota(DType::Int16, {2, 3, 2});
  Array i = Array::zeros(DType::Int64, {2, 2});
  i.data_as<int64_t>()[1] = 2;
  i.data_as<int64_t>()[3] = -1;
  auto r = run({x, idx}, {t}, {a, i});
  EXPECT_EQ(r[0].shape(), (Shape{2, 2, 2, 2}));
  // numpy.take(a, [[0, 2], [0, -1]], axis=1).ravel()
  EXPECT_EQ(values(r[0]), (std::vector<double>{0, 1, 4, 5, 0, 1, 4, 5, 6, 7, 10, 11, 6, 7, 10, 11}));
  error_of(ErrorKind::NotImplementedError, [&] { take(x, idx); });
  error_of(ErrorKind::ValueError, [&] { take(x, idx, 3); });
}

TEST(Subtensor, FunctionResultsDoNotAliasInputs) {
  Var x = matrix("x", DType::Float64);
  Array a = iota(DType::Float64, {3, 3});
  auto r = run({x}, {subtensor(x, {Index::slice(1)}), subtensor(x, {Index::at(0)})}, {a});
  EXPECT_FALSE(r[0].shares_buffer_with(a));
  EXPECT_FALSE(r[1].shares_buffer_with(a));
  EXPECT_EQ(values(r[0]), (std::vector<double>{3, 4, 5, 6, 7, 8}));
}
