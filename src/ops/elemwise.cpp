// The Elemwise op: one scalar function of scalar_table.def applied with broadcasting.
#include "kiln/ops/elemwise.hpp"

#include <array>
#include <cmath>
#include <cstring>

#include "kiln/config.hpp"
#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/elemwise_impl.hpp"
#include "ops/vector_math.hpp"
#include "runtime/convert.hpp"
#include "runtime/strided_loop.hpp"

namespace kiln {
namespace {

constexpr std::array<ScalarOpInfo, kNumScalarOps> kScalarOps = {{
#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad) {#name, arity, OutRule::rule},
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP
}};

// ---------------------------------------------------------------- dtype rules

// The dtype of `strong` combined with a weak (Python-scalar) constant: a Python scalar never
// upcasts a float tensor (x_float32 * 2.5 stays float32); next to an integer tensor it takes part
// with the dtype Theano's autocast gave it (the smallest int holding it, float32 or float64).
DType promote_weak(DType strong, DType weak) {
  if (dtype_kind(weak) == 'b' || dtype_kind(strong) == 'f') return strong;
  return promote(strong, weak);
}

// Promotion of inputs[first:], each dtype mapped through `map` first (identity, or
// upgrade_to_float for the Float rule), with weak constants taking part as described above.
DType promote_inputs(const std::vector<Var>& inputs, size_t first = 0, DType (*map)(DType) = nullptr) {
  auto dt = [&](size_t i) { return map ? map(inputs[i]->dtype()) : inputs[i]->dtype(); };
  std::optional<DType> strong;
  for (size_t i = first; i < inputs.size(); ++i)
    if (!inputs[i]->is_weak()) strong = strong ? promote(*strong, dt(i)) : dt(i);
  if (!strong) {  // only constants: plain promotion
    DType r = dt(first);
    for (size_t i = first + 1; i < inputs.size(); ++i) r = promote(r, dt(i));
    return r;
  }
  DType r = *strong;
  for (size_t i = first; i < inputs.size(); ++i)
    if (inputs[i]->is_weak()) r = promote_weak(r, dt(i));
  return r;
}

std::string op_label(ScalarOpId id) { return "Elemwise{" + scalar_op_public_name(id) + "}"; }

DType output_dtype(ScalarOpId id, const std::vector<Var>& inputs) {
  const ScalarOpInfo& info = scalar_op_info(id);
  for (size_t i = 0; i < inputs.size(); ++i)
    KILN_USER_CHECK(is_supported(inputs[i]->dtype()), TypeError)
        << op_label(id) << ": input " << i << " (" << inputs[i]->label() << ") has dtype "
        << dtype_name(inputs[i]->dtype()) << ", which is not supported yet";
  DType up = promote_inputs(inputs);
  switch (info.rule) {
    case OutRule::Upcast: return up;
    case OutRule::UpcastNoBool:
      KILN_USER_CHECK(up != DType::Bool, TypeError)
          << op_label(id) << ": bool inputs are not supported (cast them to an integer dtype first)";
      return up;
    case OutRule::UpcastMin8: return up == DType::Bool ? DType::Int8 : up;
    case OutRule::Float: return promote_inputs(inputs, 0, &upgrade_to_float);
    case OutRule::FloatOnly:
      for (size_t i = 0; i < inputs.size(); ++i)
        KILN_USER_CHECK(is_float(inputs[i]->dtype()), TypeError)
            << op_label(id) << ": input " << i << " (" << inputs[i]->label() << ") has dtype "
            << dtype_name(inputs[i]->dtype()) << ": only float inputs are supported";
      return up;
    case OutRule::TrueDiv: {
      bool all_discrete = true;
      for (const auto& v : inputs) all_discrete = all_discrete && is_discrete(v->dtype());
      if (all_discrete) return floatX();
      return is_float(up) ? up : upgrade_to_float(up);
    }
    case OutRule::Bool: return DType::Bool;
    case OutRule::Bitwise: {
      bool all_bool = true, all_int = true;
      for (const auto& v : inputs) {
        all_bool = all_bool && v->dtype() == DType::Bool;
        all_int = all_int && is_integer(v->dtype());
      }
      KILN_USER_CHECK(all_bool || all_int, TypeError)
          << op_label(id) << ": inputs must all be integers or all be bool, got "
          << [&] {
               std::string s;
               for (size_t i = 0; i < inputs.size(); ++i) s += (i ? ", " : "") + std::string(dtype_name(inputs[i]->dtype()));
               return s;
             }();
      return up;
    }
    case OutRule::Switch: return promote_inputs(inputs, 1);
  }
  return up;
}

}  // namespace

// The type the kernel computes in: the output type, except that comparisons compute in the
// inputs' promoted type and Cast computes in the input type.
DType detail::elemwise_compute_dtype(ScalarOpId id, std::span<const DType> in, DType out) {
  if (scalar_op_info(id).rule == OutRule::Bool) {
    DType t = in[0];
    for (size_t i = 1; i < in.size(); ++i) t = promote(t, in[i]);
    return t;
  }
  if (id == ScalarOpId::identity) return in[0];
  return out;
}

namespace {

// ---------------------------------------------------------------- the op

class Elemwise final : public Op {
 public:
  // out_dtype: set only for Cast (identity with a chosen output dtype). inplace: the input whose
  // buffer the output reuses, or -1.
  Elemwise(ScalarOpId id, std::optional<DType> out_dtype, int inplace = -1)
      : id_(id), cast_to_(out_dtype), inplace_(inplace) {}

