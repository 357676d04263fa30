// OpFromGraph (see kiln/ops/op_from_graph.hpp) and the rewrite that inlines it.
#include "kiln/ops/op_from_graph.hpp"

#include <map>
#include <set>
#include <unordered_map>

#include "kiln/compile/function.hpp"
#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/rewrite/rewrite.hpp"
#include "rewrite/passes.hpp"

namespace kiln {
namespace {

void check_graph_inputs(const std::vector<Var>& inputs) {
  std::set<const Variable*> seen;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Var& v = inputs[i];
    KILN_USER_CHECK(v != nullptr, TypeError) << "OpFromGraph: input " << i << " is null";
    KILN_USER_CHECK(!v->is_constant(), TypeError)
        << "OpFromGraph: input " << i << " (" << v->label() << ") is a constant; constants are not allowed as inputs";
    KILN_USER_CHECK(!v->is_shared(), TypeError)
        << "OpFromGraph: input " << i << " (" << v->label()
        << ") is a shared variable; shared variables are not allowed as inputs (the graph may use them: they "
           "become implicit inputs)";
    KILN_USER_CHECK(!v->owner(), TypeError) << "OpFromGraph: input " << i << " (" << v->label() << ") is computed by "
                                            << v->owner()->op().name() << "; inputs must be free variables";
    KILN_USER_CHECK(seen.insert(v.get()).second, ValueError)
        << "OpFromGraph: variable " << v->label() << " is given twice as input";
  }
}

}  // namespace

std::shared_ptr<const OpFromGraph> OpFromGraph::create(const std::vector<Var>& inputs, const std::vector<Var>& outputs,
                                                       OpFromGraphOptions options) {
  check_graph_inputs(inputs);
  KILN_USER_CHECK(!outputs.empty(), TypeError) << "OpFromGraph: there are no outputs";
  for (size_t i = 0; i < outputs.size(); ++i)
    KILN_USER_CHECK(outputs[i] != nullptr, TypeError) << "OpFromGraph: output " << i << " is null";
  std::shared_ptr<OpFromGraph> op(new OpFromGraph());
  op->options_ = std::move(options);
  op->num_explicit_ = inputs.size();
  std::map<const Variable*, Var> fresh;
  for (const Var& v : inputs) {
    op->inner_inputs_.push_back(Variable::input(v->type(), v->name()));
    fresh[v.get()] = op->inner_inputs_.back();
  }
  std::set<const Variable*> explicit_inputs;
  for (const Var& v : inputs) explicit_inputs.insert(v.get());
  for (const Var& leaf : graph_inputs(outputs)) {
    if (leaf->is_constant() || explicit_inputs.count(leaf.get())) continue;
    if (leaf->is_shared()) {
      op->shared_inputs_.push_back(leaf);
      op->inner_inputs_.push_back(Variable::input(leaf->type(), leaf->name()));
      fresh[leaf.get()] = op->inner_inputs_.back();
      continue;
    }
    KILN_THROW(MissingInputError) << "OpFromGraph" << (op->options_.name.empty() ? "" : " '" + op->options_.name + "'")
                                  << ": the outputs need the variable " << leaf->label() << " ("
                                  << leaf->type().str() << "), which is not among the inputs";
  }
  op->inner_outputs_ = clone_graph(outputs, fresh);
  return op;
}

std::string OpFromGraph::name() const {
  return options_.name.empty() ? "OpFromGraph" : "OpFromGraph{" + options_.name + "}";
}

std::vector<Var> OpFromGraph::operator()(const std::vector<Var>& inputs) const {
  KILN_USER_CHECK(inputs.size() == num_explicit_, ValueError)
      << name() << ": expected " << num_explicit_ << " inputs, got " << inputs.size();
  std::vector<Var> all = inputs;
  all.insert(all.end(), shared_inputs_.begin(), shared_inputs_.end());
  return make_node(shared_from_this(), std::move(all));
}

