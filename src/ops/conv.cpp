// AbstractConv2d/3d and their gradient ops AbstractConv{2,3}d_gradWeights and _gradInputs, as
// Theano's abstract convolution ops (one implementation for 2 and 3 spatial dimensions).
//
// The three ops are the three products of one bilinear map, conv(input, filters):
//   AbstractConv      (input, filters)            -> output
//   _gradWeights      (input, output_grad, shape) -> filters' gradient, of spatial size `shape`
//   _gradInputs       (filters, output_grad, shape) -> input's gradient, of spatial size `shape`
// so the gradient of each is made of the other two, and double backpropagation works to any
// order. Each is bilinear in its first two inputs, which gives its R_op directly. The kernels
// (conv_kernels.cpp) compute cross-correlation; filter_flip reverses the filters' spatial axes
// before the forward and input-gradient kernels and the weight gradient after its kernel.
//
// The kernels of float32 2-d convolutions run on oneDNN where it was measured faster (conv_onednn.cpp,
// with the measurements), the rest on im2col + GEMM (conv_kernels.cpp), which is also what
// config.conv_backend=im2col forces for comparison.
#include <algorithm>
#include <sstream>
#include <string>

#include "kiln/error.hpp"
#include "kiln/ops/conv.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "ops/conv_impl.hpp"
#include "ops/conv_onednn.hpp"
#include "ops/shape_impl.hpp"

namespace kiln {
namespace {

using detail::ConvGeometry;
using detail::ConvKernel;
using detail::int64_constant;

enum class ConvRole { Forward, GradWeights, GradInputs };

std::string tuple_str(const std::vector<int64_t>& v) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << (v[i] == kUnknownDim ? "None" : std::to_string(v[i]));
  s << (v.size() == 1 ? ",)" : ")");
  return s.str();
}

// ConvOptions with every per-dimension vector filled in and checked.
struct ConvParams {
  int nd = 2;
  BorderMode border = BorderMode::Valid;
  std::vector<int64_t> pad, subsample, dilation;
  bool flip = true;
  int64_t groups = 1;
  std::vector<int64_t> imshp, kshp;  // nd + 2 entries, kUnknownDim where unknown

  bool operator==(const ConvParams&) const = default;

  std::string prefix() const { return "AbstractConv" + std::to_string(nd) + "d"; }

  std::string str() const {
    static const char* modes[] = {"'valid'", "'full'", "'half'"};
    std::ostringstream s;
    s << "{border_mode=" << (border == BorderMode::Explicit ? tuple_str(pad) : modes[static_cast<int>(border)])
      << ", subsample=" << tuple_str(subsample) << ", filter_flip=" << (flip ? "True" : "False")
      << ", filter_dilation=" << tuple_str(dilation) << ", num_groups=" << groups;
    auto known = [](const std::vector<int64_t>& v) {
      return std::any_of(v.begin(), v.end(), [](int64_t e) { return e != kUnknownDim; });
    };
    if (known(imshp)) s << ", imshp=" << tuple_str(imshp);
    if (known(kshp)) s << ", kshp=" << tuple_str(kshp);
    return s.str() + "}";
  }

  int64_t dilated(int d, int64_t k) const { return (k - 1) * dilation[d] + 1; }

  int64_t pad_for(int d, int64_t k) const {
    switch (border) {
      case BorderMode::Valid: return 0;
      case BorderMode::Full: return dilated(d, k) - 1;
      case BorderMode::Half: return dilated(d, k) / 2;
      case BorderMode::Explicit: return pad[d];
    }
    return 0;
  }

  // The output size along spatial dimension d (kUnknownDim when in or k is); ValueError naming `op`
  // when the dilated filter does not fit in the padded input.
  int64_t out_size(const std::string& op, int d, int64_t in, int64_t k) const {
    if (in == kUnknownDim || k == kUnknownDim) return kUnknownDim;
    KILN_USER_CHECK(k >= 1, ValueError) << op << ": the filters have size " << k << " along spatial axis " << d
                                        << "; they need at least 1";
    const int64_t dk = dilated(d, k), padded = in + 2 * pad_for(d, k);
    KILN_USER_CHECK(dk <= padded, ValueError)
        << op << ": along spatial axis " << d << " the filters (size " << k << ", " << dk
        << " with dilation) are larger than the input (size " << in << ", " << padded << " with padding)";
    return (padded - dk) / subsample[d] + 1;
  }

