// CAReduce (sum, prod, max, min, any, all over a set of axes) and ArgMax/ArgMin.
//
// Reductions walk the input once in memory order: the accumulator is an array shaped like the
// output with stride 0 on the reduced axes, so reducing a C-contiguous matrix over axis 0 streams
// rows into a row of accumulators and over axis 1 folds each row into one value.
#include "kiln/ops/reduce.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/grad/grad.hpp"
#include "ops/scalar_math.hpp"
#include "runtime/convert.hpp"
#include "runtime/strided_loop.hpp"
#include "ops/reduce_impl.hpp"

namespace kiln {

std::vector<int> normalize_axes(const Axes& axis, int ndim, const char* op) {
  std::vector<int> out;
  if (!axis) {
    for (int i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int a : *axis) {
    int n = a < 0 ? a + ndim : a;
    KILN_USER_CHECK(n >= 0 && n < ndim, ValueError)
        << op << ": axis " << a << " is out of range for an input with " << ndim << " dimensions";
    KILN_USER_CHECK(std::find(out.begin(), out.end(), n) == out.end(), ValueError)
        << op << ": axis " << a << " is repeated";
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

Var restore_dims(const Var& r, int ndim, const std::vector<int>& axes);

}  // namespace

const char* reduce_kind_name(ReduceKind k) {
  switch (k) {
    case ReduceKind::Sum: return "Sum";
    case ReduceKind::Prod: return "Prod";
    case ReduceKind::Max: return "Max";
    case ReduceKind::Min: return "Min";
    case ReduceKind::Any: return "Any";
    case ReduceKind::All: return "All";
  }
  return "?";
}

namespace {

const char* kind_name(ReduceKind k) { return reduce_kind_name(k); }

std::string axes_str(const std::vector<int>& axes) {
  std::string s = "[";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
  return s + "]";
}

// The entries of `shape` on the axes not in `axes` (sorted): the shape left after reducing.
template <typename T>
std::vector<T> kept_entries(const std::vector<T>& shape, const std::vector<int>& axes) {
  std::vector<T> out;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!std::binary_search(axes.begin(), axes.end(), static_cast<int>(d))) out.push_back(shape[d]);
  return out;
}

template <ReduceKind K, typename A>
inline A combine(A r, A v) {
  using namespace kiln::smath;
  if constexpr (K == ReduceKind::Sum) return static_cast<A>(r + v);
  else if constexpr (K == ReduceKind::Prod) return static_cast<A>(r * v);
  else if constexpr (K == ReduceKind::Max) return kiln_maximum(r, v);
  else if constexpr (K == ReduceKind::Min) return kiln_minimum(r, v);
  else if constexpr (K == ReduceKind::Any) return r || v;
  else return r && v;
}

template <ReduceKind K, typename A>
A identity() {
  if constexpr (K == ReduceKind::Sum) return A(0);
  else if constexpr (K == ReduceKind::Prod) return A(1);
  else if constexpr (K == ReduceKind::Max)
    return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest();
  else if constexpr (K == ReduceKind::Min)
    return std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max();
  else if constexpr (K == ReduceKind::Any) return A(false);
  else return A(true);
}

// Fold a contiguous block into one value. Sums use 8 partial accumulators: faster (they vectorise)
// and more accurate than one running sum.
template <ReduceKind K, typename A>
A fold(A r, const A* v, int64_t m) {
  if constexpr (K == ReduceKind::Sum && !std::is_same_v<A, bool>) {
    A part[8] = {};
    int64_t i = 0;
    for (; i + 8 <= m; i += 8)
      for (int j = 0; j < 8; ++j) part[j] = static_cast<A>(part[j] + v[i + j]);
    for (; i < m; ++i) part[0] = static_cast<A>(part[0] + v[i]);
    A s = static_cast<A>((part[0] + part[1]) + (part[2] + part[3])) ;
    A t = static_cast<A>((part[4] + part[5]) + (part[6] + part[7]));
    return static_cast<A>(r + static_cast<A>(s + t));
  } else {
    for (int64_t i = 0; i < m; ++i) r = combine<K, A>(r, v[i]);
    return r;
  }
}

using AccumulateFn = void (*)(const char* in, int64_t is, char* acc, int64_t as, int64_t n, detail::ConvertFn cv);

template <ReduceKind K, typename A>
void accumulate(const char* in, int64_t is, char* acc, int64_t as, int64_t n, detail::ConvertFn cv) {
  constexpr int64_t kBlock = 1024;
  alignas(64) A buf[kBlock];
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t m = std::min(kBlock, n - start);
    const A* v;
    if (!cv && is == static_cast<int64_t>(sizeof(A))) {
      v = reinterpret_cast<const A*>(in + start * is);
    } else {
      (cv ? cv : detail::convert_fn(detail::dtype_of<A>(), detail::dtype_of<A>()))(in + start * is, is,
                                                                                   reinterpret_cast<char*>(buf),
                                                                                   sizeof(A), m);
      v = buf;
    }
    if (as == 0) {
      A* r = reinterpret_cast<A*>(acc);
      *r = fold<K, A>(*r, v, m);
    } else {
      for (int64_t i = 0; i < m; ++i) {
        A* r = reinterpret_cast<A*>(acc + (start + i) * as);
        *r = combine<K, A>(*r, v[i]);
      }
    }
  }
}

template <ReduceKind K>
std::pair<AccumulateFn, Array> prepare(DType acc_dtype, const Shape& shape) {
  return detail::visit_dtype(acc_dtype, [&](auto v) {
    using A = decltype(v);
    Array acc = Array::empty(acc_dtype, shape);
    A* p = acc.data_as<A>();
    std::fill(p, p + acc.size(), identity<K, A>());
    return std::pair<AccumulateFn, Array>(&accumulate<K, A>, acc);
  });
}

std::pair<AccumulateFn, Array> prepare(ReduceKind k, DType acc_dtype, const Shape& shape) {
  switch (k) {
    case ReduceKind::Sum: return prepare<ReduceKind::Sum>(acc_dtype, shape);
    case ReduceKind::Prod: return prepare<ReduceKind::Prod>(acc_dtype, shape);
    case ReduceKind::Max: return prepare<ReduceKind::Max>(acc_dtype, shape);
    case ReduceKind::Min: return prepare<ReduceKind::Min>(acc_dtype, shape);
    case ReduceKind::Any: return prepare<ReduceKind::Any>(acc_dtype, shape);
    case ReduceKind::All: return prepare<ReduceKind::All>(acc_dtype, shape);
  }
  KILN_ASSERT(false) << "unknown reduction";
}

class CAReduce final : public Op {
 public:
  CAReduce(ReduceKind kind, std::vector<int> axes, DType out_dtype, DType acc_dtype)
      : kind_(kind), axes_(std::move(axes)), out_(out_dtype), acc_(acc_dtype) {}

  std::string name() const override {
    std::string s = kind_name(kind_);
    s += "{axis=" + axes_str(axes_);
    if (acc_ != out_) s += ", acc_dtype=" + std::string(dtype_name(acc_));
    return s + "}";
  }
  bool equals(const Op& o) const override {
    auto* r = dynamic_cast<const CAReduce*>(&o);
    return r && r->kind_ == kind_ && r->axes_ == axes_ && r->out_ == out_ && r->acc_ == acc_;
  }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() == 1, TypeError) << name() << " takes 1 input";
    return {TensorType(out_, kept_entries(inputs[0]->type().shape(), axes_))};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {kept_entries(in[0], axes_)};
  }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    const Var& x = node.input(0);
    if (is_discrete(x->dtype()) || kind_ == ReduceKind::Any || kind_ == ReduceKind::All) return {nullptr};
    Var g = restore_dims(gz[0], x->ndim(), axes_);  // the reduced axes back, broadcastable
    Var out = restore_dims(node.output(0), x->ndim(), axes_);
    Var result;
    switch (kind_) {
      case ReduceKind::Sum: result = fill(x, g); break;
      case ReduceKind::Max:
      case ReduceKind::Min: result = g * eq(x, out); break;  // every extremal element gets the gradient
      case ReduceKind::Prod: result = g * prod_partial(x, out); break;
      default: return {nullptr};
    }
    return {result->dtype() == x->dtype() ? result : cast(result, x->dtype())};
  }

  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    if (kind_ == ReduceKind::Sum && ev[0]) return {sum(ev[0], axes_, false, node.output(0)->dtype())};
    return Op::R_op(node, ev);
  }

  bool differentiable() const override { return kind_ != ReduceKind::Any && kind_ != ReduceKind::All; }
  const std::vector<int>& axes() const { return axes_; }
  ReduceKind reduce_kind() const { return kind_; }
  DType out_dtype() const { return out_; }
  DType acc_dtype() const { return acc_; }

  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    const Array& x = in[0];
    Shape kept, acc_full, out_shape;
    bool empty_reduction = false;
    for (int d = 0; d < x.ndim(); ++d) {
      bool reduced = std::binary_search(axes_.begin(), axes_.end(), d);
      if (reduced && x.shape()[d] == 0) empty_reduction = true;
      acc_full.push_back(reduced ? 1 : x.shape()[d]);
      if (!reduced) out_shape.push_back(x.shape()[d]);
    }
    KILN_USER_CHECK(!empty_reduction || (kind_ != ReduceKind::Max && kind_ != ReduceKind::Min), ValueError)
        << name() << ": zero-size reduction over an axis of an input of shape " << shape_str(x.shape())
        << ", which has no identity";
    auto [fn, acc] = prepare(kind_, acc_, out_shape);
    if (x.size() > 0) {
      Shape acc_strides = contiguous_strides(acc_full, dtype_size(acc_));
      for (int d = 0; d < x.ndim(); ++d)
        if (acc_full[d] == 1) acc_strides[d] = 0;
      detail::ConvertFn cv = x.dtype() != acc_ ? detail::convert_fn(x.dtype(), acc_) : nullptr;
      const int64_t* strides[] = {x.strides().data(), acc_strides.data()};
      char* bases[] = {x.data(), acc.data()};
      auto layout = detail::collapse_layout(x.shape(), strides);
      detail::for_each_run(layout, bases, 0, detail::run_count(layout),
                           [&](char** p, const int64_t* s, int64_t n) { fn(p[0], s[0], p[1], s[1], n, cv); });
    }
    out[0] = acc_ == out_ ? acc : acc.astype(out_);
  }

 private:
  // d prod / d x_i: prod / x_i where the slice has no zero; the product of the other elements at
  // the single zero of a slice with exactly one; 0 elsewhere (Theano's handling of zeros).
  Var prod_partial(const Var& x, const Var& prod_kept) const {
    Var is_zero = eq(x, scalar_constant(0.0));
    Var zeros_count = restore_dims(sum(is_zero, axes_, false, DType::Int64), x->ndim(), axes_);
    Var without_zeros = restore_dims(prod(switch_cond(is_zero, ones_like(x), x), axes_), x->ndim(), axes_);
    Var none = switch_cond(eq(zeros_count, scalar_constant(int64_t{0})), prod_kept / x, zeros_like(x));
    Var one = switch_cond(and_(eq(zeros_count, scalar_constant(int64_t{1})), is_zero), without_zeros, zeros_like(x));
    return none + one;
  }

  ReduceKind kind_;
  std::vector<int> axes_;
  DType out_, acc_;
};

