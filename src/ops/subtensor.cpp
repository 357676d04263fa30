// Basic indexing (Subtensor, a view) and its set/inc form (IncSubtensor); getitem, which sends
// integer-array indices to advanced_subtensor.cpp; and the helpers of subtensor_impl.hpp.
//
// An op keeps its index as a list of entries (an integer, a slice or a new axis). Each integer of
// an entry is absent, a literal kept in the op, or symbolic: then it is one of the node's extra
// inputs, in entry order, as in Theano's Subtensor idx_list. Literals give static output shapes
// and build-time range checks; symbolic parts are read at run time.
//
// Gradients are Theano's: the gradient of x[idx] is inc_subtensor(zeros_like(x)[idx], gz), and
// the set/inc forms pass gz[idx] to the value; the symbolic index parts are disconnected.
#include "kiln/ops/subtensor.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/subtensor_impl.hpp"
#include "runtime/convert.hpp"
#include "runtime/strided_loop.hpp"

namespace kiln {

Index Index::at(IndexScalar i) {
  Index r;
  r.kind = Kind::Int;
  r.start = std::move(i);
  return r;
}

Index Index::slice(IndexScalar start, IndexScalar stop, IndexScalar step) {
  Index r;
  r.start = std::move(start);
  r.stop = std::move(stop);
  r.step = std::move(step);
  return r;
}

Index Index::newaxis() {
  Index r;
  r.kind = Kind::NewAxis;
  return r;
}

Index Index::ellipsis() {
  Index r;
  r.kind = Kind::Ellipsis;
  return r;
}

Index Index::array(Var indices) {
  Index r;
  r.kind = Kind::Array;
  r.indices = std::move(indices);
  return r;
}

// ---------------------------------------------------------------- shared helpers

namespace detail {

namespace {

}  // namespace

void check_index_var(const std::string& op, const Var& v, const std::string& what, std::optional<int> ndim) {
  KILN_USER_CHECK(v != nullptr, TypeError) << op << ": " << what << " is null";
  KILN_USER_CHECK(v->dtype() != DType::Bool, NotImplementedError)
      << op << ": " << what << " (" << v->label()
      << ") is boolean; boolean mask indexing is not supported yet: index with the integer positions instead";
  KILN_USER_CHECK(is_integer(v->dtype()), TypeError)
      << op << ": " << what << " (" << v->label() << ") has dtype " << dtype_name(v->dtype())
      << "; indices must be integers";
  if (!ndim) return;
  KILN_USER_CHECK(v->ndim() == *ndim, TypeError)
      << op << ": " << what << " (" << v->label() << ") must be " << (*ndim == 0 ? "a scalar" : "a tensor of rank ")
      << (*ndim == 0 ? "" : std::to_string(*ndim)) << ", got " << v->type().str();
}

Array index_array_int64(const Array& a) {
  KILN_ASSERT(is_integer(a.dtype())) << "index of dtype " << dtype_name(a.dtype());
  if (a.dtype() != DType::UInt64) return a.astype(DType::Int64);
  Array u = a.contiguous();
  Array r = Array::empty(DType::Int64, a.shape());
  const uint64_t* src = u.data_as<uint64_t>();
  int64_t* dst = r.data_as<int64_t>();
  for (int64_t i = 0; i < a.size(); ++i)
    dst[i] = src[i] > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(src[i]);
  return r;
}

int64_t index_value(const Array& a) { return *index_array_int64(a).data_as<int64_t>(); }

int64_t normalize_index(const std::string& op, int64_t index, int axis, int64_t size) {
  int64_t j = index < 0 ? index + size : index;
  KILN_USER_CHECK(j >= 0 && j < size, IndexError)
      << op << ": index " << index << " is out of bounds for axis " << axis << " with size " << size;
  return j;
}

void check_value_fits(const std::string& op, const Var& y, const std::vector<int64_t>& region) {
  const int r = static_cast<int>(region.size());
  KILN_USER_CHECK(y->ndim() <= r, ValueError)
      << op << ": cannot store the " << y->ndim() << "-dimensional value " << y->label() << " (" << y->type().str()
      << ") into the " << r << "-dimensional indexed region of static shape " << static_shape_str(region);
  const int pad = r - y->ndim();
  for (int d = 0; d < y->ndim(); ++d) {
    int64_t yd = y->type().shape()[d], rd = region[pad + d];
    if (yd == 1 || yd == kUnknownDim || rd == kUnknownDim) continue;
    KILN_USER_CHECK(yd == rd, ValueError)
        << op << ": cannot broadcast the value " << y->label() << " of static shape "
        << static_shape_str(y->type().shape()) << " into the indexed region of static shape "
        << static_shape_str(region) << ": dimension " << pad + d << " has size " << yd << " and " << rd;
  }
}

Array broadcast_into(const std::string& op, const Array& y, const TensorType& y_type, const Shape& region) {
  const int pad = static_cast<int>(region.size()) - y.ndim();
  KILN_ASSERT(pad >= 0) << op << ": value of rank " << y.ndim() << " for a region of rank " << region.size();
  Shape strides(region.size(), 0);
  for (int d = 0; d < y.ndim(); ++d) {
    if (y_type.broadcastable(d)) continue;  // static size 1: stretches (stride 0)
    const int64_t yd = y.shape()[d], rd = region[pad + d];
    KILN_USER_CHECK(yd == rd, ValueError)
        << op << ": cannot broadcast a value of shape " << shape_str(y.shape()) << " into the indexed region of shape "
        << shape_str(region) << ": dimension " << pad + d << " has size " << yd << " and " << rd
        << (yd == 1 ? " (only dimensions of static size 1, e.g. from T.row/T.col or dimshuffle('x', ...), broadcast)"
                    : "");
    strides[pad + d] = y.strides()[d];
  }
  return y.view(region, strides, y.offset());
}

std::vector<int64_t> c_order_offsets(const Shape& shape, const int64_t* strides) {
  const int nd = static_cast<int>(shape.size());
  const int64_t n = shape_size(shape);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  std::vector<int64_t> index(nd, 0);
  int64_t off = 0;
  for (int64_t m = 0; m < n; ++m) {
    out.push_back(off);
    for (int d = nd - 1; d >= 0; --d) {  // odometer step
      if (++index[d] < shape[d]) {
        off += strides[d];
        break;
      }
      off -= (shape[d] - 1) * strides[d];
      index[d] = 0;
    }
  }
  return out;
}

namespace {

// One run of n elements: dst[i] = src[i] (Copy) or dst[i] += src[i] (Add), strides in bytes.
template <typename T, StoreMode M>
void store_run(char* dst, int64_t ds, const char* src, int64_t ss, int64_t n) {
  if (M == StoreMode::Copy && ds == static_cast<int64_t>(sizeof(T)) && ss == ds) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    T* d = reinterpret_cast<T*>(dst + i * ds);
    const T v = *reinterpret_cast<const T*>(src + i * ss);
    if constexpr (M == StoreMode::Add) *d = static_cast<T>(*d + v);  // bool: logical or, as numpy's add
    else *d = v;
  }
}

template <typename T, StoreMode M>
void store_blocks_typed(const StridedLayout& layout, char* dst, std::span<const int64_t> dst_off, const char* src,
                        std::span<const int64_t> src_off) {
  if (layout.shape.size() == 1) {  // every block is one run: no odometer (gathers of rows or scalars)
    const int64_t n = layout.shape[0], ds = layout.strides[0][0], ss = layout.strides[1][0];
    for (size_t m = 0; m < dst_off.size(); ++m) store_run<T, M>(dst + dst_off[m], ds, src + src_off[m], ss, n);
    return;
  }
  const int64_t runs = run_count(layout);
  for (size_t m = 0; m < dst_off.size(); ++m) {
    char* bases[] = {dst + dst_off[m], const_cast<char*>(src) + src_off[m]};
    for_each_run(layout, bases, 0, runs,
                 [](char** p, const int64_t* s, int64_t n) { store_run<T, M>(p[0], s[0], p[1], s[1], n); });
  }
}

}  // namespace

void store_blocks(DType dt, const Shape& block, char* dst, const Shape& dst_strides, std::span<const int64_t> dst_off,
                  const char* src, const Shape& src_strides, std::span<const int64_t> src_off, StoreMode mode) {
  KILN_ASSERT(dst_off.size() == src_off.size()) << "store_blocks: " << dst_off.size() << " vs " << src_off.size();
  if (shape_size(block) == 0 || dst_off.empty()) return;
  const int64_t* strides[] = {dst_strides.data(), src_strides.data()};
  auto layout = collapse_layout(block, strides);
  visit_dtype(dt, [&](auto v) {
    using T = decltype(v);
    if (mode == StoreMode::Add) store_blocks_typed<T, StoreMode::Add>(layout, dst, dst_off, src, src_off);
    else store_blocks_typed<T, StoreMode::Copy>(layout, dst, dst_off, src, src_off);
  });
}


}  // namespace detail

