// Integer-array indexing: AdvancedSubtensor1 (x[i] on the first axis), AdvancedSubtensor
// (x[i, j, ...] on the leading axes, the index tensors broadcast together), and their set/inc forms.
//
// Every form reduces to the same two loops: the index tensors give one byte offset into x per
// position of their broadcast shape, and a block (x's remaining axes) is copied from there
// (gather) or stored/added there (scatter). The scatter runs in index order, so repeated indices
// accumulate for inc (numpy.add.at) and the last one wins for set.
//
// Gradients are Theano's: a gather's gradient scatters gz with inc (so repeated indices
// accumulate), a scatter's value gets gz gathered at the same indices; index inputs are
// disconnected. As in Theano, set with repeated indices gives every copy of the value the
// gradient, though only the last write survives.
#include <algorithm>

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "ops/subtensor_impl.hpp"

namespace kiln {
namespace {

using detail::int64_constant;

// Static broadcast shape of the index tensors, numpy's rules; a static mismatch is numpy's
// IndexError.
std::vector<int64_t> static_index_shape(const std::string& op, std::span<const Var> indices) {
  size_t nd = 0;
  for (const Var& v : indices) nd = std::max(nd, static_cast<size_t>(v->ndim()));
  std::vector<int64_t> out(nd, 1);
  std::vector<bool> unknown(nd, false);
  for (const Var& v : indices) {
    const size_t pad = nd - v->ndim();
    for (int d = 0; d < v->ndim(); ++d) {
      int64_t s = v->type().shape()[d];
      if (s == 1) continue;
      if (s == kUnknownDim) {
        unknown[pad + d] = true;
        continue;
      }
      KILN_USER_CHECK(out[pad + d] == 1 || out[pad + d] == s, IndexError)
          << op << ": shape mismatch: the index arrays cannot be broadcast together (dimension " << pad + d
          << " has sizes " << out[pad + d] << " and " << s << ")";
      out[pad + d] = s;
    }
  }
  // An unknown size decides the result unless a known size other than 1 does.
  for (size_t d = 0; d < nd; ++d)
    if (unknown[d] && out[d] == 1) out[d] = kUnknownDim;
  return out;
}

// Run-time broadcast shape of the index arrays (numpy's rules; mismatch: IndexError).
Shape index_shape(const std::string& op, std::span<const Array> indices) {
  size_t nd = 0;
  for (const Array& a : indices) nd = std::max(nd, static_cast<size_t>(a.ndim()));
  Shape out(nd, 1);
  for (const Array& a : indices) {
    const size_t pad = nd - a.ndim();
    for (int d = 0; d < a.ndim(); ++d) {
      int64_t s = a.shape()[d];
      if (s == 1) continue;
      KILN_USER_CHECK(out[pad + d] == 1 || out[pad + d] == s, IndexError)
          << op << ": shape mismatch: index arrays could not be broadcast together with shapes "
          << [&] {
               std::string r;
               for (const Array& b : indices) r += (r.empty() ? "" : " ") + shape_str(b.shape());
               return r;
             }();
      out[pad + d] = s;
    }
  }
  return out;
}

// Byte offset from x's first element of the block x[i0[m], i1[m], ...], for each position m (C
// order) of `shape`, the broadcast shape of the indices; checks every index against its axis.
std::vector<int64_t> block_offsets(const std::string& op, const Array& x, std::span<const Array> indices,
                                   const Shape& shape) {
  const int64_t n = shape_size(shape);
  std::vector<int64_t> offsets(static_cast<size_t>(n), 0);
  for (size_t j = 0; j < indices.size(); ++j) {
    const Array& a = indices[j];
    const size_t pad = shape.size() - a.ndim();
    Shape strides(shape.size(), 0);  // broadcast view of the index array over `shape`
    for (int d = 0; d < a.ndim(); ++d)
      if (a.shape()[d] != 1) strides[pad + d] = a.strides()[d];
    Array values = detail::index_array_int64(a.view(shape, strides, a.offset()));
    const int64_t* v = values.data_as<int64_t>();
    const int axis = static_cast<int>(j);
    const int64_t size = x.shape()[axis], stride = x.strides()[axis];
    for (int64_t m = 0; m < n; ++m) offsets[m] += detail::normalize_index(op, v[m], axis, size) * stride;
  }
  return offsets;
}

std::string advanced_name(bool one, const char* base, const char* suffix = "") {
  return std::string(base) + (one ? "1" : "") + suffix;
}

// Type checks shared by the gather and scatter ops; returns the output (or region) static shape.
std::vector<int64_t> check_advanced(const std::string& op, const Var& x, std::span<const Var> indices) {
  KILN_USER_CHECK(x != nullptr, TypeError) << op << ": null input";
  KILN_USER_CHECK(!indices.empty(), TypeError) << op << ": needs at least one index array";
  KILN_USER_CHECK(static_cast<int>(indices.size()) <= x->ndim(), IndexError)
      << op << ": too many indices for " << x->label() << ": it is " << x->ndim() << "-dimensional, but "
      << indices.size() << " were indexed";
  for (size_t j = 0; j < indices.size(); ++j)
    detail::check_index_var(op, indices[j], "index " + std::to_string(j), std::nullopt);
  std::vector<int64_t> shape = static_index_shape(op, indices);
  for (int d = static_cast<int>(indices.size()); d < x->ndim(); ++d) shape.push_back(x->type().shape()[d]);
  return shape;
}

// Symbolic broadcast shape of the index tensors: where sizes are not static, switch(n == 1, ...)
// picks the size that is not 1, which is numpy's broadcast result for valid inputs.
std::vector<Var> index_shape_graph(const Apply& node, size_t first, size_t k,
                                   const std::vector<std::vector<Var>>& in, const std::vector<int64_t>& out_static) {
  size_t nd = 0;
  for (size_t j = 0; j < k; ++j) nd = std::max(nd, static_cast<size_t>(node.input(first + j)->ndim()));
  std::vector<Var> out;
  for (size_t d = 0; d < nd; ++d) {
    if (out_static[d] != kUnknownDim) {
      out.push_back(int64_constant(out_static[d]));
      continue;
    }
    Var size;
    for (size_t j = 0; j < k; ++j) {
      const Var& idx = node.input(first + j);
      const size_t pad = nd - idx->ndim();
      if (d < pad || idx->type().shape()[d - pad] == 1) continue;
      const Var& s = in[first + j][d - pad];
      size = size ? switch_(eq(s, int64_constant(1)), size, s) : s;
    }
    out.push_back(size ? size : int64_constant(1));
  }
  return out;
}

Var advanced_inc(const Var& x, const Var& y, const std::vector<Var>& indices, bool one, bool set);

// x[i0, i1, ...]: `one` names it AdvancedSubtensor1 (a single index tensor on the first axis).
class AdvancedSubtensor final : public Op {
 public:
  explicit AdvancedSubtensor(bool one) : one_(one) {}
  bool one() const { return one_; }