  std::string name() const override {
    std::string base = cast_to_ ? "Cast{" + std::string(dtype_name(*cast_to_)) + "}" : scalar_op_public_name(id_);
    return "Elemwise{" + base + (inplace_ >= 0 ? ",inplace}" : "}");
  }
  std::map<int, int> destroy_map() const override {
    if (inplace_ < 0) return {};
    return {{0, inplace_}};
  }
  ScalarOpId scalar_op() const { return id_; }
  bool is_cast() const { return cast_to_.has_value(); }
  std::shared_ptr<const Elemwise> with_inplace(int input) const {
    return std::make_shared<Elemwise>(id_, cast_to_, input);
  }

  std::string kind() const override { return cast_to_ ? "Elemwise{Cast}" : op_label(id_); }

  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const Elemwise*>(&other);
    return o && o->id_ == id_ && o->cast_to_ == cast_to_ && o->inplace_ == inplace_;
  }
  size_t hash() const override {
    return (static_cast<size_t>(id_) * 131 + (cast_to_ ? static_cast<size_t>(*cast_to_) + 1 : 0)) * 7 + (inplace_ + 1);
  }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    const ScalarOpInfo& info = scalar_op_info(id_);
    KILN_USER_CHECK(static_cast<int>(inputs.size()) == info.arity, TypeError)
        << name() << " takes " << info.arity << " inputs, got " << inputs.size();
    for (size_t i = 1; i < inputs.size(); ++i)
      KILN_ASSERT(inputs[i]->ndim() == inputs[0]->ndim()) << name() << ": inputs must be rank-padded";
    DType out = cast_to_ ? *cast_to_ : output_dtype(id_, inputs);
    if (cast_to_) {
      KILN_USER_CHECK(is_supported(*cast_to_) && is_supported(inputs[0]->dtype()), TypeError)
          << name() << ": casting " << dtype_name(inputs[0]->dtype()) << " to " << dtype_name(*cast_to_)
          << " is not supported yet";
    }
    std::vector<DType> in_dtypes;
    for (const auto& v : inputs) in_dtypes.push_back(v->dtype());
    DType ct = detail::elemwise_compute_dtype(id_, in_dtypes, out);
    KILN_USER_CHECK(detail::scalar_kernel(id_, ct) != nullptr, TypeError)
        << name() << " is not defined for dtype " << dtype_name(ct);
    std::vector<std::vector<int64_t>> shapes;
    for (const auto& v : inputs) shapes.push_back(v->type().shape());
    return {TensorType(out, broadcast_static_shapes(shapes, name()))};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply& node,
                                            const std::vector<std::vector<Var>>& in_shapes) const override {
    return {elemwise_output_shape(node, in_shapes)};
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override;

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    const auto& in = node.inputs();
    std::vector<Var> raw = raw_grads(node, gz[0]);
    std::vector<Var> result(in.size());
    for (size_t i = 0; i < in.size(); ++i) result[i] = fit_gradient(raw[i], in[i]);
    return result;
  }

