// Lazy evaluation of IfElse in the runtime's schedule.
//
// A node needed only through one branch of an IfElse gets a guard: the IfElse's condition and the
// branch. The runtime skips a step whose guard does not hold. A guard is a conjunction (nested
// IfElse: one term per enclosing branch); a node needed along several paths keeps only the terms
// common to all of them, so it runs whenever any path needs it (a node both branches need, or one
// that an output needs directly, has no guard). The schedule is reordered so that every guarded
// node runs after the conditions its guard reads.
#pragma once

#include <utility>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln::detail {

/// One term of a guard: the step runs only if `condition` (a 0-d variable) is non-zero == branch.
struct GuardTerm {
  const Variable* condition;
  bool branch;
};

struct LazySchedule {
  std::vector<Apply*> order;                   // a topological order, conditions before their guards
  std::vector<std::vector<GuardTerm>> guards;  // parallel to order; empty: always runs
};

/// Guards for the nodes of `order` (a topological order of the graph of `roots`, every node of
/// which a root needs), and `order` rearranged as little as possible to respect them.
LazySchedule plan_lazy_schedule(const std::vector<Apply*>& order, const std::vector<Var>& roots);

/// Whether a step with `guard` (condition slots and branches) runs, given the slot values. An
/// undefined condition was itself skipped, so nothing that runs needs the step.
bool guard_holds(const std::vector<std::pair<int, bool>>& guard, const std::vector<Array>& slots);

}  // namespace kiln::detail