std::vector<TensorType> OpFromGraph::make_outputs(const std::vector<Var>& inputs) const {
  KILN_USER_CHECK(inputs.size() == inner_inputs_.size(), ValueError)
      << name() << ": expected " << inner_inputs_.size() << " inputs, got " << inputs.size();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& want = inner_inputs_[i]->type();
    KILN_USER_CHECK(inputs[i] != nullptr, TypeError) << name() << ": input " << i << " is null";
    KILN_USER_CHECK(inputs[i]->dtype() == want.dtype() && inputs[i]->ndim() == want.ndim(), TypeError)
        << name() << ": input " << i << " (" << inputs[i]->label() << ") has type " << inputs[i]->type().str()
        << " but the graph expects " << want.str();
  }
  std::vector<TensorType> types;
  for (const Var& o : inner_outputs_) types.push_back(o->type());
  return types;
}

const Function& OpFromGraph::compiled() const {
  std::call_once(compile_once_, [this] {
    FunctionOptions options;
    options.on_unused_input = "ignore";
    options.name = name();
    options.mode = options_.mode;
    options.no_default_updates = true;  // the outer function applies the updates of its shared variables
    function_ = Function::compile(inner_inputs_, inner_outputs_, options);
  });
  return *function_;
}

void OpFromGraph::perform(const Apply&, std::span<const Array> inputs, std::span<Array> outputs) const {
  std::vector<Array> results = compiled()(std::vector<Array>(inputs.begin(), inputs.end()));
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i] = std::move(results[i]);
}

std::vector<Var> OpFromGraph::expand(const std::vector<Var>& inputs) const {
  KILN_ASSERT(inputs.size() == inner_inputs_.size()) << name() << " expanded on " << inputs.size() << " inputs";
  std::map<const Variable*, Var> replace;
  for (size_t i = 0; i < inputs.size(); ++i) replace[inner_inputs_[i].get()] = inputs[i];
  return clone_graph(inner_outputs_, replace);
}

// The shapes the graph's ops infer, walked in order from the inputs' shapes; unknown (empty) if
// one op cannot tell. Sizes that refer to inner variables are copied onto the node's inputs.
std::vector<std::vector<Var>> OpFromGraph::infer_shape(const Apply& node,
                                                       const std::vector<std::vector<Var>>& input_shapes) const {
  std::unordered_map<const Variable*, std::vector<Var>> shape_of;
  for (size_t i = 0; i < inner_inputs_.size(); ++i) shape_of[inner_inputs_[i].get()] = input_shapes[i];
  auto shape_known = [&](const Var& v) -> std::vector<Var> {
    auto it = shape_of.find(v.get());
    return it != shape_of.end() ? it->second : shape_list(v);  // constants
  };
  for (Apply* inner : toposort(inner_outputs_)) {
    std::vector<std::vector<Var>> in;
    for (const Var& v : inner->inputs()) in.push_back(shape_known(v));
    std::vector<std::vector<Var>> out = inner->op().infer_shape(*inner, in);
    if (out.size() != inner->num_outputs()) return {};
    for (size_t j = 0; j < out.size(); ++j) shape_of[inner->output_ptr(static_cast<int>(j))] = out[j];
  }
  std::vector<Var> flat;
  std::vector<size_t> ranks;
  for (const Var& o : inner_outputs_) {
    std::vector<Var> dims = shape_known(o);
    ranks.push_back(dims.size());
    flat.insert(flat.end(), dims.begin(), dims.end());
  }
  std::vector<Var> outer = flat.empty() ? flat : [&] {
    std::map<const Variable*, Var> replace;
    for (size_t i = 0; i < inner_inputs_.size(); ++i) replace[inner_inputs_[i].get()] = node.input(static_cast<int>(i));
    return clone_graph(flat, replace);
  }();
  std::vector<std::vector<Var>> shapes;
  for (size_t k = 0, at = 0; k < ranks.size(); at += ranks[k++]) shapes.emplace_back(outer.begin() + at, outer.begin() + at + ranks[k]);
  return shapes;
}

// Gradients and tangents are taken on the graph's own inputs and then copied onto the node's: the
// same variable given for two inputs (op(y, y)) must get one term per input.
std::vector<Var> OpFromGraph::on_inputs(const std::vector<Var>& inner_results, const std::vector<Var>& inputs) const {
  std::vector<Var> present;
  for (const Var& r : inner_results)
    if (r) present.push_back(r);
  std::map<const Variable*, Var> replace;
  for (size_t i = 0; i < inputs.size(); ++i) replace[inner_inputs_[i].get()] = inputs[i];
  std::vector<Var> copies = clone_graph(present, replace);
  std::vector<Var> out(inner_results.size());
  for (size_t i = 0, k = 0; i < out.size(); ++i)
    if (inner_results[i]) out[i] = copies[k++];
  return out;
}

