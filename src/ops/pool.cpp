// Pool, MaxPoolGrad, AveragePoolGrad and DownsampleFactorMaxGradGrad (Theano's tensor.signal.pool),
// over the last 2 or 3 axes of a tensor; see kiln/ops/pool.hpp for the semantics.
//
// One op class with a role covers the four: they share the options, the window geometry and the
// checks. Their gradients close over the family: Pool's is MaxPoolGrad or AveragePoolGrad;
// MaxPoolGrad and DownsampleFactorMaxGradGrad are linear in their last input and each other's
// adjoint there (and piecewise constant in x and maxout: zero gradients); AveragePoolGrad is the
// adjoint of the (linear) sum/average Pool. Each is linear in its last input, which gives R_op;
// max Pool's R_op is DownsampleFactorMaxGradGrad applied to the tangent.
//
// The kernels run over "planes" (all leading axes flattened), in parallel when large. Windows are
// clipped to the input (and to the padded input, for average_inc_pad's count) per axis in advance.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/pool.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/shape_impl.hpp"

namespace kiln {
namespace {

using detail::int64_constant;

constexpr int kDims = 3;                        // kernels work on 3 pooled axes; 2-d pooling adds one of size 1
constexpr int64_t kParallel = int64_t(1) << 15;  // elements: below this one thread is faster

enum class PoolRole { Pool, MaxGrad, AverageGrad, MaxGradGrad };

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// PoolOptions with stride and pad filled in and checked.
struct PoolParams {
  int nd = 2;
  std::vector<int64_t> ws, stride, pad;
  bool ignore_border = true;
  PoolMode mode = PoolMode::Max;

  bool operator==(const PoolParams&) const = default;

  std::string str() const {
    static const char* modes[] = {"'max'", "'sum'", "'average_inc_pad'", "'average_exc_pad'"};
    std::ostringstream s;
    s << "{ws=" << shape_str(ws) << ", stride=" << shape_str(stride) << ", pad=" << shape_str(pad)
      << ", ignore_border=" << (ignore_border ? "True" : "False") << ", mode=" << modes[static_cast<int>(mode)] << "}";
    return s.str();
  }

  // The number of windows along pooled axis d of size n (kUnknownDim for an unknown n); ValueError
  // naming `op` when whole windows are asked for and none fits.
  int64_t out_size(const std::string& op, int d, int64_t n) const {
    if (n == kUnknownDim) return kUnknownDim;
    KILN_USER_CHECK(n >= 1, ValueError) << op << ": the input has size 0 along pooled axis " << d;
    const int64_t padded = n + 2 * pad[d];
    if (ignore_border) {
      KILN_USER_CHECK(ws[d] <= padded, ValueError)
          << op << ": the window " << shape_str(ws) << " is larger than the input (size " << n << " along pooled axis "
          << d << ", " << padded << " with padding) with ignore_border=True";
      return (padded - ws[d]) / stride[d] + 1;
    }
    if (stride[d] >= ws[d]) return floor_div(n - 1, stride[d]) + 1;
    return std::max<int64_t>(0, floor_div(n - 1 - ws[d], stride[d]) + 1) + 1;
  }

