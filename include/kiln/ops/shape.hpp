// Shape operations: shape, shape_i, reshape, flatten, alloc, zeros/ones(_like), fill, arange, eye,
// concatenate/join, stack, split.
#pragma once

#include <optional>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

/// The shape of x as an int64 vector.
Var shape(const Var& x);
/// The size of axis i of x as an int64 scalar (i may be negative).
Var shape_i(const Var& x, int i);
/// The shape of x as a list of int64 scalars (constants where the size is static).
std::vector<Var> shape_list(const Var& x);

}  // namespace kiln
