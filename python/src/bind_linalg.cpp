// Builders of kiln/ops/linalg.hpp under Theano's names; kiln.tensor.nlinalg and .slinalg give
// them their Python signatures.
#include <cmath>

#include "bind_common.hpp"
#include "kiln/ops/linalg.hpp"

namespace kiln::py {
namespace {

// numpy's `ord`: None, a number (inf included), or 'fro' / 'nuc'.
NormOrd norm_ord(nb::handle ord) {
  if (ord.is_none()) return {};
  if (nb::isinstance<nb::str>(ord)) return NormOrd::named(nb::cast<std::string>(ord));
  return NormOrd::number(nb::cast<double>(nb::float_(ord)));
}

nb::tuple as_tuple(const std::vector<Var>& vars) {
  nb::list l;
  for (const Var& v : vars) l.append(nb::cast(v));
  return nb::tuple(l);
}

void bind_diagonals(nb::module_& m) {
  m.def("extract_diag", [](nb::handle x, int64_t offset, int axis1, int axis2) {
    return extract_diag(v(x), offset, axis1, axis2);
  }, nb::arg("x"), nb::arg("offset") = 0, nb::arg("axis1") = 0, nb::arg("axis2") = 1);
  m.def("alloc_diag", [](nb::handle x, int64_t offset) { return alloc_diag(v(x), offset); }, nb::arg("x"),
        nb::arg("offset") = 0);
  m.def("diag", [](nb::handle x, int64_t k) { return diag(v(x), k); }, nb::arg("v"), nb::arg("k") = 0);
  m.def("trace", [](nb::handle x, int64_t offset, int axis1, int axis2) { return trace(v(x), offset, axis1, axis2); },
        nb::arg("x"), nb::arg("offset") = 0, nb::arg("axis1") = 0, nb::arg("axis2") = 1);
  m.def("tril", [](nb::handle x, int64_t k) { return tril(v(x), k); }, nb::arg("m"), nb::arg("k") = 0);
  m.def("triu", [](nb::handle x, int64_t k) { return triu(v(x), k); }, nb::arg("m"), nb::arg("k") = 0);
}

void bind_nlinalg(nb::module_& m) {
  m.def("matrix_inverse", [](nb::handle a) { return matrix_inverse(v(a)); }, nb::arg("a"));
  m.def("det", [](nb::handle a) { return det(v(a)); }, nb::arg("a"));
  m.def("slogdet", [](nb::handle a) { return slogdet(v(a)); }, nb::arg("a"));
  m.def("eig", [](nb::handle a) { return eig(v(a)); }, nb::arg("a"));
  m.def("eigh", [](nb::handle a, const std::string& uplo) { return eigh(v(a), uplo); }, nb::arg("a"),
        nb::arg("UPLO") = "L");
  m.def("eigvalsh", [](nb::handle a, nb::handle b, bool lower) {
    return eigvalsh(v(a), b.is_none() ? nullptr : v(b), lower);
  }, nb::arg("a"), nb::arg("b") = nb::none(), nb::arg("lower") = true);
  m.def("svd", [](nb::handle a, bool full_matrices, bool compute_uv) -> nb::object {
    auto outs = svd(v(a), full_matrices, compute_uv);
    return compute_uv ? nb::object(as_tuple(outs)) : nb::cast(outs[0]);
  }, nb::arg("a"), nb::arg("full_matrices") = true, nb::arg("compute_uv") = true);
  m.def("qr", [](nb::handle a, const std::string& mode) -> nb::object {
    auto outs = qr(v(a), mode);
    return outs.size() == 1 ? nb::cast(outs[0]) : nb::object(as_tuple(outs));
  }, nb::arg("a"), nb::arg("mode") = "reduced");
  m.def("pinv", [](nb::handle a) { return pinv(v(a)); }, nb::arg("a"));
  m.def("lstsq", [](nb::handle a, nb::handle b, std::optional<double> rcond) { return lstsq(v(a), v(b), rcond); },
        nb::arg("a"), nb::arg("b"), nb::arg("rcond") = nb::none());
  m.def("matrix_power", [](nb::handle a, int64_t n) { return matrix_power(v(a), n); }, nb::arg("M"), nb::arg("n"));
  m.def("kron", [](nb::handle a, nb::handle b) { return kron(v(a), v(b)); }, nb::arg("a"), nb::arg("b"));
  m.def("matrix_dot", [](nb::args factors) {
    std::vector<Var> vars;
    for (nb::handle f : factors) vars.push_back(v(f));
    return matrix_dot(vars);
  });
  m.def("norm", [](nb::handle x, nb::handle ord, nb::handle axis, bool keepdims) {
    return norm(v(x), norm_ord(ord), axis.is_none() ? Axes() : axes_from_python(axis), keepdims);
  }, nb::arg("x"), nb::arg("ord") = nb::none(), nb::arg("axis") = nb::none(), nb::arg("keepdims") = false);
}

void bind_slinalg(nb::module_& m) {
  m.def("expm", [](nb::handle a) { return expm(v(a)); }, nb::arg("A"));
  m.def("cholesky", [](nb::handle a, bool lower) { return cholesky(v(a), lower); }, nb::arg("a"),
        nb::arg("lower") = true);
  m.def("solve", [](nb::handle a, nb::handle b, const std::string& assume_a, bool lower) {
    return solve(v(a), v(b), assume_a, lower);
  }, nb::arg("a"), nb::arg("b"), nb::arg("assume_a") = "gen", nb::arg("lower") = false);
  m.def("solve_triangular", [](nb::handle a, nb::handle b, int trans, bool lower, bool unit_diagonal) {
    return solve_triangular(v(a), v(b), trans, lower, unit_diagonal);
  }, nb::arg("a"), nb::arg("b"), nb::arg("trans") = 0, nb::arg("lower") = false, nb::arg("unit_diagonal") = false);
  m.def("cho_solve", [](nb::handle c, bool lower, nb::handle b) { return cho_solve(v(c), lower, v(b)); },
        nb::arg("c"), nb::arg("lower"), nb::arg("b"));
}

}  // namespace

void bind_linalg(nb::module_& m) {
  bind_diagonals(m);
  bind_nlinalg(m);
  bind_slinalg(m);
}

}  // namespace kiln::py
