// The shape rewrites: sizes come from each op's infer_shape, so x.shape and arithmetic on it are
// computed from the inputs' shapes and never force x itself to be computed.
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

// Whether the graph needs x for more than its shape.
bool value_needed(const FunctionGraph& fg, const Var& x) {
  for (const auto& c : fg.clients(x.get()))
    if (!c.node || (c.node->op().kind() != "Shape_i" && c.node->op().kind() != "Shape")) return true;
  return false;
}

// Whether a size expression costs no more than the Shape_i it would replace.
bool cheap_size(const Var& d) {
  return !d->owner() || d->owner()->op().kind() == "Shape_i";
}

// Shape_i(x) -> the size x's op infers from its inputs' shapes. Worth it when x is then not
// computed at all, or when the inferred size is itself a constant or another Shape_i.
std::optional<std::vector<Var>> shape_i_from_inputs(const FunctionGraph& fg, const Apply& node) {
  auto axis = shape_i_axis(node);
  const Var& x = node.input(0);
  const Apply* owner = x->owner();
  if (!axis || !owner) return std::nullopt;
  std::vector<std::vector<Var>> in_shapes;
  for (const Var& in : owner->inputs()) in_shapes.push_back(shape_list(in));
  std::vector<std::vector<Var>> out = owner->op().infer_shape(*owner, in_shapes);
  if (out.size() <= static_cast<size_t>(x->index())) return std::nullopt;
  const auto& dims = out[x->index()];
  if (dims.size() != static_cast<size_t>(x->ndim()) || !dims[*axis]) return std::nullopt;
  Var d = dims[*axis];
  if (d->ndim() != 0 || !is_discrete(d->dtype())) return std::nullopt;
  if (!cheap_size(d) && value_needed(fg, x)) return std::nullopt;
  return std::vector<Var>{d->dtype() == DType::Int64 ? d : cast(d, DType::Int64)};
}

// Shape(x) -> make_vector(Shape_i(x, 0), ...): each size can then be inferred on its own.
std::optional<std::vector<Var>> shape_to_sizes(const FunctionGraph&, const Apply& node) {
  const Var& x = node.input(0);
  if (x->ndim() == 0) return std::nullopt;
  return std::vector<Var>{make_vector(shape_list(x), DType::Int64)};
}

// make_vector(a, b, c)[1] -> b
std::optional<std::vector<Var>> index_into_make_vector(const FunctionGraph&, const Apply& node) {
  auto i = literal_index(node);
  const Apply* vec = node.input(0)->owner();
  if (!i || !vec || vec->op().kind() != "MakeVector") return std::nullopt;
  const int64_t n = static_cast<int64_t>(vec->inputs().size());
  const int64_t k = *i < 0 ? *i + n : *i;
  if (k < 0 || k >= n) return std::nullopt;  // out of range: the run-time IndexError stays
  const Var& entry = vec->input(static_cast<int>(k));
  return std::vector<Var>{entry->dtype() == node.output_ptr(0)->dtype() ? entry : cast(entry, node.output_ptr(0)->dtype())};
}

}  // namespace

void register_shape_rewrites(RewriteDatabase& db) {
  const std::set<std::string> tags{"fast_run", "fast_compile", "shape"};
  db.add("canonicalize", {"shape_to_sizes", tags, node_rewriter({"Shape"}, &shape_to_sizes)});
  db.add("canonicalize", {"shape_i_from_inputs", tags, node_rewriter({"Shape_i"}, &shape_i_from_inputs)});
  db.add("canonicalize", {"index_into_make_vector", tags, node_rewriter({"Subtensor"}, &index_into_make_vector)});
}

}  // namespace kiln::detail
