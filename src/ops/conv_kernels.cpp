// The convolution kernels (see conv_impl.hpp for their contracts): im2col + GEMM.
//
// The batch is processed in chunks of images. For a chunk of n images, im2col lays the input out as
// the column matrix col (channels * kernel taps rows, n * out columns): row (c, tap), column
// (image, output position) holds the input element that tap reads for that position. Then, per
// group of channels, with K = channels / groups * taps:
//   forward          out_g (filters_g x n*out)  = kern_g (filters_g x K) . col_g (K x n*out)
//   backward filter  dkern_g (filters_g x K)   += top_g . col_g^T          (summed over chunks)
//   backward input   col_g (K x n*out)          = kern_g^T . top_g, then col2im adds each column
//                                                 entry back into the input position it came from
// One GEMM per chunk and group keeps the products large (a LeNet layer's 20 x 25 filters against one
// 24 x 24 image would be too small for BLAS to reach speed); the chunk is sized so that col stays
// a few megabytes. The GEMMs use OpenBLAS's own threads. im2col and the copies between the (n, filters,
// out) layout of the arrays and the (filters, n*out) layout of the products are memory-bound and run
// on one thread (one core saturates the memory bandwidth; OpenMP threads started right after a GEMM
// compete with OpenBLAS's spinning workers: a LeNet layer's weight gradient took twice as long with
// them); col2im, which adds, runs on the OpenMP threads when large.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "ops/conv_impl.hpp"

namespace kiln::detail {
namespace {

constexpr int64_t kColBudget = int64_t(1) << 21;  // elements of col per chunk of images
constexpr int64_t kParallel = int64_t(1) << 18;   // col2im: below this many elements one thread is faster

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// c = a . b (+ c when accumulate), row-major, a (m x k) or its transpose, b (k x n) or its transpose.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, bool accumulate, T* c, int64_t ldc) {
  const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  const T beta = accumulate ? T(1) : T(0);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// Output positions [lo, hi) of dimension d at which kernel tap j reads inside the input; `first` is
// the input position read at lo (the next ones follow at the stride).
struct Span {
  int64_t lo, hi, first;
};

Span valid_span(const ConvGeometry& g, int d, int64_t tap) {
  const int64_t offset = tap * g.dilation[d] - g.pad[d];  // input position read by output 0
  const int64_t s = g.stride[d];
  const int64_t lo = std::clamp<int64_t>(ceil_div(-offset, s), 0, g.out[d]);
  const int64_t hi = std::clamp<int64_t>(ceil_div(g.in[d] - offset, s), lo, g.out[d]);
  return {lo, hi, lo * s + offset};
}

// For kernel tap (t0, t1, t2), calls line(dst, src, lo, hi) for every line of the output (all
// positions along the last dimension): dst is the line's first output position, src the input
// position read at output lo of the line, or -1 when the whole line reads padding.
template <typename Line>
void for_each_line(const ConvGeometry& g, int64_t tap, Line line) {
  const int64_t t2 = tap % g.kernel[2], t1 = tap / g.kernel[2] % g.kernel[1], t0 = tap / (g.kernel[2] * g.kernel[1]);
  const Span s0 = valid_span(g, 0, t0), s1 = valid_span(g, 1, t1), s2 = valid_span(g, 2, t2);
  for (int64_t o0 = 0; o0 < g.out[0]; ++o0) {
    const bool in0 = o0 >= s0.lo && o0 < s0.hi;
    const int64_t i0 = s0.first + (o0 - s0.lo) * g.stride[0];
    for (int64_t o1 = 0; o1 < g.out[1]; ++o1) {
      const int64_t dst = (o0 * g.out[1] + o1) * g.out[2];
      if (!in0 || o1 < s1.lo || o1 >= s1.hi || s2.lo == s2.hi) {
        line(dst, int64_t(-1), s2.lo, s2.hi);
        continue;
      }
      const int64_t i1 = s1.first + (o1 - s1.lo) * g.stride[1];
      line(dst, (i0 * g.in[1] + i1) * g.in[2] + s2.first, s2.lo, s2.hi);
    }
  }
}

// col (channels * taps rows, n * out columns) from n images starting at img.
template <typename T>
void im2col(const ConvGeometry& g, const T* img, int64_t n, T* col) {
  const int64_t taps = g.kernel_size(), rows = g.channels * taps, out = g.out_size(), ld = n * out;
  const int64_t len = g.out[2], step = g.stride[2];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) {
      const T* plane = img + (i * g.channels + r / taps) * g.in_size();
      T* dst_row = col + r * ld + i * out;
      for_each_line(g, r % taps, [&](int64_t dst, int64_t src, int64_t lo, int64_t hi) {
        T* d = dst_row + dst;
        if (src < 0) {
          std::fill(d, d + len, T(0));
          return;
        }
        std::fill(d, d + lo, T(0));
        const T* s = plane + src;
        if (step == 1)
          std::memcpy(d + lo, s, static_cast<size_t>(hi - lo) * sizeof(T));
        else
          for (int64_t k = 0; k < hi - lo; ++k) d[lo + k] = s[k * step];
        std::fill(d + hi, d + len, T(0));
      });
    }
}

// The adjoint of im2col: img (n images) = the sum of every col entry at the position it was read
// from. Each thread owns whole channels of whole images, so no two threads add to one element.
template <typename T>
void col2im(const ConvGeometry& g, const T* col, int64_t n, T* img) {
  const int64_t taps = g.kernel_size(), out = g.out_size(), ld = n * out, step = g.stride[2];
  std::fill(img, img + n * g.channels * g.in_size(), T(0));
#pragma omp parallel for collapse(2) schedule(static) if (g.channels * taps * ld >= kParallel)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < g.channels; ++c) {
      T* plane = img + (i * g.channels + c) * g.in_size();
      for (int64_t t = 0; t < taps; ++t) {
        const T* src_row = col + (c * taps + t) * ld + i * out;
        for_each_line(g, t, [&](int64_t dst, int64_t src, int64_t lo, int64_t hi) {
          if (src < 0) return;
          const T* s = src_row + dst + lo;
          T* d = plane + src;
          for (int64_t k = 0; k < hi - lo; ++k) d[k * step] += s[k];
        });
      }
    }
}

