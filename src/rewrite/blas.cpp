// blas: a matrix product followed by a scale and an add becomes one Gemm call, as Theano's gemm
// optimizer does. BLAS computes beta * z + alpha * x.y in one pass over z, and the inplace phase
// then lets it accumulate straight into z (the SGD update W - lr * dot(a, b) never materialises
// the product).
//
//   z + dot(x, y)        -> gemm(z, 1, x, y, 1)        z - a * dot(x, y) -> gemm(z, -a, x, y, 1)
//   b * z + a * dot(x, y) -> gemm(z, a, x, y, b)       dot(x, y) - z     -> gemm(z, 1, x, y, -1)
//
// a and b are scalars (0-d, or all axes broadcastable). The product and its scale must have no
// other reader, or Gemm would compute the product a second time.
#include "kiln/ops/blas.hpp"
#include "kiln/ops/elemwise.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

bool is_scalar_like(const Var& v) {
  for (int64_t d : v->type().shape())
    if (d != 1) return false;
  return true;
}

// sign * scale (1 when scale is null) as a 0-d variable of dtype `dt`.
Var coefficient(const Var& scale, double sign, DType dt) {
  if (!scale) return typed_constant(sign, dt);
  if (scale->is_constant() && scale->constant_value().size() == 1)
    return typed_constant(sign * scale->constant_value().item_as_double(), dt);
  Var s = scale->ndim() == 0 ? scale : dimshuffle(scale, {});
  if (s->dtype() != dt) s = cast(s, dt);
  return sign < 0 ? neg(s) : s;
}

bool single_reader(const FunctionGraph& fg, const Var& v) { return fg.clients(v.get()).size() == 1; }

bool is_elemwise(const Apply* node, const char* kind) { return node && node->op().kind() == kind && node->inputs().size() == 2; }

// v = scale * w with a scalar-like `scale` (nullptr when v is not scaled: scale 1).
struct Scaled {
  Var scale;
  Var term;
};

Scaled split_scale(const FunctionGraph& fg, const Var& v) {
  const Apply* node = v->owner();
  if (is_elemwise(node, "Elemwise{mul}") && single_reader(fg, v))
    for (int i = 0; i < 2; ++i)
      if (is_scalar_like(node->input(i)) && !is_scalar_like(node->input(1 - i))) return {node->input(i), node->input(1 - i)};
  return {nullptr, v};
}

// The product x.y of two matrices of dtype `dt`, read only by its scale or the sum.
const Apply* matrix_product(const FunctionGraph& fg, const Var& v, DType dt) {
  const Apply* node = v->owner();
  if (!node || node->op().kind() != "Dot" || !single_reader(fg, v) || v->dtype() != dt) return nullptr;
  for (const Var& in : node->inputs())
    if (in->ndim() != 2 || in->dtype() != dt) return nullptr;
  return node;
}

// sign_z * z' + sign_p * product' where z' and product' may carry scalar scales.
std::optional<Var> gemm_from_terms(const FunctionGraph& fg, const Var& z_term, double sign_z, const Var& product_term,
                                   double sign_p, DType dt) {
  Scaled p = split_scale(fg, product_term);
  const Apply* dot_node = matrix_product(fg, p.term, dt);
  if (!dot_node) return std::nullopt;
  Scaled z = split_scale(fg, z_term);
  if (z.term->ndim() != 2 || z.term->dtype() != dt) z = {nullptr, z_term};
  if (z.term->ndim() != 2 || z.term->dtype() != dt) return std::nullopt;
  return gemm(z.term, coefficient(p.scale, sign_p, dt), dot_node->input(0), dot_node->input(1),
              coefficient(z.scale, sign_z, dt));
}

std::optional<std::vector<Var>> add_of_product_to_gemm(const FunctionGraph& fg, const Apply& node) {
  const bool is_sub = node.op().kind() == "Elemwise{sub}";
  const Var& out = node.output(0);
  if (node.inputs().size() != 2 || out->ndim() != 2 || (out->dtype() != DType::Float32 && out->dtype() != DType::Float64))
    return std::nullopt;
  const Var &a = node.input(0), &b = node.input(1);
  // a + b: either side may be the product; a - b: the product is b (alpha negated) or a (beta negated).
  if (auto g = gemm_from_terms(fg, a, 1, b, is_sub ? -1 : 1, out->dtype())) return std::vector<Var>{*g};
  if (auto g = gemm_from_terms(fg, b, is_sub ? -1 : 1, a, 1, out->dtype())) return std::vector<Var>{*g};
  return std::nullopt;
}

}  // namespace

void register_blas_rewrites(RewriteDatabase& db) {
  db.add("specialize", {"gemm_from_add", {"fast_run", "blas"},
                        node_rewriter({"Elemwise{add}", "Elemwise{sub}"}, &add_of_product_to_gemm)});
}

}  // namespace kiln::detail
