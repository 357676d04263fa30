// DimShuffle: permute axes, insert broadcastable axes ('x'), drop broadcastable axes. A view.
#include <algorithm>
#include <set>

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"

namespace kiln {
namespace {

std::string pattern_str(const std::vector<int>& pattern) {
  std::string s;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (i) s += ",";
    s += pattern[i] < 0 ? "x" : std::to_string(pattern[i]);
  }
  return s;
}

class DimShuffle final : public Op {
 public:
  explicit DimShuffle(std::vector<int> pattern) : pattern_(std::move(pattern)) {}

  std::string name() const override { return "DimShuffle{" + pattern_str(pattern_) + "}"; }
  bool equals(const Op& o) const override {
    auto* d = dynamic_cast<const DimShuffle*>(&o);
    return d && d->pattern_ == pattern_;
  }
  size_t hash() const override { return std::hash<std::string>()(name()); }
  std::map<int, int> view_map() const override { return {{0, 0}}; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() == 1, TypeError) << name() << " takes 1 input, got " << inputs.size();
    const TensorType& t = inputs[0]->type();
    std::set<int> seen;
    std::vector<int64_t> shape;
    for (int p : pattern_) {
      if (p < 0) {
        shape.push_back(1);
        continue;
      }
      KILN_USER_CHECK(p < t.ndim(), ValueError) << "dimshuffle: pattern (" << pattern_str(pattern_) << ") refers to axis "
                                               << p << " but the input " << inputs[0]->label() << " has only "
                                               << t.ndim() << " dimensions";
      KILN_USER_CHECK(seen.insert(p).second, ValueError)
          << "dimshuffle: pattern (" << pattern_str(pattern_) << ") contains axis " << p << " twice";
      shape.push_back(t.shape()[p]);
    }
    for (int d = 0; d < t.ndim(); ++d)
      KILN_USER_CHECK(seen.count(d) || t.broadcastable(d), ValueError)
          << "dimshuffle: pattern (" << pattern_str(pattern_) << ") drops axis " << d << " of " << inputs[0]->label()
          << " (" << t.str() << "), which is not broadcastable; only axes of static size 1 can be dropped";
    return {TensorType(t.dtype(), shape)};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    std::vector<Var> shape;
    for (int p : pattern_) shape.push_back(p < 0 ? typed_constant(1, DType::Int64) : in[0][p]);
    return {shape};
  }

  // The inverse shuffle: new axes of the output are summed away (a no-op on their size 1) and
  // dropped axes of the input come back as broadcastable ones.
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    const Var& x = node.input(0);
    if (is_discrete(x->dtype())) return {nullptr};
    Var g = gz[0];
    std::vector<int> new_axes;
    for (size_t i = 0; i < pattern_.size(); ++i)
      if (pattern_[i] < 0) new_axes.push_back(static_cast<int>(i));
    if (!new_axes.empty()) g = sum(g, new_axes);
    std::vector<int> kept;  // input axis of each remaining axis of g
    for (int p : pattern_)
      if (p >= 0) kept.push_back(p);
    std::vector<int> inverse;
    for (int d = 0; d < x->ndim(); ++d) {
      auto it = std::find(kept.begin(), kept.end(), d);
      inverse.push_back(it == kept.end() ? -1 : static_cast<int>(it - kept.begin()));
    }
    g = dimshuffle(g, inverse);
    return {g->dtype() == x->dtype() ? g : cast(g, x->dtype())};
  }

  std::vector<Var> R_op(const Apply&, const std::vector<Var>& ev) const override {
    return {ev[0] ? dimshuffle(ev[0], pattern_) : nullptr};
  }

  const std::vector<int>& pattern() const { return pattern_; }

  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    const Array& x = in[0];
    Shape shape, strides;
    for (int p : pattern_) {
      shape.push_back(p < 0 ? 1 : x.shape()[p]);
      strides.push_back(p < 0 ? 0 : x.strides()[p]);
    }
    for (int d = 0; d < x.ndim(); ++d) {
      bool kept = false;
      for (int p : pattern_) kept = kept || p == d;
      KILN_USER_CHECK(kept || x.shape()[d] == 1, ValueError)
          << name() << ": cannot drop axis " << d << " of size " << x.shape()[d];
    }
    out[0] = x.view(shape, strides, x.offset());
  }

 private:
  std::vector<int> pattern_;
};

KILN_REGISTER_OP_KINDS({{"DimShuffle", true}});

}  // namespace

Var dimshuffle(const Var& x, const std::vector<int>& pattern) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "dimshuffle: null input";
  bool identity = static_cast<int>(pattern.size()) == x->ndim();
  for (size_t i = 0; i < pattern.size() && identity; ++i) identity = pattern[i] == static_cast<int>(i);
  if (identity) return x;
  return make_node1(std::make_shared<DimShuffle>(pattern), {x});
}

std::optional<std::vector<int>> dimshuffle_pattern(const Apply& node) {
  if (auto* d = dynamic_cast<const DimShuffle*>(&node.op())) return d->pattern();
  return std::nullopt;
}

Var transpose(const Var& x) {
  std::vector<int> axes;
  for (int i = x->ndim() - 1; i >= 0; --i) axes.push_back(i);
  return dimshuffle(x, axes);
}

Var transpose(const Var& x, const std::vector<int>& axes) {
  KILN_USER_CHECK(static_cast<int>(axes.size()) == x->ndim(), ValueError)
      << "transpose: axes has " << axes.size() << " entries but " << x->label() << " has " << x->ndim() << " dimensions";
  std::vector<int> norm;
  for (int a : axes) norm.push_back(a < 0 ? a + x->ndim() : a);
  for (int a : norm)
    KILN_USER_CHECK(a >= 0 && a < x->ndim(), ValueError) << "transpose: axis " << a << " out of range for " << x->ndim()
                                                         << " dimensions";
  return dimshuffle(x, norm);
}

}  // namespace kiln