// Moves filters [f0, f0 + count) of n images between the (n, filters, out) layout of the arrays and
// the (count x n*out) layout of the products: from `from` to `to`, into the matrix when to_matrix.
template <typename T>
void move_filters(const T* from, T* to, int64_t n, int64_t filters, int64_t f0, int64_t count, int64_t out,
                  bool to_matrix) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < count; ++f) {
      const int64_t image_row = (i * filters + f0 + f) * out, matrix_row = (f * n + i) * out;
      std::memcpy(to + (to_matrix ? matrix_row : image_row), from + (to_matrix ? image_row : matrix_row),
                  static_cast<size_t>(out) * sizeof(T));
    }
}

// What the three kernels share: the sizes of the products and the chunking of the batch.
struct Plan {
  int64_t out, filters_per_group, k, chunk;

  explicit Plan(const ConvGeometry& g)
      : out(g.out_size()), filters_per_group(g.filters / g.groups), k(g.channels / g.groups * g.kernel_size()) {
    const int64_t per_image = std::max<int64_t>(1, g.channels * g.kernel_size() * out);
    chunk = std::clamp<int64_t>(kColBudget / per_image, 1, std::max<int64_t>(1, g.batch));
  }
};

// top_g for images [b0, b0 + n) and group grp as a (filters_g x n*out) matrix: top itself for one
// image, else gathered into `buffer`.
template <typename T>
const T* top_block(const ConvGeometry& g, const Plan& p, const T* top, int64_t b0, int64_t n, int64_t grp, T* buffer) {
  const T* first = top + (b0 * g.filters + grp * p.filters_per_group) * p.out;
  if (n == 1) return first;
  move_filters(top + b0 * g.filters * p.out, buffer, n, g.filters, grp * p.filters_per_group, p.filters_per_group,
               p.out, true);
  return buffer;
}

// Calls body(b0, n, col, block) for the chunks of images [b0, b0 + n) of the batch: col has room for
// the chunk's column matrix, filled by im2col when img is given; block for one filters_g x n*out
// product.
template <typename T, typename Body>
void for_each_chunk(const ConvGeometry& g, const Plan& p, const T* img, Body body) {
  auto col = scratch<T>(g.channels * g.kernel_size() * p.chunk * p.out);
  auto block = scratch<T>(p.chunk > 1 ? p.filters_per_group * p.chunk * p.out : 0);
  for (int64_t b0 = 0; b0 < g.batch; b0 += p.chunk) {
    const int64_t n = std::min(p.chunk, g.batch - b0);
    if (img) im2col(g, img + b0 * g.channels * g.in_size(), n, col.get());
    body(b0, n, col.get(), block.get());
  }
}

}  // namespace

template <typename T>
void conv_forward(const ConvGeometry& g, const T* img, const T* kern, T* out) {
  const Plan p(g);
  const int64_t total = g.batch * g.filters * p.out;
  if (total == 0) return;
  if (p.k == 0) {
    std::fill(out, out + total, T(0));
    return;
  }
  for_each_chunk<T>(g, p, img, [&](int64_t b0, int64_t n, const T* col, T* block) {
    const int64_t ld = n * p.out;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* w = kern + grp * p.filters_per_group * p.k;
      const T* x = col + grp * p.k * ld;
      if (n == 1) {  // the product is the output's block already
        gemm<T>(false, false, p.filters_per_group, ld, p.k, w, p.k, x, ld, false,
                out + (b0 * g.filters + grp * p.filters_per_group) * p.out, p.out);
        continue;
      }
      gemm<T>(false, false, p.filters_per_group, ld, p.k, w, p.k, x, ld, false, block, ld);
      move_filters(block, out + b0 * g.filters * p.out, n, g.filters, grp * p.filters_per_group, p.filters_per_group,
                   p.out, false);
    }
  });
}

