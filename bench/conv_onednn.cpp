// oneDNN's convolution against kiln's AbstractConv2d ops on im2col + GEMM (conv_backend=im2col; kiln's
// own oneDNN path, src/ops/conv_onednn.cpp, grew out of this measurement), on the layers of the
// conv2d rows of bench/run.py: float32, batch 64, LeNet 64x1x28x28 * 20x1x5x5 'valid' and VGG-like
// 64x64x32x32 * 64x64x3x3 'half'. For each layer it times forward, backward-data and
// backward-weights separately (median of repeated runs, after a warm-up), checks that both
// libraries compute the same numbers, and prints the kiln/oneDNN ratio (> 1: oneDNN faster).
//
// oneDNN runs in its own best layout: the data stay NCHW/OIHW (what kiln receives from users), and
// the primitives are created with format `any`, so oneDNN picks its blocked layouts; the reorders
// into and out of them are timed as part of oneDNN's work, since kiln would have to do them too.
//
// On 2 shared cores the oneDNN times of this program often come out as whole multiples of 4 ms (a
// scheduler tick: its OpenMP threads wait for a core) and LeNet's layer looks 3-8x slower on oneDNN
// than the same primitives measure inside kiln (bench/conv_backends.py, whose figures the choice in
// src/ops/conv_onednn.cpp uses): read this program's ratios as a lower bound for oneDNN.
//
// Build (Debian 12: apt-get install libdnnl-dev), after building kiln in build/dev:
//   g++ -O3 -std=c++20 -fopenmp -Iinclude bench/conv_onednn.cpp build/dev/libkiln.a \
//       -ldnnl -llapacke -llapack -lopenblas -lsleef -ldl -o build/dev/conv_onednn
//   build/dev/conv_onednn [repeat]
#include <kiln/kiln.hpp>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

struct Layer {
  std::string name;
  int64_t batch, channels, size, filters, kernel, pad;
  kiln::BorderMode border;

  int64_t out() const { return size + 2 * pad - kernel + 1; }
};

double median_ms(const std::function<void()>& fn, int repeat) {
  fn();  // warm-up: first-touch allocation, JIT kernels, thread pools
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

kiln::Array random_array(const kiln::Shape& shape, std::mt19937& gen, float scale) {
  kiln::Array a = kiln::Array::empty(kiln::DType::Float32, shape);
  std::normal_distribution<float> normal(0.0f, scale);
  for (int64_t i = 0; i < a.size(); ++i) a.data_as<float>()[i] = normal(gen);
  return a;
}

// The largest |a - b| relative to the largest |b|.
double relative_error(const float* a, const float* b, int64_t n) {
  double diff = 0, size = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    size = std::max(size, double(std::fabs(b[i])));
  }
  return diff / std::max(size, 1e-30);
}

// kiln computes true convolution (filter_flip); oneDNN cross-correlation: flip the filters once
// for oneDNN, outside the timed region (a kiln integration would pass filter_flip=false to it or
// flip while reordering).
std::vector<float> flipped(const kiln::Array& w, int64_t kernel) {
  const int64_t taps = kernel * kernel, n = w.size();
  std::vector<float> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = w.data_as<float>()[i - i % taps + (taps - 1 - i % taps)];
  return out;
}

struct Times {
  double fwd, bwd_data, bwd_weights;
};

Times time_kiln(const Layer& l, const kiln::Array& x, const kiln::Array& w, const kiln::Array& g, int repeat,
                std::vector<kiln::Array>& results) {
  using namespace kiln;
  ConvOptions o;
  o.border_mode = l.border;
  const Var xv = tensor4("x", DType::Float32), wv = tensor4("w", DType::Float32), gv = tensor4("g", DType::Float32);
  Array spatial = Array::empty(DType::Int64, {2});
  spatial.data_as<int64_t>()[0] = spatial.data_as<int64_t>()[1] = l.size;
  Array kspatial = Array::empty(DType::Int64, {2});
  kspatial.data_as<int64_t>()[0] = kspatial.data_as<int64_t>()[1] = l.kernel;
  Config::get().set("conv_backend", "im2col");
  auto fwd = function({xv, wv}, {conv2d(xv, wv, o)});
  auto bwd_data = function({wv, gv}, {conv_grad_inputs(wv, gv, Variable::constant(spatial), o)});
  auto bwd_weights = function({xv, gv}, {conv_grad_weights(xv, gv, Variable::constant(kspatial), o)});
  Times t;
  t.fwd = median_ms([&] { results[0] = (*fwd)({x, w})[0]; }, repeat);
  t.bwd_data = median_ms([&] { results[1] = (*bwd_data)({w, g})[0]; }, repeat);
  t.bwd_weights = median_ms([&] { results[2] = (*bwd_weights)({x, g})[0]; }, repeat);
  return t;
}

