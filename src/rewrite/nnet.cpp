// nnet: softmax cross-entropy graphs become Theano's fused ops, whose values and gradients stay
// finite for any logits. Written in the stabilize phase: they are stability rewrites (the naive
// gradient divides by a probability that rounds to 0 for logits ~1e3 and gives NaN), and they
// must claim x + b before the blas rewrites of specialize turn it into a Gemm.
//
// With sm = softmax(x + b) over the rows of a matrix (b optional), y integer labels and
// rows = arange(n) for the n rows:
//   log(softmax(z))                                   -> log_softmax(z)
//   crossentropy_categorical_1hot(sm, y)              -> xent(x, b, y).nll
//   log_softmax(x + b)[rows, y]                        -> -xent(x, b, y).nll
//   log(sm[rows, y])                                   -> -xent(x, b, y).nll
//   softmax_grad(crossentropy_categorical_1hot_grad(g, p, y), p)  -> dx(g, p, y)
//   softmax_grad(inc(zeros, v)[rows, y] / p, p)        -> dx(-v, p, y)
//   softmax_grad(inc(zeros, v / p[rows, y])[rows, y], p) -> dx(-v, p, y)
//   log_softmax_grad(inc(zeros, v)[rows, y], log_softmax(z)) -> dx(-v, softmax(z), y)
//   softmax(x + b) where xent(x, b, y) is computed     -> xent(x, b, y).softmax
//   softmax(x + b)                                     -> softmax_with_bias(x, b)
//   argmax(softmax(z)), argmax(log_softmax(z))        -> argmax(z)
//   argmax(softmax_with_bias(x, b))                    -> argmax(x + b)
// where xent is crossentropy_softmax_argmax_1hot_with_bias and dx is
// crossentropy_softmax_1hot_with_bias_dx (dx(g, p, y) = g[:, None] * (p - onehot(y))). The
// gradient rules are algebra that holds for any p, so they need not see where p comes from.
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/nnet.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "rewrite/passes.hpp"

