// Graph printing, as Theano's theano.printing: debugprint (the graph as an indented tree, one line
// per node) and pprint (the graph as a formula).
//
// Both walk the graph with explicit stacks, never recursively, so graphs of any depth print. Both
// are deterministic: the same graph always prints the same text.
#pragma once

#include <string>
#include <vector>

#include "kiln/compile/function.hpp"
#include "kiln/graph/graph.hpp"

namespace kiln {

struct DebugprintOptions {
  /// How many levels of the tree to print; -1 prints everything. depth=1 prints only the outputs.
  int depth = -1;
  /// Append each variable's type: " <TensorType(float64, matrix)>".
  bool print_type = false;
  /// How nodes are labelled: "CHAR" ([id A], [id B], ..., [id Z], [id BA]), "int" ([id 0], ...),
  /// "id" (the variable's or node's creation number) or "" (no labels).
  std::string ids = "CHAR";
  /// Do not print the inputs of named variables (their names stand for them).
  bool stop_on_name = false;
  /// Levels of indentation after which a subtree is not indented further but continues below as
  /// its own block, so that very deep graphs print in time and space linear in their size. The
  /// cut line ends with "(continued below)" and the block starts with the same line and id.
  /// Must be at least 1.
  int max_indent = 100;
};

/// The graphs computing `outputs` as Theano's debugprint prints them: one line per node,
/// indented with " |" per level, each node's inputs below it in order:
///
///     Elemwise{add} [id A] ''
///      |Elemwise{mul} [id B] ''
///      | |x [id C]
///      | |TensorConstant{2.0} [id D]
///      |y [id E]
///
/// A node's line is its op's name (".0", ".1" for the outputs of a node with several), its id and
/// the variable's name in quotes; a leaf's line is its name, or TensorConstant{value} for a
/// constant, or <type> for an unnamed input or shared variable. A node printed before is printed
/// again without its inputs (a reference to the earlier lines). All outputs share one set of ids.
/// Every line ends with '\n'. Throws ValueError for unknown `options.ids` or max_indent < 1.
std::string debugprint(const std::vector<Var>& outputs, const DebugprintOptions& options = {});
std::string debugprint(const Var& output, const DebugprintOptions& options = {});

/// The compiled graph of `fn` (its outputs after rewriting, without the updates): as above, each
/// node's line ending with its position in execution order; a named function's print starts with
/// the line "Function 'name'".
std::string debugprint(const Function& fn, const DebugprintOptions& options = {});

/// The graph computing `v` as a formula, as Theano's pprint: infix operators with Python's
/// precedence and only the parentheses the structure needs ("(a + b) * c", "a - (b - c)",
/// "a ** -b"); a nested operation of equal precedence on the right keeps its parentheses, since
/// a + (b + c) is a different graph (and floating-point sum) than a + b + c. Elementwise functions
/// print as calls ("exp(x)", "cast(x, 'float32')"); other ops as calls named by their kind in
/// snake_case with their parameters as keywords ("dot(x, w)", "sum(x, axis=[1])",
/// "disconnected_grad(x)"), or by their full name when a parameter is not a keyword
/// ("Reshape{2}(x, s)"); transposes as "x.T", other DimShuffles as "x.dimshuffle(1,'x',0)",
/// indexing as "x[1:3, i]" and "set_subtensor(x[i], y)", shapes as "x.shape" and "x.shape[0]",
/// the outputs of a node with several as "split(...)[1]". DimShuffles that only add leading
/// broadcastable axes are left out, as broadcasting implies them. Leaves print as their name,
/// constants of one element as their value, larger ones as TensorConstant{...}, unnamed variables
/// as their type "<TensorType(float64, matrix)>".
///
/// A result used several times is printed in full each time, so the formula can be exponentially
/// longer than the graph: ValueError when it would exceed 2**26 characters (debugprint prints each
/// node once). TypeError for a null variable.
std::string pprint(const Var& v);

/// How debugprint and pprint show a constant's value: a Python-like literal for one element
/// ("2.0", "3", "True", "1e-08"), "(2, 3) of 0.0" for arrays of one repeated value, otherwise a
/// list ("[1.0, 2.0, 3.0]"); long lists show only their ends ("[0, 1, 2, ..., 97, 98, 99]").
std::string constant_value_str(const Array& value);

}  // namespace kiln
