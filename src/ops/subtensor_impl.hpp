// Pieces shared by the basic (subtensor.cpp) and integer-array (advanced_subtensor.cpp) indexing
// ops: index dtype checks, reading index values, broadcasting a value into an indexed region, and
// the block copy/add loop every gather and scatter goes through.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kiln/graph/graph.hpp"
#include "ops/shape_impl.hpp"  // int64_constant

namespace kiln::detail {

/// Checks that `v` can index: an integer dtype (bool raises NotImplementedError: masks are not
/// supported; other dtypes TypeError), of rank `ndim` when given. `what` names it in messages.
void check_index_var(const std::string& op, const Var& v, const std::string& what, std::optional<int> ndim);

/// The elements of an integer array as a new C-contiguous int64 array; uint64 values above
/// INT64_MAX saturate, which keeps them out of range of any axis instead of wrapping to negatives.
Array index_array_int64(const Array& a);
/// The value of a 0-d integer array, as index_array_int64 reads it.
int64_t index_value(const Array& a);

/// Raises the IndexError of an index outside [-size, size) and returns the index made non-negative.
int64_t normalize_index(const std::string& op, int64_t index, int axis, int64_t size);

/// Checks at build time that a value of type `y` can be stored into a region of static shape
/// `region` (elementwise broadcasting: fewer axes are padded on the left, only static size-1
/// axes stretch). Raises ValueError naming the op.
void check_value_fits(const std::string& op, const Var& y, const std::vector<int64_t>& region);

/// A view of `y` stretched over `region` (stride 0 on padded and broadcast axes). Raises ValueError
/// at run time when a non-broadcastable axis of y differs in size from the region.
Array broadcast_into(const std::string& op, const Array& y, const TensorType& y_type, const Shape& region);

/// Byte offsets of every element of `shape` (C order) in an array with byte `strides`.
std::vector<int64_t> c_order_offsets(const Shape& shape, const int64_t* strides);

enum class StoreMode { Copy, Add };

/// For each m, block m of `src` (at byte offset src_off[m] from `src`, strides `src_strides`) is
/// copied or added into block m of `dst` (dst_off[m], `dst_strides`); blocks have shape `block`
/// and dtype `dt` on both sides. Blocks are handled in order, so repeated destinations keep the
/// last copy or accumulate every addition (numpy.add.at).
void store_blocks(DType dt, const Shape& block, char* dst, const Shape& dst_strides, std::span<const int64_t> dst_off,
                  const char* src, const Shape& src_strides, std::span<const int64_t> src_off, StoreMode mode);

/// `head` followed by the inputs of `node` from `first` on: the same index inputs under new
/// leading ones, for building a gradient or a tangent with the node's own index.
inline std::vector<Var> with_index_inputs(std::vector<Var> head, const Apply& node, size_t first) {
  head.insert(head.end(), node.inputs().begin() + static_cast<std::ptrdiff_t>(first), node.inputs().end());
  return head;
}

/// The array a store op writes into: x itself for an inplace node (when kiln owns x's memory),
/// else a copy of x.
Array store_target(const Array& x, bool inplace);
/// The inplace variant of an integer-array store op, or nullptr for another op.
OpPtr advanced_store_inplace_variant(const Op& op);

/// Forward mode of the store ops (set/inc of a region, basic or integer-array): they are linear
/// in (x, y) together, so the tangent is the same store applied to the tangents, with zeros
/// standing in for the one held constant.
std::vector<Var> store_R_op(const Apply& node, const std::vector<Var>& ev, bool set);

/// If `node` is an integer-array indexing node, the matching set/inc node on its input with the
/// value y (cast to the input's dtype); else nullptr. Lets set_subtensor dispatch without a
/// central switch over op classes.
Var advanced_inc_from_node(const Apply& node, const Var& y, bool set);

}  // namespace kiln::detail
