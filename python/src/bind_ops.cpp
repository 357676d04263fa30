// Builders of every op family, under Theano's names. Each converts its arguments with
// as_tensor_variable and calls the C++ builder.
#include "bind_common.hpp"
#include "kiln/ops/composite.hpp"

namespace kiln::py {
namespace {

void bind_elemwise(nb::module_& m) {
#define KILN_SCALAR_OP_BIND_1(name) \
  m.def(scalar_op_public_name(ScalarOpId::name).c_str(), [](nb::handle a) { return name(v(a)); }, nb::arg("a"));
#define KILN_SCALAR_OP_BIND_2(name)                                                                                  \
  m.def(scalar_op_public_name(ScalarOpId::name).c_str(), [](nb::handle a, nb::handle b) { return name(v(a), v(b)); }, \
        nb::arg("a"), nb::arg("b"));
#define KILN_SCALAR_OP_BIND_3(name)                                                                  \
  m.def(scalar_op_public_name(ScalarOpId::name).c_str(),                                             \
        [](nb::handle a, nb::handle b, nb::handle c) { return name(v(a), v(b), v(c)); }, nb::arg("a"), \
        nb::arg("b"), nb::arg("c"));
#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad) KILN_SCALAR_OP_BIND_##arity(name)
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP
  // switch accepts any condition dtype (compared with 0), as Theano's T.switch.
  m.def("switch", [](nb::handle c, nb::handle a, nb::handle b) { return switch_cond(v(c), v(a), v(b)); },
        nb::arg("cond"), nb::arg("ift"), nb::arg("iff"));
  m.def("cast", [](nb::handle x, nb::handle dtype) { return cast(v(x), dtype_from_python(dtype)); }, nb::arg("x"),
        nb::arg("dtype"));
  m.def("round", [](nb::handle x, nb::handle mode) {
    return round(v(x), mode.is_none() ? "half_to_even" : nb::cast<std::string>(mode));
  }, nb::arg("a"), nb::arg("mode") = nb::none());
  m.def("dimshuffle", [](nb::handle x, const std::vector<nb::object>& pattern) {
    std::vector<int> p;
    for (const auto& e : pattern) {
      if (nb::isinstance<nb::str>(e)) {
        KILN_USER_CHECK(nb::cast<std::string>(e) == "x", ValueError)
            << "dimshuffle: pattern entries must be axis numbers or 'x', got '" << nb::cast<std::string>(e) << "'";
        p.push_back(-1);
      } else {
        int a = nb::cast<int>(e);
        KILN_USER_CHECK(a >= 0, ValueError) << "dimshuffle: pattern entry " << a << " is negative";
        p.push_back(a);
      }
    }
    return dimshuffle(v(x), p);
  });
  m.def("transpose", [](nb::handle x, nb::handle axes) {
    if (axes.is_none()) return transpose(v(x));
    return transpose(v(x), nb::cast<std::vector<int>>(axes));
  }, nb::arg("x"), nb::arg("axes") = nb::none());
}

void bind_reduce(nb::module_& m) {
  m.def("sum", [](nb::handle x, nb::handle axis, nb::handle dtype, bool keepdims, nb::handle acc_dtype) {
    return sum(v(x), axes_from_python(axis), keepdims, opt_dtype(dtype), opt_dtype(acc_dtype));
  }, nb::arg("input"), nb::arg("axis") = nb::none(), nb::arg("dtype") = nb::none(), nb::arg("keepdims") = false,
     nb::arg("acc_dtype") = nb::none());
  m.def("prod", [](nb::handle x, nb::handle axis, nb::handle dtype, bool keepdims, nb::handle acc_dtype) {
    return prod(v(x), axes_from_python(axis), keepdims, opt_dtype(dtype), opt_dtype(acc_dtype));
  }, nb::arg("input"), nb::arg("axis") = nb::none(), nb::arg("dtype") = nb::none(), nb::arg("keepdims") = false,
     nb::arg("acc_dtype") = nb::none());
#define KILN_BIND_PLAIN_REDUCE(pyname, fn)                                                                      \
  m.def(pyname, [](nb::handle x, nb::handle axis, bool keepdims) { return fn(v(x), axes_from_python(axis), keepdims); }, \
        nb::arg("x"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false);
  KILN_BIND_PLAIN_REDUCE("max", max)
  KILN_BIND_PLAIN_REDUCE("min", min)
  KILN_BIND_PLAIN_REDUCE("any", any)
  KILN_BIND_PLAIN_REDUCE("all", all)
  KILN_BIND_PLAIN_REDUCE("argmax", argmax)
  KILN_BIND_PLAIN_REDUCE("argmin", argmin)
  KILN_BIND_PLAIN_REDUCE("max_and_argmax", max_and_argmax)
#undef KILN_BIND_PLAIN_REDUCE
  m.def("mean", [](nb::handle x, nb::handle axis, nb::handle dtype, bool keepdims) {
    return mean(v(x), axes_from_python(axis), keepdims, opt_dtype(dtype));
  }, nb::arg("input"), nb::arg("axis") = nb::none(), nb::arg("dtype") = nb::none(), nb::arg("keepdims") = false);
  m.def("var", [](nb::handle x, nb::handle axis, bool keepdims, int ddof) {
    return var(v(x), axes_from_python(axis), keepdims, ddof);
  }, nb::arg("input"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::arg("ddof") = 0);
  m.def("std", [](nb::handle x, nb::handle axis, bool keepdims, int ddof) {
    return stddev(v(x), axes_from_python(axis), keepdims, ddof);
  }, nb::arg("input"), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false, nb::arg("ddof") = 0);
}

void bind_blas(nb::module_& m) {
  m.def("dot", [](nb::handle a, nb::handle b) { return dot(v(a), v(b)); }, nb::arg("a"), nb::arg("b"));
  m.def("matmul", [](nb::handle a, nb::handle b) { return matmul(v(a), v(b)); }, nb::arg("a"), nb::arg("b"));
  m.def("composite", [](const std::vector<Var>& inputs, const Var& output) { return fuse_elementwise(inputs, output); },
        nb::arg("inputs"), nb::arg("output"));
  m.def("composite_reduce",
        [](const std::vector<Var>& inputs, const Var& reduced) { return fuse_elementwise_reduce(inputs, reduced); },
        nb::arg("inputs"), nb::arg("reduced"));
  m.def("gemm", [](nb::handle z, nb::handle alpha, nb::handle x, nb::handle y, nb::handle beta) {
        return gemm(v(z), v(alpha), v(x), v(y), v(beta));
      }, nb::arg("z"), nb::arg("alpha"), nb::arg("x"), nb::arg("y"), nb::arg("beta"));
  m.def("gemv", [](nb::handle y, nb::handle alpha, nb::handle a, nb::handle x, nb::handle beta) {
        return gemv(v(y), v(alpha), v(a), v(x), v(beta));
      }, nb::arg("y"), nb::arg("alpha"), nb::arg("A"), nb::arg("x"), nb::arg("beta"));
  m.def("ger", [](nb::handle a, nb::handle alpha, nb::handle x, nb::handle y) { return ger(v(a), v(alpha), v(x), v(y)); },
        nb::arg("A"), nb::arg("alpha"), nb::arg("x"), nb::arg("y"));
  m.def("outer", [](nb::handle a, nb::handle b) { return outer(v(a), v(b)); }, nb::arg("x"), nb::arg("y"));
  m.def("batched_dot", [](nb::handle a, nb::handle b) { return batched_dot(v(a), v(b)); }, nb::arg("a"), nb::arg("b"));
  // axes: an int n (a's last n axes with b's first n), or a pair (a's axes, b's axes) of ints or lists.
  auto axis_lists = [](nb::handle axes) {
    auto as_list = [](nb::handle h) {
      return nb::isinstance<nb::int_>(h) ? std::vector<int>{nb::cast<int>(h)} : nb::cast<std::vector<int>>(h);
    };
    KILN_USER_CHECK(nb::len(axes) == 2, ValueError) << "tensordot: axes must be an int or a pair of axis lists";
    return std::make_pair(as_list(axes[0]), as_list(axes[1]));
  };
  m.def("tensordot", [axis_lists](nb::handle a, nb::handle b, nb::handle axes) {
        if (nb::isinstance<nb::int_>(axes)) return tensordot(v(a), v(b), nb::cast<int>(axes));
        auto [xa, xb] = axis_lists(axes);
        return tensordot(v(a), v(b), xa, xb);
      }, nb::arg("a"), nb::arg("b"), nb::arg("axes") = 2);
  m.def("batched_tensordot", [axis_lists](nb::handle a, nb::handle b, nb::handle axes) {
        if (nb::isinstance<nb::int_>(axes)) {  // Theano: the last n axes of a with axes 1..n of b
          const int n = nb::cast<int>(axes);
          std::vector<int> xa, xb;
          for (int i = 0; i < n; ++i) {
            xa.push_back(v(a)->ndim() - n + i);
            xb.push_back(1 + i);
          }
          return batched_tensordot(v(a), v(b), xa, xb);
        }
        auto [xa, xb] = axis_lists(axes);
        return batched_tensordot(v(a), v(b), xa, xb);
      }, nb::arg("x"), nb::arg("y"), nb::arg("axes") = 2);
  m.def("einsum", [](const std::string& subscripts, nb::args operands) {
        std::vector<Var> vars;
        for (nb::handle o : operands) vars.push_back(v(o));
        return einsum(subscripts, vars);
      }, nb::arg("subscripts"), nb::arg("operands"));
}

// T.nnet.bn: axes is 'per-activation', 'spatial' or a tuple of ints.
void bind_batch_normalization(nb::module_& m) {
  auto bn_axes = [](nb::handle axes, const Var& inputs) {
    if (nb::isinstance<nb::str>(axes)) return batch_normalization_axes(nb::cast<std::string>(axes), inputs->ndim());
    return nb::cast<std::vector<int>>(axes);
  };
  auto opt = [](nb::handle h) { return h.is_none() ? Var() : v(h); };
  m.def("batch_normalization", [](nb::handle x, nb::handle g, nb::handle b, nb::handle mean, nb::handle std,
                                  const std::string& mode) { return batch_normalization(v(x), v(g), v(b), v(mean), v(std), mode); },
        nb::arg("inputs"), nb::arg("gamma"), nb::arg("beta"), nb::arg("mean"), nb::arg("std"), nb::arg("mode") = "low_mem");
  m.def("batch_normalization_train", [bn_axes, opt](nb::handle x, nb::handle g, nb::handle b, nb::handle axes, double eps,
                                                    double factor, nb::handle rm, nb::handle rv) {
        const Var inputs = v(x);
        return batch_normalization_train(inputs, v(g), v(b), bn_axes(axes, inputs), eps, factor, opt(rm), opt(rv));
      }, nb::arg("inputs"), nb::arg("gamma"), nb::arg("beta"), nb::arg("axes") = "per-activation",
      nb::arg("epsilon") = 1e-4, nb::arg("running_average_factor") = 0.1, nb::arg("running_mean") = nb::none(),
      nb::arg("running_var") = nb::none());
  m.def("batch_normalization_test", [bn_axes](nb::handle x, nb::handle g, nb::handle b, nb::handle mean, nb::handle var,
                                             nb::handle axes, double eps) {
        const Var inputs = v(x);
        return batch_normalization_test(inputs, v(g), v(b), v(mean), v(var), bn_axes(axes, inputs), eps);
      }, nb::arg("inputs"), nb::arg("gamma"), nb::arg("beta"), nb::arg("mean"), nb::arg("var"),
      nb::arg("axes") = "per-activation", nb::arg("epsilon") = 1e-4);
}

void bind_nnet(nb::module_& m) {
  // axis: an int (default -1, the last axis, as Theano) or None for all axes (PyTensor).
  m.def("softmax", [](nb::handle c, std::optional<int> axis) { return softmax(v(c), axis); }, nb::arg("c"),
        nb::arg("axis") = -1);
  m.def("log_softmax", [](nb::handle c, std::optional<int> axis) { return log_softmax(v(c), axis); }, nb::arg("c"),
        nb::arg("axis") = -1);
  m.def("softmax_grad", [](nb::handle dy, nb::handle sm, std::optional<int> axis) {
        return softmax_grad(v(dy), v(sm), axis);
      }, nb::arg("dy"), nb::arg("sm"), nb::arg("axis") = -1);
  m.def("log_softmax_grad", [](nb::handle dy, nb::handle out, std::optional<int> axis) {
        return log_softmax_grad(v(dy), v(out), axis);
      }, nb::arg("dy"), nb::arg("out"), nb::arg("axis") = -1);
  m.def("softmax_with_bias", [](nb::handle x, nb::handle b) { return softmax_with_bias(v(x), v(b)); }, nb::arg("x"),
        nb::arg("b"));
#define KILN_BIND_XENT3(name)                                                                                  \
  m.def(#name, [](nb::handle x, nb::handle b, nb::handle y) { return name(v(x), v(b), v(y)); }, nb::arg("x"), \
        nb::arg("b"), nb::arg("y_idx"));
  KILN_BIND_XENT3(crossentropy_softmax_argmax_1hot_with_bias)
  KILN_BIND_XENT3(crossentropy_softmax_1hot_with_bias)
  KILN_BIND_XENT3(crossentropy_softmax_max_and_argmax_1hot_with_bias)
#undef KILN_BIND_XENT3
  m.def("crossentropy_softmax_1hot", [](nb::handle x, nb::handle y) { return crossentropy_softmax_1hot(v(x), v(y)); },
        nb::arg("x"), nb::arg("y_idx"));
  m.def("crossentropy_softmax_max_and_argmax_1hot", [](nb::handle x, nb::handle y) {
        return crossentropy_softmax_max_and_argmax_1hot(v(x), v(y));
      }, nb::arg("x"), nb::arg("y_idx"));
  m.def("crossentropy_softmax_1hot_with_bias_dx", [](nb::handle dy, nb::handle sm, nb::handle y) {
        return crossentropy_softmax_1hot_with_bias_dx(v(dy), v(sm), v(y));
      }, nb::arg("dy"), nb::arg("sm"), nb::arg("y_idx"));
  m.def("crossentropy_categorical_1hot", [](nb::handle p, nb::handle y) { return crossentropy_categorical_1hot(v(p), v(y)); },
        nb::arg("coding_dist"), nb::arg("true_one_of_n"));
  m.def("crossentropy_categorical_1hot_grad", [](nb::handle g, nb::handle p, nb::handle y) {
        return crossentropy_categorical_1hot_grad(v(g), v(p), v(y));
      }, nb::arg("g_y"), nb::arg("coding_dist"), nb::arg("true_one_of_n"));
  m.def("relu", [](nb::handle x, double alpha) { return relu(v(x), alpha); }, nb::arg("x"), nb::arg("alpha") = 0.0);
  m.def("elu", [](nb::handle x, double alpha) { return elu(v(x), alpha); }, nb::arg("x"), nb::arg("alpha") = 1.0);
  m.def("selu", [](nb::handle x) { return selu(v(x)); }, nb::arg("x"));
  m.def("softsign", [](nb::handle x) { return softsign(v(x)); }, nb::arg("x"));
  m.def("hard_sigmoid", [](nb::handle x) { return hard_sigmoid(v(x)); }, nb::arg("x"));
  m.def("categorical_crossentropy", [](nb::handle c, nb::handle t) { return categorical_crossentropy(v(c), v(t)); },
        nb::arg("coding_dist"), nb::arg("true_dist"));
  m.def("binary_crossentropy", [](nb::handle o, nb::handle t) { return binary_crossentropy(v(o), v(t)); },
        nb::arg("output"), nb::arg("target"));
  m.def("sigmoid_binary_crossentropy", [](nb::handle o, nb::handle t) {
        return sigmoid_binary_crossentropy(v(o), v(t));
      }, nb::arg("output"), nb::arg("target"));
  bind_batch_normalization(m);
}

void bind_shape(nb::module_& m) {
  m.def("shape", [](nb::handle x) { return shape(v(x)); });
  m.def("shape_i", [](nb::handle x, int i) { return shape_i(v(x), i); });
}

}  // namespace

void bind_ops(nb::module_& m) {
  bind_elemwise(m);
  bind_reduce(m);
  bind_blas(m);
  bind_shape(m);
  bind_nnet(m);
}

}  // namespace kiln::py
