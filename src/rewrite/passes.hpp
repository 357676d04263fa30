// Registration of kiln's built-in phases and rules: one function per rewrite file.
#pragma once

#include "kiln/rewrite/rewrite.hpp"

namespace kiln::detail {

void register_builtin_rewrites(RewriteDatabase& db);
void register_merge_rewrites(RewriteDatabase& db);         // merge.cpp
void register_canonicalize_rewrites(RewriteDatabase& db);  // canonicalize.cpp
void register_stabilize_rewrites(RewriteDatabase& db);     // stabilize.cpp
void register_specialize_rewrites(RewriteDatabase& db);    // specialize.cpp
void register_shape_rewrites(RewriteDatabase& db);         // shape.cpp
void register_blas_rewrites(RewriteDatabase& db);          // blas.cpp
void register_static_shape_check(RewriteDatabase& db);     // static_shapes.cpp
void register_nnet_rewrites(RewriteDatabase& db);          // nnet.cpp
void register_fusion_rewrites(RewriteDatabase& db);        // fusion.cpp
void register_inplace_rewrites(RewriteDatabase& db);       // inplace.cpp
void register_ifelse_rewrites(RewriteDatabase& db);        // ifelse.cpp
void register_op_from_graph_rewrites(RewriteDatabase& db);  // ops/op_from_graph.cpp
void register_scan_rewrites(RewriteDatabase& db);          // scan.cpp

/// Raises ValueError, naming the client node and the user's line, if a client of `old_var` could
/// not work with `new_var` (whose static shape knows more, e.g. a folded constant) in its place.
void check_replacement_fits_clients(const FunctionGraph& fg, const Var& old_var, const Var& new_var);

/// The pattern variable most rules are written in, and its binding.
inline PatternPtr any_x() { return pat::any("x"); }
inline Var bound_x(const Bindings& b) { return b.at("x"); }

/// Whether `v` is a constant all of whose elements equal `value`.
bool is_constant_value(const Var& v, double value);

}  // namespace kiln::detail
