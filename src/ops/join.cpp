// Join (concatenate along an axis) and Split (cut along an axis into views), with the builders
// join, concatenate, stack and split. Each is the other's gradient.
#include <numeric>
#include <string_view>

#include "kiln/error.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "ops/shape_impl.hpp"

namespace kiln {

using detail::constant_int;
using detail::hash_mix;
using detail::int64_constant;
using detail::to_int64;

namespace {

// ---------------------------------------------------------------- Join

// Join{axis}: the inputs (of one rank) concatenated along `axis`, in their promoted dtype.
class Join final : public Op {
 public:
  explicit Join(int axis) : axis_(axis) {}
  std::string name() const override { return "Join{axis=" + std::to_string(axis_) + "}"; }
  bool equals(const Op& o) const override {
    auto* j = dynamic_cast<const Join*>(&o);
    return j && j->axis_ == axis_;
  }
  size_t hash() const override { return hash_mix(std::hash<std::string_view>()("Join"), axis_); }
  int axis() const { return axis_; }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override;
  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override;
  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override;
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override;
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override;

 private:
  int axis_;
};

std::vector<TensorType> Join::make_outputs(const std::vector<Var>& inputs) const {
  KILN_USER_CHECK(!inputs.empty(), ValueError) << name() << ": needs at least one tensor";
  const Var& first = inputs[0];
  const int nd = first->ndim();
  KILN_USER_CHECK(nd > 0, TypeError) << name() << ": cannot join the 0-d tensor " << first->label()
                                     << "; use stack to make a vector of scalars";
  KILN_USER_CHECK(axis_ >= 0 && axis_ < nd, ValueError)
      << name() << ": axis " << axis_ << " is out of range for tensors with " << nd << " dimensions";
  DType dt = first->dtype();
  std::vector<int64_t> shape = first->type().shape();
  std::vector<size_t> source(nd, 0);  // which input gave each static size, for messages
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Var& v = inputs[i];
    KILN_USER_CHECK(v->ndim() == nd, TypeError)
        << name() << ": input " << i << " (" << v->label() << ") has " << v->ndim() << " dimensions but input 0 ("
        << first->label() << ") has " << nd << "; joined tensors must have the same number of dimensions";
    KILN_USER_CHECK(is_supported(v->dtype()), TypeError)
        << name() << ": input " << i << " (" << v->label() << ") has unsupported dtype " << dtype_name(v->dtype());
    dt = promote(dt, v->dtype());
    if (i == 0) continue;
    for (int d = 0; d < nd; ++d) {
      const int64_t s = v->type().shape()[d];
      if (d == axis_) {
        shape[d] = shape[d] == kUnknownDim || s == kUnknownDim ? kUnknownDim : shape[d] + s;
        continue;
      }
      if (s == kUnknownDim) continue;
      KILN_USER_CHECK(shape[d] == kUnknownDim || shape[d] == s, ValueError)
          << name() << ": input " << i << " (" << v->label() << ") has size " << s << " on axis " << d << " but input "
          << source[d] << " (" << inputs[source[d]]->label() << ") has size " << shape[d]
          << "; all sizes except on axis " << axis_ << " must match";
      if (shape[d] == kUnknownDim) source[d] = i;
      shape[d] = s;
    }
  }
  return {TensorType(dt, shape)};
}

std::vector<std::vector<Var>> Join::infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const {
  const int nd = node.input(0)->ndim();
  std::vector<Var> out(nd);
  for (int d = 0; d < nd; ++d) {
    if (d == axis_) {
      Var total = in[0][d];
      for (size_t i = 1; i < in.size(); ++i) total = add(total, in[i][d]);
      out[d] = total;
      continue;
    }
    // All inputs have the same size here: prefer one that is static.
    out[d] = in[0][d];
    for (size_t i = 0; i < in.size(); ++i)
      if (node.input(i)->type().shape()[d] != kUnknownDim) {
        out[d] = int64_constant(node.input(i)->type().shape()[d]);
        break;
      }
  }
  return {out};
}

void Join::perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const {
  Shape shape = in[0].shape();
  shape[axis_] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    for (int d = 0; d < in[0].ndim(); ++d)
      KILN_USER_CHECK(d == axis_ || in[i].shape()[d] == in[0].shape()[d], ValueError)
          << name() << ": input " << i << " has shape " << shape_str(in[i].shape()) << " but input 0 has shape "
          << shape_str(in[0].shape()) << "; all sizes except on axis " << axis_ << " must match";
    shape[axis_] += in[i].shape()[axis_];
  }
  Array r = Array::empty(node.output_ptr(0)->dtype(), shape);
  int64_t start = 0;
  for (const Array& x : in) {
    // Copy (converting the dtype) into the slab of r that x occupies.
    copy_into(x, r.view(x.shape(), r.strides(), r.offset() + start * r.strides()[axis_]));
    start += x.shape()[axis_];
  }
  out[0] = r;
}