  std::string name() const override { return advanced_name(one_, "AdvancedSubtensor"); }
  bool equals(const Op& o) const override {
    auto* a = dynamic_cast<const AdvancedSubtensor*>(&o);
    return a && a->one_ == one_;
  }
  size_t hash() const override { return std::hash<std::string>()(name()); }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() >= 2, TypeError) << name() << ": needs x and at least one index array";
    KILN_USER_CHECK(!one_ || inputs.size() == 2, TypeError) << name() << " takes 2 inputs, got " << inputs.size();
    std::span<const Var> indices(inputs.begin() + 1, inputs.end());
    return {TensorType(inputs[0]->dtype(), check_advanced(name(), inputs[0], indices))};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override {
    const size_t k = node.inputs().size() - 1;
    std::vector<Var> shape = index_shape_graph(node, 1, k, in, node.output_ptr(0)->type().shape());
    for (size_t d = k; d < in[0].size(); ++d) shape.push_back(in[0][d]);
    return {shape};
  }

  void perform(const Apply&, std::span<const Array> in, std::span<Array> out) const override {
    const Array& x = in[0];
    std::span<const Array> indices = in.subspan(1);
    const size_t k = indices.size();
    Shape ishape = index_shape(name(), indices);
    std::vector<int64_t> src_off = block_offsets(name(), x, indices, ishape);
    Shape block(x.shape().begin() + k, x.shape().end());
    Shape x_block_strides(x.strides().begin() + k, x.strides().end());
    Shape out_shape = ishape;
    out_shape.insert(out_shape.end(), block.begin(), block.end());
    Array result = Array::empty(x.dtype(), out_shape);
    Shape out_block_strides(result.strides().begin() + ishape.size(), result.strides().end());
    std::vector<int64_t> dst_off = detail::c_order_offsets(ishape, result.strides().data());
    detail::store_blocks(x.dtype(), block, result.data(), out_block_strides, dst_off, x.data(), x_block_strides,
                         src_off, detail::StoreMode::Copy);
    out[0] = result;
  }

  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    std::vector<Var> grads(node.inputs().size());
    const Var& x = node.input(0);
    if (is_discrete(x->dtype())) return grads;
    std::vector<Var> indices(node.inputs().begin() + 1, node.inputs().end());
    grads[0] = advanced_inc(zeros_like(x), gz[0], indices, one_, false);
    return grads;
  }