// ---------------------------------------------------------------- index description

namespace {

using detail::int64_constant;

enum class PartKind : uint8_t { None, Literal, Input };

// One integer of an entry.
struct Part {
  PartKind kind = PartKind::None;
  int64_t value = 0;           // Literal
  DType dtype = DType::Int64;  // Input: printed in the op's name, as Theano does
  bool operator==(const Part&) const = default;
};

enum class EntryKind : uint8_t { Int, Slice, NewAxis };

struct Entry {
  EntryKind kind = EntryKind::Slice;
  std::array<Part, 3> parts{};  // Int: parts[0]; Slice: start, stop, step
  bool operator==(const Entry&) const = default;
};

using Entries = std::vector<Entry>;

std::string part_str(const Part& p) {
  switch (p.kind) {
    case PartKind::None: return "";
    case PartKind::Literal: return std::to_string(p.value);
    case PartKind::Input: return std::string(dtype_name(p.dtype));
  }
  return "?";
}

std::string entries_str(const Entries& entries) {
  std::string s;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (i) s += ", ";
    if (e.kind == EntryKind::NewAxis) s += "newaxis";
    else if (e.kind == EntryKind::Int) s += part_str(e.parts[0]);
    else {
      s += part_str(e.parts[0]) + ":" + part_str(e.parts[1]);
      if (e.parts[2].kind != PartKind::None) s += ":" + part_str(e.parts[2]);
    }
  }
  return s;
}

