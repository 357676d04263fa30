// Convolution and pooling through the C++ API: conv2d against direct loops (with padding, strides,
// dilation and groups), the adjoint identities of the gradient ops, pooling against a direct loop,
// and the errors. The Python tests (test_conv.py, test_pool.py) cover every option in depth.
#include <gtest/gtest.h>

#include <random>

#include "kiln/kiln.hpp"
#include "test_util.hpp"

using namespace kiln;
using kiln::test_util::kind_of;

namespace {

Array random_array(const Shape& shape, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Array a = Array::empty(DType::Float64, shape);
  for (int64_t i = 0; i < a.size(); ++i) a.data_as<double>()[i] = uniform(gen);
  return a;
}

double dot_all(const Array& a, const Array& b) {
  double s = 0;
  for (int64_t i = 0; i < a.size(); ++i) s += a.item_as_double(i) * b.item_as_double(i);
  return s;
}

// Cross-correlation of x (b, c, h, w) with k (f, c / groups, kh, kw), padding 1, stride (2, 1),
// dilation (1, 2), by direct loops.
Array direct_conv(const Array& x, const Array& k, int64_t groups) {
  const int64_t b = x.shape()[0], c = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  const int64_t f = k.shape()[0], cg = k.shape()[1], kh = k.shape()[2], kw = k.shape()[3];
  const int64_t pad = 1, sh = 2, sw = 1, dh = 1, dw = 2;
  const int64_t oh = (h + 2 * pad - ((kh - 1) * dh + 1)) / sh + 1, ow = (w + 2 * pad - ((kw - 1) * dw + 1)) / sw + 1;
  Array y = Array::zeros(DType::Float64, {b, f, oh, ow});
  double* out = y.data_as<double>();
  for (int64_t n = 0; n < b; ++n)
    for (int64_t o = 0; o < f; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t r = i * sh - pad + p * dh, s = j * sw - pad + q * dw;
                if (r < 0 || r >= h || s < 0 || s >= w) continue;
                const int64_t channel = o / (f / groups) * cg + ci;
                out[((n * f + o) * oh + i) * ow + j] +=
                    x.item_as_double(((n * c + channel) * h + r) * w + s) * k.item_as_double(((o * cg + ci) * kh + p) * kw + q);
              }
  return y;
}

ConvOptions options(int64_t groups) {
  ConvOptions o;
  o.border_mode = BorderMode::Explicit;
  o.pad = {1, 1};
  o.subsample = {2, 1};
  o.filter_dilation = {1, 2};
  o.filter_flip = false;
  o.num_groups = groups;
  return o;
}

}  // namespace

TEST(Conv, Conv2dMatchesDirectLoopsAndItsGradientOpsAreItsAdjoints) {
  for (int64_t groups : {1, 2}) {
    const Array xv = random_array({2, 4, 7, 6}, 1), kv = random_array({6, 4 / groups, 3, 2}, 2);
    Var x = tensor4("x", DType::Float64), k = tensor4("k", DType::Float64), g = tensor4("g", DType::Float64);
    const ConvOptions o = options(groups);
    const Var y = conv2d(x, k, o);
    const Array expected = direct_conv(xv, kv, groups);
    const Array y_value = (*function({x, k}, {y}))({xv, kv})[0];
    ASSERT_EQ(y_value.shape(), expected.shape());
    for (int64_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(y_value.item_as_double(i), expected.item_as_double(i), 1e-12);

    const Array gv = random_array(expected.shape(), 3);
    const Var gi = conv_grad_inputs(k, g, make_vector({shape_i(x, 2), shape_i(x, 3)}), o);
    const Var gw = conv_grad_weights(x, g, make_vector({shape_i(k, 2), shape_i(k, 3)}), o);
    const std::vector<Array> grads = (*function({x, k, g}, {gi, gw}))({xv, kv, gv});
    const double inner = dot_all(expected, gv);
    EXPECT_NEAR(dot_all(xv, grads[0]), inner, 1e-10 * (1 + std::abs(inner)));
    EXPECT_NEAR(dot_all(kv, grads[1]), inner, 1e-10 * (1 + std::abs(inner)));
  }
}

// Every config.conv_backend computes the same float32 convolution and gradients as direct loops (with
// oneDNN in the build, conv_backend=onednn runs them all on it; without, all run im2col + GEMM).
TEST(Conv, BackendsMatchDirectLoopsInFloat32) {
  const std::string saved = Config::get().value("conv_backend");
  for (int64_t groups : {1, 2}) {
    const Array xv = random_array({2, 32, 9, 8}, 5), kv = random_array({32, 32 / groups, 3, 2}, 6);
    const Array expected = direct_conv(xv, kv, groups);
    const Array gv = random_array(expected.shape(), 7);
    Var x = tensor4("x", DType::Float32), k = tensor4("k", DType::Float32), g = tensor4("g", DType::Float32);
    const ConvOptions o = options(groups);
    const Var gi = conv_grad_inputs(k, g, make_vector({shape_i(x, 2), shape_i(x, 3)}), o);
    const Var gw = conv_grad_weights(x, g, make_vector({shape_i(k, 2), shape_i(k, 3)}), o);
    auto f = function({x, k, g}, {conv2d(x, k, o), gi, gw});
    const Array x32 = xv.astype(DType::Float32), k32 = kv.astype(DType::Float32), g32 = gv.astype(DType::Float32);
    const double inner = dot_all(expected, gv);
    for (const char* backend : {"im2col", "onednn", "auto"}) {
      Config::get().set("conv_backend", backend);
      const std::vector<Array> out = (*f)({x32, k32, g32});
      ASSERT_EQ(out[0].shape(), expected.shape());
      for (int64_t i = 0; i < expected.size(); ++i)
        ASSERT_NEAR(out[0].item_as_double(i), expected.item_as_double(i), 1e-4) << backend;
      EXPECT_NEAR(dot_all(xv, out[1]), inner, 1e-4 * (1 + std::abs(inner))) << backend;
      EXPECT_NEAR(dot_all(kv, out[2]), inner, 1e-4 * (1 + std::abs(inner))) << backend;
    }
  }
  Config::get().set("conv_backend", saved);
}

TEST(Conv, MaxPoolWithPartialWindows) {
  Var x = tensor4("x", DType::Float64);
  const Array xv = random_array({1, 2, 5, 3}, 4);
  const Array y = (*function({x}, {pool_2d(x, {2, 2}, false)}))({xv})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 2}));
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        double m = -INFINITY;
        for (int64_t r = 2 * i; r < std::min<int64_t>(2 * i + 2, 5); ++r)
          for (int64_t s = 2 * j; s < std::min<int64_t>(2 * j + 2, 3); ++s) m = std::max(m, xv.item_as_double((c * 5 + r) * 3 + s));
        EXPECT_EQ(y.item_as_double((c * 3 + i) * 2 + j), m);
      }
}

TEST(Conv, Errors) {
  EXPECT_EQ(kind_of([] { conv2d(matrix("m", DType::Float64), tensor4("k", DType::Float64)); }), ErrorKind::TypeError);
  EXPECT_EQ(kind_of([] {
              conv2d(tensor(DType::Float64, {1, 3, 5, 5}), tensor(DType::Float64, {2, 2, 3, 3}));
            }),
            ErrorKind::ValueError);
  EXPECT_EQ(kind_of([] { pool_2d(tensor(DType::Float64, {1, 1, 2, 2}), {3, 3}); }), ErrorKind::ValueError);
  EXPECT_EQ(kind_of([] { pool_2d(vector("v", DType::Float64), {2, 2}); }), ErrorKind::TypeError);
}
