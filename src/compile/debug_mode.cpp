// DebugMode's per-node checks. See debug_mode_impl.hpp.
#include "compile/debug_mode_impl.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/ops/composite.hpp"

namespace kiln::detail {
namespace {

// ---------------------------------------------------------------- comparing values

// numpy.allclose tolerances per dtype, as Theano's DebugMode: float32 results of two correct
// kernels (different summation orders, vector vs scalar transcendental functions) agree to about
// 1e-4 relative; float64 ones far closer; integers and booleans exactly.
struct Tolerance {
  double rtol = 0, atol = 0;
};

Tolerance tolerance_for(DType dtype) {
  if (dtype == DType::Float32 || dtype == DType::Float16) return {1e-4, 1e-5};
  if (is_float(dtype)) return {1e-5, 1e-8};
  return {};
}

bool close(double expected, double got, Tolerance tol) {
  if (expected == got) return true;
  if (std::isnan(expected) || std::isnan(got)) return std::isnan(expected) && std::isnan(got);
  if (std::isinf(expected) || std::isinf(got)) return false;  // equal infinities returned above
  return std::abs(got - expected) <= tol.atol + tol.rtol * std::abs(expected);
}

std::string format_value(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string index_str(const Shape& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(index);
}

// The first flat index where contiguous `a` and `b` (same dtype and shape) differ beyond the
// dtype's tolerance, or -1. Typed loops: this runs on every output of every node.
template <class T>
int64_t first_difference(const T* a, const T* b, int64_t n, Tolerance tol) {
  for (int64_t i = 0; i < n; ++i)
    if (a[i] != b[i] && !close(static_cast<double>(a[i]), static_cast<double>(b[i]), tol)) return i;
  return -1;
}

int64_t first_difference(const Array& a, const Array& b) {
  const Tolerance tol = tolerance_for(a.dtype());
  switch (a.dtype()) {
    case DType::Float64: return first_difference(a.data_as<double>(), b.data_as<double>(), a.size(), tol);
    case DType::Float32: return first_difference(a.data_as<float>(), b.data_as<float>(), a.size(), tol);
    default: break;
  }
  if (!is_float(a.dtype())) {  // exact: the bytes of each element
    const size_t item = a.itemsize();
    for (int64_t i = 0; i < a.size(); ++i)
      if (std::memcmp(a.data() + i * item, b.data() + i * item, item) != 0) return i;
    return -1;
  }
  for (int64_t i = 0; i < a.size(); ++i)
    if (!close(a.item_as_double(i), b.item_as_double(i), tol)) return i;
  return -1;
}

// Empty when `got` matches `expected` within the dtype's tolerance; otherwise what differs: the
// shapes and dtypes, or the first differing element and both values there.
std::string difference(const Array& expected, const Array& got) {
  std::ostringstream os;
  if (!expected.defined() || !got.defined()) return "a value is missing";
  if (expected.dtype() != got.dtype() || expected.shape() != got.shape()) {
    os << "expected " << dtype_name(expected.dtype()) << " of shape " << shape_str(expected.shape()) << ", got "
       << dtype_name(got.dtype()) << " of shape " << shape_str(got.shape());
    return os.str();
  }
  if (expected.size() == 0) return {};
  const Array a = expected.contiguous(), b = got.contiguous();
  const int64_t i = first_difference(a, b);
  if (i < 0) return {};
  os << dtype_name(a.dtype()) << " of shape " << shape_str(a.shape()) << ": first difference at index "
     << index_str(a.shape(), i) << ": expected " << format_value(a.item_as_double(i)) << ", got "
     << format_value(b.item_as_double(i));
  return os.str();
}

// Whether the bytes of `a` and `b` (same dtype and shape) are identical.
bool same_bytes(const Array& a, const Array& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.size() == 0) return true;
  const Array x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.data(), y.data(), static_cast<size_t>(x.size()) * x.itemsize()) == 0;
}

std::string describe_inputs(const std::vector<Array>& in) {
  std::ostringstream os;
  for (size_t i = 0; i < in.size(); ++i) {
    os << (i ? "; " : "") << "input " << i << ": ";
    if (!in[i].defined()) {
      os << "none";
      continue;
    }
    os << dtype_name(in[i].dtype()) << " shape " << shape_str(in[i].shape()) << " strides "
       << shape_str(in[i].strides()) << " offset " << in[i].offset();
  }
  return os.str();
}

[[noreturn]] void fail(const Apply& node, const std::string& check, const std::string& what,
                       const std::vector<Array>& inputs) {
  KILN_THROW(RuntimeError) << "DebugMode: " << check << " failed for " << describe_node(node) << ": " << what
                           << "\n  inputs that triggered it: " << describe_inputs(inputs);
}

// ---------------------------------------------------------------- strided copies

// A copy of `a` in a layout unlike any contiguous one: dimensions in reverse (Fortran) order, a
// gap after every element, and starting one element into its buffer. Kernels that assume C order,
// unit strides or a buffer-aligned start compute something else on it.
Array strided_copy(const Array& a) {
  if (a.size() == 0) return a.copy();
  const int64_t item = static_cast<int64_t>(a.itemsize());
  Shape strides(a.ndim());
  int64_t step = 2 * item;
  for (int d = 0; d < a.ndim(); ++d) {
    strides[d] = step;
    step *= a.shape()[d];
  }
  const size_t bytes = static_cast<size_t>((2 * a.size() + 1) * item);
  auto buffer = Buffer::allocate(bytes);
  std::memset(buffer->data(), 0, bytes);  // the gaps read as zeros: a misread is reproducible
  Array copy(a.dtype(), a.shape(), strides, buffer, item);
  copy_into(a, copy);
  return copy;
}

std::vector<Array> run_node(const Apply& node, const std::vector<Array>& in) {
  std::vector<Array> out(node.num_outputs());
  node.op().perform(node, in, out);
  return out;
}

std::vector<Array> copies(const std::vector<Array>& in) {
  std::vector<Array> out;
  for (const Array& a : in) out.push_back(a.defined() ? a.copy() : a);
  return out;
}

// ---------------------------------------------------------------- the checks

// An op must not change an input unless its destroy_map says so, and may return an input's memory
// only as a declared view or destruction.
void check_contract(const Apply& node, const std::vector<Array>& before, const std::vector<Array>& in,
                    const std::vector<Array>& out) {
  const auto destroyed = node.op().destroy_map(), views = node.op().view_map();
  std::set<int> may_change;
  for (const auto& [o, i] : destroyed) may_change.insert(i);
  for (size_t i = 0; i < in.size(); ++i) {
    if (may_change.count(static_cast<int>(i)) || same_bytes(before[i], in[i])) continue;
    fail(node, "destroy_map check",
         "the op changed its input " + std::to_string(i) + " without declaring it in destroy_map: " +
             difference(before[i], in[i]),
         before);
  }
  auto declared = [](const std::map<int, int>& m, size_t o, size_t i) {
    auto it = m.find(static_cast<int>(o));
    return it != m.end() && it->second == static_cast<int>(i);
  };
  for (size_t o = 0; o < out.size(); ++o)
    for (size_t i = 0; i < in.size(); ++i) {
      if (!out[o].defined() || !out[o].shares_buffer_with(in[i]) || in[i].size() == 0) continue;
      if (declared(views, o, i) || declared(destroyed, o, i)) continue;
      fail(node, "view_map check",
           "output " + std::to_string(o) + " shares memory with input " + std::to_string(i) +
               " but the op declares no view or destruction of it",
           before);
    }
}

void compare_outputs(const Apply& node, const std::string& check, const std::string& expected_name,
                     const std::vector<Array>& expected, const std::string& got_name, const std::vector<Array>& got,
                     const std::vector<Array>& inputs) {
  for (size_t o = 0; o < expected.size(); ++o) {
    const std::string diff = difference(expected[o], got[o]);
    if (diff.empty()) continue;
    fail(node, check,
         "output " + std::to_string(o) + " differs (expected: " + expected_name + ", got: " + got_name + "): " + diff,
         inputs);
  }
}

// A node running a compiled kernel must compute what the interpreter computes.
void check_compiled_kernel(const Apply& node, const std::vector<Array>& before, const std::vector<Array>& out) {
  if (kernel_source(node.op()).empty() || !prepare_kernel(node.op()).empty()) return;  // interpreter ran
  std::vector<Array> reference(node.num_outputs());
  perform_interpreted(node, copies(before), reference);
  compare_outputs(node, "compiled kernel check", "the interpreter", reference, "the compiled kernel", out, before);
}

// The op must compute the same on strided, non-contiguous inputs. A destroyed input is a copy
// like the others, so destructive ops overwrite nothing of the caller's.
void check_strided(const Apply& node, const std::vector<Array>& before, const std::vector<Array>& out) {
  std::vector<Array> strided;
  for (const Array& a : before) strided.push_back(a.defined() ? strided_copy(a) : a);
  std::vector<Array> again = run_node(node, strided);
  compare_outputs(node, "strided inputs check", "contiguous inputs", out, "the same inputs strided", again, strided);
}

}  // namespace

