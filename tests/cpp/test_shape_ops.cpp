// The shape op family: values, static types, infer_shape graphs, views and errors.
#include <gtest/gtest.h>

#include <numeric>

#include "kiln/kiln.hpp"

using namespace kiln;

namespace {

const DType kAllDTypes[] = {DType::Bool,   DType::Int8,   DType::Int16,  DType::Int32,   DType::Int64,  DType::UInt8,
                            DType::UInt16, DType::UInt32, DType::UInt64, DType::Float32, DType::Float64};

// 0, 1, 2, ... converted to `dtype` (bool: alternating false/true).
Array iota(DType dtype, const Shape& shape) {
  Array a = Array::empty(DType::Int64, shape);
  for (int64_t i = 0; i < a.size(); ++i) a.data_as<int64_t>()[i] = dtype == DType::Bool ? i % 2 : i;
  return a.astype(dtype);
}

std::vector<double> values(const Array& a) {
  std::vector<double> out;
  for (int64_t i = 0; i < a.size(); ++i) out.push_back(a.item_as_double(i));
  return out;
}

std::vector<Array> run(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                       const std::vector<Array>& args) {
  FunctionOptions opts;
  opts.on_unused_input = "ignore";
  return (*function(inputs, outputs, opts))(args);
}

Array run1(const std::vector<Var>& inputs, const Var& output, const std::vector<Array>& args) {
  return run(inputs, {output}, args)[0];
}

// The shape of output `o` computed by its op's infer_shape graph (from the input shapes), or
// nullopt when the op cannot infer it.
std::optional<Shape> inferred_shape(const std::vector<Var>& inputs, const Var& o, const std::vector<Array>& args) {
  const Apply* node = o->owner();
  std::vector<std::vector<Var>> in;
  for (const Var& i : node->inputs()) in.push_back(shape_list(i));
  auto shapes = node->op().infer_shape(*node, in);
  if (shapes.empty()) return std::nullopt;
  const std::vector<Var>& dims = shapes[o->index()];
  EXPECT_EQ(static_cast<int>(dims.size()), o->ndim());
  if (dims.empty()) return Shape{};
  for (const Var& d : dims) {
    EXPECT_EQ(d->dtype(), DType::Int64);
    EXPECT_EQ(d->ndim(), 0);
  }
  Shape out;
  for (const Array& a : run(inputs, dims, args)) out.push_back(a.item_as_int());
  return out;
}

// Runs the graph, checks the value's shape against infer_shape's and the static type, returns it.
Array run_checked(const std::vector<Var>& inputs, const Var& o, const std::vector<Array>& args) {
  Array r = run1(inputs, o, args);
  EXPECT_TRUE(o->type().accepts(r)) << o->type().str() << " vs " << shape_str(r.shape());
  auto inferred = inferred_shape(inputs, o, args);
  EXPECT_TRUE(inferred.has_value()) << o->label();
  if (inferred) {
    EXPECT_EQ(*inferred, r.shape());
  }
  return r;
}

// Calls `f` and checks that it throws a kiln::Error of `kind` whose message contains `needle`.
template <typename F>
void expect_error(F&& f, ErrorKind kind, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

Array int_array(const std::vector<int64_t>& v) {
  Array a = Array::empty(DType::Int64, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), a.data_as<int64_t>());
  return a;
}

Var ivec(const std::vector<int64_t>& v) { return Variable::constant(int_array(v)); }

Var int_scalar(const std::string& name) { return scalar(name, DType::Int64); }

}  // namespace

// ---------------------------------------------------------------- make_vector

TEST(MakeVector, UpcastsScalarsAndHasStaticLength) {
  Var a = scalar("a", DType::Int8), b = scalar("b", DType::Int32);
  Var v = make_vector({a, b});
  EXPECT_EQ(v->type(), TensorType(DType::Int32, {2}));
  Array r = run_checked({a, b}, v, {Array::scalar(DType::Int8, -3), Array::scalar(DType::Int32, 70000)});
  EXPECT_EQ(values(r), (std::vector<double>{-3, 70000}));
  EXPECT_EQ(make_vector({})->type(), TensorType(DType::Int64, {0}));
}

