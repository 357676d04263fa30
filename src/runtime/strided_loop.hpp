// Iteration over n-d strided operands sharing one shape, one contiguous-ish "run" at a time.
//
// Every kernel that walks arrays (copies, elementwise, reductions) goes through this: it drops
// size-1 axes, merges axes that are contiguous for every operand, and then calls
// `run(pointers, inner_strides, n)` for each innermost run, so the kernel itself is a flat loop.
// Broadcast operands simply carry stride 0. Iteration is iterative (an index counter), never
// recursive.
#pragma once

#include <cstdint>
#include <algorithm>
#include <span>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kiln/runtime/array.hpp"

namespace kiln::detail {

/// One Shape of strides per operand, inline for up to four operands (most elementwise loops), so
/// that laying out a small array's loop allocates nothing.
class OperandStrides {
 public:
  void resize(size_t k) {
    k_ = k;
    if (k > kInline) heap_.resize(k);
  }
  size_t size() const { return k_; }
  Shape& operator[](size_t j) { return k_ > kInline ? heap_[j] : inline_[j]; }
  const Shape& operator[](size_t j) const { return k_ > kInline ? heap_[j] : inline_[j]; }

 private:
  static constexpr size_t kInline = 4;
  Shape inline_[kInline];
  std::vector<Shape> heap_;
  size_t k_ = 0;
};

struct StridedLayout {
  Shape shape;             // collapsed shape; outer axes first
  OperandStrides strides;  // per operand, per collapsed axis (bytes)
};

/// n values of T, held inline when n <= N (the per-call scratch of the loops below: a heap
/// allocation per call would cost more than a small array's whole loop).
template <typename T, size_t N = 8>
class SmallBuffer {
 public:
  explicit SmallBuffer(size_t n) : data_(n <= N ? inline_ : new T[n]) {}
  SmallBuffer(const SmallBuffer&) = delete;
  SmallBuffer& operator=(const SmallBuffer&) = delete;
  ~SmallBuffer() {
    if (data_ != inline_) delete[] data_;
  }
  T* data() { return data_; }
  T& operator[](size_t i) { return data_[i]; }

 private:
  T inline_[N];
  T* data_;
};

/// Collapse `shape` with per-operand byte strides into the fewest axes (at least one).
inline StridedLayout collapse_layout(const Shape& shape, std::span<const int64_t* const> strides) {
  const size_t k = strides.size();
  StridedLayout out;
  out.strides.resize(k);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out.shape.empty();
    if (merge) {
      for (size_t j = 0; j < k; ++j)
        if (out.strides[j].back() != strides[j][d] * shape[d]) merge = false;
    }
    if (merge) {
      out.shape.back() *= shape[d];
      for (size_t j = 0; j < k; ++j) out.strides[j].back() = strides[j][d];
    } else {
      out.shape.push_back(shape[d]);
      for (size_t j = 0; j < k; ++j) out.strides[j].push_back(strides[j][d]);
    }
  }
  if (out.shape.empty()) {
    out.shape.push_back(1);
    for (size_t j = 0; j < k; ++j) out.strides[j].push_back(0);
  }
  return out;
}

/// Calls run(char** ptrs, const int64_t* inner_strides, int64_t n) for runs number
/// [first_run, last_run) of the innermost axis, where the number of runs is
/// size / inner_extent. `bases` are the operands' element (0,...,0) addresses.
template <typename Run>
void for_each_run(const StridedLayout& layout, std::span<char* const> bases, int64_t first_run,
                  int64_t last_run, Run&& run) {
  const size_t k = bases.size();
  const int nd = static_cast<int>(layout.shape.size());
  const int64_t inner = layout.shape[nd - 1];
  SmallBuffer<int64_t> inner_strides(k);
  for (size_t j = 0; j < k; ++j) inner_strides[j] = layout.strides[j][nd - 1];
  // Decompose first_run into an index over the outer axes.
  Shape index(nd > 1 ? nd - 1 : 0, 0);
  int64_t rem = first_run;
  for (int d = nd - 2; d >= 0; --d) {
    index[d] = rem % layout.shape[d];
    rem /= layout.shape[d];
  }
  SmallBuffer<char*> ptrs(k);
  for (size_t j = 0; j < k; ++j) {
    ptrs[j] = bases[j];
    for (int d = 0; d < nd - 1; ++d) ptrs[j] += index[d] * layout.strides[j][d];
  }
  for (int64_t r = first_run; r < last_run; ++r) {
    run(ptrs.data(), inner_strides.data(), inner);
    // Advance the outer index like an odometer.
    for (int d = nd - 2; d >= 0; --d) {
      if (++index[d] < layout.shape[d]) {
        for (size_t j = 0; j < k; ++j) ptrs[j] += layout.strides[j][d];
        break;
      }
      index[d] = 0;
      for (size_t j = 0; j < k; ++j) ptrs[j] -= (layout.shape[d] - 1) * layout.strides[j][d];
    }
  }
}

/// Number of innermost runs of a layout.
inline int64_t run_count(const StridedLayout& layout) {
  int64_t n = 1;
  for (size_t d = 0; d + 1 < layout.shape.size(); ++d) n *= layout.shape[d];
  return n;
}

}  // namespace kiln::detail

namespace kiln::detail {

/// Below this many elements, waking the thread team costs more than it saves (and competes with
/// BLAS threads).
constexpr int64_t kParallelThreshold = 1 << 18;

/// Like for_each_run over the whole layout, but splits the work over OpenMP threads when there is
/// enough of it (`total_elements` >= the threshold). Long runs are cut into pieces so a single
/// contiguous run still uses every core. `run` must be safe to call concurrently.
template <typename Run>
void parallel_for_each_run(const StridedLayout& layout, std::span<char* const> bases, int64_t total_elements,
                           Run&& run) {
  constexpr int64_t kPiece = 1 << 14;
  const int64_t runs = run_count(layout);
  const int nd = static_cast<int>(layout.shape.size());
  const int64_t inner = layout.shape[nd - 1];
  if (total_elements < kParallelThreshold) {
    for_each_run(layout, bases, 0, runs, run);
    return;
  }
  if (inner >= kPiece) {
    // Few long runs: cut each run into pieces.
    const int64_t pieces_per_run = (inner + kPiece - 1) / kPiece;
    const int64_t pieces = runs * pieces_per_run;
    const size_t k = bases.size();
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pieces; ++p) {
      int64_t r = p / pieces_per_run, start = (p % pieces_per_run) * kPiece;
      int64_t n = std::min(kPiece, inner - start);
      std::vector<char*> ptrs(k);
      std::vector<int64_t> inner_strides(k);
      int64_t rem = r;
      for (size_t j = 0; j < k; ++j) ptrs[j] = bases[j];
      for (int d = nd - 2; d >= 0; --d) {
        int64_t i = rem % layout.shape[d];
        rem /= layout.shape[d];
        for (size_t j = 0; j < k; ++j) ptrs[j] += i * layout.strides[j][d];
      }
      for (size_t j = 0; j < k; ++j) {
        inner_strides[j] = layout.strides[j][nd - 1];
        ptrs[j] += start * inner_strides[j];
      }
      run(ptrs.data(), inner_strides.data(), n);
    }
    return;
  }
  // Many short runs: give each thread a contiguous range of runs.
#pragma omp parallel
  {
#ifdef _OPENMP
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
#else
    int nt = 1, t = 0;
#endif
    int64_t first = runs * t / nt, last = runs * (t + 1) / nt;
    if (first < last) for_each_run(layout, bases, first, last, run);
  }
}

}  // namespace kiln::detail
