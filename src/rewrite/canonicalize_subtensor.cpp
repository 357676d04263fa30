// canonicalize, basic indexing: an index that keeps everything is dropped, and an index into an
// alloc or a join is moved onto what they were built from, so the full array is never made.
//
// None of these rules may lose an IndexError or ValueError the original graph raises: an index is
// only moved where it is provably in range, and a join only looked through where its pieces'
// sizes are static.
#include <algorithm>

#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "rewrite/canonicalize_impl.hpp"

namespace kiln::detail {
namespace {

bool is_literal(const IndexScalar& s, int64_t value) { return s.literal() && *s.literal() == value; }

bool is_full_slice(const Index& e) {
  return e.kind == Index::Kind::Slice && e.start.absent() && e.stop.absent() && e.step.absent();
}

// Whether entry e keeps all of axis d of x: start absent or 0, step absent or 1, stop absent, at
// least x's static size, or x.shape[d].
bool keeps_whole_axis(const Index& e, const Var& x, int d) {
  if (e.kind != Index::Kind::Slice) return false;
  if (!(e.start.absent() || is_literal(e.start, 0)) || !(e.step.absent() || is_literal(e.step, 1))) return false;
  if (e.stop.absent()) return true;
  const int64_t known = x->type().shape()[d];
  if (e.stop.literal()) return known != kUnknownDim && *e.stop.literal() >= known;
  return is_own_size(e.stop.var(), x, d);
}

// Whether integer entry i is a literal in range for an axis of static size n.
bool in_range(const IndexScalar& i, int64_t n) {
  return i.literal() && n != kUnknownDim && *i.literal() >= -n && *i.literal() < n;
}

// Whether axis d of alloc(v, *S) is one of v's non-broadcastable axes.
bool value_spans(const Apply& alloc_node, int d) {
  const Var& v = alloc_node.input(0);
  const int vd = d - (alloc_node.output_ptr(0)->ndim() - v->ndim());
  return vd >= 0 && !v->type().broadcastable(vd);
}

// What becomes of entry e on axis d of alloc(v, *S): `ok` false when the rule cannot move it;
// else `entry` is the entry for v, absent when the axis is not one of v's, and `stretched` says
// that the result keeps an axis along which alloc copies v.
struct MovedEntry {
  bool ok = false;
  std::optional<Index> entry;
  bool stretched = false;
};

MovedEntry move_onto_value(const Index& e, const Apply& alloc_node, int d) {
  const Var& v = alloc_node.input(0);
  const int vd = d - (alloc_node.output_ptr(0)->ndim() - v->ndim());
  if (value_spans(alloc_node, d)) {
    // alloc stretches a run-time size-1 axis too: v's size must provably be the result's.
    const bool same = v->type().shape()[vd] != kUnknownDim || is_own_size(alloc_node.input(d + 1), v, vd);
    return {same, e, false};
  }
  // Along an axis v only broadcasts, the entry selects copies of the same values.
  const bool integer = e.kind == Index::Kind::Int;
  if (integer && !in_range(e.start, alloc_node.output_ptr(0)->type().shape()[d])) return {};
  if (vd < 0) return {true, std::nullopt, !integer};
  return {true, integer ? Index::at(0) : Index::all(), !integer};
}

// The position in idx of the entry on input axis `axis`, or -1.
int entry_on_axis(const std::vector<Index>& idx, int axis) {
  int d = 0;
  for (size_t k = 0; k < idx.size(); ++k) {
    if (idx[k].kind == Index::Kind::NewAxis) continue;
    if (d++ == axis) return static_cast<int>(k);
  }
  return -1;
}

bool fully_static(const Var& v) {
  const auto& s = v->type().shape();
  return std::none_of(s.begin(), s.end(), [](int64_t n) { return n == kUnknownDim; });
}

// Python's clamping of a slice bound over n elements.
int64_t clamp_bound(const IndexScalar& b, int64_t absent, int64_t n) {
  if (b.absent()) return absent;
  const int64_t v = *b.literal();
  return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n);
}

// [first, last) of the join axis an Int entry or a step-1 literal slice selects, or nullopt.
std::optional<std::pair<int64_t, int64_t>> selected_range(const Index& e, int64_t total) {
  if (e.kind == Index::Kind::Int) {
    if (!in_range(e.start, total)) return std::nullopt;
    const int64_t k = *e.start.literal() < 0 ? *e.start.literal() + total : *e.start.literal();
    return std::pair{k, k + 1};
  }
  if (e.kind != Index::Kind::Slice || !(e.step.absent() || is_literal(e.step, 1))) return std::nullopt;
  if ((!e.start.absent() && !e.start.literal()) || (!e.stop.absent() && !e.stop.literal())) return std::nullopt;
  const int64_t first = clamp_bound(e.start, 0, total), last = clamp_bound(e.stop, total, total);
  if (first >= last) return std::nullopt;
  return std::pair{first, last};
}

}  // namespace