TEST(MakeVector, RejectsNonScalarsAndDowncasts) {
  expect_error([] { make_vector({vector("v", DType::Float64)}); }, ErrorKind::TypeError, "must be a scalar");
  expect_error([] { make_vector({scalar("f", DType::Float64)}, DType::Int64); }, ErrorKind::TypeError,
               "cannot be upcast to int64");
}

// ---------------------------------------------------------------- reshape

TEST(Reshape, StaticShapeFromConstantsAndMinusOne) {
  Var x = tensor(DType::Float32, {2, 3, 4}, "x");
  EXPECT_EQ(reshape(x, std::vector<int64_t>{6, -1})->type(), TensorType(DType::Float32, {6, 4}));
  Var m = matrix("m", DType::Float64);
  Var n = int_scalar("n");
  EXPECT_EQ(reshape(m, std::vector<Var>{n, scalar_constant(1)})->type().shape(), (std::vector<int64_t>{-1, 1}));
  // flatten keeps the static trailing size even when the leading one is unknown
  Var y = tensor(DType::Float64, {kUnknownDim, 3, 4}, "y");
  EXPECT_EQ(flatten(y, 2)->type().shape(), (std::vector<int64_t>{-1, 12}));
  EXPECT_EQ(flatten(y, 1)->type().shape(), (std::vector<int64_t>{-1}));
  EXPECT_EQ(flatten(x, 1)->type().shape(), (std::vector<int64_t>{24}));
}

TEST(Reshape, ValuesForEveryDType) {
  for (DType dt : kAllDTypes) {
    Var x = tensor(dt, {kUnknownDim, kUnknownDim}, "x");
    Var r = reshape(x, std::vector<int64_t>{3, -1, 2});
    Array in = iota(dt, {4, 3});
    Array out = run_checked({x}, r, {in});
    EXPECT_EQ(out.shape(), (Shape{3, 2, 2})) << dtype_name(dt);
    EXPECT_EQ(values(out), values(in)) << dtype_name(dt);
    EXPECT_EQ(out.dtype(), dt);
  }
}

TEST(Reshape, ViewOfContiguousInputCopyOfOthers) {
  Var x = matrix("x", DType::Float64);
  Var r = reshape(x, std::vector<int64_t>{-1});
  EXPECT_EQ(r->owner()->op().view_map(), (std::map<int, int>{{0, 0}}));
  Array a = iota(DType::Float64, {2, 3});
  Array t = a.view({3, 2}, {8, 24}, 0);  // the transpose: not C-contiguous
  std::vector<Array> in{a, r->owner()->input(1)->constant_value()}, out(1);
  r->owner()->op().perform(*r->owner(), in, out);
  EXPECT_TRUE(out[0].shares_buffer_with(a));
  in[0] = t;
  r->owner()->op().perform(*r->owner(), in, out);
  EXPECT_FALSE(out[0].shares_buffer_with(a));
  EXPECT_EQ(values(out[0]), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Reshape, CompiledResultDoesNotAliasTheInput) {
  Var x = matrix("x", DType::Float64);
  Array a = iota(DType::Float64, {2, 3});
  Array r = run1({x}, reshape(x, std::vector<int64_t>{-1}), {a});
  EXPECT_FALSE(r.shares_buffer_with(a));
  EXPECT_EQ(values(r), values(a));
}

TEST(Reshape, SymbolicSizesAndInferShape) {
  Var x = matrix("x", DType::Float64);
  Var n = int_scalar("n"), k = scalar("k", DType::Int32);
  Array a = iota(DType::Float64, {4, 6});
  // a symbolic entry that is -1 at run time
  Var r = reshape(x, std::vector<Var>{n, k});
  EXPECT_EQ(run_checked({x, n, k}, r, {a, Array::scalar_int(-1), Array::scalar(DType::Int32, 3)}).shape(),
            (Shape{8, 3}));
  EXPECT_EQ(run_checked({x, n, k}, r, {a, Array::scalar_int(12), Array::scalar(DType::Int32, -1)}).shape(),
            (Shape{12, 2}));
  EXPECT_EQ(run_checked({x, n, k}, r, {a, Array::scalar_int(2), Array::scalar(DType::Int32, 12)}).shape(),
            (Shape{2, 12}));
  // a constant -1 next to a symbolic size
  Var r2 = reshape(x, std::vector<Var>{n, scalar_constant(-1)});
  EXPECT_EQ(run_checked({x, n}, r2, {a, Array::scalar_int(3)}).shape(), (Shape{3, 8}));
  // the shape of another variable
  Var y = tensor3("y", DType::Float64);
  Var r3 = reshape(x, shape(y));
  EXPECT_EQ(r3->ndim(), 3);
  EXPECT_EQ(run_checked({x, y}, r3, {a, Array::zeros(DType::Float64, {2, 3, 4})}).shape(), (Shape{2, 3, 4}));
  // 0-d to and from
  Var s = scalar("s", DType::Float64);
  EXPECT_EQ(run_checked({s}, reshape(s, std::vector<int64_t>{1, -1}), {Array::scalar(DType::Float64, 5)}).shape(),
            (Shape{1, 1}));
  Var one = vector("one", DType::Float64);
  EXPECT_EQ(run_checked({one}, reshape(one, std::vector<int64_t>{}), {Array::zeros(DType::Float64, {1})}).shape(),
            Shape{});
}

TEST(Reshape, SymbolicVectorShapeNeedsNdim) {
  Var x = vector("x", DType::Float64);
  Var s = vector("s", DType::Int64);
  expect_error([&] { reshape(x, s); }, ErrorKind::ValueError, "pass ndim");
  Var r = reshape(x, s, 2);
  EXPECT_EQ(r->type().shape(), (std::vector<int64_t>{-1, -1}));
  Array out = run1({x, s}, r, {iota(DType::Float64, {6}), int_array({2, 3})});
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(out), values(iota(DType::Float64, {6})));
  EXPECT_FALSE(inferred_shape({x, s}, r, {iota(DType::Float64, {6}), int_array({2, 3})}).has_value());
}

