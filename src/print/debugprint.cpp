// debugprint: the graph as an indented tree in Theano's format.
//
// The walk is a preorder with an explicit stack; children are pushed in reverse so that they pop
// in order, which prints exactly what Theano's recursive version prints. Whether a node was
// printed before is decided when its line is written, as in the recursion.
#include <deque>
#include <unordered_map>

#include "kiln/error.hpp"
#include "kiln/print/printing.hpp"

namespace kiln {
namespace {

// Theano's char_from_number: 0 -> A, 25 -> Z, 26 -> BA (base 26 with A as the zero digit).
std::string char_id(size_t n) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('A' + n % 26));
    n /= 26;
  } while (n != 0);
  return s;
}

std::string leaf_text(const Variable& v) {
  if (!v.name().empty()) return v.name();
  if (v.is_constant()) return "TensorConstant{" + constant_value_str(v.constant_value()) + "}";
  return "<" + v.type().str() + ">";
}

class Debugprinter {
 public:
  // `order`, when given, maps each node to its position in execution order (printed at its end).
  Debugprinter(const DebugprintOptions& options, const std::unordered_map<const Apply*, size_t>* order)
      : options_(options), order_(order) {
    KILN_USER_CHECK(options.ids == "CHAR" || options.ids == "int" || options.ids == "id" || options.ids.empty(),
                    ValueError)
        << "debugprint: ids must be 'CHAR', 'int', 'id' or '', got '" << options.ids << "'";
    KILN_USER_CHECK(options.max_indent >= 1, ValueError)
        << "debugprint: max_indent must be at least 1, got " << options.max_indent;
  }

  // Prints the tree of `root`, then the blocks of the subtrees cut at max_indent.
  void print(const Variable* root) {
    if (options_.depth == 0) return;
    walk({root, "", "", options_.depth, 0, false});
    while (!deferred_.empty()) {
      auto [var, depth] = deferred_.front();
      deferred_.pop_front();
      walk({var, "", "", depth, 0, true});
    }
  }

  void raw_line(const std::string& text) { out_ += text + "\n"; }
  std::string take() { return std::move(out_); }

 private:
  struct Frame {
    const Variable* var;
    std::string prefix;        // written before this line
    std::string child_prefix;  // what this line's children extend
    int depth;                 // levels left to print, counting this one; negative: unlimited
    int indent;                // levels of indentation of this line
    bool continued;            // the first line of a block cut from above: print its inputs
  };

  void walk(Frame root) {
    std::vector<Frame> stack;
    stack.push_back(std::move(root));
    while (!stack.empty()) {
      Frame f = std::move(stack.back());
      stack.pop_back();
      if (!f.var->owner()) {
        out_ += f.prefix + leaf_text(*f.var) + id_suffix(f.var, f.var->id()) + type_suffix(*f.var) + "\n";
        continue;
      }
      print_node(f, stack);
    }
  }

  // Writes the line of the node output `f.var` and pushes the frames of its inputs.
  void print_node(const Frame& f, std::vector<Frame>& stack) {
    const Apply& node = *f.var->owner();
    const bool printed_before = ids_.count(&node) != 0 && !f.continued;
    std::string line = f.prefix + node.op().name();
    if (node.num_outputs() > 1) line += "." + std::to_string(f.var->index());
    line += id_suffix(&node, node.id()) + type_suffix(*f.var) + " '" + f.var->name() + "'";
    if (order_) {
      auto it = order_->find(&node);
      if (it != order_->end()) line += " " + std::to_string(it->second);
    }
    bool expand = !printed_before && f.depth != 1 && !node.inputs().empty() &&
                  !(options_.stop_on_name && !f.var->name().empty());
    if (expand && f.indent >= options_.max_indent) {
      // Indenting further would make the output quadratic in the depth: continue in a new block.
      deferred_.emplace_back(f.var, f.depth);
      line += " (continued below)";
      expand = false;
    }
    out_ += line + "\n";
    if (!expand) return;
    const auto& inputs = node.inputs();
    for (size_t i = inputs.size(); i-- > 0;) {
      bool last = i + 1 == inputs.size();
      stack.push_back({inputs[i].get(), f.child_prefix + " |", f.child_prefix + (last ? "  " : " |"), f.depth - 1,
                       f.indent + 1, false});
    }
  }

  // " [id A]" for the node or leaf `key`, assigning the next id on first sight.
  std::string id_suffix(const void* key, uint64_t creation_id) {
    auto it = ids_.find(key);
    if (it == ids_.end()) {
      std::string id;
      if (options_.ids == "CHAR") id = char_id(ids_.size());
      else if (options_.ids == "int") id = std::to_string(ids_.size());
      else if (options_.ids == "id") id = std::to_string(creation_id);
      it = ids_.emplace(key, id.empty() ? std::string() : " [id " + id + "]").first;
    }
    return it->second;
  }

  std::string type_suffix(const Variable& v) const {
    return options_.print_type ? " <" + v.type().str() + ">" : std::string();
  }

  const DebugprintOptions& options_;
  const std::unordered_map<const Apply*, size_t>* order_;
  std::unordered_map<const void*, std::string> ids_;  // node or leaf -> " [id A]"
  std::deque<std::pair<const Variable*, int>> deferred_;  // cut subtrees and their depth left
  std::string out_;
};

}  // namespace

std::string debugprint(const std::vector<Var>& outputs, const DebugprintOptions& options) {
  Debugprinter printer(options, nullptr);
  for (const Var& v : outputs) {
    KILN_USER_CHECK(v != nullptr, TypeError) << "debugprint: null variable";
    printer.print(v.get());
  }
  return printer.take();
}

std::string debugprint(const Var& output, const DebugprintOptions& options) {
  return debugprint(std::vector<Var>{output}, options);
}

std::string debugprint(const Function& fn, const DebugprintOptions& options) {
  std::unordered_map<const Apply*, size_t> order;
  std::vector<const Apply*> nodes = fn.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) order.emplace(nodes[i], i);
  Debugprinter printer(options, &order);
  if (!fn.name().empty()) printer.raw_line("Function '" + fn.name() + "'");
  for (const Var& v : fn.outputs()) printer.print(v.get());
  return printer.take();
}

}  // namespace kiln