// The gradient cut back into the inputs' slabs; integer inputs get none.
std::vector<Var> Join::L_op(const Apply& node, const std::vector<Var>& gz) const {
  const auto& in = node.inputs();
  if (is_discrete(node.output_ptr(0)->dtype())) return std::vector<Var>(in.size());
  std::vector<Var> sizes;
  for (const Var& x : in) sizes.push_back(shape_i(x, axis_));
  std::vector<Var> pieces = split(gz[0], detail::size_vector(sizes), static_cast<int>(in.size()), axis_);
  std::vector<Var> grads;
  for (size_t i = 0; i < in.size(); ++i) grads.push_back(detail::fit_to_input(pieces[i], in[i]));
  return grads;
}

// Linear in all inputs at once: the tangents joined, zeros standing in for inputs held constant.
std::vector<Var> Join::R_op(const Apply& node, const std::vector<Var>& ev) const {
  const DType dt = node.output_ptr(0)->dtype();
  std::vector<Var> parts;
  bool any = false;
  for (size_t i = 0; i < ev.size(); ++i) {
    const Var& x = node.input(static_cast<int>(i));
    const bool moves = ev[i] && !is_discrete(x->dtype());
    any = any || moves;
    parts.push_back(moves ? cast(detail::fit_to_input(ev[i], x), dt) : zeros_like(x, dt));
  }
  if (!any) return {nullptr};
  return {join(axis_, parts)};
}

// ---------------------------------------------------------------- Split

// Split{n_splits, axis}: x cut along `axis` into n_splits views of the sizes in input 1.
class Split final : public Op {
 public:
  Split(int n_splits, int axis) : n_(n_splits), axis_(axis) {}
  std::string name() const override {
    return "Split{n_splits=" + std::to_string(n_) + ", axis=" + std::to_string(axis_) + "}";
  }
  bool equals(const Op& o) const override {
    auto* s = dynamic_cast<const Split*>(&o);
    return s && s->n_ == n_ && s->axis_ == axis_;
  }
  size_t hash() const override { return hash_mix(hash_mix(std::hash<std::string_view>()("Split"), n_), axis_); }
  std::map<int, int> view_map() const override {
    std::map<int, int> m;
    for (int i = 0; i < n_; ++i) m[i] = 0;
    return m;
  }

  std::vector<TensorType> make_outputs(const std::vector<Var>& inputs) const override;
  std::vector<std::vector<Var>> infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const override;
  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override;

  // The pieces' gradients joined back (a piece the cost does not use arrives as zeros).
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    if (is_discrete(node.input(0)->dtype())) return {nullptr, nullptr};
    return {detail::fit_to_input(join(axis_, gz), node.input(0)), nullptr};
  }
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    if (!ev[0]) return std::vector<Var>(n_);
    return split(detail::fit_to_input(ev[0], node.input(0)), node.input(1), n_, axis_);
  }

 private:
  int n_;
  int axis_;
};

