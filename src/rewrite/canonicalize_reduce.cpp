// canonicalize, reductions: a reduction of a dimshuffle reduces the input directly, and a sum or
// product of an alloc is computed from the allocated value without the array.
#include <algorithm>
#include <cmath>

#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "rewrite/canonicalize_impl.hpp"

namespace kiln::detail {
namespace {

// The axes of x (of rank nd) left after reducing the sorted `reduced`, in order.
std::vector<int> kept_axes(int nd, const std::vector<int>& reduced) {
  std::vector<int> kept;
  for (int d = 0; d < nd; ++d)
    if (!std::binary_search(reduced.begin(), reduced.end(), d)) kept.push_back(d);
  return kept;
}

// Whether v is a constant (of at most 4096 elements) whose elements are all finite.
bool all_finite(const Var& v) {
  if (!v->is_constant()) return false;
  const Array& a = v->constant_value();
  if (a.size() > 4096) return false;
  for (int64_t i = 0; i < a.size(); ++i)
    if (!std::isfinite(a.item_as_double(i))) return false;
  return true;
}

// Whether every size is a positive constant.
bool all_positive(const std::vector<Var>& sizes) {
  return std::all_of(sizes.begin(), sizes.end(),
                     [](const Var& s) { return s->is_constant() && s->constant_value().item_as_int() > 0; });
}

}  // namespace

// reduce(x.dimshuffle(p), axes) -> reduce(x, p[axes]).dimshuffle(q) for sum and prod: reduce the
// input directly; new broadcastable axes among `axes` just disappear (a sum or product over one
// element is that element).
NodeRewrite reduce_of_dimshuffle(const FunctionGraph&, const Apply& node) {
  auto axes = reduce_axes(node);
  const Apply* ds = node.input(0)->owner();
  if (!axes || !ds) return std::nullopt;
  auto pattern = dimshuffle_pattern(*ds);
  if (!pattern) return std::nullopt;
  const Var& x = ds->input(0);
  std::vector<int> input_axes;
  for (int a : *axes)
    if ((*pattern)[a] >= 0) input_axes.push_back((*pattern)[a]);
  std::sort(input_axes.begin(), input_axes.end());
  const std::vector<int> kept = kept_axes(x->ndim(), input_axes);  // input axes left after the reduction
  std::vector<int> order;  // the remaining output axes, in terms of the reduced input
  for (int i = 0; i < static_cast<int>(pattern->size()); ++i) {
    if (std::find(axes->begin(), axes->end(), i) != axes->end()) continue;
    int p = (*pattern)[i];
    order.push_back(p < 0 ? -1 : static_cast<int>(std::find(kept.begin(), kept.end(), p) - kept.begin()));
  }
  Var reduced = input_axes.empty() ? x : reduce_like(node, x, input_axes);
  const DType out = node.output_ptr(0)->dtype();
  return replace_keeping_type(node, dimshuffle(reduced->dtype() == out ? reduced : cast(reduced, out), order));
}

// sum(alloc(c, *S), axes) -> alloc(c * n, *S[kept]) and prod(alloc(c, *S), axes) ->
// alloc(c ** n, *S[kept]) with n = prod(S[axes]): every reduced element is a copy of c. Applies
// when c only broadcasts along the reduced axes (they are new or of static size 1 in c). Computed
// in float64 as the reduction accumulates (or in the integer output dtype, where both sides wrap
// alike), then cast. A float sum needs a finite constant c or constant nonzero sizes: inf * 0 is NaN
// where the empty sum is 0.
NodeRewrite reduce_of_alloc(const FunctionGraph&, const Apply& node) {
  auto axes = reduce_axes(node);
  const Apply* a = node.input(0)->owner();
  if (!axes || !a || a->op().kind() != "Alloc") return std::nullopt;
  const bool product = node.op().kind() == "Prod";
  const DType out = node.output_ptr(0)->dtype();
  const Var& c = a->input(0);
  const DType work = is_float(out) || is_float(c->dtype()) ? DType::Float64 : out;
  const int nd = a->output_ptr(0)->ndim(), lead = nd - c->ndim();
  std::vector<Var> reduced_sizes, kept_sizes;
  std::vector<int> c_kept;  // axes of c that survive
  for (int d = 0; d < nd; ++d) {
    const bool reduced = std::binary_search(axes->begin(), axes->end(), d);
    if (reduced && d >= lead && !c->type().broadcastable(d - lead)) return std::nullopt;
    (reduced ? reduced_sizes : kept_sizes).push_back(a->input(d + 1));
    if (!reduced && d >= lead) c_kept.push_back(d - lead);
  }
  if (!product && is_float(work) && !all_finite(c) && !all_positive(reduced_sizes)) return std::nullopt;
  Var n = reduced_sizes.empty() ? typed_constant(1, DType::Int64) : reduced_sizes[0];
  for (size_t i = 1; i < reduced_sizes.size(); ++i) n = mul(n, reduced_sizes[i]);
  Var value = cast(dimshuffle(c, c_kept), work);
  Var r = cast(product ? pow(value, cast(n, work)) : mul(value, cast(n, work)), out);
  return replace_keeping_type(node, kept_sizes.empty() ? r : alloc(r, kept_sizes));
}

}  // namespace kiln::detail
