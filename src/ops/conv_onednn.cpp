// The convolution kernels run by oneDNN (see conv_onednn.hpp for the contract).
//
// Each kernel is one oneDNN convolution primitive created with memory format `any`, so oneDNN picks
// its blocked layouts (nChw8c where it runs AVX2 kernels, as on this machine; nChw16c with AVX-512),
// with reorders from kiln's NCHW / OIHW (GOIHW with groups) arrays into them and from the result back.
// The primitives and reorders of one geometry are created once and cached (creating them costs more
// than running a small layer); they use the user scratchpad mode, and each call allocates its own
// scratchpad, blocked buffers and stream, so one cached plan runs on many threads at once. Theano's
// options map onto oneDNN's directly: padding both sides by pad (the output size
// (in + 2 pad - dilated) / stride + 1 is oneDNN's consistency rule), strides = subsample,
// dilates = filter_dilation - 1, groups as a 5-d weights tensor; filter_flip never reaches here
// (conv.cpp flips the filters before the kernels and the weight gradient after).
//
// Which kernels run here with conv_backend=auto, measured by bench/conv_backends.py (float32, batch 64,
// oneDNN 2.6.3 from Debian 12, 2 cores shared with another build; im2col+GEMM time / oneDNN time,
// > 1: oneDNN faster; ranges over two or three runs, each the better of two alternated medians;
// single timings vary up to 2x with the other core's load):
//   layer (in channels x size -> filters, kernel)   forward     input grad   weight grad
//   1x28 -> 20 5x5 (LeNet conv1)                    1.02-3.04   0.31-0.54    0.44-1.00
//   3x32 -> 64 3x3                                  1.32-2.52   0.72-0.81    1.37-1.63
//   2x28 -> 8 5x5                                   1.91-2.92   1.08-1.62    0.95-2.06
//   4x32 -> 16 3x3                                  2.28-2.63   1.35-1.53    0.99-1.72
//   8x32 -> 8 3x3                                   2.23-3.52   3.09-3.40    1.95-2.07
//   16x32 -> 16 3x3                                 1.75-2.05   2.19-2.59    1.70-4.12
//   20x12 -> 50 5x5 (LeNet conv2)                   1.65-2.60   3.66-4.25    0.85-0.86
//   32x32 -> 32 3x3                                 1.83-3.50   1.79-1.85    1.38-1.55
//   32x16 -> 64 3x3                                 1.37-1.58   2.14-2.64    1.13-1.16
//   64x32 -> 64 3x3 'half' (VGG)                    1.30-2.24   1.39-2.52    0.91-1.01
//   64x16 -> 64 3x3 dilation 2                      1.56-1.76   1.86-2.14    1.13-1.18
//   64x32 -> 128 3x3 stride 2                       1.11-1.22   1.46-1.78    0.82-1.30
//   128x16 -> 128 1x1                               1.00-1.04   0.88-1.15    0.76-1.02
//   256x8 -> 256 3x3                                1.19-1.22   1.51-1.65    0.90-1.00
//   64x16 -> 64 3x3, 4 groups                       2.22-3.93   2.61-2.64    2.38-2.41
//   32x16 -> 32 3x3, 32 groups (depthwise)          7.03-7.69   2.41-5.10    4.46-10.64
// (bench/run.py's conv2d_lenet_5x5_fwd_b64 row, three alternated runs: im2col 2.0-6.0 ms, oneDNN
// 1.1-1.7 ms.) oneDNN's direct kernels vectorise over blocks of channels; for the input gradient of
// one to three input channels there is little to vectorise (LeNet's first layer: 2-3x slower), while
// im2col + GEMM pays im2col and small GEMMs everywhere, which matters most for few channels per
// group. The weight gradient is one GEMM of (filters/group) x (channels/group * taps) over batch *
// output positions, which OpenBLAS runs as fast as oneDNN once that matrix is large; oneDNN wins it
// when the matrix is small or there are several groups. So, with c = input channels, f = filters,
// g = groups: forward always; input gradient c >= 4; weight gradient c >= 2 and (g > 1 or
// (f/g) * (c/g) * taps <= 20000).
#include "ops/conv_onednn.hpp"

#include "kiln/config.hpp"

#ifdef KILN_HAVE_ONEDNN

#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kiln/error.hpp"