  // Forward mode: the partial derivatives are elementwise, so R = sum_i df/dx_i * v_i, with the
  // partials taken from the gradient rule at gz = 1.
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    const Var out = node.output(0);
    if (is_discrete(out->dtype())) return {nullptr};
    std::vector<Var> partials = raw_grads(node, ones_like(out));
    Var r;
    for (size_t i = 0; i < ev.size(); ++i) {
      if (!ev[i] || !partials[i] || is_discrete(node.input(i)->dtype())) continue;
      Var term = partials[i] * ev[i];
      r = r ? r + term : term;
    }
    if (r && r->dtype() != out->dtype()) r = cast(r, out->dtype());
    return {r};
  }

  // No gradient flows through discrete-valued rows nor through the piecewise-constant ones
  // (floor, sgn, ...: their gradient is zero). tri_gamma's own derivative (polygamma of order 2)
  // is not implemented, so gradients stop there with an error naming it.
  bool differentiable() const override {
    if (cast_to_) return true;
    const OutRule rule = scalar_op_info(id_).rule;
    if (rule == OutRule::Bool || rule == OutRule::Bitwise) return false;
    switch (id_) {
      case ScalarOpId::int_div:
      case ScalarOpId::tri_gamma:
      case ScalarOpId::sgn:
      case ScalarOpId::floor:
      case ScalarOpId::ceil:
      case ScalarOpId::trunc:
      case ScalarOpId::round_half_to_even:
      case ScalarOpId::round_half_away_from_zero: return false;
      default: return true;
    }
  }

 private:
  // The gradient rule's result for each input, before broadcasting and dtype fixes.
  std::vector<Var> raw_grads(const Apply& node, const Var& gz) const {
    const auto& in = node.inputs();
    const Var out = node.output(0);
    if (cast_to_) return {gz};
    if (is_discrete(out->dtype())) {
      // Comparisons, bitwise and integer arithmetic: zero for float inputs, nothing for others.
      std::vector<Var> zeros(in.size());
      for (size_t i = 0; i < in.size(); ++i)
        if (is_float(in[i]->dtype())) zeros[i] = zeros_like(in[i]);
      return zeros;
    }
    Var x = in[0], y = in.size() > 1 ? in[1] : nullptr, z = in.size() > 2 ? in[2] : nullptr;
    return detail::scalar_grad(id_, *this, x, y, z, out, gz);
  }

  // Bring a gradient to its input's type: sum over the axes the input was broadcast along, cast
  // to the input's dtype, and broadcast up where the rule gave a smaller shape.
  static Var fit_gradient(Var g, const Var& input) {
    if (!g || is_discrete(input->dtype())) return nullptr;
    const TensorType& t = input->type();
    std::vector<int> axes;
    bool smaller = false;
    for (int d = 0; d < t.ndim(); ++d) {
      if (t.broadcastable(d) && !g->type().broadcastable(d)) axes.push_back(d);
      if (!t.broadcastable(d) && g->type().broadcastable(d)) smaller = true;
    }
    if (!axes.empty()) g = sum(g, axes, /*keepdims=*/true);
    if (g->dtype() != input->dtype()) g = cast(g, input->dtype());
    if (smaller) g = fill(input, g);
    return g;
  }

  ScalarOpId id_;
  std::optional<DType> cast_to_;
  int inplace_;
};

// Run-time broadcast: the output size of each axis, checking every input against it.
Shape broadcast_runtime(const Apply& node, std::span<const Array> in) {
  const int nd = node.output_ptr(0)->ndim();
  Shape out(nd, 1);
  for (int d = 0; d < nd; ++d) {
    int decided = -1;
    for (size_t j = 0; j < in.size(); ++j) {
      if (node.input(j)->type().broadcastable(d)) continue;
      if (decided < 0) {
        out[d] = in[j].shape()[d];
        decided = static_cast<int>(j);
      } else if (in[j].shape()[d] != out[d]) {
        KILN_THROW(ValueError) << node.op().name() << ": input shapes " << shape_str(in[decided].shape()) << " (input "
                               << decided << ") and " << shape_str(in[j].shape()) << " (input " << j
                               << ") cannot be broadcast: dimension " << d << " has size " << out[d] << " and "
                               << in[j].shape()[d]
                               << (in[j].shape()[d] == 1 || out[d] == 1
                                       ? " (only dimensions of static size 1, e.g. from T.row/T.col or "
                                         "dimshuffle('x', ...), broadcast)"
                                       : "");
      }
    }
  }
  return out;
}

