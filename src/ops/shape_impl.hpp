// Private helpers shared by the shape op family (shape.cpp, join.cpp) and the indexing ops:
// reading constant sizes off the graph, bringing sizes to int64 scalars, fitting gradients to
// their input's type, and hashing op properties.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln::detail {

/// The value of a 0-d bool or integer constant; std::nullopt for anything else.
std::optional<int64_t> constant_int(const Var& v);
/// A non-weak int64 constant (exact for every int64, unlike typed_constant's double).
Var int64_constant(int64_t value);
/// `v` (a 0-d bool or integer) as an int64 scalar: constants are folded, others cast.
Var to_int64(const Var& v);
/// Checks that `v` is an integer scalar (TypeError naming `op` and `what` otherwise) and returns it
/// as an int64 scalar.
Var as_size(const Var& v, const std::string& op, const std::string& what);
/// An int64 vector of int64 scalar sizes: a constant when they all are, else a make_vector.
Var size_vector(const std::vector<Var>& sizes);
/// The product of int64 scalars (the constant 1 for none).
Var size_product(const std::vector<Var>& sizes);

/// A gradient (or a tangent) brought to the type of `input`: summed over the leading axes it has
/// beyond input's rank (input was broadcast along them) and over the axes where input has static
/// size 1 but it does not, then cast to input's dtype. Those sums keep the result's static shape
/// equal to input's, which ops downstream rely on (DimShuffle can only drop static size-1 axes).
/// nullptr for a null `g` or an integer `input`: no gradient flows to integers.
Var fit_to_input(Var g, const Var& input);

/// Mixes `value` into `seed` (the boost::hash_combine recipe).
inline size_t hash_mix(size_t seed, size_t value) {
  return seed ^ (value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

}  // namespace kiln::detail
