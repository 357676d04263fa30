#include "kiln/runtime/array.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <cstring>
#include <memory>
#include <new>

#include "runtime/convert.hpp"
#include "kiln/error.hpp"
#include "runtime/strided_loop.hpp"

namespace kiln {

// ---------------------------------------------------------------- Buffer

namespace {

// Small blocks are recycled per thread, without a lock: a loop that makes and drops the same few
// temporaries every iteration (a scan step, a training step's small vectors) would otherwise spend
// more time in aligned_alloc's slow path and free than in its kernels. The last block freed is the
// first reused, so it is usually still in cache. Blocks are kept by exact capacity (a multiple of
// 64 bytes below kMinCached), at most kPerSize of each and kMaxBytes in all per thread; a block
// freed on another thread than the one that allocated it simply joins that thread's cache.
class SmallBlockCache {
 public:
  static constexpr size_t kClasses = (size_t{64} << 10) / 64;  // capacities 64, 128, ... below 64 KiB
  static constexpr size_t kPerSize = 8;
  static constexpr size_t kMaxBytes = size_t{4} << 20;

  ~SmallBlockCache() {
    for (size_t c = 0; c < kClasses; ++c)
      for (size_t i = 0; i < classes_[c].count; ++i) std::free(classes_[c].blocks[i]);
    destroyed_ = true;
  }

  void* take(size_t capacity) {
    SizeClass& cls = classes_[capacity / 64 - 1];
    if (cls.count == 0) return std::aligned_alloc(64, capacity);
    cached_bytes_ -= capacity;
    return cls.blocks[--cls.count];
  }

  void give_back(void* p, size_t capacity) {
    SizeClass& cls = classes_[capacity / 64 - 1];
    if (cls.count == kPerSize || cached_bytes_ + capacity > kMaxBytes) return std::free(p);
    cached_bytes_ += capacity;
    cls.blocks[cls.count++] = p;
  }

  // Buffers can die after this thread's cache (at thread or process exit): they bypass it.
  static bool usable() { return !destroyed_; }

 private:
  struct SizeClass {
    void* blocks[kPerSize];
    size_t count = 0;
  };
  std::unique_ptr<SizeClass[]> classes_ = std::make_unique<SizeClass[]>(kClasses);  // off the TLS block
  size_t cached_bytes_ = 0;
  static thread_local bool destroyed_;
};

thread_local bool SmallBlockCache::destroyed_ = false;

// The calling thread's cache, or nullptr once it has been destroyed.
SmallBlockCache* thread_small_blocks() {
  if (!SmallBlockCache::usable()) return nullptr;
  thread_local SmallBlockCache cache;
  return &cache;
}

// Large blocks are recycled instead of returned to the system: glibc maps and unmaps big blocks on
// every malloc/free, and the page faults of touching fresh pages cost more than the kernels that
// stream through them at memory speed. Sizes are rounded to eighths of a power of two so that
// slightly different shapes share blocks; the cache holds at most kMaxCachedBytes.
class BlockCache {
 public:
  static constexpr size_t kMinCached = size_t{64} << 10;
  static constexpr size_t kMaxCachedBytes = size_t{1} << 30;

  static size_t capacity_for(size_t nbytes) {
    size_t n = std::max<size_t>(nbytes, 64);
    if (n < kMinCached) return (n + 63) / 64 * 64;
    size_t step = std::bit_floor(n) / 8;
    return (n + step - 1) / step * step;
  }

  void* take(size_t capacity) {
    if (capacity < kMinCached) {
      SmallBlockCache* small = thread_small_blocks();
      return small ? small->take(capacity) : std::aligned_alloc(64, capacity);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(capacity);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= capacity;
        return p;
      }
    }
    return std::aligned_alloc(64, capacity);
  }

  void give_back(void* p, size_t capacity) {
    if (capacity < kMinCached) {
      if (SmallBlockCache* small = thread_small_blocks()) return small->give_back(p, capacity);
      return std::free(p);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + capacity <= kMaxCachedBytes) {
        free_[capacity].push_back(p);
        cached_bytes_ += capacity;
        return;
      }
    }
    std::free(p);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_bytes_ = 0;
};

BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache();  // never destroyed: buffers may die at exit
  return *cache;
}

}  // namespace

std::shared_ptr<Buffer> Buffer::allocate(size_t nbytes) {
  std::shared_ptr<Buffer> buf(new Buffer());
  // Never allocate 0 bytes, so every array, even an empty one, has a valid distinct address.
  buf->capacity_ = BlockCache::capacity_for(nbytes);
  buf->data_ = block_cache().take(buf->capacity_);
  KILN_USER_CHECK(buf->data_ != nullptr, RuntimeError) << "out of memory allocating " << nbytes << " bytes";
  buf->nbytes_ = nbytes;
  buf->owned_ = true;
  return buf;
}

std::shared_ptr<Buffer> Buffer::borrow(void* data, size_t nbytes, std::shared_ptr<void> keep_alive,
                                       bool caller_writable) {
  std::shared_ptr<Buffer> buf(new Buffer());
  buf->data_ = data;
  buf->nbytes_ = nbytes;
  buf->owned_ = false;
  buf->caller_writable_ = caller_writable;
  buf->keep_alive_ = std::move(keep_alive);
  return buf;
}

std::shared_ptr<Buffer> Buffer::lend_for_writing(const std::shared_ptr<Buffer>& borrowed) {
  if (borrowed->writable()) return borrowed;
  if (!borrowed->caller_writable_) return nullptr;
  std::shared_ptr<Buffer> buf = borrow(borrowed->data_, borrowed->nbytes_, borrowed, true);
  buf->lent_ = true;
  return buf;
}