namespace {

// Small results whose operands are either contiguous in the compute dtype with the result's shape
// or a single value (a loop body's scalars, x + 1 on a short vector): one kernel call, without
// the strided-loop set-up that dominates the cost at these sizes. Returns false when the general
// path is needed.
bool perform_small_contiguous(detail::ScalarKernel kernel, DType ct, std::span<const Array> in, const Array& result) {
  constexpr int64_t kMaxElements = 256;
  const int64_t n = result.size();
  if (n > kMaxElements || result.dtype() != ct || !result.is_c_contiguous() || in.size() > 3) return false;
  alignas(64) char broadcast[3][kMaxElements * 8];
  const void* src[3] = {nullptr, nullptr, nullptr};
  const int64_t tsize = static_cast<int64_t>(dtype_size(ct));
  for (size_t j = 0; j < in.size(); ++j) {
    if (in[j].dtype() == ct && in[j].shape() == result.shape() && in[j].is_c_contiguous()) {
      src[j] = in[j].data();
    } else if (in[j].size() == 1) {  // one value, converted and repeated (stride 0)
      detail::convert_fn(in[j].dtype(), ct)(in[j].data(), 0, broadcast[j], tsize, n);
      src[j] = broadcast[j];
    } else {
      return false;
    }
  }
  kernel(src, result.data(), n);
  return true;
}

}  // namespace

void Elemwise::perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const {
  const size_t k = in.size();
  Shape shape = broadcast_runtime(node, in);
  DType out_dtype = node.output_ptr(0)->dtype();
  detail::SmallBuffer<DType> in_dtypes(k);
  for (size_t j = 0; j < k; ++j) in_dtypes[j] = in[j].dtype();
  const DType ct = detail::elemwise_compute_dtype(id_, {in_dtypes.data(), k}, out_dtype);
  const detail::ScalarKernel kernel = detail::best_kernel(id_, ct);
  KILN_ASSERT(kernel != nullptr) << name() << " has no kernel for " << dtype_name(ct);
  // Storage the caller offers comes first (it saves the caller a copy). Else an inplace node writes
  // into its input's buffer when the run-time layout allows it exactly: same dtype and shape,
  // C-contiguous, and memory kiln may write (a caller's array only when the caller marked it mutable).
  const bool reuse = inplace_ >= 0 && !Array::fits_output(out[0], out_dtype, shape) &&
                     Array::fits_output(in[inplace_], out_dtype, shape);
  Array result = reuse ? in[inplace_] : Array::output_storage(out[0], out_dtype, shape);
  out[0] = result;
  if (result.size() == 0) return;
  if (perform_small_contiguous(kernel, ct, in, result)) return;

  // Broadcast inputs get stride 0 on their size-1 axes.
  detail::SmallBuffer<Shape, 3> strides(k);
  detail::SmallBuffer<const int64_t*> stride_ptrs(k + 1);
  detail::SmallBuffer<char*> bases(k + 1);
  for (size_t j = 0; j < k; ++j) {
    strides[j] = in[j].strides();
    for (size_t d = 0; d < shape.size(); ++d)
      if (in[j].shape()[d] != shape[d]) strides[j][d] = 0;
    stride_ptrs[j] = strides[j].data();
    bases[j] = in[j].data();
  }
  stride_ptrs[k] = result.strides().data();
  bases[k] = result.data();
  auto layout = detail::collapse_layout(shape, {stride_ptrs.data(), k + 1});

  const int64_t tsize = static_cast<int64_t>(dtype_size(ct));
  std::array<detail::ConvertFn, 3> to_compute{};
  for (size_t j = 0; j < k; ++j)
    if (in[j].dtype() != ct) to_compute[j] = detail::convert_fn(in[j].dtype(), ct);
  const detail::ConvertFn from_compute = out_dtype != ct ? detail::convert_fn(ct, out_dtype) : nullptr;
  const detail::ConvertFn strided_copy = detail::convert_fn(ct, ct);

  detail::parallel_for_each_run(layout, {bases.data(), k + 1}, result.size(), [&](char** p, const int64_t* s, int64_t n) {
    constexpr int64_t kBlock = 1024;
    alignas(64) char scratch[4][kBlock * 8];
    for (int64_t start = 0; start < n; start += kBlock) {
      const int64_t m = std::min(kBlock, n - start);
      const void* src[3] = {nullptr, nullptr, nullptr};
      for (size_t j = 0; j < k; ++j) {
        const char* ptr = p[j] + start * s[j];
        if (!to_compute[j] && s[j] == tsize) {
          src[j] = ptr;  // already contiguous in the compute type: read in place
        } else if (s[j] == 0) {
          // Broadcast along the run: the block is the same value throughout; fill it once per run.
          if (start == 0) (to_compute[j] ? to_compute[j] : strided_copy)(ptr, 0, scratch[j], tsize, std::min(kBlock, n));
          src[j] = scratch[j];
        } else {
          (to_compute[j] ? to_compute[j] : strided_copy)(ptr, s[j], scratch[j], tsize, m);
          src[j] = scratch[j];
        }
      }
      char* dst = p[k] + start * s[k];
      if (!from_compute && s[k] == tsize) {
        kernel(src, dst, m);
      } else {
        kernel(src, scratch[3], m);
        (from_compute ? from_compute : strided_copy)(scratch[3], tsize, dst, s[k], m);
      }
    }
  });
}