namespace kiln::detail {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

constexpr size_t kMaxPlans = 256;  // cached geometries; the cache is emptied when full

// 2-d convolutions only: the first of conv_impl's three spatial dimensions is trivial.
bool is_2d(const ConvGeometry& g) {
  return g.in[0] == 1 && g.kernel[0] == 1 && g.out[0] == 1 && g.pad[0] == 0 && g.stride[0] == 1 &&
         g.dilation[0] == 1;
}

bool nonempty(const ConvGeometry& g) {
  return g.batch > 0 && g.channels > 0 && g.filters > 0 && g.in_size() > 0 && g.out_size() > 0;
}

// conv_backend=auto's choice: the rule measured above.
bool faster_on_onednn(ConvKernel k, const ConvGeometry& g) {
  switch (k) {
    case ConvKernel::Forward: return true;
    case ConvKernel::BackwardInput: return g.channels >= 4;
    case ConvKernel::BackwardFilter:
      return g.channels >= 2 &&
             (g.groups > 1 || g.filters / g.groups * (g.channels / g.groups) * g.kernel_size() <= 20000);
  }
  return false;
}

bool chosen(ConvKernel k, const ConvGeometry& g) {
  const std::string backend = Config::get().value("conv_backend");
  if (backend == "im2col" || !is_2d(g) || !nonempty(g)) return false;
  return backend == "onednn" || faster_on_onednn(k, g);
}

const dnnl::engine& cpu_engine() {
  static const auto* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

// One argument of the convolution: kiln's array (`user`) and, when oneDNN wants another layout,
// the blocked layout and the reorder between them (into it for inputs, out of it for the output).
struct Operand {
  int arg = 0;
  memory::desc user, inner;
  bool reordered = false;
  dnnl::primitive reorder;
  memory::desc reorder_scratch;
};

// The cached primitives of one kernel and geometry; operands in the order (a, b, out) of onednn_conv.
struct Plan {
  dnnl::primitive conv;
  memory::desc scratch;
  Operand operands[3];
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

Operand operand(int arg, const memory::desc& user, const memory::desc& inner, bool is_output) {
  Operand o;
  o.arg = arg, o.user = user, o.inner = inner, o.reordered = !(user == inner);
  if (!o.reordered) return o;
  const dnnl::engine& eng = cpu_engine();
  const auto pd = is_output ? dnnl::reorder::primitive_desc(eng, inner, eng, user, user_scratchpad())
                            : dnnl::reorder::primitive_desc(eng, user, eng, inner, user_scratchpad());
  o.reorder = dnnl::reorder(pd);
  o.reorder_scratch = pd.scratchpad_desc();
  return o;
}

// The NCHW images, (G)OIHW filters and NCHW outputs of g, and the convolution's parameters.
struct Descs {
  memory::desc src, weights, dst;
  memory::dims strides, dilates, pad;

  explicit Descs(const ConvGeometry& g) {
    const auto f32 = memory::data_type::f32;
    src = memory::desc({g.batch, g.channels, g.in[1], g.in[2]}, f32, Tag::nchw);
    dst = memory::desc({g.batch, g.filters, g.out[1], g.out[2]}, f32, Tag::nchw);
    weights = g.groups == 1
                  ? memory::desc({g.filters, g.channels, g.kernel[1], g.kernel[2]}, f32, Tag::oihw)
                  : memory::desc({g.groups, g.filters / g.groups, g.channels / g.groups, g.kernel[1], g.kernel[2]}, f32,
                                 Tag::goihw);
    strides = {g.stride[1], g.stride[2]};
    dilates = {g.dilation[1] - 1, g.dilation[2] - 1};
    pad = {g.pad[1], g.pad[2]};
  }

  static memory::desc any(const memory::desc& d) { return memory::desc(d.dims(), d.data_type(), Tag::any); }
};

std::shared_ptr<const Plan> make_plan(ConvKernel k, const ConvGeometry& g) {
  using namespace dnnl;
  const Descs d(g);
  const engine& eng = cpu_engine();
  const auto attr = user_scratchpad();
  const auto src = Descs::any(d.src), weights = Descs::any(d.weights), dst = Descs::any(d.dst);
  const convolution_forward::primitive_desc fwd(
      convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src, weights, dst,
                                d.strides, d.dilates, d.pad, d.pad),
      attr, eng);
  auto plan = std::make_shared<Plan>();
  if (k == ConvKernel::Forward) {
    plan->conv = convolution_forward(fwd);
    plan->scratch = fwd.scratchpad_desc();
    plan->operands[0] = operand(DNNL_ARG_SRC, d.src, fwd.src_desc(), false);
    plan->operands[1] = operand(DNNL_ARG_WEIGHTS, d.weights, fwd.weights_desc(), false);
    plan->operands[2] = operand(DNNL_ARG_DST, d.dst, fwd.dst_desc(), true);
  } else if (k == ConvKernel::BackwardInput) {
    const convolution_backward_data::primitive_desc pd(
        convolution_backward_data::desc(algorithm::convolution_direct, src, weights, dst, d.strides, d.dilates, d.pad,
                                        d.pad),
        attr, eng, fwd);
    plan->conv = convolution_backward_data(pd);
    plan->scratch = pd.scratchpad_desc();
    plan->operands[0] = operand(DNNL_ARG_WEIGHTS, d.weights, pd.weights_desc(), false);
    plan->operands[1] = operand(DNNL_ARG_DIFF_DST, d.dst, pd.diff_dst_desc(), false);
    plan->operands[2] = operand(DNNL_ARG_DIFF_SRC, d.src, pd.diff_src_desc(), true);
  } else {
    const convolution_backward_weights::primitive_desc pd(
        convolution_backward_weights::desc(algorithm::convolution_direct, src, weights, dst, d.strides, d.dilates,
                                           d.pad, d.pad),
        attr, eng, fwd);
    plan->conv = convolution_backward_weights(pd);
    plan->scratch = pd.scratchpad_desc();
    plan->operands[0] = operand(DNNL_ARG_SRC, d.src, pd.src_desc(), false);
    plan->operands[1] = operand(DNNL_ARG_DIFF_DST, d.dst, pd.diff_dst_desc(), false);
    plan->operands[2] = operand(DNNL_ARG_DIFF_WEIGHTS, d.weights, pd.diff_weights_desc(), true);
  }
  return plan;
}

// The plan of kernel k for g, created on first use; null when oneDNN cannot run it (remembered too).
std::shared_ptr<const Plan> plan_for(ConvKernel k, const ConvGeometry& g) {
  static auto* mutex = new std::mutex;
  static auto* cache = new std::map<std::vector<int64_t>, std::shared_ptr<const Plan>>;
  std::vector<int64_t> key = {static_cast<int64_t>(k), g.batch, g.channels, g.filters, g.groups};
  for (int d = 0; d < kConvDims; ++d)
    key.insert(key.end(), {g.in[d], g.kernel[d], g.out[d], g.pad[d], g.stride[d], g.dilation[d]});
  {
    std::lock_guard<std::mutex> lock(*mutex);
    if (auto it = cache->find(key); it != cache->end()) return it->second;
  }
  std::shared_ptr<const Plan> plan;
  try {
    plan = make_plan(k, g);
  } catch (const dnnl::error&) {  // no oneDNN implementation for this case: im2col + GEMM runs it
  }
  std::lock_guard<std::mutex> lock(*mutex);
  if (cache->size() >= kMaxPlans) cache->clear();
  cache->emplace(std::move(key), plan);
  return plan;
}

void execute(dnnl::stream& s, const dnnl::primitive& prim, const memory::desc& scratch,
             std::unordered_map<int, memory> args) {
  if (scratch.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, memory(scratch, s.get_engine()));
  prim.execute(s, args);
}

void run(const Plan& p, const float* a, const float* b, float* out) {
  const dnnl::engine& eng = cpu_engine();
  dnnl::stream s(eng);
  void* data[3] = {const_cast<float*>(a), const_cast<float*>(b), out};
  std::unordered_map<int, memory> args;
  memory arrays[3], blocked[3];
  for (int i = 0; i < 3; ++i) {
    const Operand& o = p.operands[i];
    arrays[i] = memory(o.user, eng, data[i]);
    blocked[i] = o.reordered ? memory(o.inner, eng) : arrays[i];
    if (o.reordered && i < 2)
      execute(s, o.reorder, o.reorder_scratch, {{DNNL_ARG_FROM, arrays[i]}, {DNNL_ARG_TO, blocked[i]}});
    args.emplace(o.arg, blocked[i]);
  }
  execute(s, p.conv, p.scratch, std::move(args));
  const Operand& o = p.operands[2];
  if (o.reordered) execute(s, o.reorder, o.reorder_scratch, {{DNNL_ARG_FROM, blocked[2]}, {DNNL_ARG_TO, arrays[2]}});
  s.wait();
}

}  // namespace

bool onednn_available() { return true; }

bool onednn_conv(ConvKernel k, const ConvGeometry& g, const float* a, const float* b, float* out) {
  if (!chosen(k, g)) return false;
  const std::shared_ptr<const Plan> plan = plan_for(k, g);
  if (!plan) return false;
  try {
    run(*plan, a, b, out);
  } catch (const dnnl::error& e) {
    KILN_ASSERT(false) << "oneDNN convolution failed: " << e.what();
  }
  return true;
}

}  // namespace kiln::detail

#else  // built without oneDNN

namespace kiln::detail {

bool onednn_available() { return false; }

bool onednn_conv(ConvKernel, const ConvGeometry&, const float*, const float*, float*) { return false; }

}  // namespace kiln::detail

#endif