namespace kiln::detail {
namespace {

const Apply* owner_of(const Var& v, const char* kind) {
  const Apply* node = v ? v->owner() : nullptr;
  return node && node->op().kind() == kind ? node : nullptr;
}

bool is_label_vector(const Var& v) { return v->ndim() == 1 && is_integer(v->dtype()); }

// A softmax-family node over the rows of a matrix (axis 1).
bool over_rows(const Apply& node) { return softmax_axis(node) == 1 && node.input(0)->ndim() == 2; }

// The logits of a softmax over rows, split as x + b with b one entry per column (null: no bias).
struct Logits {
  Var x, b;
};

// z as x + b where one term is a row broadcast along the rows (a bias vector b).
Logits split_bias(const Var& z) {
  const Apply* add = owner_of(z, "Elemwise{add}");
  if (!add || add->inputs().size() != 2) return {z, nullptr};
  for (int i = 0; i < 2; ++i) {
    const Var &row = add->input(i), &x = add->input(1 - i);
    if (row->ndim() != 2 || row->type().shape()[0] != 1 || row->dtype() != z->dtype()) continue;
    if (x->ndim() != 2 || x->dtype() != z->dtype() || x->type().shape()[0] != z->type().shape()[0]) continue;
    const Apply* ds = row->owner();
    auto pattern = ds ? dimshuffle_pattern(*ds) : std::nullopt;
    Var b = pattern && *pattern == std::vector<int>{-1, 0} ? ds->input(0) : dimshuffle(row, {1});
    return {x, b};
  }
  return {z, nullptr};
}

// The logits of sm when sm is a softmax over rows (Softmax or SoftmaxWithBias).
std::optional<Logits> softmax_logits(const Var& sm) {
  if (const Apply* node = owner_of(sm, "SoftmaxWithBias")) return Logits{node->input(0), node->input(1)};
  const Apply* node = owner_of(sm, "Softmax");
  if (!node || !over_rows(*node)) return std::nullopt;
  return split_bias(node->input(0));
}

// The logits of a log_softmax over rows.
std::optional<Logits> log_softmax_logits(const Var& ls) {
  const Apply* node = owner_of(ls, "LogSoftmax");
  if (!node || !over_rows(*node)) return std::nullopt;
  return split_bias(node->input(0));
}

// The fused op on the logits: (nll, softmax, argmax).
std::vector<Var> xent(const Logits& z, const Var& y) {
  return z.b ? crossentropy_softmax_argmax_1hot_with_bias(z.x, z.b, y) : crossentropy_softmax_1hot(z.x, y);
}

// The variable the row count of `m` comes from: infer_shape is followed while it says "the rows of
// that input" (the walk shape_i_from_inputs does one step at a time), so two matrices with one
// source have the same number of rows.
const Variable* row_source(Var m) {
  for (int step = 0; step < 64 && m->owner(); ++step) {
    const Apply* owner = m->owner();
    std::vector<std::vector<Var>> in_shapes;
    for (const Var& in : owner->inputs()) in_shapes.push_back(shape_list(in));
    const auto out = owner->op().infer_shape(*owner, in_shapes);
    const size_t i = static_cast<size_t>(m->index());
    if (out.size() <= i || out[i].empty() || !out[i][0] || !out[i][0]->owner()) break;
    const Apply* size = out[i][0]->owner();
    if (shape_i_axis(*size) != 0) break;
    m = size->input(0);
  }
  return m.get();
}

// Whether `rows` is arange(0, n, 1) where n is the length of the labels or the number of rows of
// `matrix`. (The fused ops check at run time that there is one label per row: a ValueError naming
// both where the graph as written would have indexed fewer rows than the matrix has.)
bool is_row_range(const Var& rows, const Var& labels, const Var& matrix) {
  const Apply* range = owner_of(rows, "ARange");
  if (!range || !is_constant_value(range->input(0), 0) || !is_constant_value(range->input(2), 1)) return false;
  const Apply* size = range->input(1)->owner();
  if (!size || shape_i_axis(*size) != 0) return false;
  const Var& of = size->input(0);
  return of == labels || row_source(of) == row_source(matrix);
}

// m[rows, y] on a matrix with one label per row: the matrix and the labels.
struct Picked {
  Var matrix, labels;
};

std::optional<Picked> picked_per_row(const Var& v) {
  const Apply* node = owner_of(v, "AdvancedSubtensor");
  if (!node || node->inputs().size() != 3 || node->input(0)->ndim() != 2) return std::nullopt;
  const Var &m = node->input(0), &y = node->input(2);
  if (!is_label_vector(y) || !is_row_range(node->input(1), y, m)) return std::nullopt;
  return Picked{m, y};
}

// ---------------------------------------------------------------- forward rules

// log(softmax(z)) -> log_softmax(z); log(softmax_with_bias(x, b)) -> log_softmax(x + b)
std::optional<std::vector<Var>> log_of_softmax(const FunctionGraph&, const Apply& node) {
  const Var& p = node.input(0);
  if (const Apply* sm = owner_of(p, "Softmax")) {
    const int axis = *softmax_axis(*sm);
    return std::vector<Var>{log_softmax(sm->input(0), axis == -1 ? std::nullopt : std::optional<int>(axis))};
  }
  if (const Apply* sm = owner_of(p, "SoftmaxWithBias"))
    return std::vector<Var>{log_softmax(sm->input(0) + dimshuffle(sm->input(1), {-1, 0}))};
  return std::nullopt;
}

// crossentropy_categorical_1hot(softmax(x + b), y) -> nll
std::optional<std::vector<Var>> crossentropy_of_softmax(const FunctionGraph&, const Apply& node) {
  auto z = softmax_logits(node.input(0));
  if (!z) return std::nullopt;
  return std::vector<Var>{xent(*z, node.input(1))[0]};
}

// -nll for v = m[rows, y] when `logits` finds the logits of m.
std::optional<std::vector<Var>> minus_nll(const Var& v, std::optional<Logits> (*logits)(const Var&)) {
  auto picked = picked_per_row(v);
  auto z = picked ? logits(picked->matrix) : std::nullopt;
  if (!z) return std::nullopt;
  return std::vector<Var>{-xent(*z, picked->labels)[0]};
}

// log_softmax(x + b)[rows, y] -> -nll
std::optional<std::vector<Var>> picked_log_softmax(const FunctionGraph&, const Apply& node) {
  return minus_nll(node.output(0), &log_softmax_logits);
}

// log(softmax(x + b)[rows, y]) -> -nll
std::optional<std::vector<Var>> log_of_picked_softmax(const FunctionGraph&, const Apply& node) {
  return minus_nll(node.input(0), &softmax_logits);
}

// softmax(x + b) -> the softmax output of a fused op on the same logits, so that the gradient
// graph reads the softmax the forward pass computed once.
std::optional<std::vector<Var>> softmax_from_xent(const FunctionGraph& fg, const Apply& node) {
  if (node.op().kind() == "Softmax" && !over_rows(node)) return std::nullopt;
  auto z = softmax_logits(node.output(0));
  if (!z) return std::nullopt;
  for (const auto& client : fg.clients(z->x.get())) {
    const Apply* other = client.node;
    if (!other || other->op().kind() != "CrossentropySoftmaxArgmax1HotWithBias" || other->input(0) != z->x) continue;
    const Var& b = other->input(1);
    if (z->b ? b == z->b : is_known_zeros(b)) return std::vector<Var>{other->output(1)};
  }
  return std::nullopt;
}

// softmax(x + b) -> softmax_with_bias(x, b): the bias is added inside the row kernel.
std::optional<std::vector<Var>> softmax_of_biased(const FunctionGraph&, const Apply& node) {
  if (!over_rows(node)) return std::nullopt;
  Logits z = split_bias(node.input(0));
  if (!z.b) return std::nullopt;
  return std::vector<Var>{softmax_with_bias(z.x, z.b)};
}

// argmax(softmax(z)) -> argmax(z), and the same for log_softmax and softmax_with_bias: along its
// axis a softmax is a strictly increasing function of the logits (exp(z - c) / s with c and s
// shared by the slice), so the argmax along that axis, or along any axes when the softmax is over
// all of them, is the logits' one; computed on z, it skips the exps and the sums.
std::optional<std::vector<Var>> argmax_of_softmax(const FunctionGraph&, const Apply& node) {
  const std::vector<int> axes = *arg_reduce_axes(node);
  const Apply* sm = owner_of(node.input(0), "Softmax");
  if (!sm) sm = owner_of(node.input(0), "LogSoftmax");
  if (sm) {
    const int axis = *softmax_axis(*sm);
    if (axis != -1 && axes != std::vector<int>{axis}) return std::nullopt;
    return node.clone_with_new_inputs({sm->input(0)})->outputs();
  }
  sm = owner_of(node.input(0), "SoftmaxWithBias");
  if (!sm || axes != std::vector<int>{1}) return std::nullopt;
  return node.clone_with_new_inputs({sm->input(0) + dimshuffle(sm->input(1), {-1, 0})})->outputs();
}

// ---------------------------------------------------------------- gradient rules

// inc(zeros, values)[rows, y] with one label y per row of the matrix `like`.
struct OneHot {
  Var values, labels;
};

std::optional<OneHot> one_hot(const Var& scattered, const Var& like) {
  const Apply* inc = owner_of(scattered, "AdvancedIncSubtensor");
  if (!inc || inc->inputs().size() != 4 || !is_known_zeros(inc->input(0))) return std::nullopt;
  const Var &rows = inc->input(2), &y = inc->input(3);
  if (!is_label_vector(y) || !is_row_range(rows, y, like)) return std::nullopt;
  return OneHot{inc->input(1), y};
}

// v as dx's per-row values: a vector of p's dtype, or one 0-d value shared by every row; null
// for anything else.
Var per_row(const Var& v, const Var& p) {
  if (v->dtype() != p->dtype() || v->ndim() > 1) return nullptr;
  if (v->ndim() == 1 && v->type().shape()[0] == 1) return dimshuffle(v, {});  // a broadcast (1,): one value
  return v;
}

// dx(-v, p, y) when dy is the gradient a one-hot selection of log(p) sends back to p:
//   inc(zeros, v)[rows, y] / p          (the gradient of log(p)[rows, y])
//   inc(zeros, v / p[rows, y])[rows, y] (the gradient of log(p[rows, y]))
std::optional<Var> dx_of_log_pick_grad(const Var& dy, const Var& p) {
  if (const Apply* div = owner_of(dy, "Elemwise{true_div}"); div && div->input(1) == p) {
    auto oh = one_hot(div->input(0), p);
    Var v = oh ? per_row(oh->values, p) : nullptr;
    if (v) return crossentropy_softmax_1hot_with_bias_dx(-v, p, oh->labels);
  }
  auto oh = one_hot(dy, p);
  const Apply* div = oh ? owner_of(oh->values, "Elemwise{true_div}") : nullptr;
  if (!div) return std::nullopt;
  auto picked = picked_per_row(div->input(1));
  if (!picked || picked->matrix != p || picked->labels != oh->labels) return std::nullopt;
  Var v = per_row(div->input(0), p);
  if (!v) return std::nullopt;
  return crossentropy_softmax_1hot_with_bias_dx(-v, p, oh->labels);
}

// softmax_grad(crossentropy_categorical_1hot_grad(g, p, y), p) -> dx(g, p, y)
// softmax_grad(<gradient of log(p)[rows, y] or log(p[rows, y])>, p) -> dx(-v, p, y)
std::optional<std::vector<Var>> softmax_grad_of_one_hot(const FunctionGraph&, const Apply& node) {
  if (!over_rows(node)) return std::nullopt;
  const Var &dy = node.input(0), &p = node.input(1);
  if (const Apply* g = owner_of(dy, "CrossentropyCategorical1HotGrad"); g && g->input(1) == p)
    return std::vector<Var>{crossentropy_softmax_1hot_with_bias_dx(g->input(0), p, g->input(2))};
  auto dx = dx_of_log_pick_grad(dy, p);
  if (!dx) return std::nullopt;
  return std::vector<Var>{*dx};
}

// log_softmax_grad(inc(zeros, v)[rows, y], log_softmax(z)) -> dx(-v, softmax(z), y)
std::optional<std::vector<Var>> log_softmax_grad_of_one_hot(const FunctionGraph&, const Apply& node) {
  if (!over_rows(node)) return std::nullopt;
  const Apply* ls = owner_of(node.input(1), "LogSoftmax");
  auto oh = ls ? one_hot(node.input(0), node.input(1)) : std::nullopt;
  Var v = oh ? per_row(oh->values, node.input(1)) : nullptr;
  if (!v) return std::nullopt;
  return std::vector<Var>{crossentropy_softmax_1hot_with_bias_dx(-v, softmax(ls->input(0)), oh->labels)};
}

void add_rule(RewriteDatabase& db, const std::string& name, std::vector<std::string> kinds,
              std::optional<std::vector<Var>> (*rule)(const FunctionGraph&, const Apply&),
              std::set<std::string> tags = {"fast_run", "fast_compile", "stabilize", "nnet"}) {
  db.add("stabilize", {name, std::move(tags), node_rewriter(std::move(kinds), rule)});
}

}  // namespace

void register_nnet_rewrites(RewriteDatabase& db) {
  add_rule(db, "log_softmax", {"Elemwise{log}"}, &log_of_softmax);
  add_rule(db, "crossentropy_to_crossentropy_with_softmax", {"CrossentropyCategorical1Hot"}, &crossentropy_of_softmax);
  add_rule(db, "advanced_indexing_crossentropy_onehot", {"AdvancedSubtensor"}, &picked_log_softmax);
  add_rule(db, "log_of_advanced_indexing_softmax", {"Elemwise{log}"}, &log_of_picked_softmax);
  add_rule(db, "crossentropy_with_softmax_grad", {"SoftmaxGrad"}, &softmax_grad_of_one_hot);
  add_rule(db, "crossentropy_with_log_softmax_grad", {"LogSoftmaxGrad"}, &log_softmax_grad_of_one_hot);
  add_rule(db, "softmax_from_crossentropy", {"Softmax", "SoftmaxWithBias"}, &softmax_from_xent);
  add_rule(db, "softmax_with_bias", {"Softmax"}, &softmax_of_biased, {"fast_run", "nnet"});
  add_rule(db, "argmax_of_softmax", {"Argmax"}, &argmax_of_softmax, {"fast_run", "nnet"});
}

}  // namespace kiln::detail
