// The IfElse op (see kiln/ops/ifelse.hpp). Its inputs are the condition, then the n variables of
// the then branch, then the n variables of the else branch; it has n outputs. The runtime leaves
// the inputs of the branch not taken undefined (their nodes were skipped), so perform reads only
// the condition and the branch it selects.
#include "kiln/ops/ifelse.hpp"

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"

namespace kiln {
namespace {

class IfElse final : public Op {
 public:
  IfElse(int num_outputs, std::string label) : num_outputs_(num_outputs), label_(std::move(label)) {}
  std::string name() const override { return label_.empty() ? "IfElse" : "IfElse{" + label_ + "}"; }
  std::string kind() const override { return "IfElse"; }
  int num_branch_outputs() const { return num_outputs_; }

  // The label only names the node: two IfElse ops with as many outputs compute the same.
  bool equals(const Op& other) const override {
    auto* o = dynamic_cast<const IfElse*>(&other);
    return o && o->num_outputs_ == num_outputs_;
  }
  size_t hash() const override { return std::hash<std::string>()("IfElse") ^ static_cast<size_t>(num_outputs_); }

  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    const size_t n = static_cast<size_t>(num_outputs_);
    KILN_ASSERT(in.size() == 1 + 2 * n) << "IfElse with " << n << " outputs applied to " << in.size() << " inputs";
    std::vector<TensorType> out;
    for (size_t i = 0; i < n; ++i) out.push_back(joined_type(in[1 + i]->type(), in[1 + n + i]->type()));
    return out;
  }

  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    const bool take_then = in[0].item_as_double() != 0.0;  // numpy's truth: NaN is true
    const size_t first = take_then ? 1 : 1 + static_cast<size_t>(num_outputs_);
    // A copy, as Theano's IfElse without as_view: the output may not alias a branch's value.
    for (size_t i = 0; i < out.size(); ++i) {
      KILN_ASSERT(in[first + i].defined()) << name() << ": the " << (take_then ? "then" : "else")
                                           << " branch was not computed";
      out[i] = in[first + i].copy();
    }
  }

  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override;
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& output_grads) const override;
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& eval_points) const override;

 private:
  // The type of an output: the branches' dtype and ndim, with the static sizes both agree on.
  static TensorType joined_type(const TensorType& a, const TensorType& b) {
    std::vector<int64_t> shape(a.shape().begin(), a.shape().end());
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] != b.shape()[d]) shape[d] = kUnknownDim;
    return TensorType(a.dtype(), shape);
  }

  int num_outputs_;
  std::string label_;
};

const IfElse* as_ifelse(const Apply& node) { return dynamic_cast<const IfElse*>(&node.op()); }

bool same_size(const Var& a, const Var& b) {
  if (a.get() == b.get()) return true;
  return a->is_constant() && b->is_constant() && a->constant_value().item_as_int() == b->constant_value().item_as_int();
}

// Every size on which the branches may differ is chosen by one more IfElse over the sizes, so
// the shape of the branch not taken is not computed either.
std::vector<std::vector<Var>> IfElse::infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const {
  const size_t n = static_cast<size_t>(num_outputs_);
  std::vector<std::vector<Var>> shapes(n);
  std::vector<Var> then_sizes, else_sizes;
  std::vector<std::pair<size_t, size_t>> chosen;  // (output, axis) of each size chosen at run time
  for (size_t i = 0; i < n; ++i) {
    const std::vector<Var>& t = in[1 + i];
    const std::vector<Var>& e = in[1 + n + i];
    shapes[i] = t;
    for (size_t d = 0; d < t.size(); ++d) {
      if (same_size(t[d], e[d])) continue;
      then_sizes.push_back(t[d]);
      else_sizes.push_back(e[d]);
      chosen.emplace_back(i, d);
    }
  }
  if (chosen.empty()) return shapes;
  std::vector<Var> sizes = ifelse(node.input(0), then_sizes, else_sizes);
  for (size_t k = 0; k < chosen.size(); ++k) shapes[chosen[k].first][chosen[k].second] = sizes[k];
  return shapes;
}

