// Scan: Theano's loop op. scan() calls a step function once on placeholder variables to build the
// loop body (the inner graph); the Scan op then runs that body n_steps times, feeding outputs back
// as recurrent states, slicing sequences and stacking per-step results.
//
// The inner graph is compiled once (at the first run of a node) and executed step after step on
// reused workspaces. Gradients are backpropagation through time, built as a second Scan running
// backwards; the rewrites hoist loop-invariant inner nodes out of the loop and keep only the last
// step of outputs of which only the last step is used.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

/// A sequence: the loop reads value[t + tap] at step t, for each tap (Theano's dict(input=, taps=)).
struct ScanSequence {
  Var value;
  std::vector<int> taps = {0};
};

/// One output of the step function. With an `initial` value it is a recurrent state whose values
/// `taps` (negative) steps back are passed to the step function: initial holds the first
/// -min(taps) values (for taps {-1}, initial is the state itself, without a leading axis). Without
/// one it is only collected; taps must then be empty.
struct ScanOutputInfo {
  Var initial;
  std::vector<int> taps = {-1};
};

/// What the step function returns: one value per output, updates of shared variables, and an
/// optional boolean scalar that stops the loop after the step where it is true (Theano's until).
struct ScanStepResult {
  std::vector<Var> outputs;
  std::vector<std::pair<Var, Var>> updates;
  Var until;
};

struct ScanOptions {
  /// Number of steps (an integer scalar); null means the length of the shortest sequence.
  Var n_steps;
  /// Iterate over the sequences from the end.
  bool go_backwards = false;
  /// Backpropagate through only the last `truncate_gradient` steps (-1: all).
  int truncate_gradient = -1;
  /// Raise if the step function uses a free or shared variable that was not passed to scan.
  bool strict = false;
  /// Mode of the compiled loop body; empty means FAST_RUN.
  std::string mode;
  std::string name;
};

struct ScanResult {
  /// Per output: its values at every step, stacked on a new leading axis.
  std::vector<Var> outputs;
  /// New values of the shared variables the loop updates (explicit updates and random states).
  std::vector<std::pair<Var, Var>> updates;
};

using ScanStepFunction = std::function<ScanStepResult(const std::vector<Var>&)>;

/// Theano's scan. The step function receives, in order: each sequence's value at each of its
/// taps, each recurrent output's past values at each of its taps, then the non-sequences.
/// Shared variables the step function reads become implicit inputs; those it updates (and the
/// random states of streams used inside) are carried from step to step and returned in updates.
/// Throws TypeError/ValueError naming scan and the argument for bad taps, shapes or dtypes.
ScanResult scan(const ScanStepFunction& fn, const std::vector<ScanSequence>& sequences,
                const std::vector<ScanOutputInfo>& outputs_info, const std::vector<Var>& non_sequences,
                const ScanOptions& options = {});

/// Whether `node` is a Scan node (for printing and tests).
bool is_scan(const Apply& node);
/// The inner (loop body) outputs of a Scan node, for inspection.
std::vector<Var> scan_inner_outputs(const Apply& node);

}  // namespace kiln
