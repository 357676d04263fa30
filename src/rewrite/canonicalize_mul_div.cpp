// canonicalize, products and quotients (Theano's AlgebraicCanonizer for mul and div): a tree of
// mul, true_div and reciprocal under a division becomes one quotient of two products,
//   (a / b) / (c / d) -> (a * d) / (b * c),
// and the factors common to both products cancel,
//   (x * y) / y -> x,  (x * y) / (x * z) -> y / z,  x / x -> 1.
// As in Theano, a cancelled x counts as x / x = 1 even where x is 0, inf or NaN, and a run-time
// shape mismatch between cancelled factors is no longer reported.
#include <algorithm>
#include <cmath>

#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "rewrite/canonicalize_impl.hpp"

namespace kiln::detail {
namespace {

// How many mul/div nodes one quotient opens: a long chain then costs linear time over a pass.
constexpr int kMaxOpenedNodes = 64;

struct Quotient {
  std::vector<Var> num, den;
  int nested_divisions = 0;  // true_div and reciprocal nodes opened below the root
};

// The factors of root = a / b. A mul puts both inputs on its own side; a true_div its numerator on
// its side and its denominator on the other; a reciprocal its input on the other side. Only nodes
// of the root's dtype are opened: a product computed in another dtype rounds or wraps on its own,
// so it stays one factor.
Quotient split_quotient(const Apply& root) {
  const DType dt = root.output_ptr(0)->dtype();
  Quotient q;
  std::vector<std::pair<Var, bool>> todo = {{root.input(1), false}, {root.input(0), true}};  // (factor, in num)
  int budget = kMaxOpenedNodes;
  while (!todo.empty()) {
    auto [v, in_num] = todo.back();
    todo.pop_back();
    const Apply* o = v->owner();
    const std::string kind = o && v->dtype() == dt && budget > 0 ? o->op().kind() : std::string();
    if (kind == "Elemwise{mul}") {
      todo.push_back({o->input(1), in_num});
      todo.push_back({o->input(0), in_num});
    } else if (kind == "Elemwise{true_div}") {
      todo.push_back({o->input(1), !in_num});
      todo.push_back({o->input(0), in_num});
      ++q.nested_divisions;
    } else if (kind == "Elemwise{reciprocal}") {
      todo.push_back({o->input(0), !in_num});
      ++q.nested_divisions;
    } else {
      (in_num ? q.num : q.den).push_back(v);
      continue;
    }
    --budget;
  }
  return q;
}

// Whether a / b is exactly 1: the same variable, or constants of one dtype and shape whose
// elements are equal, finite and nonzero.
bool same_factor(const Var& a, const Var& b) {
  if (a == b) return true;
  if (!a->is_constant() || !b->is_constant() || a->type() != b->type()) return false;
  const Array &x = a->constant_value(), &y = b->constant_value();
  if (x.size() == 0 || x.size() > 1024) return false;
  for (int64_t i = 0; i < x.size(); ++i) {
    const double u = x.item_as_double(i);
    if (u != y.item_as_double(i) || u == 0 || !std::isfinite(u)) return false;
  }
  return true;
}

// Removes each denominator factor that has an equal numerator factor, with it; returns how many.
int cancel_common_factors(Quotient& q) {
  int cancelled = 0;
  for (auto d = q.den.begin(); d != q.den.end();) {
    auto n = std::find_if(q.num.begin(), q.num.end(), [&](const Var& v) { return same_factor(v, *d); });
    if (n == q.num.end()) {
      ++d;
      continue;
    }
    q.num.erase(n);
    d = q.den.erase(d);
    ++cancelled;
  }
  return cancelled;
}

Var product(const std::vector<Var>& factors, DType dt) {
  if (factors.empty()) return typed_constant(1, dt);
  Var p = factors[0];
  for (size_t i = 1; i < factors.size(); ++i) p = mul(p, factors[i]);
  return p;
}

// The size of axis d of an nd-dimensional broadcast result, from the first of `candidates` that
// spans that axis (does not broadcast along it); nullptr when none does.
Var spanning_size(int d, int nd, const std::vector<Var>& candidates) {
  for (const Var& f : candidates) {
    const int fd = d - (nd - f->ndim());
    if (fd >= 0 && !f->type().broadcastable(fd)) return shape_i(f, fd);
  }
  return nullptr;
}

// `v` stretched to the type of `want` when the cancelled factors gave the result axes (or static
// sizes) that v lacks: Theano's fill of the result with the cancelled factors' shape. nullptr when
// some axis has no factor to take its size from.
Var broadcast_like(const Var& v, const Var& want, const std::vector<Var>& factors) {
  const TensorType& t = want->type();
  if (v->ndim() == t.ndim() && v->type().broadcastable_pattern() == t.broadcastable_pattern() && t.is_super(v->type()))
    return v;
  std::vector<Var> candidates = {v};
  candidates.insert(candidates.end(), factors.begin(), factors.end());
  std::vector<Var> sizes;
  for (int d = 0; d < t.ndim(); ++d) {
    Var s = t.shape()[d] != kUnknownDim ? typed_constant(static_cast<double>(t.shape()[d]), DType::Int64)
                                        : spanning_size(d, t.ndim(), candidates);
    if (!s) return nullptr;
    sizes.push_back(s);
  }
  return alloc(v, sizes);
}

}  // namespace

// a / b with a and b products of factors, some of them quotients themselves:
//   num / den -> (num without common factors) / (den without them), one division at the top.
NodeRewrite mul_div_canonical(const FunctionGraph&, const Apply& node) {
  const Var& root = node.output(0);
  const DType dt = root->dtype();
  Quotient q = split_quotient(node);
  std::vector<Var> factors = q.num;
  factors.insert(factors.end(), q.den.begin(), q.den.end());
  if (cancel_common_factors(q) == 0 && q.nested_divisions == 0) return std::nullopt;
  Var r = product(q.num, dt);
  if (!q.den.empty()) r = true_div(r, product(q.den, dt));
  if (r->dtype() != dt) r = cast(r, dt);
  r = broadcast_like(r, root, factors);
  if (!r) return std::nullopt;
  return replace_keeping_type(node, r);
}

}  // namespace kiln::detail