size_t count_inputs(const Entries& entries) {
  size_t n = 0;
  for (const Entry& e : entries)
    for (const Part& p : e.parts) n += p.kind == PartKind::Input;
  return n;
}

int axes_used(const Entries& entries) {
  int n = 0;
  for (const Entry& e : entries) n += e.kind != EntryKind::NewAxis;
  return n;
}

std::optional<int64_t> literal_of(const Part& p) {
  if (p.kind == PartKind::Literal) return p.value;
  return std::nullopt;
}

// Python's slice.indices for an axis of size n: first position, step and length.
struct SliceBounds {
  int64_t start, step, length;
};

SliceBounds adjust_slice(const std::string& op, std::optional<int64_t> start, std::optional<int64_t> stop,
                         std::optional<int64_t> step, int64_t n) {
  const int64_t st = step.value_or(1);
  KILN_USER_CHECK(st != 0, ValueError) << op << ": slice step cannot be zero";
  KILN_USER_CHECK(st != INT64_MIN, ValueError) << op << ": slice step " << st << " is out of range";
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t b = clamp(start, st < 0 ? n - 1 : 0), e = clamp(stop, st < 0 ? -1 : n);
  int64_t len = 0;
  if (st > 0 && b < e) len = (e - b - 1) / st + 1;
  if (st < 0 && e < b) len = (b - e - 1) / (-st) + 1;
  // An empty slice stays at position 0, so the view never points outside the buffer.
  return {len > 0 ? b : 0, st, len};
}

// Static length of a slice entry over an axis of static size n (kUnknownDim if not derivable).
int64_t static_slice_length(const std::string& op, const Entry& e, int64_t n) {
  bool literal = true;
  for (const Part& p : e.parts) literal = literal && p.kind != PartKind::Input;
  if (n == kUnknownDim || !literal) return n == 0 ? 0 : kUnknownDim;
  return adjust_slice(op, literal_of(e.parts[0]), literal_of(e.parts[1]), literal_of(e.parts[2]), n).length;
}