bool Buffer::overlaps(const Buffer& other) const {
  auto begin = [](const Buffer& b) { return reinterpret_cast<uintptr_t>(b.data_); };
  return nbytes_ && other.nbytes_ && begin(*this) < begin(other) + other.nbytes_ && begin(other) < begin(*this) + nbytes_;
}

Buffer::~Buffer() {
  if (owned_) block_cache().give_back(data_, capacity_);
}

// ---------------------------------------------------------------- shapes

int64_t shape_size(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

Shape contiguous_strides(const Shape& shape, size_t itemsize) {
  Shape strides(shape.size());
  int64_t s = static_cast<int64_t>(itemsize);
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

// ---------------------------------------------------------------- Array

Array::Array(DType dtype, Shape shape, Shape strides, std::shared_ptr<Buffer> buffer, int64_t offset)
    : dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)), buffer_(std::move(buffer)), offset_(offset) {
  KILN_ASSERT(shape_.size() == strides_.size()) << "shape and strides differ in length";
}

Array Array::empty(DType dtype, const Shape& shape) {
  for (int64_t d : shape) KILN_USER_CHECK(d >= 0, ValueError) << "negative dimension in shape " << shape_str(shape);
  size_t nbytes = static_cast<size_t>(shape_size(shape)) * dtype_size(dtype);
  return Array(dtype, shape, contiguous_strides(shape, dtype_size(dtype)), Buffer::allocate(nbytes), 0);
}

bool Array::fits_output(const Array& offered, DType dtype, const Shape& shape) {
  return offered.defined() && offered.dtype() == dtype && offered.shape() == shape && offered.buffer()->writable() &&
         offered.is_c_contiguous();
}

Array Array::output_storage(const Array& offered, DType dtype, const Shape& shape) {
  return fits_output(offered, dtype, shape) ? offered : empty(dtype, shape);
}

Array Array::zeros(DType dtype, const Shape& shape) {
  Array a = empty(dtype, shape);
  std::memset(a.data(), 0, a.size() * a.itemsize());
  return a;
}

Array Array::scalar(DType dtype, double value) {
  Array a = empty(dtype, {});
  detail::convert_fn(DType::Float64, dtype)(reinterpret_cast<const char*>(&value), 8, a.data(), a.itemsize(), 1);
  return a;
}

Array Array::scalar_int(int64_t value) {
  Array a = empty(DType::Int64, {});
  *a.data_as<int64_t>() = value;
  return a;
}

bool Array::is_c_contiguous() const {
  int64_t expected = static_cast<int64_t>(itemsize());
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;
    if (shape_[i] == 0) return true;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

bool Array::is_aligned() const {
  auto a = static_cast<int64_t>(itemsize());
  if (reinterpret_cast<uintptr_t>(data()) % a != 0) return false;
  for (int i = 0; i < ndim(); ++i)
    if (shape_[i] > 1 && strides_[i] % a != 0) return false;
  return true;
}

Array Array::copy() const {
  Array out = empty(dtype_, shape_);
  copy_into(*this, out);
  return out;
}

Array Array::contiguous() const { return is_c_contiguous() ? *this : copy(); }

Array Array::astype(DType dtype) const {
  Array out = empty(dtype, shape_);
  copy_into(*this, out);
  return out;
}

Array Array::view(Shape shape, Shape strides, int64_t offset_bytes) const {
  return Array(dtype_, std::move(shape), std::move(strides), buffer_, offset_bytes);
}

Array Array::reshape(const Shape& shape) const {
  KILN_USER_CHECK(shape_size(shape) == size(), ValueError)
      << "cannot reshape array of size " << size() << " into shape " << shape_str(shape);
  Array c = contiguous();
  return Array(dtype_, shape, contiguous_strides(shape, itemsize()), c.buffer_, c.offset_);
}

int64_t Array::byte_offset_of(int64_t flat_index) const {
  // Walk the C-order index to a byte offset.
  int64_t off = 0, rem = flat_index;
  for (int d = ndim() - 1; d >= 0; --d) {
    off += (rem % shape_[d]) * strides_[d];
    rem /= shape_[d];
  }
  return off;
}

double Array::item_as_double(int64_t flat_index) const {
  const int64_t off = byte_offset_of(flat_index);
  double v;
  detail::convert_fn(dtype_, DType::Float64)(data() + off, 0, reinterpret_cast<char*>(&v), 8, 1);
  return v;
}

int64_t Array::item_as_int(int64_t flat_index) const {
  const int64_t off = byte_offset_of(flat_index);
  int64_t v;
  detail::convert_fn(dtype_, DType::Int64)(data() + off, 0, reinterpret_cast<char*>(&v), 8, 1);
  return v;
}

void copy_into(const Array& src, const Array& dst) {
  KILN_ASSERT(src.shape() == dst.shape()) << "copy_into " << shape_str(src.shape()) << " -> " << shape_str(dst.shape());
  if (dst.size() == 0) return;
  if (src.shares_buffer_with(dst) && src.data() != dst.data()) {
    // Possibly overlapping views: go through a temporary.
    copy_into(src.copy(), dst);
    return;
  }
  if (src.dtype() == dst.dtype() && src.is_c_contiguous() && dst.is_c_contiguous()) {
    std::memmove(dst.data(), src.data(), static_cast<size_t>(dst.size()) * dst.itemsize());
    return;
  }
  auto fn = detail::convert_fn(src.dtype(), dst.dtype());
  const int64_t* strides[] = {src.strides().data(), dst.strides().data()};
  char* bases[] = {src.data(), dst.data()};
  auto layout = detail::collapse_layout(dst.shape(), strides);
  detail::for_each_run(layout, bases, 0, detail::run_count(layout),
                       [&](char** p, const int64_t* s, int64_t n) { fn(p[0], s[0], p[1], s[1], n); });
}

}  // namespace kiln
