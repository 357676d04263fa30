// Expm: the matrix exponential (scipy.linalg.expm), and ExpmGrad, its gradient.
//
// The kernel is Higham's scaling and squaring with Padé approximants (Higham 2005, "The scaling
// and squaring method for the matrix exponential revisited", Algorithm 2.3, the method of
// scipy.linalg.expm): the lowest degree m in {3, 5, 7, 9} whose bound theta_m covers the 1-norm of
// A, else degree 13 on A / 2^s with s chosen so that |A / 2^s|_1 <= theta_13, squared s times.
// The approximant r_m(A) = (V - U)^-1 (V + U), with U the odd and V the even part of the Padé
// numerator, costs a few matrix products and one LU solve. float32 inputs are computed in
// double and rounded once at the end: the theta bounds are for double's unit roundoff.
//
// Gradient: for f(A) = expm(A), the cotangent of A is the Fréchet derivative L(A^T, G) of expm at
// A^T in the direction G, which is the upper-right block of expm([[A^T, G], [0, A^T]]) (Higham,
// "Functions of Matrices", 3.2): ExpmGrad(A, G) evaluates that block with the same kernel.
// Forward mode is L(A, dA) = ExpmGrad(A^T, dA). ExpmGrad itself is not differentiated (second
// derivatives of expm raise, naming it).
#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/linalg.hpp"
#include "ops/linalg_impl.hpp"

namespace kiln {
namespace {

using namespace linalg;
using Matrix = std::vector<double>;  // n x n, row-major

// c = a . b
void matmul(int64_t n, const Matrix& a, const Matrix& b, Matrix& c) {
  c.resize(n * n);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a.data(), n, b.data(), n, 0.0, c.data(), n);
}

// sum_k coefficient[k] * term[k], plus identity * diagonal.
Matrix combine(int64_t n, const std::vector<std::pair<double, const Matrix*>>& terms, double diagonal) {
  Matrix out(n * n, 0.0);
  for (const auto& [c, m] : terms)
    for (int64_t i = 0; i < n * n; ++i) out[i] += c * (*m)[i];
  for (int64_t i = 0; i < n; ++i) out[i * n + i] += diagonal;
  return out;
}

double one_norm(int64_t n, const Matrix& a) {
  double best = 0;
  for (int64_t j = 0; j < n; ++j) {
    double column = 0;
    for (int64_t i = 0; i < n; ++i) column += std::abs(a[i * n + j]);
    best = std::max(best, column);
  }
  return best;
}

// The Padé numerator coefficients b_0..b_m (Higham 2005, table 10.4 of "Functions of Matrices").
const std::vector<double>& pade_coefficients(int m) {
  static const std::vector<double> b3 = {120, 60, 12, 1}, b5 = {30240, 15120, 3360, 420, 30, 1},
                                   b7 = {17297280, 8648640, 1995840, 277200, 25200, 1512, 56, 1},
                                   b9 = {17643225600., 8821612800., 2075673600., 302702400., 30270240.,
                                         2162160.,     110880.,     3960.,       90.,         1.},
                                   b13 = {64764752532480000., 32382376266240000., 7771770303897600.,
                                          1187353796428800.,  129060195264000.,   10559470521600.,
                                          670442572800.,      33522128640.,       1323241920.,
                                          40840800.,          960960.,            16380.,
                                          182.,               1.};
  switch (m) {
    case 3: return b3;
    case 5: return b5;
    case 7: return b7;
    case 9: return b9;
    default: return b13;
  }
}

// (U, V) of the degree-m approximant of expm(a).
std::pair<Matrix, Matrix> pade_parts(int64_t n, const Matrix& a, int m) {
  const std::vector<double>& b = pade_coefficients(m);
  Matrix a2, a4, a6, u, tmp;
  matmul(n, a, a, a2);
  matmul(n, a2, a2, a4);
  matmul(n, a4, a2, a6);
  if (m == 13) {
    // U = A [A6 (b13 A6 + b11 A4 + b9 A2) + b7 A6 + b5 A4 + b3 A2 + b1 I]
    // V = A6 (b12 A6 + b10 A4 + b8 A2) + b6 A6 + b4 A4 + b2 A2 + b0 I
    matmul(n, a6, combine(n, {{b[13], &a6}, {b[11], &a4}, {b[9], &a2}}, 0), tmp);
    matmul(n, a, combine(n, {{1, &tmp}, {b[7], &a6}, {b[5], &a4}, {b[3], &a2}}, b[1]), u);
    matmul(n, a6, combine(n, {{b[12], &a6}, {b[10], &a4}, {b[8], &a2}}, 0), tmp);
    return {u, combine(n, {{1, &tmp}, {b[6], &a6}, {b[4], &a4}, {b[2], &a2}}, b[0])};
  }
  // Degrees 3..9: U = A sum_k b[2k+1] A^(2k), V = sum_k b[2k] A^(2k), with A^8 = A4 A4 for m = 9.
  Matrix a8;
  if (m == 9) matmul(n, a4, a4, a8);
  const Matrix* even[] = {&a2, &a4, &a6, &a8};
  std::vector<std::pair<double, const Matrix*>> odd_terms, even_terms;
  for (int k = 1; 2 * k <= m; ++k) {
    odd_terms.push_back({b[2 * k + 1], even[k - 1]});
    even_terms.push_back({b[2 * k], even[k - 1]});
  }
  matmul(n, a, combine(n, odd_terms, b[1]), u);
  return {u, combine(n, even_terms, b[0])};
}

// expm(a) of an n x n row-major matrix with finite entries.
Matrix expm_kernel(const std::string& op, int64_t n, Matrix a) {
  if (n == 0) return a;
  static const int degrees[] = {3, 5, 7, 9};
  static const double theta[] = {1.495585217958292e-2, 2.539398330063230e-1, 9.504178996162932e-1,
                                 2.097847961257068e0};
  constexpr double theta13 = 5.371920351148152e0;
  const double norm = one_norm(n, a);
  int m = 13, squarings = 0;
  for (int i = 0; i < 4 && m == 13; ++i)
    if (norm <= theta[i]) m = degrees[i];
  if (m == 13 && norm > theta13) {
    squarings = static_cast<int>(std::ceil(std::log2(norm / theta13)));
    const double scale = std::ldexp(1.0, -squarings);
    for (double& e : a) e *= scale;
  }
  auto [u, v] = pade_parts(n, a, m);
  Matrix p = combine(n, {{1, &v}, {-1, &u}}, 0), x = combine(n, {{1, &v}, {1, &u}}, 0);
  std::vector<lapack_int> ipiv(n);
  const lapack_int size = lapack_size(op, n);
  const lapack_int info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, size, size, p.data(), size, ipiv.data(), x.data(), size);
  check_lapack_arguments("gesv", info);
  // V - U is the Padé denominator q_m(A), well conditioned for |A|_1 <= theta_m (Higham 2005,
  // section 2); an exactly singular one can only come from entries that overflowed.
  KILN_USER_CHECK(info == 0, LinAlgError) << op << ": the Padé denominator is singular (entries too large)";
  Matrix sq;
  for (int i = 0; i < squarings; ++i) {
    matmul(n, x, x, sq);
    x.swap(sq);
  }
  return x;
}