// Static shape of the region the entries select from x; checks literal integers against static
// sizes (IndexError at build time).
std::vector<int64_t> region_static_shape(const std::string& op, const Entries& entries, const TensorType& x) {
  std::vector<int64_t> out;
  int d = 0;
  for (const Entry& e : entries) {
    if (e.kind == EntryKind::NewAxis) {
      out.push_back(1);
      continue;
    }
    const int64_t n = x.shape()[d];
    if (e.kind == EntryKind::Int) {
      if (e.parts[0].kind == PartKind::Literal && n != kUnknownDim) detail::normalize_index(op, e.parts[0].value, d, n);
    } else {
      out.push_back(static_slice_length(op, e, n));
    }
    ++d;
  }
  for (; d < x.ndim(); ++d) out.push_back(x.shape()[d]);
  return out;
}

// The view of x the entries select; `parts` are the values of the symbolic parts, in order.
Array select_region(const std::string& op, const Entries& entries, const Array& x, std::span<const Array> parts) {
  Shape shape, strides;
  int64_t offset = x.offset();
  size_t next = 0;
  auto value = [&](const Part& p) -> std::optional<int64_t> {
    if (p.kind == PartKind::Literal) return p.value;
    if (p.kind == PartKind::Input) return detail::index_value(parts[next++]);
    return std::nullopt;
  };
  int d = 0;
  for (const Entry& e : entries) {
    if (e.kind == EntryKind::NewAxis) {
      shape.push_back(1);
      strides.push_back(0);
      continue;
    }
    const int64_t n = x.shape()[d], stride = x.strides()[d];
    if (e.kind == EntryKind::Int) {
      offset += detail::normalize_index(op, *value(e.parts[0]), d, n) * stride;
    } else {
      // Read in order: symbolic parts are consumed start, stop, step.
      std::optional<int64_t> start = value(e.parts[0]);
      std::optional<int64_t> stop = value(e.parts[1]);
      std::optional<int64_t> step = value(e.parts[2]);
      SliceBounds b = adjust_slice(op, start, stop, step, n);
      shape.push_back(b.length);
      strides.push_back(stride * b.step);
      offset += b.start * stride;
    }
    ++d;
  }
  for (; d < x.ndim(); ++d) {
    shape.push_back(x.shape()[d]);
    strides.push_back(x.strides()[d]);
  }
  return x.view(shape, strides, offset);
}

// Type checks common to Subtensor and IncSubtensor: inputs[first:] are the symbolic parts.
void check_index_inputs(const std::string& op, const Entries& entries, const std::vector<Var>& inputs, size_t first) {
  KILN_USER_CHECK(inputs.size() == first + count_inputs(entries), TypeError)
      << op << " takes " << first + count_inputs(entries) << " inputs, got " << inputs.size();
  for (size_t i = first; i < inputs.size(); ++i)
    detail::check_index_var(op, inputs[i], "index input " + std::to_string(i), 0);
  KILN_USER_CHECK(axes_used(entries) <= inputs[0]->ndim(), IndexError)
      << op << ": too many indices for " << inputs[0]->label() << ": it is " << inputs[0]->ndim()
      << "-dimensional, but " << axes_used(entries) << " were indexed";
  for (const Entry& e : entries)
    KILN_USER_CHECK(!(e.kind == EntryKind::Slice && literal_of(e.parts[2]) == 0), ValueError)
        << op << ": slice step cannot be zero";
}

// ---------------------------------------------------------------- symbolic slice lengths

// A slice bound for infer_shape: absent, literal, or an int64 graph.
struct Bound {
  std::optional<int64_t> lit;
  Var var;
  bool absent() const { return !lit && !var; }
};

// v < 0 ? max(v + n, lo) : min(v, hi): adjust_slice's clamping, valid for any run-time n.
Var clamp_bound(const Bound& b, const Var& n, int64_t lo, const Var& hi) {
  if (b.lit)
    return *b.lit < 0 ? maximum(add(int64_constant(*b.lit), n), int64_constant(lo)) : minimum(int64_constant(*b.lit), hi);
  return switch_(lt(b.var, int64_constant(0)), maximum(add(b.var, n), int64_constant(lo)), minimum(b.var, hi));
}