// One oneDNN primitive with its user-layout (NCHW/OIHW) arguments and the reorders around it.
struct Step {
  dnnl::engine& eng;
  dnnl::stream& strm;
  std::vector<std::function<void()>> ops;

  // The memory the primitive wants for `user` (desc `want`); a reorder before (input) or after
  // (output) the primitive when the layouts differ.
  memory adapt(memory& user, const memory::desc& want, bool input) {
    if (user.get_desc() == want) return user;
    memory inner(want, eng);
    // The reorder primitives are created here, once, as a caching integration would.
    if (input)
      ops.push_back([this, user, inner, r = dnnl::reorder(user, inner)]() mutable { r.execute(strm, user, inner); });
    else
      after.push_back([this, user, inner, r = dnnl::reorder(inner, user)]() mutable { r.execute(strm, inner, user); });
    return inner;
  }
  std::vector<std::function<void()>> after;

  void run() {
    for (auto& op : ops) op();
    for (auto& op : after) op();
    strm.wait();
  }
};

Times time_onednn(const Layer& l, const kiln::Array& x, const std::vector<float>& wflip, const kiln::Array& g,
                  int repeat, std::vector<std::vector<float>>& results) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const memory::dims xd = {l.batch, l.channels, l.size, l.size}, wd = {l.filters, l.channels, l.kernel, l.kernel},
                     yd = {l.batch, l.filters, l.out(), l.out()}, stride = {1, 1}, pad = {l.pad, l.pad};
  const auto f32 = memory::data_type::f32;
  auto any = [&](const memory::dims& d) { return memory::desc(d, f32, Tag::any); };
  results.assign(3, {});
  results[0].resize(l.batch * l.filters * l.out() * l.out());
  results[1].resize(x.size());
  results[2].resize(wflip.size());
  memory x_user({xd, f32, Tag::nchw}, eng, const_cast<float*>(x.data_as<float>()));
  memory w_user({wd, f32, Tag::oihw}, eng, const_cast<float*>(wflip.data()));
  memory g_user({yd, f32, Tag::nchw}, eng, const_cast<float*>(g.data_as<float>()));
  memory y_user({yd, f32, Tag::nchw}, eng, results[0].data());
  memory dx_user({xd, f32, Tag::nchw}, eng, results[1].data());
  memory dw_user({wd, f32, Tag::oihw}, eng, results[2].data());

  using namespace dnnl;
  auto fwd_desc = convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, any(xd),
                                            any(wd), any(yd), stride, pad, pad);
  auto fwd_pd = convolution_forward::primitive_desc(fwd_desc, eng);
  Step fwd{eng, strm, {}, {}};
  {
    memory xs = fwd.adapt(x_user, fwd_pd.src_desc(), true), ws = fwd.adapt(w_user, fwd_pd.weights_desc(), true);
    memory ys = fwd.adapt(y_user, fwd_pd.dst_desc(), false);
    convolution_forward prim(fwd_pd);
    fwd.ops.push_back([&, prim, xs, ws, ys]() mutable {
      prim.execute(strm, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DST, ys}});
    });
  }
  auto bd_desc = convolution_backward_data::desc(algorithm::convolution_direct, any(xd), any(wd), any(yd), stride,
                                                 pad, pad);
  auto bd_pd = convolution_backward_data::primitive_desc(bd_desc, eng, fwd_pd);
  Step bwd_data{eng, strm, {}, {}};
  {
    memory gs = bwd_data.adapt(g_user, bd_pd.diff_dst_desc(), true);
    memory ws = bwd_data.adapt(w_user, bd_pd.weights_desc(), true);
    memory dxs = bwd_data.adapt(dx_user, bd_pd.diff_src_desc(), false);
    convolution_backward_data prim(bd_pd);
    bwd_data.ops.push_back([&, prim, gs, ws, dxs]() mutable {
      prim.execute(strm, {{DNNL_ARG_DIFF_DST, gs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DIFF_SRC, dxs}});
    });
  }
  auto bw_desc = convolution_backward_weights::desc(algorithm::convolution_direct, any(xd), any(wd), any(yd),
                                                    stride, pad, pad);
  auto bw_pd = convolution_backward_weights::primitive_desc(bw_desc, eng, fwd_pd);
  Step bwd_weights{eng, strm, {}, {}};
  {
    memory xs = bwd_weights.adapt(x_user, bw_pd.src_desc(), true);
    memory gs = bwd_weights.adapt(g_user, bw_pd.diff_dst_desc(), true);
    memory dws = bwd_weights.adapt(dw_user, bw_pd.diff_weights_desc(), false);
    convolution_backward_weights prim(bw_pd);
    bwd_weights.ops.push_back([&, prim, xs, gs, dws]() mutable {
      prim.execute(strm, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_DIFF_DST, gs}, {DNNL_ARG_DIFF_WEIGHTS, dws}});
    });
  }
  std::printf("  oneDNN implementations: fwd %s, bwd_data %s, bwd_weights %s\n", fwd_pd.impl_info_str(),
              bd_pd.impl_info_str(), bw_pd.impl_info_str());
  Times t;
  t.fwd = median_ms([&] { fwd.run(); }, repeat);
  t.bwd_data = median_ms([&] { bwd_data.run(); }, repeat);
  t.bwd_weights = median_ms([&] { bwd_weights.run(); }, repeat);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeat = argc > 1 ? std::atoi(argv[1]) : 20;
  const std::vector<Layer> layers = {{"lenet 64x1x28x28 * 20x1x5x5 valid", 64, 1, 28, 20, 5, 0, kiln::BorderMode::Valid},
                                     {"vgg 64x64x32x32 * 64x64x3x3 half", 64, 64, 32, 64, 3, 1, kiln::BorderMode::Half}};
  std::mt19937 gen(0);
  int failures = 0;
  for (const Layer& l : layers) {
    const kiln::Array x = random_array({l.batch, l.channels, l.size, l.size}, gen, 1.0f);
    const kiln::Array w = random_array({l.filters, l.channels, l.kernel, l.kernel}, gen, 0.1f);
    const kiln::Array g = random_array({l.batch, l.filters, l.out(), l.out()}, gen, 1.0f);
    std::printf("%s, float32, %d runs each (median ms)\n", l.name.c_str(), repeat);
    std::vector<kiln::Array> kiln_out(3);
    std::vector<std::vector<float>> dnnl_out;
    const Times k = time_kiln(l, x, w, g, repeat, kiln_out);
    const Times d = time_onednn(l, x, flipped(w, l.kernel), g, repeat, dnnl_out);
    // oneDNN's weight gradient is of the unflipped (cross-correlation) filters: flip it back.
    kiln::Array dw = kiln::Array::empty(kiln::DType::Float32, w.shape());
    std::copy(dnnl_out[2].begin(), dnnl_out[2].end(), dw.data_as<float>());
    const std::vector<float> dw_flipped = flipped(dw, l.kernel);
    const double err[3] = {relative_error(dnnl_out[0].data(), kiln_out[0].data_as<float>(), kiln_out[0].size()),
                           relative_error(dnnl_out[1].data(), kiln_out[1].data_as<float>(), kiln_out[1].size()),
                           relative_error(dw_flipped.data(), kiln_out[2].data_as<float>(), kiln_out[2].size())};
    const char* names[3] = {"forward", "backward data", "backward weights"};
    const double kt[3] = {k.fwd, k.bwd_data, k.bwd_weights}, dt[3] = {d.fwd, d.bwd_data, d.bwd_weights};
    for (int i = 0; i < 3; ++i) {
      std::printf("  %-17s kiln %8.2f  oneDNN %8.2f  kiln/oneDNN %5.2f  (max rel. difference %.1e)\n", names[i],
                  kt[i], dt[i], kt[i] / dt[i], err[i]);
      if (!(err[i] < 1e-4)) ++failures;
    }
  }
  if (failures) std::printf("MISMATCH: oneDNN and kiln disagree\n");
  return failures ? 1 : 0;
}