std::vector<TensorType> Split::make_outputs(const std::vector<Var>& inputs) const {
  KILN_USER_CHECK(inputs.size() == 2, TypeError) << name() << " takes 2 inputs (x, splits), got " << inputs.size();
  const Var &x = inputs[0], &s = inputs[1];
  KILN_USER_CHECK(x->ndim() > 0, TypeError) << name() << ": cannot split the 0-d tensor " << x->label();
  KILN_USER_CHECK(axis_ >= 0 && axis_ < x->ndim(), ValueError)
      << name() << ": axis " << axis_ << " is out of range for " << x->label() << " with " << x->ndim()
      << " dimensions";
  KILN_USER_CHECK(n_ >= 1, ValueError) << name() << ": n_splits must be at least 1";
  KILN_USER_CHECK(s->ndim() == 1 && is_integer(s->dtype()), TypeError)
      << name() << ": the split sizes (" << s->label() << ") must be an integer vector, got " << s->type().str();
  const int64_t len = s->type().shape()[0];
  KILN_USER_CHECK(len == kUnknownDim || len == n_, ValueError)
      << name() << ": " << len << " split sizes given for " << n_ << " splits";
  std::vector<TensorType> out(n_, TensorType(x->dtype(), x->type().shape()));
  if (!s->is_constant()) {
    for (TensorType& t : out) {
      std::vector<int64_t> shape = t.shape();
      shape[axis_] = kUnknownDim;
      t = TensorType(x->dtype(), shape);
    }
    return out;
  }
  const Array& sizes = s->constant_value();
  int64_t total = 0;
  for (int i = 0; i < n_; ++i) {
    std::vector<int64_t> shape = x->type().shape();
    shape[axis_] = sizes.item_as_int(i);
    KILN_USER_CHECK(shape[axis_] >= 0, ValueError)
        << name() << ": split size " << i << " is " << shape[axis_] << "; sizes must be >= 0";
    total += shape[axis_];
    out[i] = TensorType(x->dtype(), shape);
  }
  const int64_t axis_len = x->type().shape()[axis_];
  KILN_USER_CHECK(axis_len == kUnknownDim || axis_len == total, ValueError)
      << name() << ": the split sizes sum to " << total << " but axis " << axis_ << " of " << x->label()
      << " has static length " << axis_len;
  return out;
}

std::vector<std::vector<Var>> Split::infer_shape(const Apply& node, const std::vector<std::vector<Var>>& in) const {
  auto sizes = vector_entries(node.input(1));
  if (!sizes || static_cast<int>(sizes->size()) != n_) return {};
  std::vector<std::vector<Var>> out;
  for (int i = 0; i < n_; ++i) {
    out.push_back(in[0]);
    out.back()[axis_] = (*sizes)[i];
  }
  return out;
}

void Split::perform(const Apply&, std::span<const Array> in, std::span<Array> out) const {
  const Array &x = in[0], &s = in[1];
  KILN_USER_CHECK(s.size() == n_, ValueError) << name() << ": got " << s.size() << " split sizes, expected " << n_;
  Shape sizes(n_);
  for (int i = 0; i < n_; ++i) sizes[i] = s.item_as_int(i);
  const int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  bool valid = total == x.shape()[axis_];
  for (int64_t v : sizes) valid = valid && v >= 0;
  KILN_USER_CHECK(valid, ValueError) << name() << ": cannot split axis " << axis_ << " of an array of shape "
                                     << shape_str(x.shape()) << " into pieces of sizes " << shape_str(sizes)
                                     << ": the sizes must be >= 0 and sum to " << x.shape()[axis_];
  int64_t start = 0;
  for (int i = 0; i < n_; ++i) {
    Shape shape = x.shape();
    shape[axis_] = sizes[i];
    // An empty piece keeps x's own offset: its address is never read, and it stays in bounds.
    int64_t offset = sizes[i] == 0 ? x.offset() : x.offset() + start * x.strides()[axis_];
    out[i] = x.view(shape, x.strides(), offset);
    start += sizes[i];
  }
}

KILN_REGISTER_OP_KINDS({{"Join", true}, {"Split", true}});

}  // namespace