// Theano's default dtypes of Sum/Prod.
DType default_sum_dtype(DType in) {
  if (in == DType::Bool || is_signed_int(in)) return DType::Int64;
  if (is_unsigned_int(in)) return DType::UInt64;
  return in;
}

DType default_acc_dtype(DType in) {
  if (in == DType::Float32 || in == DType::Float16) return DType::Float64;
  return default_sum_dtype(in);
}

// Put back the reduced axes as broadcastable ones.
Var restore_dims(const Var& r, int ndim, const std::vector<int>& axes) {
  std::vector<int> pattern;
  int next = 0;
  for (int d = 0; d < ndim; ++d) pattern.push_back(std::binary_search(axes.begin(), axes.end(), d) ? -1 : next++);
  return dimshuffle(r, pattern);
}

Var reduce(ReduceKind kind, const Var& x, const Axes& axis, bool keepdims, DType out, DType acc) {
  std::vector<int> axes = normalize_axes(axis, x->ndim(), kind_name(kind));
  if (axes.empty() && out == x->dtype()) return x;
  Var r = make_node1(std::make_shared<CAReduce>(kind, axes, out, acc), {x});
  return keepdims ? restore_dims(r, x->ndim(), axes) : r;
}

Var sum_like(ReduceKind kind, const Var& x, const Axes& axis, bool keepdims, std::optional<DType> dtype,
             std::optional<DType> acc_dtype) {
  KILN_USER_CHECK(x != nullptr, TypeError) << kind_name(kind) << ": null input";
  DType out = dtype ? *dtype : default_sum_dtype(x->dtype());
  DType acc = acc_dtype ? *acc_dtype : default_acc_dtype(x->dtype());
  if (dtype && !acc_dtype) acc = is_float(*dtype) && !is_float(acc) ? *dtype : promote(acc, *dtype);
  KILN_USER_CHECK(is_supported(out) && is_supported(acc), TypeError)
      << kind_name(kind) << ": dtype " << dtype_name(out) << "/" << dtype_name(acc) << " is not supported";
  KILN_USER_CHECK(promote(x->dtype(), acc) == acc || (is_float(acc) && is_discrete(x->dtype())), TypeError)
      << kind_name(kind) << ": cannot accumulate " << dtype_name(x->dtype()) << " in " << dtype_name(acc)
      << " as precision would be lost";
  return reduce(kind, x, axis, keepdims, out, acc);
}

