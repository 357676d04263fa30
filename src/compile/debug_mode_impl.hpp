// DebugMode's per-node checks (Theano's DebugMode): after each node runs, DebugMode checks that
//  - the op changed no input outside its destroy_map and returned an input's memory only as a
//    declared view or destruction;
//  - a node running a compiled (generated) kernel computes what its interpreter computes;
//  - infer_shape, evaluated on the actual inputs, predicts the shapes perform returned;
//  - the op computes the same on non-contiguous, differently strided copies of its inputs (once per
//    node and input shapes).
// A failed check raises RuntimeError naming the node, the check, both values (shape, dtype, first
// differing element) and the shapes and strides of the inputs that triggered it.
#pragma once

#include <mutex>
#include <set>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln::detail {

class DebugModeChecker {
 public:
  /// Prepares the checks of `nodes` (their infer_shape graphs, built once).
  explicit DebugModeChecker(const std::vector<const Apply*>& nodes);
  ~DebugModeChecker();

  /// Checks node `index` of the constructor's list, which has just run: `before` holds copies of
  /// its inputs taken before it ran, `in` the inputs as they are now, `out` its outputs.
  void check(size_t index, const std::vector<Array>& before, const std::vector<Array>& in,
             const std::vector<Array>& out) const;

 private:
  struct ShapeProgram;
  static void check_shapes(const Apply& node, const ShapeProgram& program, const std::vector<Array>& before,
                           const std::vector<Array>& out);
  bool first_time_with_these_shapes(size_t index, const std::vector<Array>& in) const;
  std::vector<const Apply*> nodes_;
  std::vector<ShapeProgram> shapes_;
  mutable std::mutex strided_mutex_;
  mutable std::vector<std::set<std::vector<Shape>>> strided_seen_;  // per node: input shapes re-run strided
};

}  // namespace kiln::detail
