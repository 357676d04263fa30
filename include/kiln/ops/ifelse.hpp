// Theano's lazy IfElse: ifelse(condition, then_branch, else_branch) is the then branch when the
// 0-d condition is non-zero and the else branch otherwise, and only the branch taken is computed.
//
// Laziness lives in the runtime (Function): when it schedules a graph, the nodes needed only by
// one branch of an IfElse get a guard naming the condition and the branch, run after the
// condition is known, and are skipped when the other branch is taken. T.switch, by contrast, is
// elementwise and computes both of its arguments.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

/// The then branch (a list of variables) when `condition` is non-zero, else the else branch.
/// The branches pair up: same number of variables, and pairwise the same dtype and ndim; an output
/// keeps the static sizes both branches agree on. Throws TypeError naming ifelse and the offending
/// position for a non-scalar or non-numeric condition, branches of different lengths, or a pair
/// of different dtype or ndim. `name` is shown when the node prints.
std::vector<Var> ifelse(const Var& condition, const std::vector<Var>& then_branch, const std::vector<Var>& else_branch,
                        const std::string& name = {});
/// Single-variable form.
Var ifelse(const Var& condition, const Var& then_branch, const Var& else_branch, const std::string& name = {});

/// For an IfElse node: which branch input `input` belongs to (true: then, false: else), or
/// std::nullopt for the condition and for nodes of other ops. The runtime's scheduler uses it.
std::optional<bool> ifelse_branch_of_input(const Apply& node, int input);
/// Whether `node` applies an IfElse.
bool is_ifelse(const Apply& node);

}  // namespace kiln
