// Reductions: sum, prod, max, min, any, all (one CAReduce op), argmax/argmin, and the composites
// mean, var, std, max_and_argmax.
//
// `axis` is std::nullopt for all axes, or a list of axes (negative counts from the end; duplicates
// are an error). Accumulation dtypes follow Theano: bool and small ints accumulate in int64
// (unsigned in uint64), float32 in float64; the result of sum/prod is int64/uint64 for integers
// and the input dtype for floats.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

using Axes = std::optional<std::vector<int>>;

/// The reductions one CAReduce node computes.
enum class ReduceKind { Sum, Prod, Max, Min, Any, All };
const char* reduce_kind_name(ReduceKind kind);

/// What a Sum/Prod/Max/Min/Any/All node computes: for rewrites that fuse or move reductions.
struct ReduceInfo {
  ReduceKind kind;
  std::vector<int> axes;  // sorted
  DType out_dtype, acc_dtype;
};
/// The reduction of a CAReduce op, or std::nullopt for another op.
std::optional<ReduceInfo> reduce_info(const Op& op);

Var sum(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false,
        std::optional<DType> dtype = std::nullopt, std::optional<DType> acc_dtype = std::nullopt);
Var prod(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false,
         std::optional<DType> dtype = std::nullopt, std::optional<DType> acc_dtype = std::nullopt);
/// Max/min keep the input dtype; an empty reduction raises ValueError at run time.
Var max(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false);
Var min(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false);
/// Output bool.
Var any(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false);
Var all(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false);
/// Index (int64) of the first maximum/minimum; over several axes, into those axes flattened in C order.
Var argmax(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false);
Var argmin(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false);
std::pair<Var, Var> max_and_argmax(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false);
/// Mean: float64 for integer inputs, the input dtype for floats.
Var mean(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false,
         std::optional<DType> dtype = std::nullopt);
/// Variance with `ddof` delta degrees of freedom; stddev = sqrt(var) (Theano's T.std).
Var var(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false, int ddof = 0);
Var stddev(const Var& x, const Axes& axis = std::nullopt, bool keepdims = false, int ddof = 0);

/// The reduced axes of a Sum/Prod/Max/Min/Any/All node, or std::nullopt for another op (for rewrites).
std::optional<std::vector<int>> reduce_axes(const Apply& node);
/// The reduced axes of an Argmax/Argmin node, or std::nullopt for another op (for rewrites).
std::optional<std::vector<int>> arg_reduce_axes(const Apply& node);
/// The reduction `node` computes (its kind, output and accumulator dtypes) applied to `x` over
/// `axes` instead (for rewrites that move a reduction). `node` must be a Sum/Prod/Max/Min/Any/All
/// node (InternalError otherwise); no axes and x of the output dtype give x itself.
Var reduce_like(const Apply& node, const Var& x, const std::vector<int>& axes);

/// Normalise axes for an input of rank `ndim`: wraps negatives, sorts, rejects duplicates and
/// out-of-range entries with ValueError naming `op`. std::nullopt gives all axes.
std::vector<int> normalize_axes(const Axes& axis, int ndim, const char* op);

}  // namespace kiln