std::vector<Var> OpFromGraph::default_lop(const std::vector<Var>& inputs, const std::vector<Var>& output_grads) const {
  GradOptions options;
  options.disconnected_inputs = "ignore";
  options.return_disconnected = "None";
  options.null_gradients = "return";
  for (size_t j = 0; j < inner_outputs_.size(); ++j)
    if (!is_discrete(inner_outputs_[j]->dtype()) && output_grads[j])
      options.known_grads.emplace_back(inner_outputs_[j], output_grads[j]);
  if (options.known_grads.empty()) return std::vector<Var>(inputs.size());
  return on_inputs(grad(nullptr, inner_inputs_, options), inputs);
}

std::vector<Var> OpFromGraph::default_rop(const std::vector<Var>& inputs, const std::vector<Var>& eval_points) const {
  std::vector<Var> wrt, points;
  for (size_t i = 0; i < eval_points.size(); ++i)
    if (eval_points[i]) wrt.push_back(inner_inputs_[i]), points.push_back(eval_points[i]);
  if (wrt.empty()) return std::vector<Var>(inner_outputs_.size());
  return on_inputs(Rop(inner_outputs_, wrt, points), inputs);
}

std::vector<Var> OpFromGraph::L_op(const Apply& node, const std::vector<Var>& output_grads) const {
  if (!options_.lop_override) return default_lop(node.inputs(), output_grads);
  std::vector<Var> grads = options_.lop_override(*this, node.inputs(), node.outputs(), output_grads);
  KILN_USER_CHECK(grads.size() == node.inputs().size(), ValueError)
      << name() << ": the gradient override returned " << grads.size() << " gradients for "
      << node.inputs().size() << " inputs";
  for (size_t i = 0; i < grads.size(); ++i)
    KILN_USER_CHECK(!grads[i] || grads[i]->ndim() == node.input(static_cast<int>(i))->ndim(), TypeError)
        << name() << ": the gradient override returned a gradient of rank " << grads[i]->ndim() << " for input " << i
        << " of rank " << node.input(static_cast<int>(i))->ndim();
  return grads;
}

std::vector<Var> OpFromGraph::R_op(const Apply& node, const std::vector<Var>& eval_points) const {
  if (!options_.rop_override) return default_rop(node.inputs(), eval_points);
  std::vector<Var> tangents = options_.rop_override(*this, node.inputs(), eval_points);
  KILN_USER_CHECK(tangents.size() == node.num_outputs(), ValueError)
      << name() << ": the Rop override returned " << tangents.size() << " values for " << node.num_outputs()
      << " outputs";
  for (size_t j = 0; j < tangents.size(); ++j)
    KILN_USER_CHECK(!tangents[j] || tangents[j]->ndim() == node.output_ptr(static_cast<int>(j))->ndim(), TypeError)
        << name() << ": the Rop override returned a value of rank " << tangents[j]->ndim() << " for output " << j
        << " of rank " << node.output_ptr(static_cast<int>(j))->ndim();
  return tangents;
}

KILN_REGISTER_OP_KINDS({{"OpFromGraph", true}});

namespace detail {

// OpFromGraph(inline=True)(x) -> a copy of its graph on x, so the other rewrites see through it.
void register_op_from_graph_rewrites(RewriteDatabase& db) {
  db.add_phase("inline", -1);
  auto inline_rule = node_rewriter({"OpFromGraph"}, [](const FunctionGraph&, const Apply& node) {
    auto* op = dynamic_cast<const OpFromGraph*>(&node.op());
    if (!op || !op->inline_graph()) return std::optional<std::vector<Var>>();
    ScopedUserLocation location(node.source_location());
    std::vector<Var> outputs = op->expand(node.inputs());
    // Inputs less specific than the graph's own may give outputs of less specific types: keep the node.
    for (size_t j = 0; j < outputs.size(); ++j)
      if (!node.output_ptr(static_cast<int>(j))->type().is_super(outputs[j]->type())) return std::optional<std::vector<Var>>();
    return std::optional<std::vector<Var>>(outputs);
  });
  db.add("inline", {"inline_op_from_graph", {"fast_run", "fast_compile", "inline"}, inline_rule});
}

}  // namespace detail
}  // namespace kiln