  // The same as a graph of the symbolic size n.
  Var symbolic_out_size(const std::string& op, int d, const Var& n) const {
    if (auto c = detail::constant_int(n)) return int64_constant(out_size(op, d, *c));
    auto k = [](int64_t v) { return int64_constant(v); };
    if (ignore_border) return add(int_div(sub(add(n, k(2 * pad[d])), k(ws[d])), k(stride[d])), k(1));
    if (stride[d] >= ws[d]) return add(int_div(sub(n, k(1)), k(stride[d])), k(1));
    return add(maximum(k(0), add(int_div(sub(n, k(1 + ws[d])), k(stride[d])), k(1))), k(1));
  }
};

PoolParams make_params(const PoolOptions& o) {
  PoolParams p;
  p.nd = static_cast<int>(o.ws.size());
  KILN_USER_CHECK(p.nd == 2 || p.nd == 3, ValueError)
      << "Pool: ws " << shape_str(o.ws) << " must have 2 or 3 entries (one per pooled axis)";
  auto fill = [&](const std::vector<int64_t>& v, const std::vector<int64_t>& fallback, const char* what, int64_t min) {
    const std::vector<int64_t> r = v.empty() ? fallback : v;
    KILN_USER_CHECK(static_cast<int>(r.size()) == p.nd, ValueError)
        << "Pool: " << what << " " << shape_str(r) << " must have " << p.nd << " entries, like ws " << shape_str(o.ws);
    for (int64_t e : r)
      KILN_USER_CHECK(e >= min, ValueError) << "Pool: " << what << " " << shape_str(r) << " must have entries >= " << min;
    return r;
  };
  p.ws = fill(o.ws, o.ws, "ws", 1);
  p.stride = fill(o.stride, o.ws, "stride", 1);
  p.pad = fill(o.pad, std::vector<int64_t>(p.nd, 0), "pad", 0);
  p.ignore_border = o.ignore_border;
  p.mode = o.mode;
  const bool padded = std::any_of(p.pad.begin(), p.pad.end(), [](int64_t e) { return e != 0; });
  KILN_USER_CHECK(!padded || p.ignore_border, NotImplementedError)
      << "Pool: padding " << shape_str(p.pad) << " works only with ignore_border=True";
  for (int d = 0; d < p.nd; ++d)
    KILN_USER_CHECK(p.pad[d] < p.ws[d], NotImplementedError)
        << "Pool: padding " << shape_str(p.pad) << " must be smaller than the window " << shape_str(p.ws);
  return p;
}

// One window: the input positions [lo, hi) per axis, and the element counts average modes divide by.
struct Window {
  int64_t lo[kDims], hi[kDims];
  int64_t inside, with_padding;
};

// The windows of one plane, per axis, for an input of pooled shape `in` (padded to kDims axes).
struct PoolGeometry {
  int64_t planes = 0, in[kDims] = {1, 1, 1}, out[kDims] = {1, 1, 1};
  std::vector<int64_t> lo[kDims], hi[kDims], padded_count[kDims];

  PoolGeometry(const std::string& op, const PoolParams& p, const Shape& shape) {
    const int lead = static_cast<int>(shape.size()) - p.nd;
    planes = 1;
    for (int i = 0; i < lead; ++i) planes *= shape[i];
    for (int e = 0; e < kDims; ++e) {
      const int d = e - (kDims - p.nd);  // the pooled axis, or < 0 for an added one
      const int64_t n = d < 0 ? 1 : shape[lead + d], ws = d < 0 ? 1 : p.ws[d], s = d < 0 ? 1 : p.stride[d],
                    pad = d < 0 ? 0 : p.pad[d];
      in[e] = n;
      out[e] = d < 0 ? 1 : p.out_size(op, d, n);
      for (int64_t o = 0; o < out[e]; ++o) {
        const int64_t start = o * s - pad, end = start + ws;
        lo[e].push_back(std::max<int64_t>(start, 0));
        hi[e].push_back(std::min(end, n));
        padded_count[e].push_back(std::min(end, n + pad) - start);
      }
    }
  }

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }

  // f(plane, output index, window) for every window of every plane.
  template <typename F>
  void for_each_window(F f) const {
#pragma omp parallel for schedule(static) if (planes * in_size() >= kParallel)
    for (int64_t plane = 0; plane < planes; ++plane) {
      int64_t o = 0;
      for (int64_t a = 0; a < out[0]; ++a)
        for (int64_t b = 0; b < out[1]; ++b)
          for (int64_t c = 0; c < out[2]; ++c, ++o) {
            Window w{{lo[0][a], lo[1][b], lo[2][c]}, {hi[0][a], hi[1][b], hi[2][c]}, 0,
                     padded_count[0][a] * padded_count[1][b] * padded_count[2][c]};
            w.inside = (w.hi[0] - w.lo[0]) * (w.hi[1] - w.lo[1]) * (w.hi[2] - w.lo[2]);
            f(plane, o, w);
          }
    }
  }

