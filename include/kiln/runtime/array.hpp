// Buffer (64-byte-aligned, reference-counted memory) and Array (a strided n-d view of a Buffer).
//
// An Array never owns its elements directly: it shares a Buffer, so views (transpose, slices,
// DimShuffle) cost no copy, and a numpy array can be wrapped in place (the Buffer then keeps the
// numpy object alive through `keep_alive`). Strides are in bytes, as in numpy, and may be zero
// (broadcast) or negative (reversed slices).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/runtime/dtype.hpp"
#include "kiln/runtime/shape.hpp"

namespace kiln {

enum class Device : uint8_t { CPU, CUDA };

/// A block of memory. Allocated by kiln (64-byte aligned) or borrowed from another owner.
class Buffer {
 public:
  /// Allocate `nbytes` bytes, 64-byte aligned, uninitialised. Throws on allocation failure.
  static std::shared_ptr<Buffer> allocate(size_t nbytes);
  /// Wrap memory owned by someone else; `keep_alive` is released when the Buffer dies. kiln never
  /// writes into it; `caller_writable` records whether its owner would allow that (a numpy array's
  /// WRITEABLE flag), for inputs the caller marks mutable.
  static std::shared_ptr<Buffer> borrow(void* data, size_t nbytes, std::shared_ptr<void> keep_alive,
                                        bool caller_writable = false);
  /// The same memory, which kiln's inplace kernels may now write (In(mutable=True)); nullptr when
  /// its owner does not allow writes.
  static std::shared_ptr<Buffer> lend_for_writing(const std::shared_ptr<Buffer>& borrowed);

  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  bool owned() const { return owned_; }
  /// Whether inplace kernels may write here: memory kiln allocated, or lent for writing.
  bool writable() const { return owned_ || lent_; }
  /// Whether the two buffers' memory ranges overlap (two wraps of one numpy array do).
  bool overlaps(const Buffer& other) const;
  Device device() const { return device_; }

 private:
  Buffer() = default;
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t capacity_ = 0;  // bytes actually allocated (owned buffers)
  bool owned_ = false;
  bool caller_writable_ = false;
  bool lent_ = false;
  Device device_ = Device::CPU;
  std::shared_ptr<void> keep_alive_;
};

/// Number of elements of a shape (1 for a 0-d shape).
int64_t shape_size(const Shape& shape);
/// "(3, 4)"; "()" for 0-d.
std::string shape_str(const Shape& shape);
/// C-contiguous byte strides of `shape` for elements of `itemsize` bytes.
Shape contiguous_strides(const Shape& shape, size_t itemsize);

/// A strided n-dimensional view over a Buffer.
class Array {
 public:
  Array() = default;
  Array(DType dtype, Shape shape, Shape strides, std::shared_ptr<Buffer> buffer, int64_t offset);

  /// A new C-contiguous array with uninitialised elements.
  static Array empty(DType dtype, const Shape& shape);
  /// Where an op writes an output of `dtype` and `shape`: `offered`, the storage its caller put in
  /// the output's slot (see Op::perform), when that is a C-contiguous writable array of exactly
  /// this dtype and shape; otherwise a new array, as empty() makes.
  static Array output_storage(const Array& offered, DType dtype, const Shape& shape);
  /// Whether output_storage would return `offered`.
  static bool fits_output(const Array& offered, DType dtype, const Shape& shape);
  /// A new C-contiguous array of zeros.
  static Array zeros(DType dtype, const Shape& shape);
  /// A 0-d array holding `value` converted to `dtype`.
  static Array scalar(DType dtype, double value);
  /// A 0-d int64 array (exact for all int64 values).
  static Array scalar_int(int64_t value);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t size() const { return shape_size(shape_); }
  size_t itemsize() const { return dtype_size(dtype_); }
  int64_t offset() const { return offset_; }
  /// Moves this view to another place in its buffer, keeping its shape and strides: how a loop
  /// steps a row view along an array without making a new view at every step. The caller keeps
  /// the view inside the buffer.
  void set_offset(int64_t offset_bytes) { offset_ = offset_bytes; }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  bool defined() const { return buffer_ != nullptr; }
  /// Makes this array undefined, as a default-constructed one, letting go of its buffer.
  void reset() {
    buffer_.reset();
    shape_.clear();
    strides_.clear();
    offset_ = 0;
  }

  /// Address of element (0, ..., 0).
  char* data() const { return static_cast<char*>(buffer_->data()) + offset_; }
  template <typename T>
  T* data_as() const { return reinterpret_cast<T*>(data()); }

  bool is_c_contiguous() const;
  /// Whether the element addresses are aligned to the element size.
  bool is_aligned() const;

  /// The same elements in a new C-contiguous buffer (always copies).
  Array copy() const;
  /// `*this` if already C-contiguous, else a contiguous copy.
  Array contiguous() const;
  /// The elements converted to `dtype` in a new contiguous array.
  Array astype(DType dtype) const;
  /// A view with other shape/strides/offset over the same buffer.
  Array view(Shape shape, Shape strides, int64_t offset_bytes) const;
  /// A C-contiguous view with a new shape of the same size (copies first if not contiguous).
  Array reshape(const Shape& shape) const;

  /// Element `i` in C order, converted to double / int64 (slow; for tests and small scalars).
  double item_as_double(int64_t flat_index = 0) const;
  int64_t item_as_int(int64_t flat_index = 0) const;

  /// Byte offset from data() of element `flat_index` in C order.
  int64_t byte_offset_of(int64_t flat_index) const;

  /// Whether two arrays may share memory (same buffer).
  bool shares_buffer_with(const Array& other) const { return buffer_ && buffer_ == other.buffer_; }

 private:
  DType dtype_ = DType::Float64;
  Shape shape_;
  Shape strides_;
  std::shared_ptr<Buffer> buffer_;
  int64_t offset_ = 0;
};

/// Copy `src` into `dst` elementwise (same shape), converting dtypes. Handles any strides,
/// including overlapping views of the same buffer (copies through a temporary then).
void copy_into(const Array& src, const Array& dst);

}  // namespace kiln