TEST(Reshape, Errors) {
  Var x = matrix("x", DType::Float64);
  expect_error([&] { reshape(x, std::vector<int64_t>{-1, -1}); }, ErrorKind::ValueError, "more than one -1");
  expect_error([&] { reshape(x, std::vector<int64_t>{-2, 3}); }, ErrorKind::ValueError, "sizes must be >= 0");
  expect_error([&] { reshape(x, std::vector<Var>{scalar("f", DType::Float64)}); }, ErrorKind::TypeError,
               "must be an integer scalar");
  expect_error([&] { reshape(x, vector("fv", DType::Float64), 1); }, ErrorKind::TypeError, "must be an integer vector");
  Var st = tensor(DType::Float64, {2, 3}, "st");
  expect_error([&] { reshape(st, std::vector<int64_t>{4, 2}); }, ErrorKind::ValueError, "static shape (2, 3)");
  expect_error([&] { reshape(st, std::vector<int64_t>{4, -1}); }, ErrorKind::ValueError, "into shape (4, -1)");
  expect_error([&] { reshape(x, ivec({2, 3}), 3); }, ErrorKind::ValueError, "has 2 entries");
  expect_error([&] { flatten(x, 3); }, ErrorKind::ValueError, "out of range [1, 2]");
  expect_error([&] { flatten(x, 0); }, ErrorKind::ValueError, "out of range");
  Var r = reshape(x, std::vector<int64_t>{5, -1});
  expect_error(
      [&] {
        run1({x}, r, {Array::zeros(DType::Float64, {3, 4})});
      },
      ErrorKind::ValueError, "Reshape{2}: cannot reshape an array of shape (3, 4) (size 12) into shape (5, -1)");
  Var s = vector("s", DType::Int64);
  Var rs = reshape(x, s, 2);
  expect_error(
      [&] {
        run1({x, s}, rs, {Array::zeros(DType::Float64, {3, 4}), iota(DType::Int64, {3})});
      },
      ErrorKind::ValueError, "3 entries, expected 2");
  expect_error(
      [&] {
        run1({x, s}, rs, {Array::zeros(DType::Float64, {3, 4}), int_array({-1, -1})});
      },
      ErrorKind::ValueError, "more than one -1");
  expect_error(
      [&] {
        run1({x, s}, rs, {Array::zeros(DType::Float64, {3, 4}), int_array({-3, -4})});
      },
      ErrorKind::ValueError, "size 0 of the shape (-3, -4) is -3");
}