// Length of start:stop over n for a step of magnitude `mag` (literal `mag_lit` when known), the
// step being negative when `negative`: ceil(max(distance, 0) / mag).
Var slice_length_graph(const Bound& start, const Bound& stop, const Var& n, const Var& mag,
                       std::optional<int64_t> mag_lit, bool negative) {
  const Var zero = int64_constant(0), one = int64_constant(1);
  Var distance;
  if (!negative) {
    Var b = start.absent() ? zero : clamp_bound(start, n, 0, n);
    Var e = stop.absent() ? n : clamp_bound(stop, n, 0, n);
    distance = maximum(sub(e, b), zero);
  } else {
    Var last = sub(n, one);
    Var b = start.absent() ? last : clamp_bound(start, n, -1, last);
    Var e = stop.absent() ? int64_constant(-1) : clamp_bound(stop, n, -1, last);
    distance = maximum(sub(b, e), zero);
  }
  if (mag_lit == 1) return distance;
  return int_div(add(distance, sub(mag, one)), mag);
}

Var slice_length_graph(const Bound& start, const Bound& stop, const Bound& step, const Var& n) {
  if (step.absent()) return slice_length_graph(start, stop, n, int64_constant(1), 1, false);
  if (step.lit) {
    const int64_t mag = *step.lit < 0 ? -*step.lit : *step.lit;
    return slice_length_graph(start, stop, n, int64_constant(mag), mag, *step.lit < 0);
  }
  return switch_(gt(step.var, int64_constant(0)), slice_length_graph(start, stop, n, step.var, std::nullopt, false),
                 slice_length_graph(start, stop, n, neg(step.var), std::nullopt, true));
}

// Output shape of a region as int64 graphs: static sizes as constants, slices as graphs of the
// input sizes and symbolic bounds (node inputs from `first` on).
std::vector<Var> region_shape_graph(const Entries& entries, const Apply& node, size_t first,
                                    const std::vector<Var>& x_shape, const std::vector<int64_t>& static_shape) {
  std::vector<Var> out;
  size_t next = first;
  auto bound = [&](const Part& p) {
    Bound b;
    if (p.kind == PartKind::Literal) b.lit = p.value;
    if (p.kind == PartKind::Input) b.var = cast(node.input(static_cast<int>(next++)), DType::Int64);
    return b;
  };
  int d = 0;
  for (const Entry& e : entries) {
    if (e.kind == EntryKind::NewAxis) {
      out.push_back(int64_constant(1));
      continue;
    }
    if (e.kind == EntryKind::Int) {
      next += e.parts[0].kind == PartKind::Input;
    } else {
      Bound start = bound(e.parts[0]);
      Bound stop = bound(e.parts[1]);
      Bound step = bound(e.parts[2]);
      const size_t o = out.size();
      out.push_back(static_shape[o] != kUnknownDim ? int64_constant(static_shape[o])
                                                   : slice_length_graph(start, stop, step, x_shape[d]));
    }
    ++d;
  }
  for (; d < static_cast<int>(x_shape.size()); ++d) out.push_back(x_shape[d]);
  return out;
}

// ---------------------------------------------------------------- the ops

class Subtensor final : public Op {
 public:
  explicit Subtensor(Entries entries) : entries_(std::move(entries)) {}
  const Entries& entries() const { return entries_; }

  std::string name() const override { return "Subtensor{" + entries_str(entries_) + "}"; }
  bool equals(const Op& o) const override {
    auto* s = dynamic_cast<const Subtensor*>(&o);
    return s && s->entries_ == entries_;
  }
  size_t hash() const override { return std::hash<std::string>()(name()); }
  std::map<int, int> view_map() const override { return {{0, 0}}; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(!inputs.empty() && inputs[0], TypeError) << name() << ": missing the indexed input";
    check_index_inputs(name(), entries_, inputs, 1);
    return {TensorType(inputs[0]->dtype(), region_static_shape(name(), entries_, inputs[0]->type()))};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override {
    return {region_shape_graph(entries_, node, 1, in[0], node.output_ptr(0)->type().shape())};
  }

  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    out[0] = select_region(name(), entries_, in[0], in.subspan(1));
  }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override;

  // Linear in x: the same selection of the tangent.
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    if (!ev[0]) return {nullptr};
    return {make_node1(node.op_ptr(), detail::with_index_inputs({ev[0]}, node, 1))};
  }

 private:
  Entries entries_;
};

class IncSubtensor final : public Op {
 public:
  IncSubtensor(Entries entries, bool set, bool inplace = false)
      : entries_(std::move(entries)), set_(set), inplace_(inplace) {}

