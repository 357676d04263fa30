// Linear algebra: diagonals and triangles, the numpy.linalg family (Theano's nlinalg: inverse,
// det, slogdet, eig, eigh, svd, qr, pinv, norm, ...) and the scipy.linalg family (Theano's
// slinalg: cholesky, solve and its structured variants).
//
// The decompositions and solvers run LAPACK (OpenBLAS's, through LAPACKE) on float32 and float64
// matrices, with the s/d routine of the input's dtype. Builders convert integer and bool inputs to
// float64 first, as numpy does; the ops themselves accept float32/float64 only. Inputs are
// matrices (2-d), except where a builder says otherwise; a wrong rank raises TypeError naming the
// op and the input, and a matrix that must be square but is not raises ValueError (at build time
// when the static shape shows it, else when the function runs).
//
// Values on which a routine has no answer raise kiln's LinAlgError (numpy.linalg.LinAlgError in
// Python, a ValueError) naming the op and the problem: inverting or solving with a singular
// matrix, the Cholesky factor of a matrix that is not positive definite, an eigen/singular value
// iteration that did not converge or got NaN/inf input. det of a singular matrix is 0 and slogdet
// gives (0, -inf), as in numpy.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kiln/graph/graph.hpp"
#include "kiln/ops/reduce.hpp"