// ---------------------------------------------------------------- ArgMax / ArgMin

class ArgReduce final : public Op {
 public:
  ArgReduce(bool is_max, std::vector<int> axes) : max_(is_max), axes_(std::move(axes)) {}
  std::string name() const override { return std::string(max_ ? "Argmax" : "Argmin") + "{axis=" + axes_str(axes_) + "}"; }
  bool differentiable() const override { return false; }
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>&) const override {
    const Var& x = node.input(0);
    return {is_float(x->dtype()) ? zeros_like(x) : nullptr};
  }
  const std::vector<int>& axes() const { return axes_; }
  bool equals(const Op& o) const override {
    auto* r = dynamic_cast<const ArgReduce*>(&o);
    return r && r->max_ == max_ && r->axes_ == axes_;
  }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() == 1, TypeError) << name() << " takes 1 input";
    return {TensorType(DType::Int64, kept_entries(inputs[0]->type().shape(), axes_))};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {kept_entries(in[0], axes_)};
  }

  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    const Array& x = in[0];
    // Move the reduced axes last and make the result contiguous: then each output element is
    // the arg-extremum of one contiguous row.
    Shape shape, strides, out_shape;
    int64_t row = 1;
    for (int d = 0; d < x.ndim(); ++d)
      if (!std::binary_search(axes_.begin(), axes_.end(), d)) {
        shape.push_back(x.shape()[d]);
        strides.push_back(x.strides()[d]);
        out_shape.push_back(x.shape()[d]);
      }
    for (int d : axes_) {
      shape.push_back(x.shape()[d]);
      strides.push_back(x.strides()[d]);
      row *= x.shape()[d];
    }
    KILN_USER_CHECK(row > 0 || shape_size(out_shape) == 0, ValueError)
        << name() << ": attempt to get the arg-extremum of an empty sequence (input shape " << shape_str(x.shape()) << ")";
    Array moved = x.view(shape, strides, x.offset()).contiguous();
    Array result = Array::empty(DType::Int64, out_shape);
    const int64_t rows = shape_size(out_shape);
    detail::visit_dtype(x.dtype(), [&](auto v) {
      using T = decltype(v);
      const T* p = moved.data_as<T>();
      int64_t* o = result.data_as<int64_t>();
      for (int64_t r = 0; r < rows; ++r) o[r] = arg_extremum<T>(p + r * row, row);
    });
    out[0] = result;
  }

 private:
  template <typename T>
  int64_t arg_extremum(const T* p, int64_t n) const {
    int64_t best = 0;
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(p[i])) return i;  // numpy: the first NaN wins
      }
      if (max_ ? p[i] > p[best] : p[i] < p[best]) best = i;
    }
    return best;
  }
  bool max_;
  std::vector<int> axes_;
};