  // f(index in the plane) for every input element of the window.
  template <typename F>
  void for_each_element(const Window& w, F f) const {
    for (int64_t a = w.lo[0]; a < w.hi[0]; ++a)
      for (int64_t b = w.lo[1]; b < w.hi[1]; ++b)
        for (int64_t c = w.lo[2]; c < w.hi[2]; ++c) f((a * in[1] + b) * in[2] + c);
  }
};

// max keeps NaN (as numpy's max): once m is NaN nothing replaces it.
template <typename T>
T window_max(const PoolGeometry& g, const Window& w, const T* x) {
  T m = x[(w.lo[0] * g.in[1] + w.lo[1]) * g.in[2] + w.lo[2]];
  g.for_each_element(w, [&](int64_t i) {
    if (!std::isnan(m) && (x[i] > m || std::isnan(x[i]))) m = x[i];
  });
  return m;
}

// The factor a window's sum is multiplied by in the sum/average modes.
double window_scale(PoolMode mode, const Window& w) {
  if (mode == PoolMode::Sum) return 1.0;
  return 1.0 / static_cast<double>(mode == PoolMode::AverageIncPad ? w.with_padding : w.inside);
}

Var make_pool(PoolRole role, const PoolParams& p, std::vector<Var> inputs);

class PoolOp final : public Op {
 public:
  PoolOp(PoolRole role, PoolParams params) : role_(role), p_(std::move(params)) {}