// Pad every input on the left with broadcastable axes to the largest rank.
std::vector<Var> pad_ranks(std::vector<Var> inputs) {
  int nd = 0;
  for (const auto& v : inputs) {
    KILN_USER_CHECK(v != nullptr, TypeError) << "elemwise: null input";
    nd = std::max(nd, v->ndim());
  }
  for (auto& v : inputs) {
    if (v->ndim() == nd) continue;
    if (v->is_constant()) {
      // Reshape constants directly: keeps them constants, and keeps Python scalars weak.
      Shape padded(nd - v->ndim(), 1);
      for (int64_t d : v->constant_value().shape()) padded.push_back(d);
      v = Variable::constant(v->constant_value().reshape(padded), v->name(), v->is_weak());
      continue;
    }
    std::vector<int> pattern(nd - v->ndim(), -1);
    for (int i = 0; i < v->ndim(); ++i) pattern.push_back(i);
    v = dimshuffle(v, pattern);
  }
  return inputs;
}

// Every row of the scalar table is a kind; those with a discrete output pass no gradient.
const bool kElemwiseKindsRegistered = [] {
  for (int i = 0; i < kNumScalarOps; ++i) {
    Elemwise op(static_cast<ScalarOpId>(i), std::nullopt);
    register_op_kind(op.kind(), op.differentiable());
  }
  register_op_kind("Elemwise{Cast}", true);
  return true;
}();

}  // namespace

const ScalarOpInfo& scalar_op_info(ScalarOpId id) { return kScalarOps[static_cast<size_t>(id)]; }

std::string scalar_op_public_name(ScalarOpId id) {
  std::string n = scalar_op_info(id).name;
  if (id == ScalarOpId::and_ || id == ScalarOpId::or_) return n;  // Theano spells these and_, or_
  if (!n.empty() && n.back() == '_') n.pop_back();
  return n;
}

std::vector<Var> elemwise_output_shape(const Apply& node, const std::vector<std::vector<Var>>& in_shapes) {
  const TensorType& out = node.output_ptr(0)->type();
  std::vector<Var> shape;
  for (int d = 0; d < out.ndim(); ++d) {
    if (out.shape()[d] != kUnknownDim) {
      shape.push_back(typed_constant(static_cast<double>(out.shape()[d]), DType::Int64));
      continue;
    }
    // Every input that does not broadcast along d must have the output's size there.
    std::vector<Var> sizes;
    for (size_t j = 0; j < node.inputs().size(); ++j)
      if (!node.input(static_cast<int>(j))->type().broadcastable(d)) sizes.push_back(in_shapes[j][d]);
    shape.push_back(same_size(sizes, node.op().name() + " dimension " + std::to_string(d)));
  }
  return shape;
}

std::optional<ScalarOpId> elemwise_scalar_op(const Op& op) {
  auto* e = dynamic_cast<const Elemwise*>(&op);
  if (!e || !e->destroy_map().empty() || e->is_cast()) return std::nullopt;
  return e->scalar_op();
}

std::optional<ScalarOpId> fusable_scalar_op(const Op& op) {
  auto* e = dynamic_cast<const Elemwise*>(&op);
  if (!e || !e->destroy_map().empty()) return std::nullopt;
  return e->scalar_op();
}

std::optional<Var> elemwise_inplace(const Apply& node, int input) {
  auto* e = dynamic_cast<const Elemwise*>(&node.op());
  if (!e || !e->destroy_map().empty()) return std::nullopt;
  const TensorType &in = node.input(input)->type(), &out = node.output_ptr(0)->type();
  if (in.dtype() != out.dtype() || in.broadcastable_pattern() != out.broadcastable_pattern()) return std::nullopt;
  return make_node1(e->with_inplace(input), node.inputs());
}