Var arg_reduce(bool is_max, const Var& x, const Axes& axis, bool keepdims) {
  KILN_USER_CHECK(x != nullptr, TypeError) << (is_max ? "argmax" : "argmin") << ": null input";
  std::vector<int> axes = normalize_axes(axis, x->ndim(), is_max ? "argmax" : "argmin");
  Var r = make_node1(std::make_shared<ArgReduce>(is_max, axes), {x});
  return keepdims ? restore_dims(r, x->ndim(), axes) : r;
}

// Number of elements over the reduced axes, as a scalar of dtype `dt`.
Var count_over(const Var& x, const std::vector<int>& axes, DType dt) {
  Var n;
  for (int a : axes) {
    Var s = shape_i(x, a);
    n = n ? mul(n, s) : s;
  }
  if (!n) n = typed_constant(1, DType::Int64);
  return cast(n, dt);
}

KILN_REGISTER_OP_KINDS({{"Sum", true}, {"Prod", true}, {"Max", true}, {"Min", true}, {"Any", false}, {"All", false}, {"Argmax", false}, {"Argmin", false}});

}  // namespace

std::optional<std::vector<int>> reduce_axes(const Apply& node) {
  if (auto* r = dynamic_cast<const CAReduce*>(&node.op())) return r->axes();
  return std::nullopt;
}