  std::string name() const override {
    return std::string("IncSubtensor{") + (set_ ? "Set;" : "Inc;") + entries_str(entries_) +
           (inplace_ ? ";inplace}" : "}");
  }
  bool equals(const Op& o) const override {
    auto* s = dynamic_cast<const IncSubtensor*>(&o);
    return s && s->entries_ == entries_ && s->set_ == set_ && s->inplace_ == inplace_;
  }
  std::map<int, int> destroy_map() const override {
    if (!inplace_) return {};
    return {{0, 0}};
  }
  OpPtr inplace_variant() const { return std::make_shared<IncSubtensor>(entries_, set_, true); }
  size_t hash() const override { return std::hash<std::string>()(name()); }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() >= 2 && inputs[0] && inputs[1], TypeError) << name() << ": needs x and a value";
    const Var& x = inputs[0];
    const Var& y = inputs[1];
    KILN_USER_CHECK(is_supported(x->dtype()), TypeError)
        << name() << ": dtype " << dtype_name(x->dtype()) << " of " << x->label() << " is not supported yet";
    KILN_USER_CHECK(y->dtype() == x->dtype(), TypeError)
        << name() << ": the value " << y->label() << " has dtype " << dtype_name(y->dtype()) << " but "
        << x->label() << " has dtype " << dtype_name(x->dtype()) << " (set_subtensor/inc_subtensor cast it)";
    check_index_inputs(name(), entries_, inputs, 2);
    detail::check_value_fits(name(), y, region_static_shape(name(), entries_, x->type()));
    return {x->type()};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {in[0]};
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    Array result = detail::store_target(in[0], inplace_);
    Array region = select_region(name(), entries_, result, in.subspan(2));
    Array value = detail::broadcast_into(name(), in[1], node.input(1)->type(), region.shape());
    const int64_t zero[1] = {0};
    detail::store_blocks(result.dtype(), region.shape(), region.data(), region.strides(), zero, value.data(),
                         value.strides(), zero, set_ ? detail::StoreMode::Copy : detail::StoreMode::Add);
    out[0] = result;
  }

  // x gets gz (where it is not overwritten, for set); y gets gz[idx], summed over the axes it was
  // broadcast along.
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    std::vector<Var> grads(node.inputs().size());
    const Var& x = node.input(0);
    if (is_discrete(x->dtype())) return grads;
    const Var g = cast(gz[0], x->dtype());
    Var region = make_node1(std::make_shared<Subtensor>(entries_), detail::with_index_inputs({g}, node, 2));
    grads[0] = set_ ? make_node1(std::make_shared<IncSubtensor>(entries_, true),
                                 detail::with_index_inputs({g, typed_constant(0, g->dtype())}, node, 2))
                    : g;
    grads[1] = detail::fit_to_input(region, node.input(1));
    return grads;
  }

  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    return detail::store_R_op(node, ev, set_);
  }

 private:
  Entries entries_;
  bool set_;
  bool inplace_;
};

std::vector<Var> Subtensor::L_op(const Apply& node, const std::vector<Var>& gz) const {
  std::vector<Var> grads(node.inputs().size());
  const Var& x = node.input(0);
  if (is_discrete(x->dtype())) return grads;
  std::vector<Var> head = {zeros_like(x), cast(gz[0], x->dtype())};
  grads[0] = make_node1(std::make_shared<IncSubtensor>(entries_, false), detail::with_index_inputs(head, node, 1));
  return grads;
}

// ---------------------------------------------------------------- builders' helpers

Part make_part(const std::string& op, const IndexScalar& s, const std::string& what, std::vector<Var>& inputs) {
  if (s.literal()) return {PartKind::Literal, *s.literal(), DType::Int64};
  if (!s.var()) return {};
  const Var& v = s.var();
  detail::check_index_var(op, v, what, 0);
  if (v->is_constant()) return {PartKind::Literal, detail::index_value(v->constant_value()), DType::Int64};
  inputs.push_back(v);
  return {PartKind::Input, 0, v->dtype()};
}