// ---------------------------------------------------------------- builders

Var join(int axis, const std::vector<Var>& tensors) {
  KILN_USER_CHECK(!tensors.empty(), ValueError) << "join: needs at least one tensor";
  for (size_t i = 0; i < tensors.size(); ++i)
    KILN_USER_CHECK(tensors[i] != nullptr, TypeError) << "join: tensor " << i << " is null";
  if (tensors.size() == 1) return tensors[0];
  const int nd = tensors[0]->ndim();
  KILN_USER_CHECK(nd > 0, TypeError) << "join: cannot join the 0-d tensor " << tensors[0]->label()
                                     << "; use stack to make a vector of scalars";
  const int a = axis < 0 ? axis + nd : axis;
  KILN_USER_CHECK(a >= 0 && a < nd, ValueError)
      << "join: axis " << axis << " is out of range for tensors with " << nd << " dimensions";
  return make_node1(std::make_shared<Join>(a), tensors);
}

Var concatenate(const std::vector<Var>& tensors, int axis) { return join(axis, tensors); }

std::optional<int> join_axis(const Apply& node) {
  if (auto* j = dynamic_cast<const Join*>(&node.op())) return j->axis();
  return std::nullopt;
}

Var stack(const std::vector<Var>& tensors, int axis) {
  KILN_USER_CHECK(!tensors.empty(), ValueError) << "stack: needs at least one tensor";
  for (size_t i = 0; i < tensors.size(); ++i)
    KILN_USER_CHECK(tensors[i] != nullptr, TypeError) << "stack: tensor " << i << " is null";
  const int nd = tensors[0]->ndim();
  const int a = axis < 0 ? axis + nd + 1 : axis;
  KILN_USER_CHECK(a >= 0 && a <= nd, ValueError) << "stack: axis " << axis << " is out of range [" << -nd - 1 << ", "
                                                 << nd << "] for tensors with " << nd << " dimensions";
  for (size_t i = 0; i < tensors.size(); ++i)
    KILN_USER_CHECK(tensors[i]->ndim() == nd, TypeError)
        << "stack: tensor " << i << " (" << tensors[i]->label() << ") has " << tensors[i]->ndim()
        << " dimensions but tensor 0 (" << tensors[0]->label() << ") has " << nd
        << "; stacked tensors must have the same number of dimensions";
  if (nd == 0) return make_vector(tensors);  // Theano: scalars become a MakeVector
  std::vector<int> pattern;
  for (int d = 0; d < nd; ++d) pattern.push_back(d);
  pattern.insert(pattern.begin() + a, -1);
  std::vector<Var> padded;
  for (const Var& t : tensors) padded.push_back(dimshuffle(t, pattern));
  return join(a, padded);
}

std::vector<Var> split(const Var& x, const Var& splits, int n_splits, int axis) {
  KILN_USER_CHECK(x != nullptr && splits != nullptr, TypeError) << "split: null input";
  KILN_USER_CHECK(x->ndim() > 0, TypeError) << "split: cannot split the 0-d tensor " << x->label();
  const int a = axis < 0 ? axis + x->ndim() : axis;
  KILN_USER_CHECK(a >= 0 && a < x->ndim(), ValueError)
      << "split: axis " << axis << " is out of range for " << x->label() << " with " << x->ndim() << " dimensions";
  KILN_USER_CHECK(n_splits >= 1, ValueError) << "split: n_splits is " << n_splits << "; it must be at least 1";
  return make_node(std::make_shared<Split>(n_splits, a), {x, splits});
}

std::vector<Var> split(const Var& x, const std::vector<int64_t>& splits, int axis) {
  Array sizes = Array::empty(DType::Int64, {static_cast<int64_t>(splits.size())});
  for (size_t i = 0; i < splits.size(); ++i) sizes.data_as<int64_t>()[i] = splits[i];
  return split(x, Variable::constant(sizes), static_cast<int>(splits.size()), axis);
}

}  // namespace kiln
