// Linear algebra made of other ops (their gradients come with them): matrix_power, kron,
// matrix_dot, norm, the generalized symmetric eigenvalues of eigvalsh(a, b), and lstsq.
#include <cmath>
#include <limits>

#include "kiln/ops/blas.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/linalg.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "ops/linalg_impl.hpp"

namespace kiln {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The symmetric matrix whose `lower` (or upper) triangle a stores.
Var symmetric_from_triangle(const Var& a, bool lower) {
  return lower ? tril(a) + transpose(tril(a, -1)) : triu(a) + transpose(triu(a, 1));
}

// Drop the axes a keepdims reduction kept (size 1 statically) unless the caller keeps them.
Var drop_axes(const Var& x, const std::vector<int>& axes, bool keepdims) {
  if (keepdims) return x;
  std::vector<int> pattern;
  for (int i = 0; i < x->ndim(); ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) pattern.push_back(i);
  return dimshuffle(x, pattern);
}

Var frobenius(const Var& x, const std::vector<int>& axes) { return sqrt(sum(sqr(x), axes, true)); }

// numpy's vector norms along one axis (kept as size 1).
Var vector_norm(const Var& x, const NormOrd& ord, int axis) {
  const std::vector<int> axes{axis};
  KILN_USER_CHECK(ord.kind == NormOrd::Kind::Default || ord.kind == NormOrd::Kind::Number, ValueError)
      << "norm: order '" << (ord.kind == NormOrd::Kind::Fro ? "fro" : "nuc") << "' is for matrices, not vectors";
  const double p = ord.kind == NormOrd::Kind::Default ? 2.0 : ord.p;
  if (p == 2) return frobenius(x, axes);
  if (p == kInf) return max(abs(x), axes, true);
  if (p == -kInf) return min(abs(x), axes, true);
  if (p == 0) return cast(sum(neq(x, typed_constant(0, x->dtype())), axes, true), x->dtype());  // nonzero count
  if (p == 1) return sum(abs(x), axes, true);
  Var pc = typed_constant(p, x->dtype());
  return pow(sum(pow(abs(x), pc), axes, true), typed_constant(1.0 / p, x->dtype()));
}

// numpy's matrix norms over rows `r` and columns `c` (both kept as size 1).
Var matrix_norm(const Var& x, const NormOrd& ord, int r, int c) {
  const std::vector<int> both{std::min(r, c), std::max(r, c)};
  if (ord.kind == NormOrd::Kind::Default || ord.kind == NormOrd::Kind::Fro) return frobenius(x, both);
  auto singular_values = [&](const char* what) {
    KILN_USER_CHECK(x->ndim() == 2, NotImplementedError)
        << "norm: ord " << what << " of a tensor of " << x->ndim() << " dimensions (only matrices)";
    return svd(r < c ? x : transpose(x), false, false)[0];
  };
  auto keep_2d = [](const Var& scalar) { return dimshuffle(scalar, {-1, -1}); };
  if (ord.kind == NormOrd::Kind::Nuc) return keep_2d(sum(singular_values("'nuc'")));
  const double p = ord.p;
  if (p == 2) return keep_2d(max(singular_values("2")));
  if (p == -2) return keep_2d(min(singular_values("-2")));
  // Induced 1- and inf-norms: the largest (smallest for -1, -inf) absolute column / row sum.
  KILN_USER_CHECK(p == 1 || p == -1 || p == kInf || p == -kInf, ValueError)
      << "norm: invalid order " << p << " for matrices (expected None, 'fro', 'nuc', 1, -1, 2, -2, inf or -inf)";
  const bool columns = p == 1 || p == -1;
  Var sums = sum(abs(x), std::vector<int>{columns ? r : c}, true);
  const std::vector<int> other{columns ? c : r};
  return p > 0 ? max(sums, other, true) : min(sums, other, true);
}

}  // namespace

NormOrd NormOrd::named(const std::string& name) {
  if (name == "fro") return {Kind::Fro, 0};
  if (name == "nuc") return {Kind::Nuc, 0};
  KILN_THROW(ValueError) << "norm: invalid order '" << name << "' (expected 'fro', 'nuc' or a number)";
}

Var norm(const Var& x_in, const NormOrd& ord, const Axes& axis, bool keepdims) {
  Var x = linalg::as_float(x_in, "norm");
  const int nd = x->ndim();
  std::vector<int> axes;
  if (axis) {
    for (int a : *axis) axes.push_back(linalg::normalize_axis(a, nd, "norm"));
  } else if (ord.kind == NormOrd::Kind::Default) {  // the 2-norm of x flattened, any rank
    for (int i = 0; i < nd; ++i) axes.push_back(i);
    return drop_axes(frobenius(x, axes), axes, keepdims);
  } else {
    KILN_USER_CHECK(nd == 1 || nd == 2, ValueError)
        << "norm: with an order and no axis, x must be a vector or a matrix, got " << x->type().str();
    axes = nd == 1 ? std::vector<int>{0} : std::vector<int>{0, 1};
  }
  KILN_USER_CHECK(axes.size() == 1 || axes.size() == 2, ValueError)
      << "norm: axis must name one axis (a vector norm) or two (a matrix norm), got " << axes.size();
  KILN_USER_CHECK(axes.size() == 1 || axes[0] != axes[1], ValueError) << "norm: the two axes are the same axis " << axes[0];
  Var kept = axes.size() == 1 ? vector_norm(x, ord, axes[0]) : matrix_norm(x, ord, axes[0], axes[1]);
  return drop_axes(kept, axes, keepdims);
}