TEST(Reshape, ZeroSizeInputs) {
  Var x = matrix("x", DType::Float64);
  Array z = Array::zeros(DType::Float64, {0, 4});
  EXPECT_EQ(run_checked({x}, reshape(x, std::vector<int64_t>{2, 0, 3}), {z}).shape(), (Shape{2, 0, 3}));
  EXPECT_EQ(run_checked({x}, flatten(x), {z}).shape(), (Shape{0}));
  // numpy refuses -1 next to a 0 size: the -1 cannot be determined
  expect_error(
      [&] {
        run1({x}, reshape(x, std::vector<int64_t>{0, -1}), {z});
      },
      ErrorKind::ValueError, "cannot reshape");
}

TEST(Reshape, OpEqualityFromProperties) {
  Var x = matrix("x", DType::Float64);
  Var ra = reshape(x, std::vector<int64_t>{2, -1}), rb = reshape(x, std::vector<int64_t>{3, -1});
  Var rc = reshape(x, std::vector<int64_t>{-1});
  const Op &a = ra->owner()->op(), &b = rb->owner()->op(), &c = rc->owner()->op();
  EXPECT_TRUE(a.equals(b));
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_FALSE(a.equals(c));
}

// ---------------------------------------------------------------- alloc and friends

TEST(Alloc, BroadcastsValueForEveryDType) {
  for (DType dt : kAllDTypes) {
    Var v = tensor(dt, {kUnknownDim}, "v");
    Var n = int_scalar("n");
    Var r = alloc(v, {n, scalar_constant(1), scalar_constant(3)});
    EXPECT_EQ(r->type(), TensorType(dt, {kUnknownDim, 1, 3})) << dtype_name(dt);
    Array out = run_checked({v, n}, r, {iota(dt, {3}), Array::scalar_int(2)});
    EXPECT_EQ(out.shape(), (Shape{2, 1, 3}));
    std::vector<double> row = values(iota(dt, {3}));
    std::vector<double> expected = row;
    expected.insert(expected.end(), row.begin(), row.end());
    EXPECT_EQ(values(out), expected) << dtype_name(dt);
  }
}

TEST(Alloc, StaticSizeFromValueAndErrors) {
  Var v = tensor(DType::Float32, {3}, "v");
  Var n = int_scalar("n"), m = int_scalar("m");
  EXPECT_EQ(alloc(v, {n, m})->type().shape(), (std::vector<int64_t>{-1, 3}));
  expect_error([&] { alloc(v, {scalar_constant(4)}); }, ErrorKind::ValueError, "cannot be broadcast to size 4");
  expect_error([&] { alloc(matrix("mm", DType::Float64), {n}); }, ErrorKind::TypeError, "more than the 1 sizes");
  expect_error([&] { alloc(v, {scalar("f", DType::Float64)}); }, ErrorKind::TypeError, "must be an integer scalar");
  expect_error(
      [&] {
        alloc(v, {scalar_constant(-2), scalar_constant(3)});
      },
      ErrorKind::ValueError, "sizes must be >= 0");
  Var w = vector("w", DType::Float64);
  Var r = alloc(w, {n, m});
  expect_error(
      [&] {
        run1({w, n, m}, r, {Array::zeros(DType::Float64, {3}), Array::scalar_int(2), Array::scalar_int(4)});
      },
      ErrorKind::ValueError, "Alloc: cannot broadcast a value of shape (3,) to shape (2, 4)");
  expect_error(
      [&] {
        run1({w, n, m}, r, {Array::zeros(DType::Float64, {1}), Array::scalar_int(-1), Array::scalar_int(4)});
      },
      ErrorKind::ValueError, "Alloc: size 0 is -1");
}