std::optional<ReduceInfo> reduce_info(const Op& op) {
  auto* r = dynamic_cast<const CAReduce*>(&op);
  if (!r) return std::nullopt;
  return ReduceInfo{r->reduce_kind(), r->axes(), r->out_dtype(), r->acc_dtype()};
}

Array detail::reduce_identity(ReduceKind kind, DType acc_dtype, const Shape& shape) {
  return prepare(kind, acc_dtype, shape).second;
}

void detail::reduce_combine_into(ReduceKind kind, Array& into, const Array& from) {
  KILN_ASSERT(into.dtype() == from.dtype() && into.shape() == from.shape() && into.is_c_contiguous() &&
              from.is_c_contiguous())
      << "reduce_combine_into: accumulators differ in dtype, shape or layout";
  const int64_t n = into.size();
  auto fold_arrays = [&](auto k) {
    constexpr ReduceKind K = decltype(k)::value;
    detail::visit_dtype(into.dtype(), [&](auto v) {
      using A = decltype(v);
      A* r = into.data_as<A>();
      const A* x = from.data_as<A>();
      for (int64_t i = 0; i < n; ++i) r[i] = combine<K, A>(r[i], x[i]);
    });
  };
  switch (kind) {
    case ReduceKind::Sum: return fold_arrays(std::integral_constant<ReduceKind, ReduceKind::Sum>());
    case ReduceKind::Prod: return fold_arrays(std::integral_constant<ReduceKind, ReduceKind::Prod>());
    case ReduceKind::Max: return fold_arrays(std::integral_constant<ReduceKind, ReduceKind::Max>());
    case ReduceKind::Min: return fold_arrays(std::integral_constant<ReduceKind, ReduceKind::Min>());
    case ReduceKind::Any: return fold_arrays(std::integral_constant<ReduceKind, ReduceKind::Any>());
    case ReduceKind::All: return fold_arrays(std::integral_constant<ReduceKind, ReduceKind::All>());
  }
}