// Replace an Ellipsis by the full slices it stands for; checks the number of indexed axes.
std::vector<Index> expand_ellipsis(const std::string& op, const Var& x, const std::vector<Index>& idx) {
  int used = 0, ellipses = 0;
  for (const Index& i : idx) {
    if (i.kind == Index::Kind::Ellipsis) ++ellipses;
    else if (i.kind != Index::Kind::NewAxis) ++used;
  }
  KILN_USER_CHECK(ellipses <= 1, IndexError) << op << ": an index can only have a single ellipsis ('...')";
  KILN_USER_CHECK(used <= x->ndim(), IndexError)
      << op << ": too many indices for " << x->label() << ": it is " << x->ndim() << "-dimensional, but " << used
      << " were indexed";
  std::vector<Index> out;
  for (const Index& i : idx) {
    if (i.kind != Index::Kind::Ellipsis) {
      out.push_back(i);
      continue;
    }
    for (int k = 0; k < x->ndim() - used; ++k) out.push_back(Index::all());
  }
  return out;
}

bool is_full_slice(const Index& i) {
  return i.kind == Index::Kind::Slice && i.start.absent() && i.stop.absent() && i.step.absent();
}

// An Int entry as a 0-d index tensor, for the integer-array path (where numpy broadcasts integers
// with the arrays).
Var int_entry_var(const Index& i) {
  KILN_USER_CHECK(!i.start.absent(), TypeError) << "getitem: an integer index entry has no value";
  if (i.start.literal()) return int64_constant(*i.start.literal());
  return i.start.var();
}

}  // namespace

std::optional<int64_t> literal_index(const Apply& node) {
  auto* sub = dynamic_cast<const Subtensor*>(&node.op());
  if (!sub || sub->entries().size() != 1) return std::nullopt;
  const Entry& e = sub->entries()[0];
  if (e.kind != EntryKind::Int || e.parts[0].kind != PartKind::Literal) return std::nullopt;
  return e.parts[0].value;
}

std::optional<std::vector<Index>> subtensor_index(const Apply& node) {
  auto* sub = dynamic_cast<const Subtensor*>(&node.op());
  if (!sub) return std::nullopt;
  int next = 1;  // symbolic parts are the inputs after x, in entry order
  auto scalar = [&](const Part& p) -> IndexScalar {
    if (p.kind == PartKind::Literal) return p.value;
    if (p.kind == PartKind::Input) return node.input(next++);
    return {};
  };
  std::vector<Index> out;
  for (const Entry& e : sub->entries()) {
    if (e.kind == EntryKind::NewAxis) {
      out.push_back(Index::newaxis());
    } else if (e.kind == EntryKind::Int) {
      out.push_back(Index::at(scalar(e.parts[0])));
    } else {
      // Evaluated in order: start, stop, step consume the inputs in that order.
      IndexScalar start = scalar(e.parts[0]);
      IndexScalar stop = scalar(e.parts[1]);
      IndexScalar step = scalar(e.parts[2]);
      out.push_back(Index::slice(start, stop, step));
    }
  }
  return out;
}

Array detail::store_target(const Array& x, bool inplace) {
  // Inplace only into memory kiln allocated or a caller lent for writing (In(mutable=True)).
  return inplace && x.buffer()->writable() ? x : x.copy();
}

std::optional<Var> store_inplace(const Apply& node) {
  OpPtr variant;
  if (auto* s = dynamic_cast<const IncSubtensor*>(&node.op())) variant = s->inplace_variant();
  if (!variant) variant = detail::advanced_store_inplace_variant(node.op());
  if (!variant || !node.op().destroy_map().empty()) return std::nullopt;
  return make_node1(variant, node.inputs());
}

std::vector<Var> detail::store_R_op(const Apply& node, const std::vector<Var>& ev, bool set) {
  const Var &x = node.input(0), &y = node.input(1);
  if (!ev[0] && !ev[1]) return {nullptr};
  if (!set && !ev[1]) return {ev[0]};
  Var tx = ev[0] ? cast(ev[0], x->dtype()) : zeros_like(x);
  Var ty = ev[1] ? detail::fit_to_input(ev[1], y) : zeros_like(y);
  return {make_node1(node.op_ptr(), detail::with_index_inputs({tx, ty}, node, 2))};
}

namespace {

KILN_REGISTER_OP_KINDS({{"Subtensor", true}, {"IncSubtensor", true}});

}  // namespace

// ---------------------------------------------------------------- builders