// ---------------------------------------------------------------- infer_shape

// A node's infer_shape graph, built once: one int64 scalar placeholder per input dimension, and
// the nodes computing the inferred output dimensions from those and the node's own inputs.
struct DebugModeChecker::ShapeProgram {
  bool usable = false;                      // infer_shape gave graphs kiln can evaluate here
  std::vector<std::vector<Var>> dims;       // per input: its dimensions' placeholders
  std::vector<std::vector<Var>> inferred;   // per output: its dimensions, or empty (not known)
  std::vector<Apply*> order;                // the nodes computing them, inputs first
};

namespace {

// Whether every leaf of `order` (and every inferred dimension) is a constant or in `known`.
bool leaves_known(const std::vector<Apply*>& order, const std::vector<std::vector<Var>>& inferred,
                  std::unordered_set<const Variable*> known) {
  auto ok = [&](const Var& v) { return v->is_constant() || known.count(v.get()); };
  for (const Apply* n : order) {
    for (const Var& in : n->inputs())
      if (!ok(in)) return false;
    for (size_t i = 0; i < n->num_outputs(); ++i) known.insert(n->output_ptr(static_cast<int>(i)));
  }
  for (const auto& shape : inferred)
    for (const Var& d : shape)
      if (!d || !ok(d)) return false;
  return true;
}

}  // namespace