Var reduce_like(const Apply& node, const Var& x, const std::vector<int>& axes) {
  auto* r = dynamic_cast<const CAReduce*>(&node.op());
  KILN_ASSERT(r != nullptr) << "reduce_like: " << node.op().name() << " is not a reduction";
  return reduce(r->reduce_kind(), x, axes, false, r->out_dtype(), r->acc_dtype());
}

Var sum(const Var& x, const Axes& axis, bool keepdims, std::optional<DType> dtype, std::optional<DType> acc_dtype) {
  return sum_like(ReduceKind::Sum, x, axis, keepdims, dtype, acc_dtype);
}
Var prod(const Var& x, const Axes& axis, bool keepdims, std::optional<DType> dtype, std::optional<DType> acc_dtype) {
  return sum_like(ReduceKind::Prod, x, axis, keepdims, dtype, acc_dtype);
}
Var max(const Var& x, const Axes& axis, bool keepdims) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "max: null input";
  return reduce(ReduceKind::Max, x, axis, keepdims, x->dtype(), x->dtype());
}
Var min(const Var& x, const Axes& axis, bool keepdims) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "min: null input";
  return reduce(ReduceKind::Min, x, axis, keepdims, x->dtype(), x->dtype());
}
Var any(const Var& x, const Axes& axis, bool keepdims) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "any: null input";
  return reduce(ReduceKind::Any, x, axis, keepdims, DType::Bool, DType::Bool);
}
Var all(const Var& x, const Axes& axis, bool keepdims) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "all: null input";
  return reduce(ReduceKind::All, x, axis, keepdims, DType::Bool, DType::Bool);
}
Var argmax(const Var& x, const Axes& axis, bool keepdims) { return arg_reduce(true, x, axis, keepdims); }
Var argmin(const Var& x, const Axes& axis, bool keepdims) { return arg_reduce(false, x, axis, keepdims); }

std::pair<Var, Var> max_and_argmax(const Var& x, const Axes& axis, bool keepdims) {
  return {max(x, axis, keepdims), argmax(x, axis, keepdims)};
}

std::optional<std::vector<int>> arg_reduce_axes(const Apply& node) {
  if (auto* r = dynamic_cast<const ArgReduce*>(&node.op())) return r->axes();
  return std::nullopt;
}

Var mean(const Var& x, const Axes& axis, bool keepdims, std::optional<DType> dtype) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "mean: null input";
  std::vector<int> axes = normalize_axes(axis, x->ndim(), "mean");
  Var s = sum(x, axes, keepdims, dtype);
  DType count_dtype = s->dtype() == DType::Float32 ? DType::Float32 : DType::Float64;
  Var r = true_div(s, count_over(x, axes, count_dtype));
  return dtype && r->dtype() != *dtype ? cast(r, *dtype) : r;
}

Var var(const Var& x, const Axes& axis, bool keepdims, int ddof) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "var: null input";
  std::vector<int> axes = normalize_axes(axis, x->ndim(), "var");
  Var centered = sub(x, mean(x, axes, true));
  Var sq = sqr(centered);
  if (ddof == 0) return mean(sq, axes, keepdims);
  Var n = sub(count_over(x, axes, DType::Int64), typed_constant(ddof, DType::Int64));
  return true_div(sum(sq, axes, keepdims), n);
}

Var stddev(const Var& x, const Axes& axis, bool keepdims, int ddof) { return sqrt(var(x, axis, keepdims, ddof)); }

}  // namespace kiln
