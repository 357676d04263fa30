// kiln's rewrite pipeline: the phases Theano's FAST_RUN runs, in order, and the files that fill them.
#include "rewrite/passes.hpp"

namespace kiln::detail {

void register_builtin_rewrites(RewriteDatabase& db) {
  db.add_phase("merge1", 0);           // common subexpressions and equal constants
  db.add_phase("canonicalize", 1);     // one spelling per computation; constant folding
  db.add_phase("stabilize", 1.5);      // numerically safer forms (log1p, softplus, ...)
  db.add_phase("specialize", 2);       // cheaper forms (pow(x, 2) -> sqr(x), ...)
  db.add_phase("merge2", 49);          // merge what the phases above made equal
  db.add_phase("shape_check", 50);     // sizes learned by rewriting must fit together
  db.add_phase("fusion", 60);          // elementwise trees -> one generated kernel
  db.add_phase("inplace", 75);         // last: write into dead inputs' buffers
  register_merge_rewrites(db);
  register_canonicalize_rewrites(db);
  register_shape_rewrites(db);
  register_stabilize_rewrites(db);
  register_nnet_rewrites(db);
  register_specialize_rewrites(db);
  register_blas_rewrites(db);
  register_static_shape_check(db);
  register_fusion_rewrites(db);
  register_inplace_rewrites(db);
  register_ifelse_rewrites(db);
  register_op_from_graph_rewrites(db);
  register_scan_rewrites(db);
}

bool is_constant_value(const Var& v, double value) {
  if (!v || !v->is_constant()) return false;
  const Array& a = v->constant_value();
  if (a.size() == 0 || a.size() > 4096) return false;
  for (int64_t i = 0; i < a.size(); ++i)
    if (a.item_as_double(i) != value) return false;
  return true;
}

}  // namespace kiln::detail