Var subtensor(const Var& x, const std::vector<Index>& idx) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "Subtensor: null input";
  std::vector<Index> full = expand_ellipsis("Subtensor", x, idx);
  Entries entries;
  std::vector<Var> inputs = {x};
  for (size_t k = 0; k < full.size(); ++k) {
    const Index& i = full[k];
    const std::string at = " of index entry " + std::to_string(k);
    Entry e;
    switch (i.kind) {
      case Index::Kind::NewAxis: e.kind = EntryKind::NewAxis; break;
      case Index::Kind::Int:
        KILN_USER_CHECK(!i.start.absent(), TypeError) << "Subtensor: index entry " << k << " is an integer without a value";
        e.kind = EntryKind::Int;
        e.parts[0] = make_part("Subtensor", i.start, "index entry " + std::to_string(k), inputs);
        break;
      case Index::Kind::Slice:
        e.parts[0] = make_part("Subtensor", i.start, "the slice start" + at, inputs);
        e.parts[1] = make_part("Subtensor", i.stop, "the slice stop" + at, inputs);
        e.parts[2] = make_part("Subtensor", i.step, "the slice step" + at, inputs);
        break;
      default:
        KILN_THROW(TypeError) << "subtensor: index entry " << k
                              << " is an integer array; use getitem or advanced_subtensor for those";
    }
    entries.push_back(e);
  }
  return make_node1(std::make_shared<Subtensor>(std::move(entries)), std::move(inputs));
}

Var getitem(const Var& x, const std::vector<Index>& idx) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "getitem: null input";
  bool advanced = std::any_of(idx.begin(), idx.end(), [](const Index& i) { return i.kind == Index::Kind::Array; });
  if (!advanced) return subtensor(x, idx);
  const std::string op = "AdvancedSubtensor";
  std::vector<Index> full = expand_ellipsis(op, x, idx);
  while (!full.empty() && is_full_slice(full.back())) full.pop_back();
  std::vector<Var> arrays;
  for (size_t k = 0; k < full.size(); ++k) {
    const Index& i = full[k];
    if (i.kind == Index::Kind::Array) {
      detail::check_index_var(op, i.indices, "index entry " + std::to_string(k), std::nullopt);
      arrays.push_back(i.indices);
      continue;
    }
    KILN_USER_CHECK(i.kind == Index::Kind::Int, NotImplementedError)
        << "indexing " << x->label() << " with integer arrays mixed with slices or new axes is not supported yet "
        << "(entry " << k << "); supported are x[i] and x[i, j, ...] with integer arrays or integers on the "
        << "leading axes, followed only by full slices (:) or an Ellipsis. Index in two steps instead, e.g. "
           "x[i][:, 1:3]";
    arrays.push_back(int_entry_var(i));
  }
  if (arrays.size() == 1 && full[0].kind == Index::Kind::Array) return advanced_subtensor1(x, arrays[0]);
  return advanced_subtensor(x, arrays);
}

Var inc_subtensor(const Var& indexed, const Var& y, bool set_instead_of_inc) {
  const char* fn = set_instead_of_inc ? "set_subtensor" : "inc_subtensor";
  KILN_USER_CHECK(indexed != nullptr && y != nullptr, TypeError) << fn << ": null input";
  const Apply* node = indexed->owner();
  KILN_USER_CHECK(node != nullptr, TypeError)
      << fn << ": " << indexed->label() << " must be the result of indexing a variable (x[...]), "
      << "but it is a free variable or a constant";
  if (auto* s = dynamic_cast<const Subtensor*>(&node->op())) {
    const Var& x = node->input(0);
    std::vector<Var> inputs = {x, cast(y, x->dtype())};  // numpy stores into x's dtype
    inputs.insert(inputs.end(), node->inputs().begin() + 1, node->inputs().end());
    return make_node1(std::make_shared<IncSubtensor>(s->entries(), set_instead_of_inc), std::move(inputs));
  }
  if (Var r = detail::advanced_inc_from_node(*node, y, set_instead_of_inc)) return r;
  KILN_THROW(TypeError) << fn << ": " << indexed->label() << " is computed by " << node->op().name()
                        << ", not by indexing; pass the result of x[...]";
}

Var set_subtensor(const Var& indexed, const Var& y) { return inc_subtensor(indexed, y, true); }

}  // namespace kiln