namespace kiln {

// ---------------------------------------------------------------- diagonals and triangles

/// numpy.diagonal: the diagonal `offset` (> 0: above the main one) of the matrices that axes
/// `axis1` and `axis2` of x span; that axis is removed and the diagonal appended last. Any dtype.
/// Raises ValueError for equal or out-of-range axes, TypeError for x of fewer than 2 dimensions.
Var extract_diag(const Var& x, int64_t offset = 0, int axis1 = 0, int axis2 = 1);
/// A square matrix (n + |offset|)^2 with the vector v on diagonal `offset` and zeros elsewhere;
/// for v of more dimensions, one such matrix per vector of its last axis. Any dtype.
Var alloc_diag(const Var& v, int64_t offset = 0);
/// numpy.diag: alloc_diag of a vector, extract_diag of a matrix; ValueError for other ranks.
Var diag(const Var& v, int64_t k = 0);
/// The sum of the diagonal `offset` of the matrices axes axis1/axis2 span (numpy.trace).
Var trace(const Var& x, int64_t offset = 0, int axis1 = 0, int axis2 = 1);
/// x with the elements above diagonal k (tril) / below diagonal k (triu) of its last two axes set
/// to zero (numpy.tril/triu). Requires at least 2 dimensions.
Var tril(const Var& x, int64_t k = 0);
Var triu(const Var& x, int64_t k = 0);

// ---------------------------------------------------------------- nlinalg (numpy.linalg)

/// The inverse of a square matrix (LU factorisation). LinAlgError when it is singular.
Var matrix_inverse(const Var& a);
/// The determinant of a square matrix (LU factorisation); 0 for a singular matrix.
Var det(const Var& a);
/// (sign, log|det|) of a square matrix; (0, -inf) for a singular one. Only log|det| has a gradient.
std::pair<Var, Var> slogdet(const Var& a);
/// Eigenvalues and right eigenvectors (columns) of a square matrix, as numpy.linalg.eig. kiln has
/// no complex dtype: a matrix with complex eigenvalues raises LinAlgError at run time (use eigh
/// for symmetric matrices). No gradient, as in Theano.
std::pair<Var, Var> eig(const Var& a);
/// Eigenvalues (ascending) and orthonormal eigenvectors (columns) of a symmetric matrix, of which
/// only the lower (UPLO "L") or upper ("U") triangle is read. Gradients flow through both outputs;
/// the gradient of the eigenvectors needs distinct eigenvalues.
std::pair<Var, Var> eigh(const Var& a, const std::string& UPLO = "L");
/// The eigenvalues of eigh(a), or with b (symmetric positive definite) the generalized ones of
/// a v = w b v. The lower (or upper) triangles of a and b are read.
Var eigvalsh(const Var& a, const Var& b = nullptr, bool lower = true);
/// Singular value decomposition a = U diag(s) Vt (numpy.linalg.svd): returns {U, s, Vt}, or {s}
/// without compute_uv. U and Vt are square (full_matrices) or have min(m, n) columns/rows.
/// Gradients: s always; U and Vt for full_matrices=false, or square a.
std::vector<Var> svd(const Var& a, bool full_matrices = true, bool compute_uv = true);
/// QR decomposition (numpy.linalg.qr): mode "reduced" gives {Q (m, k), R (k, n)}, "complete"
/// {Q (m, m), R (m, n)}, "r" {R (k, n)}, k = min(m, n). Gradients flow through Q and R (for
/// "complete" with m > n only when Q's gradient is zero; otherwise ValueError at run time).
std::vector<Var> qr(const Var& a, const std::string& mode = "reduced");
/// The Moore-Penrose pseudo-inverse (numpy.linalg.pinv: singular values below 1e-15 times the
/// largest are treated as zero). Its gradient assumes a has full rank, as Theano's does.
Var pinv(const Var& a);
/// numpy.linalg.lstsq: (x minimising |a x - b| with the least norm, the squared residual norm of
/// each column of b (an empty vector unless rank = columns < rows), the rank, a's singular values).
/// Singular values up to rcond times the largest count as zero; rcond unset: eps * max(rows,
/// columns), negative: eps. b is a vector or a matrix; x and the residuals are differentiable.
std::vector<Var> lstsq(const Var& a, const Var& b, std::optional<double> rcond = std::nullopt);
/// m to the integer power n by repeated squaring; n = 0 gives the identity, n < 0 the power of
/// the inverse (numpy.linalg.matrix_power).
Var matrix_power(const Var& m, int64_t n);
/// The Kronecker product (numpy.kron) of two tensors; the one of fewer dimensions is padded with
/// leading axes of size 1.
Var kron(const Var& a, const Var& b);
/// dot(dot(a, b), c)... of the factors, left to right (Theano's matrix_dot).
Var matrix_dot(const std::vector<Var>& factors);

/// The `ord` of numpy.linalg.norm: the default (2-norm of a vector, Frobenius of a matrix), a
/// number p (±inf included), "fro" or "nuc".
struct NormOrd {
  enum class Kind { Default, Number, Fro, Nuc };
  Kind kind = Kind::Default;
  double p = 0;
  static NormOrd number(double p) { return {Kind::Number, p}; }
  /// "fro" or "nuc"; ValueError for another name.
  static NormOrd named(const std::string& name);
};
/// numpy.linalg.norm: a vector norm over one axis, or a matrix norm over two (axis std::nullopt:
/// all axes of a vector or a matrix). Matrix ord 2, -2 and "nuc" use the singular values (2-d x
/// only). Raises ValueError for an ord the rank does not support.
Var norm(const Var& x, const NormOrd& ord = {}, const Axes& axis = std::nullopt, bool keepdims = false);

// ---------------------------------------------------------------- slinalg (scipy.linalg)

/// The Cholesky factor of a symmetric positive definite matrix: lower L with a = L L^T, or upper
/// U with a = U^T U; only that triangle of a is read. LinAlgError when a is not positive definite.
Var cholesky(const Var& a, bool lower = true);
/// The matrix exponential of a square matrix (scipy.linalg.expm): scaling and squaring with Padé
/// approximants, computed in double. Differentiable (once). LinAlgError for NaN or infinite entries.
Var expm(const Var& a);
/// x with a x = b (scipy.linalg.solve), b a vector or a matrix of right-hand sides. assume_a:
/// "gen" (LU), "sym"/"her" (symmetric indefinite, Bunch-Kaufman) or "pos" (positive definite,
/// Cholesky); for the last two only the lower or upper triangle of a is read. LinAlgError when a
/// is singular (or, for "pos", not positive definite).
Var solve(const Var& a, const Var& b, const std::string& assume_a = "gen", bool lower = false);
/// x with op(a) x = b for triangular a (only that triangle is read): trans 0 (a), 1 (a^T);
/// unit_diagonal assumes ones on the diagonal without reading it. LinAlgError for a zero on the
/// diagonal.
Var solve_triangular(const Var& a, const Var& b, int trans = 0, bool lower = false, bool unit_diagonal = false);
/// x with (c c^T) x = b for lower c, (c^T c) x = b for upper c: solve with a Cholesky factor
/// (scipy.linalg.cho_solve((c, lower), b)).
Var cho_solve(const Var& c, bool lower, const Var& b);

}  // namespace kiln