TEST(Alloc, NonContiguousAndZeroSize) {
  Var v = matrix("v", DType::Float64);
  Var n = int_scalar("n");
  Var r = alloc(v, {n, shape_i(v, 0), shape_i(v, 1)});
  Array a = iota(DType::Float64, {2, 3});
  Array t = a.view({3, 2}, {8, 24}, 0);  // transpose
  Array out = run_checked({v, n}, r, {t, Array::scalar_int(2)});
  EXPECT_EQ(out.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(values(out), (std::vector<double>{0, 3, 1, 4, 2, 5, 0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(run_checked({v, n}, r, {t, Array::scalar_int(0)}).shape(), (Shape{0, 3, 2}));
  Var s = scalar("s", DType::Float64);
  EXPECT_EQ(values(run_checked({s}, alloc(s, {}), {Array::scalar(DType::Float64, 7)})), std::vector<double>{7});
}

TEST(Alloc, ZerosOnesLikeAndFill) {
  EXPECT_EQ(zeros(std::vector<int64_t>{2, 3})->dtype(), floatX());
  Var z = zeros(std::vector<int64_t>{2, 1}, DType::Int16);
  EXPECT_EQ(z->type(), TensorType(DType::Int16, {2, 1}));
  EXPECT_EQ(values(run_checked({}, z, {})), (std::vector<double>{0, 0}));
  EXPECT_EQ(values(run_checked({}, ones(std::vector<int64_t>{3}, DType::Bool), {})), (std::vector<double>{1, 1, 1}));
  Var x = tensor(DType::Float32, {kUnknownDim, 1}, "x");
  Var ol = ones_like(x);
  EXPECT_EQ(ol->type(), x->type());
  EXPECT_EQ(zeros_like(x, DType::Int32)->dtype(), DType::Int32);
  EXPECT_EQ(values(run_checked({x}, ol, {Array::zeros(DType::Float32, {2, 1})})), (std::vector<double>{1, 1}));
  // fill: value's dtype, the broadcast shape of model and value
  Var v = vector("v", DType::Int32);
  Var f = fill(x, v);
  EXPECT_EQ(f->dtype(), DType::Int32);
  Array out = run_checked({x, v}, f, {Array::zeros(DType::Float32, {2, 1}), iota(DType::Int32, {3})});
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(out), (std::vector<double>{0, 1, 2, 0, 1, 2}));
  Var m = matrix("m", DType::Float64);
  Array filled = run_checked({m}, fill(m, scalar_constant(2.5)), {Array::zeros(DType::Float64, {2, 2})});
  EXPECT_EQ(values(filled), (std::vector<double>{2.5, 2.5, 2.5, 2.5}));
}

// ---------------------------------------------------------------- arange

TEST(ARange, DefaultDTypeFollowsTheano) {
  EXPECT_EQ(arange(scalar_constant(10))->dtype(), DType::Int64);
  EXPECT_EQ(arange(scalar_constant(0.5), scalar_constant(3), scalar_constant(1))->dtype(), DType::Float32);
  EXPECT_EQ(arange(scalar_constant(0), scalar_constant(1), typed_constant(0.1, DType::Float64))->dtype(),
            DType::Float64);
  EXPECT_EQ(arange(scalar("u", DType::UInt8))->dtype(), DType::Int64);  // int8 constants promote with uint8
  EXPECT_EQ(
      arange(typed_constant(0, DType::UInt8), scalar("u", DType::UInt16), typed_constant(1, DType::UInt8))->dtype(),
      DType::UInt64);
  EXPECT_EQ(arange(scalar_constant(5), DType::Int16)->dtype(), DType::Int16);
}

TEST(ARange, ValuesAndStaticLength) {
  Var r = arange(scalar_constant(2), scalar_constant(11), scalar_constant(3));
  EXPECT_EQ(r->type().shape(), (std::vector<int64_t>{3}));
  EXPECT_EQ(values(run_checked({}, r, {})), (std::vector<double>{2, 5, 8}));
  Var down = arange(scalar_constant(5), scalar_constant(-3), scalar_constant(-2));
  EXPECT_EQ(values(run_checked({}, down, {})), (std::vector<double>{5, 3, 1, -1}));
  Var empty = arange(scalar_constant(5), scalar_constant(1), scalar_constant(1));
  EXPECT_EQ(run_checked({}, empty, {}).shape(), (Shape{0}));
  Var f = arange(scalar_constant(0.5), scalar_constant(3), scalar_constant(1));
  EXPECT_EQ(values(run_checked({}, f, {})), (std::vector<double>{0.5, 1.5, 2.5}));
  // numpy's integer arange from float bounds: the values are start, start+step truncated, then steps
  Var t = arange(scalar_constant(0.5), scalar_constant(3), scalar_constant(1), DType::Int32);
  EXPECT_EQ(values(run_checked({}, t, {})), (std::vector<double>{0, 1, 2}));
}

TEST(ARange, SymbolicArgumentsEveryDType) {
  Var a = scalar("a", DType::Int32), b = scalar("b", DType::Float64), c = scalar("c", DType::Int64);
  for (DType dt : kAllDTypes) {
    if (dt == DType::Bool) continue;
    Var r = arange(a, b, c, dt);
    Array out = run_checked({a, b, c}, r,
                            {Array::scalar(DType::Int32, 1), Array::scalar(DType::Float64, 9.5), Array::scalar_int(2)});
    EXPECT_EQ(values(out), (std::vector<double>{1, 3, 5, 7, 9})) << dtype_name(dt);
  }
  Var ia = int_scalar("ia"), ib = int_scalar("ib"), ic = int_scalar("ic");
  Var r = arange(ia, ib, ic);
  for (auto [x, y, z] : {std::tuple{0, 10, 3}, {10, 0, -3}, {0, 10, -1}, {-7, 7, 4}, {3, 3, 1}}) {
    Array out = run_checked({ia, ib, ic}, r, {Array::scalar_int(x), Array::scalar_int(y), Array::scalar_int(z)});
    std::vector<double> expected;
    for (int64_t v = x; z > 0 ? v < y : v > y; v += z) expected.push_back(static_cast<double>(v));
    EXPECT_EQ(values(out), expected);
  }
}

TEST(ARange, Errors) {
  expect_error([] { arange(scalar_constant(0), scalar_constant(5), scalar_constant(0)); }, ErrorKind::ValueError,
               "step is 0");
  Var s = int_scalar("s");
  Var r = arange(scalar_constant(0), scalar_constant(5), s);
  expect_error([&] { run1({s}, r, {Array::scalar_int(0)}); }, ErrorKind::ValueError, "ARange{dtype=int64}: step is 0");
  expect_error([] { arange(vector("v", DType::Float64)); }, ErrorKind::TypeError, "must be a scalar");
  expect_error([] { arange(scalar_constant(3), DType::Bool); }, ErrorKind::TypeError, "bool");
}

// ---------------------------------------------------------------- eye

TEST(Eye, DiagonalsAndShapes) {
  Var e = eye(3);
  EXPECT_EQ(e->type(), TensorType(floatX(), {3, 3}));
  EXPECT_EQ(values(run_checked({}, e, {})), (std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(values(run_checked({}, eye(2, 3, 1, DType::Int8), {})), (std::vector<double>{0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(values(run_checked({}, eye(3, 2, -1, DType::Bool), {})), (std::vector<double>{0, 0, 1, 0, 0, 1}));
  EXPECT_EQ(values(run_checked({}, eye(2, 2, 5), {})), (std::vector<double>{0, 0, 0, 0}));
  Var n = int_scalar("n");
  Var en = eye(n, nullptr, nullptr, DType::UInt16);
  EXPECT_EQ(en->type().shape(), (std::vector<int64_t>{-1, -1}));
  EXPECT_EQ(run_checked({n}, en, {Array::scalar_int(0)}).shape(), (Shape{0, 0}));
  expect_error([&] { run1({n}, en, {Array::scalar_int(-2)}); }, ErrorKind::ValueError, "sizes must be >= 0");
  expect_error([] { eye(scalar("f", DType::Float64)); }, ErrorKind::TypeError, "must be an integer scalar");
}

// ---------------------------------------------------------------- join, stack, split

TEST(Join, ConcatenatesEveryDType) {
  for (DType dt : kAllDTypes) {
    Var a = matrix("a", dt), b = matrix("b", dt);
    Var j = concatenate({a, b}, -1);
    Array x = iota(dt, {2, 1}), y = iota(dt, {2, 2});
    Array out = run_checked({a, b}, j, {x, y});
    EXPECT_EQ(out.shape(), (Shape{2, 3}));
    std::vector<double> xv = values(x), yv = values(y);
    EXPECT_EQ(values(out), (std::vector<double>{xv[0], yv[0], yv[1], xv[1], yv[2], yv[3]})) << dtype_name(dt);
  }
}

TEST(Join, PromotesDTypesAndStaticShapes) {
  Var a = tensor(DType::Int8, {2, kUnknownDim}, "a"), b = tensor(DType::Float32, {kUnknownDim, 3}, "b");
  Var j = join(0, {a, b});
  EXPECT_EQ(j->type(), TensorType(DType::Float32, {kUnknownDim, 3}));
  Var c = tensor(DType::Int8, {2, 3}, "c");
  EXPECT_EQ(join(1, {a, c})->type(), TensorType(DType::Int8, {2, kUnknownDim}));
  EXPECT_EQ(join(0, {c, c, c})->type(), TensorType(DType::Int8, {6, 3}));
  Array out = run_checked({a, b}, j, {iota(DType::Int8, {2, 3}), iota(DType::Float32, {1, 3})});
  EXPECT_EQ(values(out), (std::vector<double>{0, 1, 2, 3, 4, 5, 0, 1, 2}));
  EXPECT_EQ(join(0, {a}), a);
}

TEST(Join, NonContiguousAndZeroSizeInputs) {
  Var a = matrix("a", DType::Float64), b = matrix("b", DType::Float64);
  Var j = join(1, {a, b});
  Array base = iota(DType::Float64, {3, 2});
  Array t = base.view({2, 3}, {8, 16}, 0);  // transpose of base
  Array out = run_checked({a, b}, j, {t, Array::zeros(DType::Float64, {2, 0})});
  EXPECT_EQ(values(out), (std::vector<double>{0, 2, 4, 1, 3, 5}));
  Array reversed = base.view({3, 2}, {-16, 8}, 32);  // rows in reverse order
  Var k = join(0, {a, b});
  EXPECT_EQ(values(run_checked({a, b}, k, {reversed, base})),
            (std::vector<double>{4, 5, 2, 3, 0, 1, 0, 1, 2, 3, 4, 5}));
}

TEST(Join, Errors) {
  expect_error(
      [] {
        join(0, {matrix("a", DType::Float64), vector("b", DType::Float64)});
      },
      ErrorKind::TypeError, "has 1 dimensions but input 0 (a) has 2");
  expect_error(
      [] {
        join(0, {scalar("a", DType::Float64), scalar("b", DType::Float64)});
      },
      ErrorKind::TypeError, "0-d");
  expect_error(
      [] {
        join(2, {matrix("a", DType::Float64), matrix("b", DType::Float64)});
      },
      ErrorKind::ValueError, "axis 2 is out of range");
  expect_error([] { join(0, {}); }, ErrorKind::ValueError, "at least one");
  Var s1 = tensor(DType::Float64, {2, 3}, "s1"), s2 = tensor(DType::Float64, {2, 4}, "s2");
  expect_error([&] { join(0, {s1, s2}); }, ErrorKind::ValueError, "has size 4 on axis 1 but input 0 (s1) has size 3");
  Var a = matrix("a", DType::Float64), b = matrix("b", DType::Float64);
  Var j = join(0, {a, b});
  expect_error(
      [&] {
        run1({a, b}, j, {Array::zeros(DType::Float64, {2, 3}), Array::zeros(DType::Float64, {2, 4})});
      },
      ErrorKind::ValueError, "Join{axis=0}: input 1 has shape (2, 4) but input 0 has shape (2, 3)");
}

TEST(Stack, ScalarsAndTensors) {
  Var a = scalar("a", DType::Int16), b = scalar("b", DType::Float32);
  Var v = stack({a, b});
  EXPECT_EQ(v->type(), TensorType(DType::Float32, {2}));
  EXPECT_EQ(values(run_checked({a, b}, v, {Array::scalar(DType::Int16, 4), Array::scalar(DType::Float32, 1.5)})),
            (std::vector<double>{4, 1.5}));
  Var x = vector("x", DType::Float64), y = vector("y", DType::Float64);
  Var s0 = stack({x, y}), s1 = stack({x, y}, -1);
  EXPECT_EQ(s0->type().shape(), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(s1->type().shape(), (std::vector<int64_t>{-1, 2}));
  Array xa = iota(DType::Float64, {3}), ya = iota(DType::Float64, {3});
  EXPECT_EQ(values(run_checked({x, y}, s1, {xa, ya})), (std::vector<double>{0, 0, 1, 1, 2, 2}));
  expect_error([&] { stack({x, y}, 2); }, ErrorKind::ValueError, "out of range [-2, 1]");
  expect_error([&] { stack({x, matrix("m", DType::Float64)}); }, ErrorKind::TypeError, "same number of dimensions");
}

TEST(Split, ViewsOfInputWithSizes) {
  Var x = matrix("x", DType::Float64);
  std::vector<Var> parts = split(x, std::vector<int64_t>{1, 0, 3}, -1);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0]->owner()->op().view_map(), (std::map<int, int>{{0, 0}, {1, 0}, {2, 0}}));
  EXPECT_EQ(parts[2]->type().shape(), (std::vector<int64_t>{-1, 3}));
  Array a = iota(DType::Float64, {2, 4});
  Array p0 = run_checked({x}, parts[0], {a}), p1 = run_checked({x}, parts[1], {a}),
        p2 = run_checked({x}, parts[2], {a});
  EXPECT_EQ(values(p0), (std::vector<double>{0, 4}));
  EXPECT_EQ(p1.shape(), (Shape{2, 0}));
  EXPECT_EQ(values(p2), (std::vector<double>{1, 2, 3, 5, 6, 7}));
  // the outputs are views of the input
  std::vector<Array> in{a, parts[0]->owner()->input(1)->constant_value()}, out(3);
  parts[0]->owner()->op().perform(*parts[0]->owner(), in, out);
  EXPECT_TRUE(out[2].shares_buffer_with(a));
}

TEST(Split, EveryDTypeAndSymbolicSizes) {
  for (DType dt : kAllDTypes) {
    Var x = vector("x", dt);
    Var sizes = vector("sizes", DType::Int32);
    std::vector<Var> parts = split(x, sizes, 2);
    Array in = iota(dt, {5});
    Array sz = Array::empty(DType::Int32, {2});
    sz.data_as<int32_t>()[0] = 2;
    sz.data_as<int32_t>()[1] = 3;
    std::vector<Array> out = run({x, sizes}, parts, {in, sz});
    std::vector<double> all = values(in);
    EXPECT_EQ(values(out[0]), std::vector<double>(all.begin(), all.begin() + 2)) << dtype_name(dt);
    EXPECT_EQ(values(out[1]), std::vector<double>(all.begin() + 2, all.end())) << dtype_name(dt);
    EXPECT_FALSE(inferred_shape({x, sizes}, parts[0], {in, sz}).has_value());  // sizes are not readable from the graph
  }
  Var x = vector("x", DType::Float64);
  Var n = int_scalar("n");
  std::vector<Var> parts = split(x, make_vector({n, scalar_constant(int64_t{2})}, DType::Int64), 2);
  EXPECT_EQ(run_checked({x, n}, parts[1], {iota(DType::Float64, {5}), Array::scalar_int(3)}).shape(), (Shape{2}));
}

TEST(Split, Errors) {
  Var x = matrix("x", DType::Float64);
  expect_error([&] { split(x, std::vector<int64_t>{1, 2}, 2); }, ErrorKind::ValueError, "axis 2 is out of range");
  expect_error([&] { split(x, ivec({1, 2}), 3); }, ErrorKind::ValueError, "2 split sizes given for 3 splits");
  expect_error([&] { split(x, vector("f", DType::Float64), 2); }, ErrorKind::TypeError, "must be an integer vector");
  expect_error([&] { split(scalar("s", DType::Float64), ivec({1}), 1); }, ErrorKind::TypeError, "0-d");
  expect_error(
      [&] {
        split(tensor(DType::Float64, {4}, "st"), std::vector<int64_t>{1, 2});
      },
      ErrorKind::ValueError, "sum to 3 but axis 0 of st has static length 4");
  expect_error([&] { split(x, std::vector<int64_t>{-1, 2}); }, ErrorKind::ValueError, "sizes must be >= 0");
  std::vector<Var> parts = split(x, std::vector<int64_t>{1, 2});
  expect_error(
      [&] {
        run({x}, parts, {Array::zeros(DType::Float64, {4, 2})});
      },
      ErrorKind::ValueError, "cannot split axis 0 of an array of shape (4, 2) into pieces of sizes (1, 2)");
}
