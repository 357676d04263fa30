// pprint: the graph as a formula.
//
// Each variable expands into pieces: literal text and the variables printed in its place (its
// operands, already wrapped in the parentheses the precedences need). A stack of pieces is then
// unwound into the output, so the walk never recurses and costs time linear in the text printed.
// Precedences are Python's, so that the formula reads as the code that would build the graph.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/print/printing.hpp"

namespace kiln {
namespace {

// Python's operator precedences, loosest first; calls, names and attribute access bind tightest.
enum Prec : int { kCompare = 1, kBitOr, kBitXor, kBitAnd, kAdd, kMul, kUnary, kPow, kAtom };
enum class Assoc { Left, Right, None };

struct InfixOp {
  const char* scalar_op;  // the name inside Elemwise{...}
  const char* symbol;
  int prec;
  Assoc assoc;
};

constexpr InfixOp kInfixOps[] = {
    {"add", "+", kAdd, Assoc::Left},        {"sub", "-", kAdd, Assoc::Left},
    {"mul", "*", kMul, Assoc::Left},        {"true_div", "/", kMul, Assoc::Left},
    {"int_div", "//", kMul, Assoc::Left},   {"mod", "%", kMul, Assoc::Left},
    {"pow", "**", kPow, Assoc::Right},      {"lt", "<", kCompare, Assoc::None},
    {"gt", ">", kCompare, Assoc::None},     {"le", "<=", kCompare, Assoc::None},
    {"ge", ">=", kCompare, Assoc::None},    {"eq", "==", kCompare, Assoc::None},
    {"neq", "!=", kCompare, Assoc::None},   {"and_", "&", kBitAnd, Assoc::Left},
    {"xor", "^", kBitXor, Assoc::Left},     {"or_", "|", kBitOr, Assoc::Left},
};
constexpr InfixOp kPrefixOps[] = {{"neg", "-", kUnary, Assoc::None}, {"invert", "~", kUnary, Assoc::None}};

struct Piece {
  const Variable* var = nullptr;  // printed in place when set, else `text`
  std::string text;
};

// "exp" for Elemwise{exp}, "Cast{float32}" for Elemwise{Cast{float32}}; empty for other ops.
std::string elemwise_name(const Op& op) {
  std::string name = op.name();
  if (name.rfind("Elemwise{", 0) != 0 || name.back() != '}') return {};
  return name.substr(9, name.size() - 10);
}

const InfixOp* find_op(const std::string& scalar_op, bool prefix) {
  auto match = [&](const InfixOp& o) { return scalar_op == o.scalar_op; };
  if (prefix) {
    auto it = std::find_if(std::begin(kPrefixOps), std::end(kPrefixOps), match);
    return it == std::end(kPrefixOps) ? nullptr : it;
  }
  auto it = std::find_if(std::begin(kInfixOps), std::end(kInfixOps), match);
  return it == std::end(kInfixOps) ? nullptr : it;
}

// The parameters of an op name "Kind{a, b=[1, 2]}" split at top-level commas: {"a", "b=[1, 2]"}.
std::vector<std::string> op_params(const std::string& name, size_t skip = 0) {
  size_t open = name.find('{');
  if (open == std::string::npos || name.back() != '}') return {};
  std::string inner = name.substr(open + 1 + skip, name.size() - open - 2 - skip);
  std::vector<std::string> out;
  std::string cur;
  int nesting = 0;
  for (char c : inner) {
    if (c == '[' || c == '(' || c == '{') ++nesting;
    if (c == ']' || c == ')' || c == '}') --nesting;
    if (c == ',' && nesting == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    if (c != ' ' || !cur.empty()) cur += c;
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// A DimShuffle's pattern, -1 for 'x'; nullopt for other ops.
std::optional<std::vector<int>> dimshuffle_pattern(const Apply& node) {
  if (node.op().kind() != "DimShuffle") return std::nullopt;
  std::vector<int> pattern;
  for (const std::string& p : op_params(node.op().name())) pattern.push_back(p == "x" ? -1 : std::stoi(p));
  return pattern;
}

// Broadcasting implies the leading axes that DimShuffle{x,...,x,0,1,...} adds: print its input.
const Variable* skip_padding(const Variable* v) {
  while (v->owner()) {
    auto pattern = dimshuffle_pattern(*v->owner());
    if (!pattern) break;
    const int nd = v->owner()->input(0)->ndim();
    const int pad = static_cast<int>(pattern->size()) - nd;
    bool padding = pad > 0;
    for (int i = 0; i < static_cast<int>(pattern->size()) && padding; ++i)
      padding = (*pattern)[i] == (i < pad ? -1 : i - pad);
    if (!padding) break;
    v = v->owner()->input(0).get();
  }
  return v;
}

std::string leaf_str(const Variable& v) {
  if (!v.name().empty()) return v.name();
  if (!v.is_constant()) return "<" + v.type().str() + ">";
  std::string value = constant_value_str(v.constant_value());
  return v.constant_value().size() == 1 ? value : "TensorConstant{" + value + "}";
}

// How tightly the printed form of `v` binds, for its consumer's parentheses.
int precedence(const Variable* v) {
  v = skip_padding(v);
  if (!v->owner()) return v->is_constant() && v->name().empty() && leaf_str(*v)[0] == '-' ? kUnary : kAtom;
  const Apply& node = *v->owner();
  std::string scalar = elemwise_name(node.op());
  if (scalar.empty() || node.num_outputs() > 1) return kAtom;
  if (node.inputs().size() == 1 && find_op(scalar, true)) return kUnary;
  if (node.inputs().size() == 2) {
    if (const InfixOp* op = find_op(scalar, false)) return op->prec;
  }
  return kAtom;
}

// Appends `v` as an operand that prints bare only if it binds at least as tightly as `min_prec`.
void operand(std::vector<Piece>& out, const Variable* v, int min_prec) {
  if (precedence(v) >= min_prec) {
    out.push_back({v, {}});
    return;
  }
  out.push_back({nullptr, "("});
  out.push_back({v, {}});
  out.push_back({nullptr, ")"});
}

void text(std::vector<Piece>& out, std::string s) { out.push_back({nullptr, std::move(s)}); }

// "f(a, b, k=v)": the arguments are complete expressions, so they need no parentheses.
void call(std::vector<Piece>& out, const std::string& f, const std::vector<Var>& args,
          const std::vector<std::string>& keywords = {}) {
  text(out, f + "(");
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) text(out, ", ");
    out.push_back({args[i].get(), {}});
  }
  for (size_t i = 0; i < keywords.size(); ++i) text(out, (args.empty() && i == 0 ? "" : ", ") + keywords[i]);
  text(out, ")");
}

bool elemwise_pieces(std::vector<Piece>& out, const Apply& node) {
  std::string scalar = elemwise_name(node.op());
  if (scalar.empty()) return false;
  const auto& in = node.inputs();
  if (in.size() == 2) {
    if (const InfixOp* op = find_op(scalar, false)) {
      // Left-associative: a - b - c needs no parentheses, a - (b - c) does; right (**): mirrored,
      // and a unary operand on the right is fine (a ** -b); comparisons chain in Python: both.
      int left = op->assoc == Assoc::Left ? op->prec : op->prec + 1;
      int right = op->assoc == Assoc::Right ? kUnary : op->prec + 1;
      operand(out, in[0].get(), left);
      text(out, std::string(" ") + op->symbol + " ");
      operand(out, in[1].get(), right);
      return true;
    }
  }
  if (in.size() == 1) {
    if (const InfixOp* op = find_op(scalar, true)) {
      text(out, op->symbol);
      operand(out, in[0].get(), kPow);  // -(-a) and -(a * b) keep theirs; -a ** b is -(a ** b)
      return true;
    }
  }
  if (scalar.rfind("Cast{", 0) == 0) {
    call(out, "cast", in, {"'" + scalar.substr(5, scalar.size() - 6) + "'"});
    return true;
  }
  if (scalar.size() > 1 && scalar.back() == '_') scalar.pop_back();  // and_, or_ as functions
  call(out, scalar, in);
  return true;
}

bool dimshuffle_pieces(std::vector<Piece>& out, const Apply& node) {
  auto pattern = dimshuffle_pattern(node);
  if (!pattern) return false;
  const Variable* x = node.input(0).get();
  operand(out, x, kAtom);
  const int nd = x->ndim();
  bool reversed = nd >= 2 && static_cast<int>(pattern->size()) == nd;
  for (int i = 0; i < nd && reversed; ++i) reversed = (*pattern)[i] == nd - 1 - i;
  if (reversed) {
    text(out, ".T");
    return true;
  }
  std::string s = ".dimshuffle(";
  for (size_t i = 0; i < pattern->size(); ++i) {
    if (i) s += ",";
    s += (*pattern)[i] < 0 ? "'x'" : std::to_string((*pattern)[i]);
  }
  text(out, s + ")");
  return true;
}

bool is_int_literal(const std::string& s) {
  size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
  return i < s.size() && std::all_of(s.begin() + i, s.end(), [](char c) { return std::isdigit(c) != 0; });
}

// "x[1:3, i]" from the entries in a Subtensor's name ("1:3, int64"), where a dtype name stands for
// the next index input. Returns false when the name does not account for the inputs.
bool index_pieces(std::vector<Piece>& out, const Variable* x, const std::vector<std::string>& entries,
                  const std::vector<Var>& index_inputs) {
  std::vector<Piece> pieces;
  operand(pieces, x, kAtom);
  text(pieces, "[");
  size_t next = 0;
  for (size_t e = 0; e < entries.size(); ++e) {
    if (e) text(pieces, ", ");
    if (entries[e] == "newaxis") {
      text(pieces, "None");
      continue;
    }
    // An entry is an index or a slice start:stop[:step]; each part is empty, a literal or an input.
    std::vector<std::string> parts{""};
    for (char c : entries[e]) {
      if (c == ':') parts.emplace_back();
      else parts.back() += c;
    }
    for (size_t k = 0; k < parts.size(); ++k) {
      if (k) text(pieces, ":");
      if (parts[k].empty() || is_int_literal(parts[k])) text(pieces, parts[k]);
      else if (next < index_inputs.size()) pieces.push_back({index_inputs[next++].get(), {}});
      else return false;
    }
  }
  if (next != index_inputs.size()) return false;
  text(pieces, "]");
  out.insert(out.end(), pieces.begin(), pieces.end());
  return true;
}

bool subtensor_pieces(std::vector<Piece>& out, const Apply& node) {
  const std::string kind = node.op().kind(), name = node.op().name();
  const auto& in = node.inputs();
  if (kind == "Subtensor")
    return index_pieces(out, in[0].get(), op_params(name), {in.begin() + 1, in.end()});
  if (kind == "AdvancedSubtensor" || kind == "AdvancedSubtensor1")
    return index_pieces(out, in[0].get(), std::vector<std::string>(in.size() - 1, "int64"), {in.begin() + 1, in.end()});
  std::vector<std::string> entries;
  bool set = false;
  if (kind == "IncSubtensor") {
    set = name.find("{Set;") != std::string::npos;
    entries = op_params(name, 4);  // past "Inc;" or "Set;"
  } else if (kind == "AdvancedIncSubtensor" || kind == "AdvancedIncSubtensor1") {
    set = name.find("{set}") != std::string::npos;
    entries.assign(in.size() - 2, "int64");
  } else {
    return false;
  }
  std::vector<Piece> region;
  if (!index_pieces(region, in[0].get(), entries, {in.begin() + 2, in.end()})) return false;
  text(out, set ? "set_subtensor(" : "inc_subtensor(");
  out.insert(out.end(), region.begin(), region.end());
  text(out, ", ");
  out.push_back({in[1].get(), {}});
  text(out, ")");
  return true;
}

// Theano's function names from op kinds: Sum -> sum, DisconnectedGrad -> disconnected_grad,
// ARange -> arange (an underscore only where a lower-case letter meets an upper-case one).
std::string snake_case(const std::string& kind) {
  std::string s;
  for (size_t i = 0; i < kind.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(kind[i]);
    if (i && std::isupper(c) && std::islower(static_cast<unsigned char>(kind[i - 1]))) s += '_';
    s += static_cast<char>(std::tolower(c));
  }
  return s;
}

// Ops without a notation of their own: "sum(x, axis=[1])" when every parameter is a keyword,
// else the op's full name as the function: "Reshape{2}(x, s)".
void generic_pieces(std::vector<Piece>& out, const Apply& node) {
  const std::string kind = node.op().kind(), name = node.op().name();
  if (kind == "Shape" || kind == "Shape_i") {
    operand(out, node.input(0).get(), kAtom);
    text(out, kind == "Shape" ? ".shape" : ".shape[" + op_params(name).at(0) + "]");
    return;
  }
  std::vector<std::string> params = op_params(name);
  bool keywords =
      std::all_of(params.begin(), params.end(), [](const std::string& p) { return p.find('=') != std::string::npos; });
  if (!keywords) {
    call(out, name, node.inputs());
    return;
  }
  call(out, snake_case(kind), node.inputs(), params);
}

std::vector<Piece> expand(const Variable* v) {
  std::vector<Piece> out;
  if (!v->owner()) {
    text(out, leaf_str(*v));
    return out;
  }
  const Apply& node = *v->owner();
  if (!elemwise_pieces(out, node) && !dimshuffle_pieces(out, node) && !subtensor_pieces(out, node))
    generic_pieces(out, node);
  // Several outputs only come from calls, which bind tightly enough to be indexed as they are.
  if (node.num_outputs() > 1) text(out, "[" + std::to_string(v->index()) + "]");
  return out;
}

// The length of the formula of `v`, from each node's own text and its operands' lengths (inputs
// first, so no recursion). A subexpression used k times is printed k times, so a graph that reuses
// results can have a formula exponentially longer than itself; this finds out before printing.
double formula_length(const Var& v) {
  std::unordered_map<const Variable*, double> length;
  auto pieces_length = [&](const Variable* var) {
    double n = 0;
    for (const Piece& p : expand(var)) n += p.var ? length.at(skip_padding(p.var)) : static_cast<double>(p.text.size());
    return n;
  };
  for (Apply* node : toposort({v})) {
    for (const Var& in : node->inputs()) {
      const Variable* leaf = skip_padding(in.get());
      if (!leaf->owner() && !length.count(leaf)) length[leaf] = pieces_length(leaf);
    }
    for (size_t i = 0; i < node->num_outputs(); ++i) length[node->output_ptr(i)] = pieces_length(node->output_ptr(i));
  }
  const Variable* root = skip_padding(v.get());
  return root->owner() ? length.at(root) : pieces_length(root);
}

}  // namespace

std::string pprint(const Var& v) {
  KILN_USER_CHECK(v != nullptr, TypeError) << "pprint: null variable";
  constexpr double kMaxLength = 1 << 26;
  double n = formula_length(v);
  KILN_USER_CHECK(n <= kMaxLength, ValueError)
      << "pprint: the formula of " << v->label() << " would be " << n
      << " characters long, as results used several times are printed in full each time; use debugprint, "
         "which prints each node once";
  std::string out;
  out.reserve(static_cast<size_t>(n));
  std::vector<Piece> stack{{v.get(), {}}};
  while (!stack.empty()) {
    Piece p = std::move(stack.back());
    stack.pop_back();
    if (!p.var) {
      out += p.text;
      continue;
    }
    std::vector<Piece> pieces = expand(skip_padding(p.var));
    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) stack.push_back(std::move(*it));
  }
  return out;
}

}  // namespace kiln
