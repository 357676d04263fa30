// Indexing: basic (integers, slices, new axes), set_subtensor / inc_subtensor on it, and integer
// array indexing with its inc/set forms.
//
// Basic indexing (Theano's Subtensor) returns a view of its input, never a copy. Integer array
// indexing (AdvancedSubtensor1 on the first axis, AdvancedSubtensor on the leading axes) gathers
// into a new array. The set/inc forms return a new array and leave x unchanged.
//
// Errors follow numpy's types: an index out of range is an IndexError (at build time when the
// index and the size are both static, else at run time, naming the op, the axis, the index and the
// size); a zero slice step and a value that cannot be broadcast into the indexed region are
// ValueErrors; a symbolic index of a non-integer dtype is a TypeError; boolean masks and mixes of
// arrays with other index entries that have no op yet are NotImplementedErrors.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

/// An integer inside an index: a literal, a symbolic integer scalar (a 0-d Var of an integer
/// dtype), or absent (an omitted slice bound, Python's None). A 0-d integer constant Var is folded
/// into a literal by the builders.
class IndexScalar {
 public:
  IndexScalar() = default;
  IndexScalar(std::nullopt_t) {}
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  IndexScalar(T value) : literal_(static_cast<int64_t>(value)) {}
  IndexScalar(Var value) : var_(std::move(value)) {}

  bool absent() const { return !literal_ && !var_; }
  const std::optional<int64_t>& literal() const { return literal_; }
  const Var& var() const { return var_; }

 private:
  std::optional<int64_t> literal_;
  Var var_;
};

/// One entry of an index, as numpy spells it: x[i], x[a:b:c], x[None], x[...], x[int_array].
struct Index {
  enum class Kind : uint8_t { Int, Slice, NewAxis, Ellipsis, Array };
  Kind kind = Kind::Slice;
  IndexScalar start, stop, step;  // Kind::Int keeps its index in `start`
  Var indices;                    // Kind::Array: a tensor of integer indices

  /// x[i]: selects one position and drops the axis; negative i counts from the end.
  static Index at(IndexScalar i);
  /// x[start:stop:step] with Python's slice semantics (bounds are clamped, step may be negative).
  static Index slice(IndexScalar start = {}, IndexScalar stop = {}, IndexScalar step = {});
  /// x[:].
  static Index all() { return slice(); }
  /// x[None]: a new axis of size 1.
  static Index newaxis();
  /// x[...]: as many full slices as needed to index every axis.
  static Index ellipsis();
  /// x[indices] with an integer tensor (or a constant made from a numpy array).
  static Index array(Var indices);
};

/// x[idx] with numpy's semantics: basic entries give a Subtensor view; integer arrays give
/// AdvancedSubtensor1 (one array on the first axis) or AdvancedSubtensor (arrays on the leading
/// axes, broadcast together), when every entry after the arrays is a full slice or an Ellipsis.
/// Other mixes and boolean masks raise NotImplementedError; more entries than axes raise IndexError.
Var getitem(const Var& x, const std::vector<Index>& idx);

/// Basic indexing (no Array entries): Theano's Subtensor, a view of x. Always builds a node (even
/// for x[:]), so that set_subtensor can find the indexed variable. Axes left over are kept whole.
/// Raises IndexError for too many indices or a static index out of range, ValueError for a zero
/// step, TypeError for a symbolic index that is not an integer scalar.
Var subtensor(const Var& x, const std::vector<Index>& idx);

/// x with the region `indexed` selects replaced by y (Theano's set_subtensor): `indexed` must be
/// the result of subtensor/getitem/advanced_subtensor(1) on x. y is cast to x's dtype and
/// broadcast to the region as elementwise ops broadcast: y may have fewer axes (padded on the left)
/// and only axes of static size 1 stretch. Returns a new array; x is not modified. With integer
/// arrays, the last write to a repeated position wins. Raises TypeError if `indexed` is not an
/// indexing result, ValueError if y cannot be broadcast to the region.
Var set_subtensor(const Var& indexed, const Var& y);

/// x with y added to the region `indexed` selects (Theano's inc_subtensor); see set_subtensor.
/// With integer arrays, repeated indices accumulate (as numpy.add.at). `set_instead_of_inc`
/// makes it set_subtensor.
Var inc_subtensor(const Var& indexed, const Var& y, bool set_instead_of_inc = false);

/// x[indices] for an integer tensor `indices` over the first axis (Theano's AdvancedSubtensor1;
/// `indices` may have any rank >= 1, the result has shape indices.shape + x.shape[1:]). Negative
/// indices count from the end; out-of-range ones raise IndexError at run time.
Var advanced_subtensor1(const Var& x, const Var& indices);

/// x[i0, i1, ...] for integer tensors on the leading axes (Theano's AdvancedSubtensor, e.g.
/// x[arange(n), y] picks x[k, y[k]]). The index tensors broadcast together as in numpy; the result
/// has shape broadcast(i0, i1, ...).shape + x.shape[len(indices):].
Var advanced_subtensor(const Var& x, const std::vector<Var>& indices);

/// x with y added at x[indices] (repeated indices accumulate); x is not modified.
Var advanced_inc_subtensor1(const Var& x, const Var& y, const Var& indices);
/// x with x[indices] replaced by y (the last of repeated indices wins); x is not modified.
Var advanced_set_subtensor1(const Var& x, const Var& y, const Var& indices);
/// x with y added at x[i0, i1, ...] (repeated index tuples accumulate).
Var advanced_inc_subtensor(const Var& x, const Var& y, const std::vector<Var>& indices);
/// x with x[i0, i1, ...] replaced by y (the last of repeated index tuples wins).
Var advanced_set_subtensor(const Var& x, const Var& y, const std::vector<Var>& indices);

/// numpy.take along `axis` (negative counts from the end): the result has shape
/// a.shape[:axis] + indices.shape + a.shape[axis+1:]. Without an axis the input must be a vector
/// (flattening needs the shape op family); otherwise NotImplementedError.
Var take(const Var& a, const Var& indices, std::optional<int> axis = std::nullopt);

/// If `node` is x[i] with one literal integer i (as x.shape[0] builds), i; else std::nullopt.
std::optional<int64_t> literal_index(const Apply& node);

/// The index of a Subtensor node as entries subtensor() accepts (no Ellipsis, one entry per
/// indexed axis or new axis): literals as literals, symbolic parts as the node's index inputs.
/// std::nullopt for another op (for rewrites that move an index).
std::optional<std::vector<Index>> subtensor_index(const Apply& node);

/// The same set/inc store as `node`, writing into its input x's buffer (for the inplace
/// rewrites); std::nullopt if `node` is not a store op or is already inplace.
std::optional<Var> store_inplace(const Apply& node);

}  // namespace kiln