  // Linear in x: the same gather of the tangent.
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    if (!ev[0]) return {nullptr};
    return {make_node1(node.op_ptr(), detail::with_index_inputs({ev[0]}, node, 1))};
  }

 private:
  bool one_;
};

// x with y stored (set) or added (inc) at x[i0, i1, ...]; inputs (x, y, i0, i1, ...).
class AdvancedIncSubtensor final : public Op {
 public:
  AdvancedIncSubtensor(bool one, bool set, bool inplace = false) : one_(one), set_(set), inplace_(inplace) {}

  std::string name() const override {
    std::string mode = set_ ? "set" : "inc";
    return advanced_name(one_, "AdvancedIncSubtensor", ("{" + mode + (inplace_ ? ",inplace}" : "}")).c_str());
  }
  bool equals(const Op& o) const override {
    auto* a = dynamic_cast<const AdvancedIncSubtensor*>(&o);
    return a && a->one_ == one_ && a->set_ == set_ && a->inplace_ == inplace_;
  }
  std::map<int, int> destroy_map() const override {
    if (!inplace_) return {};
    return {{0, 0}};
  }
  OpPtr inplace_variant() const { return std::make_shared<AdvancedIncSubtensor>(one_, set_, true); }
  size_t hash() const override { return std::hash<std::string>()(name()); }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override {
    KILN_USER_CHECK(inputs.size() >= 3, TypeError) << name() << ": needs x, a value and at least one index array";
    KILN_USER_CHECK(!one_ || inputs.size() == 3, TypeError) << name() << " takes 3 inputs, got " << inputs.size();
    const Var& x = inputs[0];
    const Var& y = inputs[1];
    KILN_USER_CHECK(x && y, TypeError) << name() << ": null input";
    KILN_USER_CHECK(is_supported(x->dtype()), TypeError)
        << name() << ": dtype " << dtype_name(x->dtype()) << " of " << x->label() << " is not supported yet";
    KILN_USER_CHECK(y->dtype() == x->dtype(), TypeError)
        << name() << ": the value " << y->label() << " has dtype " << dtype_name(y->dtype()) << " but "
        << x->label() << " has dtype " << dtype_name(x->dtype()) << " (set_subtensor/inc_subtensor cast it)";
    std::span<const Var> indices(inputs.begin() + 2, inputs.end());
    detail::check_value_fits(name(), y, check_advanced(name(), x, indices));
    return {x->type()};
  }

  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {in[0]};
  }

  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    std::span<const Array> indices = in.subspan(2);
    const size_t k = indices.size();
    Array result = detail::store_target(in[0], inplace_);
    Shape ishape = index_shape(name(), indices);
    std::vector<int64_t> dst_off = block_offsets(name(), result, indices, ishape);
    Shape block(result.shape().begin() + k, result.shape().end());
    Shape region = ishape;
    region.insert(region.end(), block.begin(), block.end());
    Array value = detail::broadcast_into(name(), in[1], node.input(1)->type(), region);
    std::vector<int64_t> src_off = detail::c_order_offsets(ishape, value.strides().data());
    Shape value_block_strides(value.strides().begin() + ishape.size(), value.strides().end());
    Shape result_block_strides(result.strides().begin() + k, result.strides().end());
    detail::store_blocks(result.dtype(), block, result.data(), result_block_strides, dst_off, value.data(),
                         value_block_strides, src_off, set_ ? detail::StoreMode::Copy : detail::StoreMode::Add);
    out[0] = result;
  }

  // x gets gz (zeroed where overwritten, for set); y gets gz gathered at the indices, summed over
  // the axes it was broadcast along.
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    std::vector<Var> grads(node.inputs().size());
    const Var& x = node.input(0);
    if (is_discrete(x->dtype())) return grads;
    const Var g = cast(gz[0], x->dtype());
    std::vector<Var> indices(node.inputs().begin() + 2, node.inputs().end());
    Var gathered = one_ ? advanced_subtensor1(g, indices[0]) : advanced_subtensor(g, indices);
    grads[0] = set_ ? advanced_inc(g, typed_constant(0, g->dtype()), indices, one_, true) : g;
    grads[1] = detail::fit_to_input(gathered, node.input(1));
    return grads;
  }

  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    return detail::store_R_op(node, ev, set_);
  }

 private:
  bool one_, set_, inplace_;
};