// x[:], x[0:x.shape[0]], x[0:n] with n at least x's static size -> x
NodeRewrite useless_subtensor(const FunctionGraph&, const Apply& node) {
  auto idx = subtensor_index(node);
  if (!idx) return std::nullopt;
  const Var& x = node.input(0);
  for (size_t d = 0; d < idx->size(); ++d)
    if (!keeps_whole_axis((*idx)[d], x, static_cast<int>(d))) return std::nullopt;
  return replace_keeping_type(node, x);
}

// alloc(v, *S)[idx] -> alloc(v[idx'], *S[idx]): the sizes come from the index's shape inference
// over S, idx' is the part of idx on v's own axes. An entry on an axis v only broadcasts along
// selects copies: a slice keeps v's size-1 axis (v[:]), an integer drops it (v[0]). When no such
// axis is left, v[idx'] is the result itself: alloc(v, *S)[i] -> v[i'].
NodeRewrite subtensor_of_alloc(const FunctionGraph&, const Apply& node) {
  auto idx = subtensor_index(node);
  const Apply* a = node.input(0)->owner();
  if (!idx || !a || a->op().kind() != "Alloc") return std::nullopt;
  const Var& v = a->input(0);
  const int lead = a->output_ptr(0)->ndim() - v->ndim();
  std::vector<Index> v_idx;
  bool stretched = false;
  int d = 0;
  for (const Index& e : *idx) {
    if (e.kind == Index::Kind::NewAxis) {
      if (d >= lead) v_idx.push_back(e);  // inside v's axes: v gets it too, to stay aligned on the right
      continue;
    }
    MovedEntry moved = move_onto_value(e, *a, d++);
    if (!moved.ok) return std::nullopt;
    if (moved.entry) v_idx.push_back(*moved.entry);
    stretched = stretched || moved.stretched;
  }
  for (; d < a->output_ptr(0)->ndim(); ++d) stretched = stretched || !value_spans(*a, d);
  const bool whole = std::all_of(v_idx.begin(), v_idx.end(), is_full_slice);
  Var value = whole ? v : subtensor(v, v_idx);
  if (!stretched && value->ndim() == node.output_ptr(0)->ndim()) return replace_keeping_type(node, value);
  std::vector<std::vector<Var>> in_shapes(node.inputs().size());
  in_shapes[0].assign(a->inputs().begin() + 1, a->inputs().end());
  std::vector<Var> sizes = node.op().infer_shape(node, in_shapes)[0];
  if (value->ndim() > static_cast<int>(sizes.size())) return std::nullopt;
  return replace_keeping_type(node, alloc(value, sizes));
}

// join(axis, a, b, c)[..., i, ...] -> b[..., i - len(a), ...] when the entry on the join axis is a
// literal integer or step-1 literal slice inside one piece, and every piece's shape is static (so
// the join's own size checks cannot fail at run time and the offsets are known).
NodeRewrite subtensor_of_join(const FunctionGraph&, const Apply& node) {
  auto idx = subtensor_index(node);
  const Apply* j = node.input(0)->owner();
  const std::optional<int> axis = j ? join_axis(*j) : std::nullopt;
  if (!idx || !axis || !std::all_of(j->inputs().begin(), j->inputs().end(), fully_static)) return std::nullopt;
  const int k = entry_on_axis(*idx, *axis);
  if (k < 0) return std::nullopt;
  auto range = selected_range((*idx)[k], j->output_ptr(0)->type().shape()[*axis]);
  if (!range) return std::nullopt;
  int64_t offset = 0;
  for (const Var& piece : j->inputs()) {
    const int64_t len = piece->type().shape()[*axis];
    if (range->first >= offset + len) {
      offset += len;
      continue;
    }
    if (range->second > offset + len) return std::nullopt;  // spans two pieces
    std::vector<Index> piece_idx = *idx;
    piece_idx[k] = (*idx)[k].kind == Index::Kind::Int ? Index::at(range->first - offset)
                                                      : Index::slice(range->first - offset, range->second - offset);
    return replace_keeping_type(node, cast(subtensor(piece, piece_idx), node.output_ptr(0)->dtype()));
  }
  return std::nullopt;
}

}  // namespace kiln::detail
