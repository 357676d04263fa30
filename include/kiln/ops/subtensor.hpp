// Indexing: basic (integers, slices, new axes), set_subtensor / inc_subtensor on it, and integer
// array indexing with its inc/set forms.
#pragma once

#include "kiln/graph/graph.hpp"

namespace kiln {}  // namespace kiln