Var elemwise(ScalarOpId op, std::vector<Var> inputs) {
  inputs = pad_ranks(std::move(inputs));
  static std::array<OpPtr, kNumScalarOps> ops = [] {
    std::array<OpPtr, kNumScalarOps> a;
    for (int i = 0; i < kNumScalarOps; ++i) a[i] = std::make_shared<Elemwise>(static_cast<ScalarOpId>(i), std::nullopt);
    return a;
  }();
  return make_node1(ops[static_cast<size_t>(op)], std::move(inputs));
}

#define KILN_SCALAR_OP_DEFINE_1(name) \
  Var name(const Var& a) { return elemwise(ScalarOpId::name, {a}); }
#define KILN_SCALAR_OP_DEFINE_2(name) \
  Var name(const Var& a, const Var& b) { return elemwise(ScalarOpId::name, {a, b}); }
#define KILN_SCALAR_OP_DEFINE_3(name) \
  Var name(const Var& a, const Var& b, const Var& c) { return elemwise(ScalarOpId::name, {a, b, c}); }
#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad) KILN_SCALAR_OP_DEFINE_##arity(name)
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP

Var cast(const Var& x, DType dtype) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "cast: null input";
  if (x->dtype() == dtype) return x;
  return make_node1(std::make_shared<Elemwise>(ScalarOpId::identity, dtype), {x});
}

Var round(const Var& x, const std::string& mode) {
  if (mode == "half_to_even") return round_half_to_even(x);
  if (mode == "half_away_from_zero") return round_half_away_from_zero(x);
  KILN_THROW(ValueError) << "round: mode '" << mode << "' is not implemented: use 'half_to_even' or 'half_away_from_zero'";
}

Var switch_cond(const Var& cond, const Var& a, const Var& b) {
  KILN_USER_CHECK(cond != nullptr, TypeError) << "switch: null condition";
  Var c = cond->dtype() == DType::Bool ? cond : neq(cond, scalar_constant(int64_t{0}));
  return switch_(c, a, b);
}

// ---------------------------------------------------------------- constants

Var typed_constant(double value, DType dtype) { return Variable::constant(Array::scalar(dtype, value)); }

Var scalar_constant(int64_t value) {
  DType dt = value >= INT8_MIN && value <= INT8_MAX     ? DType::Int8
             : value >= INT16_MIN && value <= INT16_MAX ? DType::Int16
             : value >= INT32_MIN && value <= INT32_MAX ? DType::Int32
                                                        : DType::Int64;
  Array a = Array::empty(dt, {});
  detail::convert_fn(DType::Int64, dt)(reinterpret_cast<const char*>(&value), 8, a.data(), a.itemsize(), 1);
  return Variable::constant(a, {}, /*weak=*/true);
}

Var scalar_constant(int value) { return scalar_constant(static_cast<int64_t>(value)); }

Var scalar_constant(double value) {
  // Theano's autocast: floatX when it is float32; otherwise float32 if exact, else float64.
  bool exact32 = std::isnan(value) || static_cast<double>(static_cast<float>(value)) == value;
  DType dt = (floatX() == DType::Float32 || exact32) ? DType::Float32 : DType::Float64;
  return Variable::constant(Array::scalar(dt, value), {}, /*weak=*/true);
}

// ---------------------------------------------------------------- operators

Var operator+(const Var& a, const Var& b) { return add(a, b); }
Var operator-(const Var& a, const Var& b) { return sub(a, b); }
Var operator*(const Var& a, const Var& b) { return mul(a, b); }
Var operator/(const Var& a, const Var& b) { return true_div(a, b); }
Var operator-(const Var& a) { return neg(a); }
Var operator+(const Var& a, double b) { return add(a, scalar_constant(b)); }
Var operator+(double a, const Var& b) { return add(scalar_constant(a), b); }
Var operator-(const Var& a, double b) { return sub(a, scalar_constant(b)); }
Var operator-(double a, const Var& b) { return sub(scalar_constant(a), b); }
Var operator*(const Var& a, double b) { return mul(a, scalar_constant(b)); }
Var operator*(double a, const Var& b) { return mul(scalar_constant(a), b); }
Var operator/(const Var& a, double b) { return true_div(a, scalar_constant(b)); }
Var operator/(double a, const Var& b) { return true_div(scalar_constant(a), b); }

}  // namespace kiln
