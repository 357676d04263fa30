#include <gtest/gtest.h>

#include <cmath>

#include "kiln/kiln.hpp"

using namespace kiln;

TEST(DType, PromotionFollowsNumpy) {
  EXPECT_EQ(promote(DType::Int32, DType::Float32), DType::Float64);
  EXPECT_EQ(promote(DType::Int8, DType::UInt8), DType::Int16);
  EXPECT_EQ(promote(DType::Int64, DType::UInt64), DType::Float64);
  EXPECT_EQ(promote(DType::Bool, DType::Int8), DType::Int8);
  EXPECT_EQ(promote(DType::Int16, DType::Float32), DType::Float32);
  EXPECT_EQ(upgrade_to_float(DType::Int16), DType::Float32);
  EXPECT_EQ(upgrade_to_float(DType::Int32), DType::Float64);
}

TEST(Array, AlignedContiguousAllocation) {
  Array a = Array::zeros(DType::Float32, {3, 5});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 64, 0u);
  EXPECT_TRUE(a.is_c_contiguous());
  EXPECT_EQ(a.strides(), (Shape{20, 4}));
  EXPECT_EQ(a.size(), 15);
}

TEST(Array, TransposedCopyIsCorrect) {
  Array a = Array::empty(DType::Int32, {2, 3});
  for (int i = 0; i < 6; ++i) a.data_as<int32_t>()[i] = i;
  Array t = a.view({3, 2}, {4, 12}, 0);
  EXPECT_FALSE(t.is_c_contiguous());
  Array c = t.copy();
  std::vector<int32_t> expected = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(c.data_as<int32_t>()[i], expected[i]);
}

TEST(Array, AstypeSaturatesNaN) {
  Array a = Array::scalar(DType::Float64, std::nan(""));
  EXPECT_EQ(a.astype(DType::Int32).item_as_int(), 0);
}

// Shape keeps six sizes inline and moves to the heap beyond; it behaves as std::vector throughout.
TEST(ShapeTest, BehavesAsAVectorInlineAndOnTheHeap) {
  std::vector<int64_t> reference;
  kiln::Shape s;
  for (int64_t i = 0; i < 20; ++i) {
    s.push_back(i);
    reference.push_back(i);
    ASSERT_EQ(std::vector<int64_t>(s), reference);
  }
  s.insert(s.begin() + 3, {100, 101});
  reference.insert(reference.begin() + 3, {100, 101});
  s.erase(s.begin(), s.begin() + 2);
  reference.erase(reference.begin(), reference.begin() + 2);
  s.insert(s.begin(), s.begin() + 4, s.begin() + 9);  // a range from the Shape itself
  const std::vector<int64_t> head(reference.begin() + 4, reference.begin() + 9);
  reference.insert(reference.begin(), head.begin(), head.end());
  EXPECT_EQ(std::vector<int64_t>(s), reference);
  kiln::Shape copy = s, moved = std::move(copy);
  EXPECT_EQ(moved, s);
  EXPECT_TRUE(copy.empty());
  kiln::Shape small = {2, 3, 4};
  kiln::Shape small_moved = std::move(small);
  EXPECT_EQ(small_moved, (kiln::Shape{2, 3, 4}));
  small_moved.resize(8, 7);
  EXPECT_EQ(std::vector<int64_t>(small_moved), (std::vector<int64_t>{2, 3, 4, 7, 7, 7, 7, 7}));
  small_moved = kiln::Shape(2, 5);
  EXPECT_EQ(small_moved, (kiln::Shape{5, 5}));
  EXPECT_TRUE(kiln::Shape({1, 2}) < kiln::Shape({1, 3}));
  EXPECT_THROW(small_moved.at(2), std::out_of_range);
  kiln::Shape shrunk(10, 1);  // on the heap, then small again
  shrunk.resize(3);
  const kiln::Shape from_heap = shrunk;
  EXPECT_EQ(from_heap, (kiln::Shape{1, 1, 1}));
  kiln::Shape big(12, 2);
  big = kiln::Shape{4, 5};  // a small copy into a Shape that lives on the heap
  EXPECT_EQ(big, (kiln::Shape{4, 5}));
  big = kiln::Shape(9, 3);
  EXPECT_EQ(std::vector<int64_t>(big), std::vector<int64_t>(9, 3));
}

// Op::perform's offered output storage is used only when it is exactly right.
TEST(Array, OutputStorageTakesOfferedStorageOnlyWhenItFits) {
  const Array offered = Array::zeros(DType::Float64, {2, 3});
  EXPECT_TRUE(Array::output_storage(offered, DType::Float64, {2, 3}).shares_buffer_with(offered));
  EXPECT_FALSE(Array::fits_output(offered, DType::Float32, {2, 3}));
  EXPECT_FALSE(Array::fits_output(offered, DType::Float64, {3, 2}));
  EXPECT_FALSE(Array::fits_output(offered.view({3, 2}, {8, 24}, 0), DType::Float64, {3, 2}));  // transposed
  double outside[6] = {};
  const Array borrowed(DType::Float64, {2, 3}, {24, 8}, Buffer::borrow(outside, sizeof outside, nullptr), 0);
  EXPECT_FALSE(Array::fits_output(borrowed, DType::Float64, {2, 3}));  // memory kiln may not write
  const Array fresh = Array::output_storage(Array(), DType::Float32, {4});
  EXPECT_EQ(fresh.dtype(), DType::Float32);
  EXPECT_EQ(fresh.shape(), Shape{4});
}

// An elementwise node writes its result into storage offered for it, and ignores storage that
// does not fit.
TEST(Array, ElementwiseNodesWriteIntoOfferedStorage) {
  Var x = vector("x");
  Var y = exp(x);
  const Apply& node = *y->owner();
  const Array in = Array::zeros(DType::Float64, {3});
  std::vector<Array> out = {Array::zeros(DType::Float64, {3})};
  const Array offered = out[0];
  node.op().perform(node, {&in, 1}, out);
  EXPECT_TRUE(out[0].shares_buffer_with(offered));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(offered.data_as<double>()[i], 1.0);
  out = {Array::zeros(DType::Float64, {4})};
  node.op().perform(node, {&in, 1}, out);
  EXPECT_EQ(out[0].shape(), Shape{3});
}

TEST(Array, DotWritesIntoOfferedStorage) {
  Var a = matrix("a"), b = vector("b");
  Var y = dot(a, b);
  const Apply& node = *y->owner();
  Array av = Array::empty(DType::Float64, {2, 3}), bv = Array::empty(DType::Float64, {3});
  for (int i = 0; i < 6; ++i) av.data_as<double>()[i] = i;
  for (int i = 0; i < 3; ++i) bv.data_as<double>()[i] = 1.0;
  const std::vector<Array> in = {av, bv};
  std::vector<Array> out = {Array::zeros(DType::Float64, {2})};
  const Array offered = out[0];
  node.op().perform(node, in, out);
  EXPECT_TRUE(out[0].shares_buffer_with(offered));
  EXPECT_EQ(offered.data_as<double>()[0], 3.0);
  EXPECT_EQ(offered.data_as<double>()[1], 12.0);
}
