// Declarative patterns: `log(add(1, x)) -> log1p(x)` as a tree of matchers over the graph.
#include <cmath>

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/rewrite/rewrite.hpp"

namespace kiln {

struct Pattern {
  enum class Kind { Any, Constant, Op, Commutative } kind;
  std::string name;                          // Any: the binding; Op: the op kind
  std::function<bool(const Var&)> check;     // Any: optional constraint
  double value = 0;                          // Constant
  std::vector<PatternPtr> args;              // Op / Commutative
};

namespace pat {

PatternPtr any(const std::string& name) { return any_if(name, nullptr); }

PatternPtr any_if(const std::string& name, std::function<bool(const Var&)> check) {
  auto p = std::make_shared<Pattern>();
  p->kind = Pattern::Kind::Any;
  p->name = name;
  p->check = std::move(check);
  return p;
}

PatternPtr constant(double value) {
  auto p = std::make_shared<Pattern>();
  p->kind = Pattern::Kind::Constant;
  p->value = value;
  return p;
}

PatternPtr op(const std::string& kind, std::vector<PatternPtr> args) {
  auto p = std::make_shared<Pattern>();
  p->kind = Pattern::Kind::Op;
  p->name = kind;
  p->args = std::move(args);
  return p;
}

PatternPtr commutative(const std::string& kind, PatternPtr a, PatternPtr b) {
  auto p = std::make_shared<Pattern>();
  p->kind = Pattern::Kind::Commutative;
  p->name = kind;
  p->args = {std::move(a), std::move(b)};
  return p;
}

PatternPtr elemwise(const std::string& scalar_op, std::vector<PatternPtr> args) {
  return op("Elemwise{" + scalar_op + "}", std::move(args));
}

}  // namespace pat

namespace {

// Whether every element of a constant equals `value`.
bool constant_equals(const Var& v, double value) {
  if (!v->is_constant()) return false;
  const Array& a = v->constant_value();
  if (a.size() == 0 || a.size() > 1024) return false;
  for (int64_t i = 0; i < a.size(); ++i)
    if (a.item_as_double(i) != value) return false;
  return true;
}

bool match_op_args(const std::vector<PatternPtr>& args, const Apply& node, const std::vector<int>& order,
                   Bindings& bindings) {
  for (size_t i = 0; i < args.size(); ++i)
    if (!match_pattern(args[i], node.input(order[i]), bindings)) return false;
  return true;
}

}  // namespace

bool match_pattern(const PatternPtr& p, const Var& v, Bindings& bindings) {
  switch (p->kind) {
    case Pattern::Kind::Any: {
      if (p->check && !p->check(v)) return false;
      auto it = bindings.find(p->name);
      if (it != bindings.end()) return it->second == v;
      bindings[p->name] = v;
      return true;
    }
    case Pattern::Kind::Constant: return constant_equals(v, p->value);
    case Pattern::Kind::Op: {
      const Apply* node = v->owner();
      if (!node || node->op().kind() != p->name || node->inputs().size() != p->args.size()) return false;
      std::vector<int> order;
      for (size_t i = 0; i < p->args.size(); ++i) order.push_back(static_cast<int>(i));
      return match_op_args(p->args, *node, order, bindings);
    }
    case Pattern::Kind::Commutative: {
      const Apply* node = v->owner();
      if (!node || node->op().kind() != p->name || node->inputs().size() != 2) return false;
      Bindings trial = bindings;
      if (match_op_args(p->args, *node, {0, 1}, trial)) {
        bindings = std::move(trial);
        return true;
      }
      return match_op_args(p->args, *node, {1, 0}, bindings);
    }
  }
  return false;
}

namespace {

// The op kind at the root of a pattern (what the rule tracks), or "" for any node.
std::string root_kind(const PatternPtr& p) {
  return (p->kind == Pattern::Kind::Op || p->kind == Pattern::Kind::Commutative) ? p->name : std::string();
}

class PatternRule final : public NodeRewriter {
 public:
  PatternRule(PatternPtr pattern, std::function<Var(const Bindings&)> build, std::function<bool(const Bindings&)> guard)
      : pattern_(std::move(pattern)), build_(std::move(build)), guard_(std::move(guard)) {}

  std::vector<std::string> tracks() const override {
    std::string k = root_kind(pattern_);
    return k.empty() ? std::vector<std::string>{} : std::vector<std::string>{k};
  }

  std::optional<std::vector<Var>> transform(const FunctionGraph&, const Apply& node) const override {
    if (node.num_outputs() != 1) return std::nullopt;
    Bindings bindings;
    if (!match_pattern(pattern_, node.output(0), bindings)) return std::nullopt;
    if (guard_ && !guard_(bindings)) return std::nullopt;
    bindings["$root"] = node.output(0);  // lets a rule see the type it must produce
    Var out = build_(bindings);
    if (!out) return std::nullopt;
    // A rule applies only where its result has the node's type: a matched part of another dtype
    // is cast, one with less static shape information (or a different shape) leaves the node be.
    const TensorType& want = node.output_ptr(0)->type();
    if (out->ndim() != want.ndim()) return std::nullopt;
    if (out->dtype() != want.dtype()) out = cast(out, want.dtype());
    if (!want.is_super(out->type())) return std::nullopt;
    return std::vector<Var>{out};
  }

 private:
  PatternPtr pattern_;
  std::function<Var(const Bindings&)> build_;
  std::function<bool(const Bindings&)> guard_;
};

class FunctionRewriter final : public NodeRewriter {
 public:
  FunctionRewriter(std::vector<std::string> tracks,
                   std::function<std::optional<std::vector<Var>>(const FunctionGraph&, const Apply&)> fn)
      : tracks_(std::move(tracks)), fn_(std::move(fn)) {}
  std::vector<std::string> tracks() const override { return tracks_; }
  std::optional<std::vector<Var>> transform(const FunctionGraph& fg, const Apply& node) const override {
    return fn_(fg, node);
  }

 private:
  std::vector<std::string> tracks_;
  std::function<std::optional<std::vector<Var>>(const FunctionGraph&, const Apply&)> fn_;
};

}  // namespace

std::shared_ptr<NodeRewriter> pattern_rule(PatternPtr pattern, std::function<Var(const Bindings&)> build,
                                           std::function<bool(const Bindings&)> guard) {
  return std::make_shared<PatternRule>(std::move(pattern), std::move(build), std::move(guard));
}

std::shared_ptr<NodeRewriter> node_rewriter(
    std::vector<std::string> tracks,
    std::function<std::optional<std::vector<Var>>(const FunctionGraph&, const Apply&)> transform) {
  return std::make_shared<FunctionRewriter>(std::move(tracks), std::move(transform));
}

}  // namespace kiln