template <typename T>
void conv_backward_filter(const ConvGeometry& g, const T* img, const T* top, T* kern_grad) {
  const Plan p(g);
  const int64_t total = g.filters * p.k;
  if (total == 0) return;
  if (g.batch == 0 || p.out == 0) {
    std::fill(kern_grad, kern_grad + total, T(0));
    return;
  }
  for_each_chunk<T>(g, p, img, [&](int64_t b0, int64_t n, const T* col, T* block) {
    const int64_t ld = n * p.out;
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(false, true, p.filters_per_group, p.k, ld, top_block(g, p, top, b0, n, grp, block), ld,
              col + grp * p.k * ld, ld, b0 > 0, kern_grad + grp * p.filters_per_group * p.k, p.k);
  });
}

// With stride 1 and no dilation, the input gradient is itself a forward correlation: of top, padded
// by kernel - 1 - pad, with the filters flipped along every spatial axis and transposed (filters
// and channels swap within each group). That runs im2col + one GEMM of inner size filters * taps,
// instead of a GEMM of inner size filters only followed by col2im's scattered adds: on a VGG 3x3
// layer (64 -> 64 channels, 32x32, batch 64, float32) 870 ms became 180-240 ms, the forward's time
// (bench/conv_onednn.cpp, 2 busy cores). With few channels the GEMM would have too few rows (one,
// for a LeNet first layer), so those keep the col2im path.
namespace {

constexpr int64_t kMinChannelsForAdjointForward = 16;

bool adjoint_is_forward(const ConvGeometry& g) {
  if (g.channels / g.groups < kMinChannelsForAdjointForward) return false;
  for (int d = 0; d < kConvDims; ++d)
    if (g.stride[d] != 1 || g.dilation[d] != 1 || g.pad[d] > g.kernel[d] - 1) return false;
  return true;
}

template <typename T>
void backward_input_by_forward(const ConvGeometry& g, const T* kern, const T* top, T* img_grad) {
  const int64_t taps = g.kernel_size(), cg = g.channels / g.groups, fg = g.filters / g.groups;
  auto flipped = scratch<T>(g.filters * cg * taps);
  for (int64_t grp = 0; grp < g.groups; ++grp)
    for (int64_t f = 0; f < fg; ++f)
      for (int64_t c = 0; c < cg; ++c) {
        const T* from = kern + ((grp * fg + f) * cg + c) * taps;
        T* to = flipped.get() + ((grp * cg + c) * fg + f) * taps;
        for (int64_t t = 0; t < taps; ++t) to[taps - 1 - t] = from[t];
      }
  ConvGeometry adj = g;
  adj.channels = g.filters, adj.filters = g.channels;
  for (int d = 0; d < kConvDims; ++d) adj.in[d] = g.out[d], adj.out[d] = g.in[d], adj.pad[d] = g.kernel[d] - 1 - g.pad[d];
  conv_forward(adj, top, flipped.get(), img_grad);
}

}  // namespace

template <typename T>
void conv_backward_input(const ConvGeometry& g, const T* kern, const T* top, T* img_grad) {
  if (adjoint_is_forward(g)) return backward_input_by_forward(g, kern, top, img_grad);
  const Plan p(g);
  const int64_t total = g.batch * g.channels * g.in_size();
  if (total == 0) return;
  if (p.filters_per_group == 0 || p.out == 0 || p.k == 0) {
    std::fill(img_grad, img_grad + total, T(0));
    return;
  }
  for_each_chunk<T>(g, p, nullptr, [&](int64_t b0, int64_t n, T* col, T* block) {
    const int64_t ld = n * p.out;
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(true, false, p.k, ld, p.filters_per_group, kern + grp * p.filters_per_group * p.k, p.k,
              top_block(g, p, top, b0, n, grp, block), ld, false, col + grp * p.k * ld, ld);
    col2im(g, col, n, img_grad + b0 * g.channels * g.in_size());
  });
}

#define KILN_CONV_INSTANTIATE(T)                                                  \
  template void conv_forward<T>(const ConvGeometry&, const T*, const T*, T*);       \
  template void conv_backward_filter<T>(const ConvGeometry&, const T*, const T*, T*); \
  template void conv_backward_input<T>(const ConvGeometry&, const T*, const T*, T*);
KILN_CONV_INSTANTIATE(float)
KILN_CONV_INSTANTIATE(double)
#undef KILN_CONV_INSTANTIATE

}  // namespace kiln::detail