DebugModeChecker::DebugModeChecker(const std::vector<const Apply*>& nodes)
    : nodes_(nodes), shapes_(nodes.size()), strided_seen_(nodes.size()) {
  for (size_t k = 0; k < nodes.size(); ++k) {
    const Apply& node = *nodes[k];
    ShapeProgram& p = shapes_[k];
    std::unordered_set<const Variable*> known;
    for (const Var& in : node.inputs()) {
      known.insert(in.get());
      p.dims.emplace_back();
      for (int d = 0; d < in->ndim(); ++d) {
        p.dims.back().push_back(Variable::input(TensorType(DType::Int64, {}), "shape"));
        known.insert(p.dims.back().back().get());
      }
    }
    try {
      p.inferred = node.op().infer_shape(node, p.dims);
    } catch (const Error&) {
      continue;  // an op whose infer_shape cannot work on symbolic sizes: nothing to check
    }
    if (p.inferred.size() != node.num_outputs()) continue;  // "not known"
    std::vector<Var> roots;
    for (const auto& shape : p.inferred)
      for (const Var& d : shape)
        if (d) roots.push_back(d);
    p.order = toposort(roots, known);
    p.usable = leaves_known(p.order, p.inferred, known);
  }
}

DebugModeChecker::~DebugModeChecker() = default;

void DebugModeChecker::check(size_t index, const std::vector<Array>& before, const std::vector<Array>& in,
                             const std::vector<Array>& out) const {
  const Apply& node = *nodes_[index];
  check_contract(node, before, in, out);
  // A lazy op (ifelse) gets no value for the inputs of the branch not taken: the re-runs below
  // would need them.
  if (!std::all_of(before.begin(), before.end(), [](const Array& a) { return a.defined(); })) return;
  check_compiled_kernel(node, before, out);
  check_shapes(node, shapes_[index], before, out);
  if (first_time_with_these_shapes(index, before)) check_strided(node, before, out);
}

// Whether node `index` runs on inputs of these shapes for the first time. The strided re-run
// checks how the kernel walks memory, which depends on the layout and the shapes, not on the
// values: once per shape is enough, and a training loop does not pay for it at every step.
bool DebugModeChecker::first_time_with_these_shapes(size_t index, const std::vector<Array>& in) const {
  std::vector<Shape> shapes;
  for (const Array& a : in) shapes.push_back(a.defined() ? a.shape() : Shape{});
  std::lock_guard<std::mutex> lock(strided_mutex_);
  return strided_seen_[index].insert(std::move(shapes)).second;
}

// infer_shape must predict the shapes perform returned, for these very inputs.
void DebugModeChecker::check_shapes(const Apply& node, const ShapeProgram& p, const std::vector<Array>& before,
                                    const std::vector<Array>& out) {
  if (!p.usable) return;
  std::unordered_map<const Variable*, Array> values;
  for (size_t j = 0; j < before.size(); ++j) {
    values[node.input(static_cast<int>(j)).get()] = before[j];
    for (size_t d = 0; d < p.dims[j].size(); ++d) values[p.dims[j][d].get()] = Array::scalar_int(before[j].shape()[d]);
  }
  auto value_of = [&](const Var& v) { return v->is_constant() ? v->constant_value() : values.at(v.get()); };
  try {
    for (const Apply* n : p.order) {
      std::vector<Array> args;
      for (const Var& v : n->inputs()) args.push_back(value_of(v));
      std::vector<Array> results = run_node(*n, args);
      for (size_t i = 0; i < results.size(); ++i) values[n->output_ptr(static_cast<int>(i))] = std::move(results[i]);
    }
  } catch (const Error& e) {
    fail(node, "infer_shape check", "evaluating the inferred shapes raised: " + e.message(), before);
  }
  for (size_t o = 0; o < p.inferred.size(); ++o) {
    if (p.inferred[o].empty()) continue;
    Shape predicted;
    for (const Var& d : p.inferred[o]) predicted.push_back(value_of(d).item_as_int());
    if (predicted == out[o].shape()) continue;
    fail(node, "infer_shape check",
         "infer_shape gives output " + std::to_string(o) + " the shape " + shape_str(predicted) +
             " but perform returned shape " + shape_str(out[o].shape()),
         before);
  }
}

}  // namespace kiln::detail
