// The Scan op (see kiln/ops/scan.hpp), shared by its builder, its gradient and its rewrites.
//
// Outer inputs:  n_steps (int64 scalar), sequences (one per sequence and tap, already sliced so
//                that step t reads row t), state initial buffers (shape (mintap, S...): the
//                -min(taps) values before step 0), non-sequences.
// Outer outputs: per state its initial values followed by its values at steps 0..n-1 (shape
//                (mintap + n, S...)), per collected output its values (n, ...), and the number of steps actually run (int64 scalar; less than
//                n_steps when an until condition stopped the loop).
// Inner inputs:  one per sequence, one per state and tap (in the state's tap order), one per
//                non-sequence.
// Inner outputs: per state its new value, per collected output its value, then the until
//                condition when there is one.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kiln/compile/function.hpp"
#include "kiln/graph/graph.hpp"

namespace kiln::detail {

struct ScanLayout {
  int n_seqs = 0;
  std::vector<std::vector<int>> state_taps;  // per state: negative taps, in argument order
  int n_nit_sot = 0;                         // outputs collected but not fed back
  int n_non_seqs = 0;
  bool has_until = false;
  /// Per state and collected output: keep only the last value (a state's output is then its one
  /// last row, the last initial value when no step ran; a collected output has min(n, 1) rows).
  /// Set by the save-memory rewrite when nothing reads the other rows.
  std::vector<bool> keep_last;

  int n_states() const { return static_cast<int>(state_taps.size()); }
  /// How many past values state s reads: -min(taps).
  int mintap(int s) const;
  int n_tap_inputs() const;
  int n_outer_inputs() const { return 1 + n_seqs + n_states() + n_non_seqs; }
  int n_outer_outputs() const { return n_states() + n_nit_sot + 1; }
  int n_inner_outputs() const { return n_states() + n_nit_sot + (has_until ? 1 : 0); }
  // Positions in the outer inputs.
  int outer_seq(int j) const { return 1 + j; }
  int outer_init(int s) const { return 1 + n_seqs + s; }
  int outer_non_seq(int k) const { return 1 + n_seqs + n_states() + k; }
  // Positions in the inner inputs.
  int inner_tap(int s, int k) const;
  int inner_non_seq(int k) const { return n_seqs + n_tap_inputs() + k; }
  bool operator==(const ScanLayout&) const = default;
};

/// The loop body: placeholders and the values computed from them. Immutable.
struct ScanBody {
  std::vector<Var> inputs;
  std::vector<Var> outputs;
};

class ScanProgram;  // the compiled body (scan.cpp)

class ScanOp final : public Op {
 public:
  ScanOp(std::shared_ptr<const ScanBody> body, ScanLayout layout, int truncate_gradient, std::string mode,
         std::string name);
  ~ScanOp() override;

  std::string name() const override;
  std::string kind() const override { return "Scan"; }
  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override;
  void perform(const Apply& node, std::span<const Array> inputs, std::span<Array> outputs) const override;
  std::vector<std::vector<Var>> infer_shape(const Apply& node,
                                            const std::vector<std::vector<Var>>& input_shapes) const override;
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& output_grads) const override;
  bool equals(const Op& other) const override;
  size_t hash() const override;

  const ScanBody& body() const { return *body_; }
  const std::shared_ptr<const ScanBody>& body_ptr() const { return body_; }
  const ScanLayout& layout() const { return layout_; }
  int truncate_gradient() const { return truncate_gradient_; }
  const std::string& mode() const { return mode_; }
  const std::string& label() const { return name_; }

 private:
  const ScanProgram& program() const;
  std::shared_ptr<const ScanBody> body_;
  ScanLayout layout_;
  int truncate_gradient_;
  std::string mode_;
  std::string name_;
  mutable std::once_flag compiled_once_, hashed_once_;
  mutable size_t hash_ = 0;
  mutable std::unique_ptr<ScanProgram> program_;
};

/// Apply a Scan and return its outer outputs (states, collected outputs, steps run).
std::vector<Var> make_scan_node(std::shared_ptr<const ScanBody> body, ScanLayout layout, int truncate_gradient,
                                std::string mode, std::string name, std::vector<Var> outer_inputs);

/// x with a new leading axis of size 1 (a state's initial buffer for taps {-1}).
Var with_leading_axis(const Var& x);

/// The ScanOp of `node`, or nullptr.
const ScanOp* as_scan(const Apply& node);

}  // namespace kiln::detail