// The gradient of each output flows to the input of the branch taken; the other branch gets
// zeros. The condition only selects: as in Theano its gradient is zero (a float condition) or
// disconnected. Zeros are shaped like the output gradient, not like the branch, so that
// differentiating does not compute the branch that was not taken.
std::vector<Var> IfElse::L_op(const Apply& node, const std::vector<Var>& output_grads) const {
  const size_t n = static_cast<size_t>(num_outputs_);
  const Var& condition = node.input(0);
  std::vector<Var> grads(1 + 2 * n);
  grads[0] = is_float(condition->dtype()) ? zeros_like(condition) : nullptr;
  std::vector<size_t> flowing;  // outputs whose branch inputs take a gradient
  std::vector<Var> g, zeros;
  for (size_t i = 0; i < n; ++i) {
    if (is_discrete(node.input(static_cast<int>(1 + i))->dtype())) continue;
    flowing.push_back(i);
    g.push_back(output_grads[i]);
    zeros.push_back(zeros_like(output_grads[i]));
  }
  if (flowing.empty()) return grads;
  std::vector<Var> to_then = ifelse(condition, g, zeros), to_else = ifelse(condition, zeros, g);
  for (size_t k = 0; k < flowing.size(); ++k) {
    grads[1 + flowing[k]] = to_then[k];
    grads[1 + n + flowing[k]] = to_else[k];
  }
  return grads;
}

// The derivative of the branch taken: ifelse over the branches' tangents, zeros standing for a
// branch held constant.
std::vector<Var> IfElse::R_op(const Apply& node, const std::vector<Var>& eval_points) const {
  const size_t n = static_cast<size_t>(num_outputs_);
  std::vector<Var> tangents(n);
  for (size_t i = 0; i < n; ++i) {
    Var t = eval_points[1 + i], e = eval_points[1 + n + i];
    Var out = node.output(static_cast<int>(i));
    if ((!t && !e) || is_discrete(out->dtype())) continue;
    auto fitted = [&](const Var& tangent) {
      if (!tangent) return zeros_like(out);
      return tangent->dtype() == out->dtype() ? tangent : cast(tangent, out->dtype());
    };
    tangents[i] = ifelse(node.input(0), fitted(t), fitted(e));
  }
  return tangents;
}

KILN_REGISTER_OP_KINDS({{"IfElse", true}});

void check_branch_pair(const Var& then_var, const Var& else_var, size_t i) {
  KILN_USER_CHECK(then_var && else_var, TypeError) << "ifelse: variable " << i << " of a branch is null";
  KILN_USER_CHECK(then_var->dtype() == else_var->dtype() && then_var->ndim() == else_var->ndim(), TypeError)
      << "ifelse: the two branches should have identical types, but variable " << i << " is "
      << then_var->label() << " of type " << then_var->type().str() << " in the then branch and "
      << else_var->label() << " of type " << else_var->type().str() << " in the else branch";
}

}  // namespace

std::vector<Var> ifelse(const Var& condition, const std::vector<Var>& then_branch, const std::vector<Var>& else_branch,
                        const std::string& name) {
  KILN_USER_CHECK(condition != nullptr, TypeError) << "ifelse: the condition is null";
  KILN_USER_CHECK(condition->ndim() == 0, TypeError)
      << "ifelse: the condition must be a scalar (0-d), 0 standing for false and anything else for true, but "
      << condition->label() << " has type " << condition->type().str();
  KILN_USER_CHECK(is_supported(condition->dtype()), TypeError)
      << "ifelse: the condition " << condition->label() << " must have a numeric dtype, got "
      << dtype_name(condition->dtype());
  KILN_USER_CHECK(then_branch.size() == else_branch.size(), ValueError)
      << "ifelse: the then branch has " << then_branch.size() << " variables but the else branch has "
      << else_branch.size() << "; both branches must have as many";
  KILN_USER_CHECK(!then_branch.empty(), TypeError) << "ifelse: the branches are empty";
  for (size_t i = 0; i < then_branch.size(); ++i) check_branch_pair(then_branch[i], else_branch[i], i);
  std::vector<Var> inputs{condition};
  inputs.insert(inputs.end(), then_branch.begin(), then_branch.end());
  inputs.insert(inputs.end(), else_branch.begin(), else_branch.end());
  return make_node(std::make_shared<IfElse>(static_cast<int>(then_branch.size()), name), std::move(inputs));
}

Var ifelse(const Var& condition, const Var& then_branch, const Var& else_branch, const std::string& name) {
  return ifelse(condition, std::vector<Var>{then_branch}, std::vector<Var>{else_branch}, name)[0];
}

bool is_ifelse(const Apply& node) { return as_ifelse(node) != nullptr; }

std::optional<bool> ifelse_branch_of_input(const Apply& node, int input) {
  const IfElse* op = as_ifelse(node);
  if (!op || input == 0) return std::nullopt;
  return input <= op->num_branch_outputs();
}

}  // namespace kiln
