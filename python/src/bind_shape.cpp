// Bindings of the shape op family, under Theano's names. Python wrappers in kiln/tensor/shape_ops.py
// add the variadic spellings (alloc(value, *shape), join(axis, *tensors)).
#include "bind_common.hpp"

namespace kiln::py {
namespace {

bool is_sequence(nb::handle h) {
  return nb::isinstance<nb::list>(h) || nb::isinstance<nb::tuple>(h);
}

// A shape argument as a list of scalars: an int or scalar variable is one size; a list or tuple
// holds sizes (ints or scalar variables); a vector variable must show its entries in the graph.
std::vector<Var> sizes_from_python(nb::handle h, const char* op) {
  if (is_sequence(h)) {
    std::vector<Var> sizes;
    for (nb::handle e : h) sizes.push_back(v(e));
    return sizes;
  }
  Var s = v(h);
  if (s->ndim() == 0) return {s};
  auto entries = vector_entries(s);
  KILN_USER_CHECK(entries.has_value(), ValueError)
      << op << ": cannot read the sizes out of the shape vector " << s->label()
      << "; pass a list or tuple of integer scalars, or x.shape";
  return *entries;
}

std::vector<Var> tensors_from_python(nb::handle h, const char* op) {
  KILN_USER_CHECK(is_sequence(h), TypeError)
      << op << ": the tensors must be given as a list or a tuple; make sure you did not forget [] around them";
  std::vector<Var> out;
  for (nb::handle e : h) out.push_back(v(e));
  return out;
}

Var reshape_py(nb::handle x, nb::handle shape, nb::handle ndim) {
  std::optional<int> nd;
  if (!ndim.is_none()) nd = nb::cast<int>(ndim);
  if (!is_sequence(shape)) return reshape(v(x), v(shape), nd);
  std::vector<Var> sizes;
  for (nb::handle e : shape) sizes.push_back(v(e));
  KILN_USER_CHECK(!nd || *nd == static_cast<int>(sizes.size()), ValueError)
      << "reshape: ndim=" << *nd << " does not match the " << sizes.size() << " entries of the shape";
  return reshape(v(x), sizes);
}

// The shape of `o` as its op's infer_shape computes it from the shapes of the node's inputs
// (None when the op cannot tell without computing o); for tests and shape-aware user code.
std::optional<std::vector<Var>> infer_shape_py(const Var& o) {
  const Apply* node = o->owner();
  if (!node) return shape_list(o);
  std::vector<std::vector<Var>> in;
  for (const Var& i : node->inputs()) in.push_back(shape_list(i));
  auto shapes = node->op().infer_shape(*node, in);
  if (shapes.empty()) return std::nullopt;
  return shapes[o->index()];
}

}  // namespace

void bind_shape_ops(nb::module_& m) {
  m.def("make_vector", [](nb::handle scalars, nb::handle dtype) {
    return make_vector(tensors_from_python(scalars, "make_vector"), opt_dtype(dtype));
  }, nb::arg("scalars"), nb::arg("dtype") = nb::none());
  m.def("reshape", &reshape_py, nb::arg("x"), nb::arg("newshape"), nb::arg("ndim") = nb::none());
  m.def("flatten", [](nb::handle x, int ndim) { return flatten(v(x), ndim); }, nb::arg("x"), nb::arg("ndim") = 1);
  m.def("alloc", [](nb::handle value, nb::handle shape) { return alloc(v(value), sizes_from_python(shape, "alloc")); },
        nb::arg("value"), nb::arg("shape"));
  m.def("zeros", [](nb::handle shape, nb::handle dtype) {
    return zeros(sizes_from_python(shape, "zeros"), opt_dtype(dtype));
  }, nb::arg("shape"), nb::arg("dtype") = nb::none());
  m.def("ones", [](nb::handle shape, nb::handle dtype) {
    return ones(sizes_from_python(shape, "ones"), opt_dtype(dtype));
  }, nb::arg("shape"), nb::arg("dtype") = nb::none());
  m.def("zeros_like", [](nb::handle x, nb::handle dtype) { return zeros_like(v(x), opt_dtype(dtype)); },
        nb::arg("model"), nb::arg("dtype") = nb::none());
  m.def("ones_like", [](nb::handle x, nb::handle dtype) { return ones_like(v(x), opt_dtype(dtype)); },
        nb::arg("model"), nb::arg("dtype") = nb::none());
  m.def("fill", [](nb::handle model, nb::handle value) { return fill(v(model), v(value)); }, nb::arg("model"),
        nb::arg("value"));
  m.def("arange", [](nb::handle start, nb::handle stop, nb::handle step, nb::handle dtype) {
    if (stop.is_none()) return arange(v(nb::int_(0)), v(start), v(step), opt_dtype(dtype));
    return arange(v(start), v(stop), v(step), opt_dtype(dtype));
  }, nb::arg("start"), nb::arg("stop") = nb::none(), nb::arg("step") = 1, nb::arg("dtype") = nb::none());
  m.def("eye", [](nb::handle n, nb::handle m, nb::handle k, nb::handle dtype) {
    return eye(v(n), m.is_none() ? nullptr : v(m), v(k), opt_dtype(dtype));
  }, nb::arg("n"), nb::arg("m") = nb::none(), nb::arg("k") = 0, nb::arg("dtype") = nb::none());
  m.def("join", [](int axis, nb::handle tensors) { return join(axis, tensors_from_python(tensors, "join")); },
        nb::arg("axis"), nb::arg("tensors"));
  m.def("concatenate", [](nb::handle tensors, int axis) {
    return concatenate(tensors_from_python(tensors, "concatenate"), axis);
  }, nb::arg("tensor_list"), nb::arg("axis") = 0);
  m.def("stack", [](nb::handle tensors, int axis) { return stack(tensors_from_python(tensors, "stack"), axis); },
        nb::arg("tensors"), nb::arg("axis") = 0);
  m.def("split", [](nb::handle x, nb::handle splits, int n_splits, int axis) {
    return split(v(x), v(splits), n_splits, axis);
  }, nb::arg("x"), nb::arg("splits_size"), nb::arg("n_splits"), nb::arg("axis") = 0);
  m.def("infer_shape", &infer_shape_py, nb::arg("var"));
}

}  // namespace kiln::py
