// The rewrite engine: node rewriters (hand-written or declarative patterns), drivers that apply
// them to a FunctionGraph, and the database of phases (merge, canonicalize, stabilize,
// specialize, ...) that a compilation mode queries.
//
// A phase is a named position in the pipeline holding rules; each rule carries a name and tags
// ("fast_run", "fast_compile", "stabilize", ...). A query (from the mode and the config flags
// optimizer, optimizer_including, optimizer_excluding) selects rules by tag and name; phases run
// in position order, each to a fixed point (with an iteration guard).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kiln/graph/fgraph.hpp"
#include "kiln/graph/graph.hpp"

namespace kiln {

/// Rewrites one node: returns one replacement per output (nullptr keeps that output), or
/// std::nullopt when it does not apply. Must not modify the graph itself.
class NodeRewriter {
 public:
  virtual ~NodeRewriter() = default;
  /// Op kinds (Op::kind()) of the nodes this rewriter may change; empty means every node.
  virtual std::vector<std::string> tracks() const { return {}; }
  virtual std::optional<std::vector<Var>> transform(const FunctionGraph& fg, const Apply& node) const = 0;
};

/// A rewriter from a function.
std::shared_ptr<NodeRewriter> node_rewriter(
    std::vector<std::string> tracks,
    std::function<std::optional<std::vector<Var>>(const FunctionGraph&, const Apply&)> transform);

// ---------------------------------------------------------------- patterns

/// A pattern over graphs: matches a variable and binds names to the parts it matched.
struct Pattern;
using PatternPtr = std::shared_ptr<const Pattern>;
using Bindings = std::map<std::string, Var>;

namespace pat {
/// Any variable, bound to `name` (the same name twice must match the same variable).
PatternPtr any(const std::string& name);
/// Any variable satisfying `check`, bound to `name`.
PatternPtr any_if(const std::string& name, std::function<bool(const Var&)> check);
/// A constant all of whose elements equal `value`.
PatternPtr constant(double value);
/// The output of an op of kind `kind` (e.g. "Elemwise{log}") whose inputs match `args`.
PatternPtr op(const std::string& kind, std::vector<PatternPtr> args);
/// As op(), also trying the two inputs of a binary op swapped (for add, mul, ...).
PatternPtr commutative(const std::string& kind, PatternPtr a, PatternPtr b);
// Elementwise spellings: pat::log(x) is op("Elemwise{log}", {x}).
PatternPtr elemwise(const std::string& scalar_op, std::vector<PatternPtr> args);
}  // namespace pat

/// Try to match `pattern` against `v`, filling `bindings`.
bool match_pattern(const PatternPtr& pattern, const Var& v, Bindings& bindings);

/// A declarative rule: `pattern -> build(bindings)`, applied when `guard` (optional) accepts.
/// `build` also finds the matched node's output under the name "$root".
std::shared_ptr<NodeRewriter> pattern_rule(PatternPtr pattern, std::function<Var(const Bindings&)> build,
                                           std::function<bool(const Bindings&)> guard = nullptr);

// ---------------------------------------------------------------- database and drivers

struct RewriteRule {
  std::string name;
  std::set<std::string> tags;
  std::shared_ptr<NodeRewriter> rewriter;
};

/// A whole-graph pass (merge, constant folding run as node rewriters inside phases instead).
using GraphPass = std::function<void(FunctionGraph&)>;

struct RewriteQuery {
  std::set<std::string> include;   // a rule runs if it has one of these tags (or its name is here)...
  std::set<std::string> require;   // ...and all of these...
  std::set<std::string> exclude;   // ...and none of these tags or names
};

/// What a rewrite run reports.
struct RewriteReport {
  std::vector<std::string> warnings;
  std::vector<std::string> log;  // optimizer_verbose lines
  /// Per rule: applications, seconds, and node count change.
  struct RuleStats {
    int applied = 0;
    double seconds = 0;
    long node_change = 0;
  };
  std::map<std::string, RuleStats> stats;
};

class RewriteDatabase {
 public:
  /// The process-wide database, with kiln's built-in phases and rules registered.
  static RewriteDatabase& get();

  /// A phase at `position` (phases run in increasing position).
  void add_phase(const std::string& name, double position);
  /// A rule in a phase. Its name must be unique.
  void add(const std::string& phase, RewriteRule rule);
  /// A whole-graph pass in a phase (runs before the phase's rules), with tags like a rule.
  void add_pass(const std::string& phase, const std::string& name, std::set<std::string> tags, GraphPass pass);

  /// The phases and rule names a query selects, in order: "phase: rule, rule, ...".
  std::vector<std::string> resolved(const RewriteQuery& query) const;
  /// Run the selected rules on `fg`.
  RewriteReport run(FunctionGraph& fg, const RewriteQuery& query) const;

 private:
  struct Phase {
    std::string name;
    double position;
    std::vector<std::pair<RewriteRule, GraphPass>> passes;  // name/tags in the rule, rewriter empty
    std::vector<RewriteRule> rules;
  };
  std::vector<Phase> phases_;
  Phase& phase(const std::string& name);
};

/// The query for a compilation mode ("FAST_RUN", "FAST_COMPILE", or "NONE" for no rewrites) and the
/// config flags optimizer, optimizer_including, optimizer_excluding.
RewriteQuery mode_query(const std::string& mode);

/// Rewrite `fg` for `mode`. With config.optimizer_verbose the report's log lists every rewrite
/// applied (kiln.function prints it).
RewriteReport rewrite_for_mode(FunctionGraph& fg, const std::string& mode);

}  // namespace kiln