Matrix to_matrix(const Array& a) {
  const Array d = a.astype(DType::Float64);
  return Matrix(d.data_as<double>(), d.data_as<double>() + d.size());
}

Array from_matrix(const Matrix& m, DType dt, int64_t n) {
  Array out = Array::empty(DType::Float64, {n, n});
  std::copy(m.begin(), m.end(), out.data_as<double>());
  return dt == DType::Float64 ? out : out.astype(dt);
}

class Expm final : public Op {
 public:
  std::string name() const override { return "Expm"; }
  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    KILN_USER_CHECK(in.size() == 1, TypeError) << name() << " takes one input, got " << in.size();
    check_input(name(), in, 0, 2, "A");
    check_static_square(name(), in, 0, "A");
    const auto& s = in[0]->type().shape();
    const int64_t n = s[0] != kUnknownDim ? s[0] : s[1];
    return {TensorType(in[0]->dtype(), {n, n})};
  }
  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {in[0]};
  }
  std::vector<Var> L_op(const Apply& node, const std::vector<Var>& gz) const override {
    return {expm_grad(node.input(0), gz[0])};
  }
  // d expm(A) = L(A, dA), which is ExpmGrad(A^T, dA).
  std::vector<Var> R_op(const Apply& node, const std::vector<Var>& ev) const override {
    if (!ev[0]) return {nullptr};
    const Var& a = node.input(0);
    return {expm_grad(transpose(a), ev[0]->dtype() == a->dtype() ? ev[0] : cast(ev[0], a->dtype()))};
  }
  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    check_square(name(), in[0], "A");
    check_finite(name(), in[0], "A");
    const int64_t n = in[0].shape()[0];
    out[0] = from_matrix(expm_kernel(name(), n, to_matrix(in[0])), node.output_ptr(0)->dtype(), n);
  }

 private:
  static Var expm_grad(const Var& a, const Var& g);
};

// ExpmGrad(A, G) = L(A^T, G), the upper-right n x n block of expm([[A^T, G], [0, A^T]]).
class ExpmGrad final : public Op {
 public:
  std::string name() const override { return "ExpmGrad"; }
  std::vector<TensorType> make_outputs(const std::vector<Var>& in) const override {
    KILN_USER_CHECK(in.size() == 2, TypeError) << name() << " takes two inputs, got " << in.size();
    check_input(name(), in, 0, 2, "A");
    check_input(name(), in, 1, 2, "G");
    return {in[0]->type()};
  }
  std::vector<std::vector<Var>> infer_shape(const Apply&, const std::vector<std::vector<Var>>& in) const override {
    return {in[0]};
  }
  void perform(const Apply& node, std::span<const Array> in, std::span<Array> out) const override {
    check_square(name(), in[0], "A");
    const int64_t n = in[0].shape()[0];
    KILN_USER_CHECK(in[1].ndim() == 2 && in[1].shape()[0] == n && in[1].shape()[1] == n, ValueError)
        << name() << ": the gradient G has shape " << shape_str(in[1].shape()) << ", expected (" << n << ", " << n
        << ")";
    check_finite(name(), in[0], "A");
    check_finite(name(), in[1], "G");
    const Matrix a = to_matrix(in[0]), g = to_matrix(in[1]);
    Matrix block(4 * n * n, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        block[i * 2 * n + j] = block[(n + i) * 2 * n + n + j] = a[j * n + i];  // A^T on the diagonal blocks
        block[i * 2 * n + n + j] = g[i * n + j];
      }
    const Matrix e = expm_kernel(name(), 2 * n, std::move(block));
    Matrix corner(n * n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) corner[i * n + j] = e[i * 2 * n + n + j];
    out[0] = from_matrix(corner, node.output_ptr(0)->dtype(), n);
  }
};

Var Expm::expm_grad(const Var& a, const Var& g) {
  static const OpPtr op = std::make_shared<ExpmGrad>();
  return make_node1(op, {a, g});
}

KILN_REGISTER_OP_KINDS({{"Expm", true}, {"ExpmGrad", false}});

}  // namespace

Var expm(const Var& a) {
  static const OpPtr op = std::make_shared<Expm>();
  return make_node1(op, {linalg::as_float(a, "expm")});
}

}  // namespace kiln