  std::string name() const override { return kind_name() + p_.str(); }
  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const PoolOp*>(&other);
    return o && o->role_ == role_ && o->p_ == p_;
  }
  size_t hash() const override { return std::hash<std::string>()(name()); }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    const std::string op = kind_name();
    static const char* pool[] = {"x"};
    static const char* max_grad[] = {"x", "maxout", "gz"};
    static const char* average_grad[] = {"x", "gz"};
    static const char* grad_grad[] = {"x", "maxout", "ggx"};
    static const char** names[] = {pool, max_grad, average_grad, grad_grad};
    static const size_t arity[] = {1, 3, 2, 3};
    const int r = static_cast<int>(role_);
    KILN_USER_CHECK(in.size() == arity[r], TypeError) << op << ": takes " << arity[r] << " inputs, got " << in.size();
    for (size_t i = 0; i < in.size(); ++i) {
      KILN_USER_CHECK(in[i] != nullptr, TypeError) << op << ": null " << names[r][i];
      KILN_USER_CHECK(in[i]->ndim() >= p_.nd, TypeError)
          << op << ": " << names[r][i] << " (" << in[i]->label() << ") must have at least " << p_.nd
          << " dimensions (pooled over the last " << p_.nd << "), got " << in[i]->type().str();
      KILN_USER_CHECK(in[i]->dtype() == DType::Float32 || in[i]->dtype() == DType::Float64, TypeError)
          << op << ": " << names[r][i] << " (" << in[i]->label() << ") must be float32 or float64, got "
          << in[i]->type().str();
      KILN_USER_CHECK(in[i]->dtype() == in[0]->dtype() && in[i]->ndim() == in[0]->ndim(), TypeError)
          << op << ": " << names[r][i] << " " << in[i]->type().str() << " must have the dtype and rank of x "
          << in[0]->type().str();
    }
    if (role_ == PoolRole::MaxGradGrad) return {in[1]->type()};
    if (role_ != PoolRole::Pool) return {in[0]->type()};
    std::vector<int64_t> shape = in[0]->type().shape();
    const int lead = in[0]->ndim() - p_.nd;
    for (int d = 0; d < p_.nd; ++d) shape[lead + d] = p_.out_size(op, d, shape[lead + d]);
    return {TensorType(in[0]->dtype(), shape)};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    if (role_ == PoolRole::MaxGradGrad) return {in[1]};
    if (role_ != PoolRole::Pool) return {in[0]};
    std::vector<Var> shape = in[0];
    const int lead = static_cast<int>(shape.size()) - p_.nd;
    for (int d = 0; d < p_.nd; ++d) shape[lead + d] = p_.symbolic_out_size(kind_name(), d, shape[lead + d]);
    return {shape};
  }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    const Var& x = node.input(0);
    const Var g = gz[0]->dtype() == x->dtype() ? gz[0] : cast(gz[0], x->dtype());
    switch (role_) {
      case PoolRole::Pool:
        if (p_.mode == PoolMode::Max) return {make_pool(PoolRole::MaxGrad, p_, {x, node.output(0), g})};
        return {make_pool(PoolRole::AverageGrad, p_, {x, g})};
      case PoolRole::MaxGrad:
        return {zeros_like(x), zeros_like(node.input(1)), make_pool(PoolRole::MaxGradGrad, p_, {x, node.input(1), g})};
      case PoolRole::AverageGrad:
        return {zeros_like(x), make_pool(PoolRole::Pool, p_, {g})};
      case PoolRole::MaxGradGrad:
        return {zeros_like(x), zeros_like(node.input(1)), make_pool(PoolRole::MaxGrad, p_, {x, node.input(1), g})};
    }
    return {};
  }

  // Each op is linear in its last input (max Pool: piecewise, with DownsampleFactorMaxGradGrad as
  // its derivative) and piecewise constant in the others.
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    const Var& tangent = ev.back();
    if (!tangent) return {nullptr};
    std::vector<Var> args = node.inputs();
    args.back() = tangent->dtype() == args.back()->dtype() ? tangent : cast(tangent, args.back()->dtype());
    if (role_ == PoolRole::Pool && p_.mode == PoolMode::Max)
      return {make_pool(PoolRole::MaxGradGrad, p_, {node.input(0), node.output(0), args.back()})};
    return {make_pool(role_, p_, args)};
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    if (node.output_ptr(0)->dtype() == DType::Float32) return run<float>(in, out);
    run<double>(in, out);
  }

 private:
  std::string kind_name() const {
    static const char* kinds[] = {"Pool", "MaxPoolGrad", "AveragePoolGrad", "DownsampleFactorMaxGradGrad"};
    return kinds[static_cast<int>(role_)];
  }

  template <typename T>
  void run(std::span<const Array> in, std::span<Array> out) const {
    const std::string op = kind_name();
    const Array x = in[0].contiguous();
    const PoolGeometry g(op, p_, x.shape());
    const int lead = x.ndim() - p_.nd;
    Shape pooled(x.shape().begin(), x.shape().begin() + lead);
    for (int d = 0; d < p_.nd; ++d) pooled.push_back(g.out[d + kDims - p_.nd]);
    for (size_t i = 1; i < in.size(); ++i) {
      const bool like_x = role_ == PoolRole::MaxGradGrad && i == 2;  // ggx; the others are shaped like the output
      const Shape& want = like_x ? x.shape() : pooled;
      KILN_USER_CHECK(in[i].shape() == want, ValueError)
          << op << ": input " << i << " of shape " << shape_str(in[i].shape()) << " does not match the shape "
          << shape_str(want) << (like_x ? " of x" : " of the pooled x");
    }
    const T* xs = x.data_as<T>();
    const int64_t in_size = g.in_size(), out_size = g.out_size();
    if (role_ == PoolRole::Pool) {
      Array y = Array::empty(x.dtype(), pooled);
      T* ys = y.data_as<T>();
      g.for_each_window([&](int64_t plane, int64_t o, const Window& w) {
        const T* xp = xs + plane * in_size;
        if (p_.mode == PoolMode::Max) {
          ys[plane * out_size + o] = window_max(g, w, xp);
          return;
        }
        T sum = 0;
        g.for_each_element(w, [&](int64_t i) { sum += xp[i]; });
        ys[plane * out_size + o] = static_cast<T>(sum * window_scale(p_.mode, w));
      });
      out[0] = y;
      return;
    }
    const Array last = in.back().contiguous();
    const T* ls = last.data_as<T>();
    if (role_ == PoolRole::MaxGradGrad) {
      const Array maxout_array = in[1].contiguous();  // kept alive: a strided maxout is copied
      const T* maxout = maxout_array.data_as<T>();
      Array ggz = Array::zeros(x.dtype(), pooled);
      T* zs = ggz.data_as<T>();
      g.for_each_window([&](int64_t plane, int64_t o, const Window& w) {
        const int64_t base = plane * in_size;
        g.for_each_element(w, [&](int64_t i) {
          if (xs[base + i] == maxout[plane * out_size + o]) zs[plane * out_size + o] += ls[base + i];
        });
      });
      out[0] = ggz;
      return;
    }
    // MaxPoolGrad and AveragePoolGrad: windows overlap, so each thread owns whole planes of gx.
    const Array maxout_array = role_ == PoolRole::MaxGrad ? in[1].contiguous() : Array();
    const T* maxout = role_ == PoolRole::MaxGrad ? maxout_array.data_as<T>() : nullptr;
    Array gx = Array::zeros(x.dtype(), x.shape());
    T* gs = gx.data_as<T>();
    g.for_each_window([&](int64_t plane, int64_t o, const Window& w) {
      const int64_t base = plane * in_size;
      const T grad = ls[plane * out_size + o];
      if (maxout) {
        const T m = maxout[plane * out_size + o];
        g.for_each_element(w, [&](int64_t i) {
          if (xs[base + i] == m) gs[base + i] += grad;
        });
        return;
      }
      const T share = static_cast<T>(grad * window_scale(p_.mode, w));
      g.for_each_element(w, [&](int64_t i) { gs[base + i] += share; });
    });
    out[0] = gx;
  }

  PoolRole role_;
  PoolParams p_;
};