Var advanced_inc(const Var& x, const Var& y, const std::vector<Var>& indices, bool one, bool set) {
  const char* fn = set ? "advanced_set_subtensor" : "advanced_inc_subtensor";
  KILN_USER_CHECK(x != nullptr && y != nullptr, TypeError) << fn << (one ? "1" : "") << ": null input";
  std::vector<Var> inputs = {x, cast(y, x->dtype())};
  inputs.insert(inputs.end(), indices.begin(), indices.end());
  return make_node1(std::make_shared<AdvancedIncSubtensor>(one, set), std::move(inputs));
}

}  // namespace

OpPtr detail::advanced_store_inplace_variant(const Op& op) {
  if (auto* a = dynamic_cast<const AdvancedIncSubtensor*>(&op)) return a->inplace_variant();
  return nullptr;
}

namespace {

KILN_REGISTER_OP_KINDS({{"AdvancedSubtensor1", true}, {"AdvancedSubtensor", true}, {"AdvancedIncSubtensor1", true}, {"AdvancedIncSubtensor", true}});

}  // namespace

namespace detail {

Var advanced_inc_from_node(const Apply& node, const Var& y, bool set) {
  auto* a = dynamic_cast<const AdvancedSubtensor*>(&node.op());
  if (!a) return nullptr;
  std::vector<Var> indices(node.inputs().begin() + 1, node.inputs().end());
  return advanced_inc(node.input(0), y, indices, a->one(), set);
}

}  // namespace detail

Var advanced_subtensor1(const Var& x, const Var& indices) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "AdvancedSubtensor1: null input";
  static const OpPtr op = std::make_shared<AdvancedSubtensor>(true);
  return make_node1(op, {x, indices});
}

Var advanced_subtensor(const Var& x, const std::vector<Var>& indices) {
  KILN_USER_CHECK(x != nullptr, TypeError) << "AdvancedSubtensor: null input";
  static const OpPtr op = std::make_shared<AdvancedSubtensor>(false);
  std::vector<Var> inputs = {x};
  inputs.insert(inputs.end(), indices.begin(), indices.end());
  return make_node1(op, std::move(inputs));
}

Var advanced_inc_subtensor1(const Var& x, const Var& y, const Var& indices) {
  return advanced_inc(x, y, {indices}, true, false);
}
Var advanced_set_subtensor1(const Var& x, const Var& y, const Var& indices) {
  return advanced_inc(x, y, {indices}, true, true);
}
Var advanced_inc_subtensor(const Var& x, const Var& y, const std::vector<Var>& indices) {
  return advanced_inc(x, y, indices, false, false);
}
Var advanced_set_subtensor(const Var& x, const Var& y, const std::vector<Var>& indices) {
  return advanced_inc(x, y, indices, false, true);
}

Var take(const Var& a, const Var& indices, std::optional<int> axis) {
  KILN_USER_CHECK(a != nullptr && indices != nullptr, TypeError) << "take: null input";
  if (!axis) {
    KILN_USER_CHECK(a->ndim() == 1, NotImplementedError)
        << "take: axis=None on the " << a->ndim() << "-dimensional " << a->label()
        << " needs flattening, which is not available here; flatten it first or pass an axis";
    axis = 0;
  }
  const int nd = a->ndim();
  const int ax = *axis < 0 ? *axis + nd : *axis;
  KILN_USER_CHECK(ax >= 0 && ax < nd, ValueError)
      << "take: axis " << *axis << " is out of range for " << a->label() << " with " << nd << " dimensions";
  if (ax == 0) return advanced_subtensor1(a, indices);
  // Move the axis first, gather, and put the index dimensions back where the axis was.
  std::vector<int> to_front = {ax};
  for (int d = 0; d < nd; ++d)
    if (d != ax) to_front.push_back(d);
  Var r = advanced_subtensor1(dimshuffle(a, to_front), indices);
  const int ki = indices->ndim();
  std::vector<int> back;
  for (int d = 0; d < ax; ++d) back.push_back(ki + d);
  for (int d = 0; d < ki; ++d) back.push_back(d);
  for (int d = ki + ax; d < r->ndim(); ++d) back.push_back(d);
  return dimshuffle(r, back);
}

}  // namespace kiln
