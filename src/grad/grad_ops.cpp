// Identity ops that steer gradients (ZeroGrad, DisconnectedGrad, GradClip, GradScale), and
// UndefinedGrad, the placeholder for a gradient that is not defined.
#include <set>
#include <sstream>

#include "kiln/config.hpp"
#include "kiln/error.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"

namespace kiln {
namespace {

class GradGate final : public Op {
 public:
  enum class Kind { Zero, Disconnected, Clip, Scale };
  GradGate(Kind kind, double a = 0, double b = 0) : kind_(kind), a_(a), b_(b) {}

  std::string name() const override {
    std::ostringstream os;
    switch (kind_) {
      case Kind::Zero: return "ZeroGrad";
      case Kind::Disconnected: return "DisconnectedGrad";
      case Kind::Clip: os << "GradClip{" << a_ << ", " << b_ << "}"; return os.str();
      case Kind::Scale: os << "GradScale{" << a_ << "}"; return os.str();
    }
    return "GradGate";
  }
  bool equals(const Op& o) const override {
    auto* g = dynamic_cast<const GradGate*>(&o);
    return g && g->kind_ == kind_ && g->a_ == a_ && g->b_ == b_;
  }
  std::map<int, int> view_map() const override { return {{0, 0}}; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() == 1, TypeError) << name() << " takes 1 input";
    return {inputs[0]->type()};
  }
  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {in[0]};
  }
  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override { out[0] = in[0]; }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    switch (kind_) {
      case Kind::Zero: return {zeros_like(node.input(0), gz[0]->dtype())};
      case Kind::Disconnected: return {nullptr};
      case Kind::Clip: return {clip(gz[0], typed_constant(a_, gz[0]->dtype()), typed_constant(b_, gz[0]->dtype()))};
      case Kind::Scale: return {gz[0] * a_};
    }
    return {nullptr};
  }
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    if (kind_ == Kind::Zero) return {zeros_like(node.input(0))};
    if (kind_ == Kind::Disconnected) return {nullptr};
    return {ev[0]};  // clipping and scaling act on gradients only
  }

 private:
  Kind kind_;
  double a_, b_;
};

class UndefinedGrad final : public Op {
 public:
  explicit UndefinedGrad(std::string reason) : reason_(std::move(reason)) {}
  std::string name() const override { return "UndefinedGrad"; }
  const std::string& reason() const { return reason_; }
  bool equals(const Op& o) const override {
    auto* u = dynamic_cast<const UndefinedGrad*>(&o);
    return u && u->reason_ == reason_;
  }
  bool differentiable() const override { return false; }
  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    TensorType t = inputs[0]->type();
    return {TensorType(is_float(t.dtype()) ? t.dtype() : floatX(), t.shape())};
  }
  void perform(const Apply&, std::span<const Array>, std::span<Array>) const override {
    KILN_THROW(NotImplementedError) << reason_;
  }
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>&) const override {
    return {grad_undefined(*this, 0, node.input(0), reason_)};
  }

 private:
  std::string reason_;
};

Var gate(const Var& x, GradGate::Kind kind, double a = 0, double b = 0) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "gradient gate: null input";
  return make_node1(std::make_shared<GradGate>(kind, a, b), {x});
}

KILN_REGISTER_OP_KINDS({{"ZeroGrad", true}, {"DisconnectedGrad", true}, {"GradClip", true}, {"GradScale", true}, {"UndefinedGrad", false}});

}  // namespace

Var zero_grad(const Var& x) { return gate(x, GradGate::Kind::Zero); }
Var disconnected_grad(const Var& x) { return gate(x, GradGate::Kind::Disconnected); }
Var grad_clip(const Var& x, double lower, double upper) {
  KILN_USER_CHECK(lower <= upper, ValueError) << "grad_clip: lower bound " << lower << " exceeds upper bound " << upper;
  return gate(x, GradGate::Kind::Clip, lower, upper);
}
Var grad_scale(const Var& x, double multiplier) { return gate(x, GradGate::Kind::Scale, multiplier); }

Var grad_undefined(const Op& op, int index, const Var& like, const std::string& reason) {
  std::ostringstream os;
  os << "the gradient of " << op.name() << " with respect to its input " << index << " is not defined: " << reason;
  return make_node1(std::make_shared<UndefinedGrad>(os.str()), {like});
}

bool contains_undefined_grad(const Var& v, std::string* reason) {
  if (!v) return false;
  std::vector<const Variable*> work{v.get()};
  std::set<const Apply*> seen;
  while (!work.empty()) {
    const Variable* cur = work.back();
    work.pop_back();
    const Apply* node = cur->owner();
    if (!node || !seen.insert(node).second) continue;
    if (auto* u = dynamic_cast<const UndefinedGrad*>(&node->op())) {
      if (reason) *reason = u->reason();
      return true;
    }
    for (const Var& in : node->inputs()) work.push_back(in.get());
  }
  return false;
}

}  // namespace kiln