  // The kernels' geometry for arrays of these shapes (nd + 2 entries each); ValueError naming `op`
  // for channels that do not match.
  ConvGeometry geometry(const std::string& op, const Shape& img, const Shape& kern) const {
    KILN_USER_CHECK(img[1] == kern[1] * groups, ValueError)
        << op << ": the input has " << img[1] << " channels but the filters of shape " << shape_str(kern) << " take "
        << kern[1] << " per group, " << kern[1] * groups << " with num_groups=" << groups;
    KILN_USER_CHECK(kern[0] % groups == 0, ValueError)
        << op << ": " << kern[0] << " filters cannot be split into num_groups=" << groups << " groups";
    ConvGeometry g;
    g.batch = img[0], g.channels = img[1], g.filters = kern[0], g.groups = groups;
    for (int d = 0; d < nd; ++d) {
      const int e = d + detail::kConvDims - nd;
      g.in[e] = img[2 + d], g.kernel[e] = kern[2 + d], g.out[e] = out_size(op, d, img[2 + d], kern[2 + d]);
      g.pad[e] = pad_for(d, kern[2 + d]), g.stride[e] = subsample[d], g.dilation[e] = dilation[d];
    }
    return g;
  }

  Shape out_shape(const ConvGeometry& g) const {
    Shape s = {g.batch, g.filters};
    for (int d = 0; d < nd; ++d) s.push_back(g.out[d + detail::kConvDims - nd]);
    return s;
  }
};

std::vector<int64_t> per_dim(const std::string& op, const char* what, const std::vector<int64_t>& v, int nd,
                             int64_t fallback, int64_t min) {
  if (v.empty()) return std::vector<int64_t>(nd, fallback);
  KILN_USER_CHECK(static_cast<int>(v.size()) == nd, ValueError)
      << op << ": " << what << " " << tuple_str(v) << " must have " << nd << " entries, one per spatial dimension";
  for (int64_t e : v)
    KILN_USER_CHECK(e >= min, ValueError) << op << ": " << what << " " << tuple_str(v) << " must have entries >= " << min;
  return v;
}

ConvParams make_params(const ConvOptions& o, int nd) {
  ConvParams p;
  p.nd = nd;
  const std::string op = p.prefix();
  p.border = o.border_mode;
  KILN_USER_CHECK(p.border == BorderMode::Explicit || o.pad.empty(), ValueError)
      << op << ": padding " << tuple_str(o.pad) << " is only used with an explicit border_mode";
  p.pad = p.border == BorderMode::Explicit ? per_dim(op, "border_mode", o.pad, nd, 0, 0) : std::vector<int64_t>(nd, 0);
  p.subsample = per_dim(op, "subsample", o.subsample, nd, 1, 1);
  p.dilation = per_dim(op, "filter_dilation", o.filter_dilation, nd, 1, 1);
  p.flip = o.filter_flip;
  KILN_USER_CHECK(o.num_groups >= 1, ValueError) << op << ": num_groups must be >= 1, got " << o.num_groups;
  p.groups = o.num_groups;
  p.imshp = per_dim(op, "input_shape", o.input_shape, nd + 2, kUnknownDim, kUnknownDim);
  p.kshp = per_dim(op, "filter_shape", o.filter_shape, nd + 2, kUnknownDim, kUnknownDim);
  return p;
}

// The static shape of `v` combined with a hint; ValueError when they disagree.
std::vector<int64_t> with_hint(const std::string& op, const char* what, const Var& v, const std::vector<int64_t>& hint) {
  std::vector<int64_t> s = v->type().shape();
  for (size_t i = 0; i < s.size(); ++i) {
    if (hint[i] == kUnknownDim) continue;
    KILN_USER_CHECK(s[i] == kUnknownDim || s[i] == hint[i], ValueError)
        << op << ": " << what << " (" << v->label() << ") of type " << v->type().str() << " does not match the shape hint "
        << tuple_str(hint);
    s[i] = hint[i];
  }
  return s;
}

// Runtime form of with_hint.
void check_hint(const std::string& op, const char* what, const Shape& actual, const std::vector<int64_t>& hint) {
  for (size_t i = 0; i < hint.size(); ++i)
    KILN_USER_CHECK(hint[i] == kUnknownDim || hint[i] == actual[i], ValueError)
        << op << ": " << what << " of shape " << shape_str(actual) << " does not match the shape hint " << tuple_str(hint);
}

// The spatial sizes of x as an int64 vector (a constant where x's type knows them all).
Var spatial_shape(const Var& x) {
  std::vector<Var> dims = shape_list(x);
  return detail::size_vector(std::vector<Var>(dims.begin() + 2, dims.end()));
}

// `a` with its last nd axes reversed, C-contiguous.
Array flipped(const Array& a, int nd) {
  if (a.size() == 0) return a.contiguous();
  Shape strides = a.strides();
  int64_t offset = a.offset();
  for (int d = a.ndim() - nd; d < a.ndim(); ++d) {
    offset += (a.shape()[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  return a.view(a.shape(), strides, offset).copy();
}

// Kernel k of conv_impl.hpp on C-contiguous arrays (arguments as detail::onednn_conv): oneDNN where
// config.conv_backend and its heuristic choose it, im2col + GEMM otherwise.
template <typename T>
void run_kernel(ConvKernel k, const ConvGeometry& g, const T* a, const T* b, T* out) {
  if (detail::onednn_conv(k, g, a, b, out)) return;
  switch (k) {
    case ConvKernel::Forward: return detail::conv_forward<T>(g, a, b, out);
    case ConvKernel::BackwardInput: return detail::conv_backward_input<T>(g, a, b, out);
    case ConvKernel::BackwardFilter: return detail::conv_backward_filter<T>(g, a, b, out);
  }
}

Var make_conv(ConvRole role, const ConvParams& p, std::vector<Var> inputs);

class AbstractConv final : public Op {
 public:
  AbstractConv(ConvRole role, ConvParams params) : role_(role), p_(std::move(params)) {}

  std::string name() const override { return kind_name() + p_.str(); }
  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const AbstractConv*>(&other);
    return o && o->role_ == role_ && o->p_ == p_;
  }
  size_t hash() const override { return std::hash<std::string>()(name()); }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    const std::string op = kind_name();
    static const char* forward[] = {"input", "filters"};
    static const char* weights[] = {"input", "output_grad", "shape"};
    static const char* inputs[] = {"filters", "output_grad", "shape"};
    const char** names = role_ == ConvRole::Forward ? forward : role_ == ConvRole::GradWeights ? weights : inputs;
    const size_t arity = role_ == ConvRole::Forward ? 2 : 3;
    KILN_USER_CHECK(in.size() == arity, TypeError) << op << ": takes " << arity << " inputs, got " << in.size();
    for (size_t i = 0; i < 2; ++i) {
      KILN_USER_CHECK(in[i] != nullptr, TypeError) << op << ": null " << names[i];
      KILN_USER_CHECK(in[i]->ndim() == p_.nd + 2, TypeError)
          << op << ": " << names[i] << " (" << in[i]->label() << ") must be a " << p_.nd + 2 << "-d tensor, got "
          << in[i]->type().str();
      KILN_USER_CHECK(in[i]->dtype() == DType::Float32 || in[i]->dtype() == DType::Float64, TypeError)
          << op << ": " << names[i] << " (" << in[i]->label() << ") must be float32 or float64, got " << in[i]->type().str();
    }
    KILN_USER_CHECK(in[0]->dtype() == in[1]->dtype(), TypeError)
        << op << ": " << names[0] << " and " << names[1] << " must have one dtype, got " << in[0]->type().str() << " and "
        << in[1]->type().str();
    if (role_ == ConvRole::Forward) return {TensorType(in[0]->dtype(), forward_shape(in))};
    const Var& shape = in[2];
    KILN_USER_CHECK(shape != nullptr && shape->ndim() == 1 && shape->dtype() == DType::Int64, TypeError)
        << op << ": shape must be an int64 vector of " << p_.nd << " spatial sizes";
    const int64_t length = shape->type().shape()[0];
    KILN_USER_CHECK(length == kUnknownDim || length == p_.nd, ValueError)
        << op << ": shape has " << length << " entries, expected " << p_.nd << " spatial sizes";
    return {TensorType(in[0]->dtype(), gradient_shape(in))};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override {
    std::vector<Var> out;
    if (role_ == ConvRole::Forward) {
      out = {in[0][0], in[1][0]};
      for (int d = 0; d < p_.nd; ++d) out.push_back(symbolic_out_size(d, in[0][2 + d], in[1][2 + d]));
      return {out};
    }
    const Var groups = int64_constant(p_.groups);
    if (role_ == ConvRole::GradWeights)
      out = {in[1][1], int_div(in[0][1], groups)};
    else
      out = {in[1][0], mul(in[0][1], groups)};
    const Var& shape = node.input(2);
    auto entries = vector_entries(shape);
    for (int d = 0; d < p_.nd; ++d) out.push_back(entries ? (*entries)[d] : getitem(shape, {Index::at(d)}));
    return {out};
  }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    const Var &a = node.input(0), &b = node.input(1);
    const Var g = gz[0]->dtype() == a->dtype() ? gz[0] : cast(gz[0], a->dtype());
    switch (role_) {
      case ConvRole::Forward:  // (input, filters)
        return {make_conv(ConvRole::GradInputs, p_, {b, g, spatial_shape(a)}),
                make_conv(ConvRole::GradWeights, p_, {a, g, spatial_shape(b)})};
      case ConvRole::GradWeights:  // (input, output_grad, shape); g has the filters' shape
        return {make_conv(ConvRole::GradInputs, p_, {g, b, spatial_shape(a)}), make_conv(ConvRole::Forward, p_, {a, g}),
                nullptr};
      case ConvRole::GradInputs:  // (filters, output_grad, shape); g has the input's shape
        return {make_conv(ConvRole::GradWeights, p_, {g, b, spatial_shape(a)}), make_conv(ConvRole::Forward, p_, {g, a}),
                nullptr};
    }
    return {};
  }

  // Bilinear in its first two inputs: d op(a, b) = op(da, b) + op(a, db).
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    std::vector<Var> in = node.inputs();
    Var r;
    for (int i = 0; i < 2; ++i) {
      if (!ev[i]) continue;
      std::vector<Var> args = in;
      args[i] = ev[i]->dtype() == in[i]->dtype() ? ev[i] : cast(ev[i], in[i]->dtype());
      Var term = make_conv(role_, p_, args);
      r = r ? r + term : term;
    }
    return {r};
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    if (node.output_ptr(0)->dtype() == DType::Float32) return run<float>(in, out);
    run<double>(in, out);
  }

 private:
  std::string kind_name() const {
    static const char* suffix[] = {"", "_gradWeights", "_gradInputs"};
    return p_.prefix() + suffix[static_cast<int>(role_)];
  }

  std::vector<int64_t> forward_shape(const std::vector<Var>& in) const {
    const std::string op = kind_name();
    const auto img = with_hint(op, "input", in[0], p_.imshp), kern = with_hint(op, "filters", in[1], p_.kshp);
    check_static_channels(img[1], kern);
    std::vector<int64_t> shape = {img[0], kern[0]};
    for (int d = 0; d < p_.nd; ++d) shape.push_back(p_.out_size(op, d, img[2 + d], kern[2 + d]));
    return shape;
  }

  // The gradient ops' output: the filters' shape (gradWeights) or the input's (gradInputs).
  std::vector<int64_t> gradient_shape(const std::vector<Var>& in) const {
    const std::string op = kind_name();
    const bool weights = role_ == ConvRole::GradWeights;
    std::vector<int64_t> result(p_.nd + 2, kUnknownDim);
    const auto& top = in[1]->type().shape();
    const auto other = with_hint(op, weights ? "input" : "filters", in[0], weights ? p_.imshp : p_.kshp);
    if (weights) {
      result[0] = top[1];
      result[1] = other[1] == kUnknownDim || other[1] % p_.groups ? kUnknownDim : other[1] / p_.groups;
    } else {
      result[0] = top[0];
      result[1] = other[1] == kUnknownDim ? kUnknownDim : other[1] * p_.groups;
    }
    if (auto entries = vector_entries(in[2]))
      for (int d = 0; d < p_.nd && d < static_cast<int>(entries->size()); ++d)
        result[2 + d] = detail::constant_int((*entries)[d]).value_or(kUnknownDim);
    const auto& hint = weights ? p_.kshp : p_.imshp;
    for (int i = 0; i < p_.nd + 2; ++i) {
      if (hint[i] == kUnknownDim) continue;
      KILN_USER_CHECK(result[i] == kUnknownDim || result[i] == hint[i], ValueError)
          << op << ": the gradient's static shape " << tuple_str(result) << " does not match the shape hint "
          << tuple_str(hint);
      result[i] = hint[i];
    }
    return result;
  }

  void check_static_channels(int64_t channels, const std::vector<int64_t>& kern) const {
    const std::string op = kind_name();
    KILN_USER_CHECK(channels == kUnknownDim || kern[1] == kUnknownDim || channels == kern[1] * p_.groups, ValueError)
        << op << ": the input has " << channels << " channels but the filters of static shape " << tuple_str(kern)
        << " take " << kern[1] << " per group, " << kern[1] * p_.groups << " with num_groups=" << p_.groups;
    KILN_USER_CHECK(kern[0] == kUnknownDim || kern[0] % p_.groups == 0, ValueError)
        << op << ": " << kern[0] << " filters cannot be split into num_groups=" << p_.groups << " groups";
  }

  // (in + 2 pad - dilated) // subsample + 1 as a graph (a constant when in and k are).
  Var symbolic_out_size(int d, const Var& in, const Var& k) const {
    auto ci = detail::constant_int(in), ck = detail::constant_int(k);
    if (ci && ck) return int64_constant(p_.out_size(kind_name(), d, *ci, *ck));
    const Var dk = add(mul(sub(k, int64_constant(1)), int64_constant(p_.dilation[d])), int64_constant(1));
    Var pad = int64_constant(0);
    if (p_.border == BorderMode::Full) pad = sub(dk, int64_constant(1));
    if (p_.border == BorderMode::Half) pad = int_div(dk, int64_constant(2));
    if (p_.border == BorderMode::Explicit) pad = int64_constant(p_.pad[d]);
    const Var span = sub(add(in, mul(pad, int64_constant(2))), dk);
    return add(int_div(span, int64_constant(p_.subsample[d])), int64_constant(1));
  }

  // The spatial sizes held by a gradient op's shape input.
  Shape spatial_values(const std::string& op, const Array& shape) const {
    KILN_USER_CHECK(shape.size() == p_.nd, ValueError)
        << op << ": shape has " << shape.size() << " entries, expected " << p_.nd << " spatial sizes";
    Shape s;
    for (int d = 0; d < p_.nd; ++d) s.push_back(shape.item_as_int(d));
    return s;
  }

  void check_output_grad(const std::string& op, const Array& top, const ConvGeometry& g) const {
    const Shape expected = p_.out_shape(g);
    KILN_USER_CHECK(top.shape() == expected, ValueError)
        << op << ": output_grad of shape " << shape_str(top.shape()) << " does not match the convolution's output shape "
        << shape_str(expected);
  }

  Array filters_for_kernel(const Array& kern) const { return p_.flip ? flipped(kern, p_.nd) : kern.contiguous(); }

  template <typename T>
  void run(std::span<const Array> in, std::span<Array> out) const {
    const std::string op = kind_name();
    if (role_ == ConvRole::Forward) {
      check_hint(op, "input", in[0].shape(), p_.imshp);
      check_hint(op, "filters", in[1].shape(), p_.kshp);
      const Array img = in[0].contiguous(), kern = filters_for_kernel(in[1]);
      const ConvGeometry g = p_.geometry(op, img.shape(), kern.shape());
      Array y = Array::empty(img.dtype(), p_.out_shape(g));
      run_kernel<T>(ConvKernel::Forward, g, img.data_as<T>(), kern.data_as<T>(), y.data_as<T>());
      out[0] = y;
      return;
    }
    const Array top = in[1].contiguous();
    const Shape spatial = spatial_values(op, in[2]);
    if (role_ == ConvRole::GradWeights) {
      const Array img = in[0].contiguous();
      check_hint(op, "input", img.shape(), p_.imshp);
      KILN_USER_CHECK(img.shape()[1] % p_.groups == 0, ValueError)
          << op << ": the input's " << img.shape()[1] << " channels cannot be split into num_groups=" << p_.groups
          << " groups";
      Shape kshape = {top.shape()[1], img.shape()[1] / p_.groups};
      kshape.insert(kshape.end(), spatial.begin(), spatial.end());
      const ConvGeometry g = p_.geometry(op, img.shape(), kshape);
      check_output_grad(op, top, g);
      check_hint(op, "the filters' gradient", kshape, p_.kshp);
      Array dk = Array::empty(img.dtype(), kshape);
      run_kernel<T>(ConvKernel::BackwardFilter, g, img.data_as<T>(), top.data_as<T>(), dk.data_as<T>());
      out[0] = p_.flip ? flipped(dk, p_.nd) : dk;
      return;
    }
    check_hint(op, "filters", in[0].shape(), p_.kshp);
    const Array kern = filters_for_kernel(in[0]);
    Shape ishape = {top.shape()[0], kern.shape()[1] * p_.groups};
    ishape.insert(ishape.end(), spatial.begin(), spatial.end());
    check_hint(op, "the input's gradient", ishape, p_.imshp);
    const ConvGeometry g = p_.geometry(op, ishape, kern.shape());
    check_output_grad(op, top, g);
    Array di = Array::empty(kern.dtype(), ishape);
    run_kernel<T>(ConvKernel::BackwardInput, g, kern.data_as<T>(), top.data_as<T>(), di.data_as<T>());
    out[0] = di;
  }

  ConvRole role_;
  ConvParams p_;
};

KILN_REGISTER_OP_KINDS({{"AbstractConv2d", true},
                        {"AbstractConv2d_gradWeights", true},
                        {"AbstractConv2d_gradInputs", true},
                        {"AbstractConv3d", true},
                        {"AbstractConv3d_gradWeights", true},
                        {"AbstractConv3d_gradInputs", true}});

Var make_conv(ConvRole role, const ConvParams& p, std::vector<Var> inputs) {
  return make_node1(std::make_shared<AbstractConv>(role, p), std::move(inputs));
}

// The number of spatial dimensions of a convolution whose `what` is `x`: x.ndim - 2, which must be
// 2 or 3 (or `expected` when given).
int spatial_dims(const Var& x, const char* what, int expected = 0) {
  const std::string op = expected ? "AbstractConv" + std::to_string(expected) + "d" : "AbstractConv";
  KILN_USER_CHECK(x != nullptr, TypeError) << op << ": null " << what;
  const int nd = x->ndim() - 2;
  const bool ok = expected ? nd == expected : nd == 2 || nd == 3;
  KILN_USER_CHECK(ok, TypeError) << op << ": " << what << " (" << x->label() << ") must be a "
                                 << (expected ? std::to_string(expected + 2) : std::string("4- or 5")) << "-d tensor, got "
                                 << x->type().str();
  return nd;
}

// The two float operands of a convolution in their common dtype.
std::pair<Var, Var> common_float(const std::string& op, const Var& a, const char* a_name, const Var& b,
                                 const char* b_name) {
  KILN_USER_CHECK(a != nullptr && b != nullptr, TypeError) << op << ": null " << (a ? b_name : a_name);
  for (const auto& [v, what] : {std::pair{a, a_name}, std::pair{b, b_name}})
    KILN_USER_CHECK(is_float(v->dtype()), TypeError)
        << op << ": " << what << " (" << v->label() << ") must be float32 or float64, got " << v->type().str();
  const DType dt = promote(a->dtype(), b->dtype());
  return {a->dtype() == dt ? a : cast(a, dt), b->dtype() == dt ? b : cast(b, dt)};
}

Var spatial_shape_input(const std::string& op, const Var& shape) {
  KILN_USER_CHECK(shape != nullptr && shape->ndim() == 1 && is_integer(shape->dtype()), TypeError)
      << op << ": shape must be an integer vector of spatial sizes, got " << (shape ? shape->type().str() : "null");
  return shape->dtype() == DType::Int64 ? shape : cast(shape, DType::Int64);
}

// A gradient op of `role` on (first, output_grad, spatial shape), `first` being the filters or the input.
Var conv_gradient(ConvRole role, const Var& first, const char* first_name, const Var& output_grad, const Var& shape,
                  const ConvOptions& options) {
  const ConvParams p = make_params(options, spatial_dims(first, first_name));
  const std::string op = p.prefix() + (role == ConvRole::GradInputs ? "_gradInputs" : "_gradWeights");
  auto [a, top] = common_float(op, first, first_name, output_grad, "output_grad");
  return make_conv(role, p, {a, top, spatial_shape_input(op, shape)});
}

}  // namespace

Var conv(const Var& input, const Var& filters, const ConvOptions& options) {
  const int nd = spatial_dims(input, "input");
  const ConvParams p = make_params(options, nd);
  auto [img, kern] = common_float(p.prefix(), input, "input", filters, "filters");
  return make_conv(ConvRole::Forward, p, {img, kern});
}

Var conv2d(const Var& input, const Var& filters, const ConvOptions& options) {
  spatial_dims(input, "input", 2);
  return conv(input, filters, options);
}

Var conv3d(const Var& input, const Var& filters, const ConvOptions& options) {
  spatial_dims(input, "input", 3);
  return conv(input, filters, options);
}

Var conv_grad_inputs(const Var& filters, const Var& output_grad, const Var& input_spatial_shape,
                     const ConvOptions& options) {
  return conv_gradient(ConvRole::GradInputs, filters, "filters", output_grad, input_spatial_shape, options);
}

Var conv_grad_weights(const Var& input, const Var& output_grad, const Var& filter_spatial_shape,
                      const ConvOptions& options) {
  return conv_gradient(ConvRole::GradWeights, input, "input", output_grad, filter_spatial_shape, options);
}

}  // namespace kiln