Var matrix_power(const Var& m, int64_t n) {
  KILN_USER_CHECK(m != nullptr, TypeError) << "matrix_power: null input";
  KILN_USER_CHECK(m->ndim() == 2, TypeError) << "matrix_power: input (" << m->label() << ") must be a matrix, got "
                                             << m->type().str();
  const auto& s = m->type().shape();
  KILN_USER_CHECK(s[0] == kUnknownDim || s[1] == kUnknownDim || s[0] == s[1], ValueError)
      << "matrix_power: input (" << m->label() << ") must be a square matrix, got static shape " << m->type().str();
  if (n == 0) return eye(shape_i(m, 0), nullptr, nullptr, m->dtype());
  Var base = n < 0 ? matrix_inverse(m) : m;
  uint64_t e = n < 0 ? -static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  Var result;
  for (; e; e >>= 1) {  // square-and-multiply: about 2 log2(n) products
    if (e & 1) result = result ? dot(result, base) : base;
    if (e > 1) base = dot(base, base);
  }
  return result;
}

Var kron(const Var& a, const Var& b) {
  KILN_USER_CHECK(a && b, TypeError) << "kron: null input";
  const int nd = std::max(a->ndim(), b->ndim());
  if (nd == 0) return a * b;
  // kron(a, b)[i * B + j] = a[i] b[j] on every axis: a gets a new axis after each of its axes and
  // b one before each, so their product has axes (a0, b0, a1, b1, ...), merged pairwise.
  std::vector<int> pa, pb;
  std::vector<Var> sizes;
  const int oa = nd - a->ndim(), ob = nd - b->ndim();  // leading axes of size 1 padded on
  for (int i = 0; i < nd; ++i) {
    pa.insert(pa.end(), {i < oa ? -1 : i - oa, -1});
    pb.insert(pb.end(), {-1, i < ob ? -1 : i - ob});
    Var sa = i < oa ? nullptr : shape_i(a, i - oa), sb = i < ob ? nullptr : shape_i(b, i - ob);
    sizes.push_back(sa && sb ? sa * sb : sa ? sa : sb);
  }
  return reshape(dimshuffle(a, pa) * dimshuffle(b, pb), sizes);
}

Var matrix_dot(const std::vector<Var>& factors) {
  KILN_USER_CHECK(!factors.empty(), ValueError) << "matrix_dot: needs at least one factor";
  Var result = factors[0];
  for (size_t i = 1; i < factors.size(); ++i) result = dot(result, factors[i]);
  return result;
}

// With b = L L^T: a v = w b v is the standard problem (L^-1 a L^-T) u = w u, u = L^T v.
Var eigvalsh(const Var& a, const Var& b, bool lower) {
  if (!b) return eigh(a, lower ? "L" : "U").first;
  Var fa = linalg::as_float(a, "eigvalsh"), fb = linalg::as_float(b, "eigvalsh");
  if (fa->dtype() != fb->dtype()) fa = cast(fa, DType::Float64), fb = cast(fb, DType::Float64);
  Var l = lower ? cholesky(fb, true) : transpose(cholesky(fb, false));
  Var half = solve_triangular(l, symmetric_from_triangle(fa, lower), 0, true);       // L^-1 a
  return eigh(solve_triangular(l, transpose(half), 0, true), "L").first;             // L^-1 a L^-T
}

// numpy.linalg.lstsq through the thin SVD a = U diag(s) V^T: x = V diag(1/s) U^T b over the singular
// values above rcond * max(s) (the others count as zero: the minimum-norm solution, as LAPACK's
// gelsd gives), rank = their number, and the squared residual norms of each column of b, returned
// (as numpy does) only when rank = columns < rows, else an empty vector. Gradients flow through the
// SVD; the reciprocal is taken of s where kept and of 1 elsewhere, so a zero singular value gives
// no 0 * inf in the gradient.
std::vector<Var> lstsq(const Var& a_in, const Var& b_in, std::optional<double> rcond) {
  Var a = linalg::as_float(a_in, "lstsq"), b = linalg::as_float(b_in, "lstsq");
  KILN_USER_CHECK(a->ndim() == 2, TypeError) << "lstsq: a must be a matrix, got " << a->ndim() << " dimensions";
  KILN_USER_CHECK(b->ndim() == 1 || b->ndim() == 2, TypeError)
      << "lstsq: b must be a vector or a matrix, got " << b->ndim() << " dimensions";
  if (a->dtype() != b->dtype()) a = cast(a, DType::Float64), b = cast(b, DType::Float64);
  const DType dt = a->dtype();
  const std::vector<Var> usv = svd(a, false, true);
  const Var &u = usv[0], &s = usv[1], &vt = usv[2];
  const Var rows = shape_i(a, 0), cols = shape_i(a, 1);
  const double eps = dt == DType::Float32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
  // numpy: rcond None means eps * max(rows, cols); a negative rcond (its old default) means eps.
  Var scale = !rcond ? eps * cast(switch_cond(gt(rows, cols), rows, cols), dt) : typed_constant(*rcond < 0 ? eps : *rcond, dt);
  Var keep = gt(s, scale * max(s, std::nullopt));
  Var s_inv = cast(keep, dt) / switch_cond(keep, s, typed_constant(1, dt));
  Var ub = dot(transpose(u), b);
  Var x = dot(transpose(vt), (b->ndim() == 1 ? s_inv : dimshuffle(s_inv, {0, -1})) * ub);
  Var rank = sum(cast(keep, DType::Int64));
  Var squared = sum(sqr(b - dot(a, x)), std::vector<int>{0});
  if (b->ndim() == 1) squared = dimshuffle(squared, {-1});
  Var full_rank = and_(eq(rank, cols), gt(rows, cols));
  Var residuals = advanced_subtensor1(squared, arange(shape_i(squared, 0) * cast(full_rank, DType::Int64)));
  return {x, residuals, rank, s};
}

}  // namespace kiln