KILN_REGISTER_OP_KINDS(
    {{"Pool", true}, {"MaxPoolGrad", true}, {"AveragePoolGrad", true}, {"DownsampleFactorMaxGradGrad", true}});

Var make_pool(PoolRole role, const PoolParams& p, std::vector<Var> inputs) {
  return make_node1(std::make_shared<PoolOp>(role, p), std::move(inputs));
}

PoolOptions options_nd(const std::vector<int64_t>& ws, bool ignore_border, const std::vector<int64_t>& stride,
                       const std::vector<int64_t>& pad, const std::string& mode) {
  return PoolOptions{ws, stride, pad, ignore_border, pool_mode_from_string(mode)};
}

}  // namespace

PoolMode pool_mode_from_string(const std::string& mode) {
  if (mode == "max") return PoolMode::Max;
  if (mode == "sum") return PoolMode::Sum;
  if (mode == "average_inc_pad") return PoolMode::AverageIncPad;
  KILN_USER_CHECK(mode == "average_exc_pad", ValueError)
      << "Pool: mode must be 'max', 'sum', 'average_inc_pad' or 'average_exc_pad', got '" << mode << "'";
  return PoolMode::AverageExcPad;
}

Var pool(const Var& x, const PoolOptions& options) { return make_pool(PoolRole::Pool, make_params(options), {x}); }

Var pool_2d(const Var& x, const std::vector<int64_t>& ws, bool ignore_border, const std::vector<int64_t>& stride,
            const std::vector<int64_t>& pad, const std::string& mode) {
  KILN_USER_CHECK(ws.size() == 2, ValueError) << "pool_2d: ws " << shape_str(ws) << " must have 2 entries";
  return pool(x, options_nd(ws, ignore_border, stride, pad, mode));
}

Var pool_3d(const Var& x, const std::vector<int64_t>& ws, bool ignore_border, const std::vector<int64_t>& stride,
            const std::vector<int64_t>& pad, const std::string& mode) {
  KILN_USER_CHECK(ws.size() == 3, ValueError) << "pool_3d: ws " << shape_str(ws) << " must have 3 entries";
  return pool(x, options_nd(ws, ignore_border, stride, pad, mode));
}

Var max_pool_grad(const Var& x, const Var& maxout, const Var& gz, const PoolOptions& options) {
  const PoolParams p = make_params(options);
  KILN_USER_CHECK(p.mode == PoolMode::Max, ValueError) << "MaxPoolGrad: mode must be 'max'";
  return make_pool(PoolRole::MaxGrad, p, {x, maxout, gz});
}

Var average_pool_grad(const Var& x, const Var& gz, const PoolOptions& options) {
  const PoolParams p = make_params(options);
  KILN_USER_CHECK(p.mode != PoolMode::Max, ValueError)
      << "AveragePoolGrad: mode must be 'sum', 'average_inc_pad' or 'average_exc_pad'";
  return make_pool(PoolRole::AverageGrad, p, {x, gz});
}

Var max_pool_grad_grad(const Var& x, const Var& maxout, const Var& ggx, const PoolOptions& options) {
  const PoolParams p = make_params(options);
  KILN_USER_CHECK(p.mode == PoolMode::Max, ValueError) << "DownsampleFactorMaxGradGrad: mode must be 'max'";
  return make_pool(PoolRole::MaxGradGrad, p, {x, maxout, ggx});
}

Var max_pool_2d_same_size(const Var& x, const std::vector<int64_t>& patch_size) {
  const PoolOptions options{patch_size, {}, {}, true, PoolMode::Max};
  const Var maxout = pool(x, options);
  return max_pool_grad(x, maxout, maxout, options);
}

}  // namespace kiln
