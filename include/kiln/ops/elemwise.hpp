// Elementwise operations with numpy broadcasting, and DimShuffle.
//
// Every elementwise function is one row of scalar_table.def; this header declares one builder per
// row (kiln::exp(x), kiln::add(x, y), ...) plus the composites Theano offers on top (cast, round,
// switch with a non-bool condition, as_tensor conversions of C++ scalars).
//
// Inputs of lower rank are padded on the left with broadcastable axes, as Theano does. Only axes of
// static size 1 broadcast (Theano's "broadcastable" pattern); a run-time size mismatch raises
// ValueError naming the op, the shapes and the line that built the node.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kiln/graph/graph.hpp"

namespace kiln {

/// One identifier per row of the scalar table.
enum class ScalarOpId : uint8_t {
#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad) name,
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP
};

inline constexpr int kNumScalarOps = 0
#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad) +1
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP
    ;

/// How an elementwise op's output dtype follows from its inputs' dtypes (Theano's rules):
/// Upcast: numpy promotion; UpcastNoBool: same, but a bool result is a TypeError;
/// UpcastMin8: a bool result becomes int8; Float: integers upgraded to float (int8/int16 ->
/// float32, wider -> float64); FloatOnly: float inputs only; TrueDiv: float promotion, floatX when
/// all inputs are discrete; Bool: always bool; Bitwise: all bool or all integer; Switch: promotion
/// of inputs 1 and 2.
enum class OutRule : uint8_t { Upcast, UpcastNoBool, UpcastMin8, Float, FloatOnly, TrueDiv, Bool, Bitwise, Switch };

/// Static facts of a scalar op (name, arity, dtype rule).
struct ScalarOpInfo {
  const char* name;
  int arity;
  OutRule rule;
};
const ScalarOpInfo& scalar_op_info(ScalarOpId id);

/// The op's public name without a C++ keyword guard: "and", "xor", "switch".
std::string scalar_op_public_name(ScalarOpId id);

/// Build an elementwise node of the given scalar op (ranks are padded with broadcastable axes).
Var elemwise(ScalarOpId op, std::vector<Var> inputs);

// One builder per table row: kiln::exp(x), kiln::add(x, y), kiln::clip(x, lo, hi), ...
#define KILN_SCALAR_OP_BUILDER_1(name) Var name(const Var& a);
#define KILN_SCALAR_OP_BUILDER_2(name) Var name(const Var& a, const Var& b);
#define KILN_SCALAR_OP_BUILDER_3(name) Var name(const Var& a, const Var& b, const Var& c);
#define KILN_SCALAR_OP(name, arity, rule, types, expr, grad) KILN_SCALAR_OP_BUILDER_##arity(name)
#include "kiln/ops/scalar_table.def"
#undef KILN_SCALAR_OP

/// Convert the elements of `x` to `dtype` (no-op if already of that dtype).
Var cast(const Var& x, DType dtype);
/// Round to nearest: mode "half_to_even" (default, as numpy) or "half_away_from_zero".
Var round(const Var& x, const std::string& mode = "half_to_even");
/// switch(cond, a, b): a where cond is true, else b. A non-bool cond is compared with 0.
Var switch_cond(const Var& cond, const Var& a, const Var& b);

/// A constant from a C++ scalar, typed as Theano types Python literals: the smallest of
/// int8/16/32/64 holding an integer, float32 for a float exactly representable (or when floatX is
/// float32), else float64. Such constants are "weak": they do not upcast float tensors.
Var scalar_constant(double value);
Var scalar_constant(int64_t value);
Var scalar_constant(int value);
/// A constant of an explicit dtype.
Var typed_constant(double value, DType dtype);

/// DimShuffle: `pattern[i]` is the input axis placed at output axis i, or -1 for a new
/// broadcastable axis ('x'). Input axes left out must be broadcastable (they are dropped).
/// Raises ValueError naming the pattern on duplicates, out-of-range entries, or dropping a
/// non-broadcastable axis.
Var dimshuffle(const Var& x, const std::vector<int>& pattern);
/// The same elementwise computation as `node`, writing into input `input`'s buffer (for the
/// inplace rewrites); std::nullopt if `node` is not elementwise or the input's type differs from
/// the output's.
std::optional<Var> elemwise_inplace(const Apply& node, int input);
/// The output shape of an elementwise-like node (inputs broadcast along their broadcastable axes),
/// as graphs of the input shapes; sizes that must agree are checked at run time.
std::vector<Var> elemwise_output_shape(const Apply& node, const std::vector<std::vector<Var>>& in_shapes);
/// The scalar op of a plain elementwise op (not a Cast, not inplace), for fusion; std::nullopt
/// for any other op.
std::optional<ScalarOpId> elemwise_scalar_op(const Op& op);
/// The scalar op of an out-of-place elementwise op, casts included (a Cast is `identity` with
/// another output dtype), for fusion; std::nullopt for any other op.
std::optional<ScalarOpId> fusable_scalar_op(const Op& op);
/// The pattern of a DimShuffle node, or std::nullopt for another op (for rewrites).
std::optional<std::vector<int>> dimshuffle_pattern(const Apply& node);
/// Reverse the axes (x.T).
Var transpose(const Var& x);
/// Permute the axes.
Var transpose(const Var& x, const std::vector<int>& axes);

// C++ operator sugar over the builders.
Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);
Var operator/(const Var& a, const Var& b);
Var operator-(const Var& a);
Var operator+(const Var& a, double b);
Var operator+(double a, const Var& b);
Var operator-(const Var& a, double b);
Var operator-(double a, const Var& b);
Var operator*(const Var& a, double b);
Var operator*(double a, const Var& b);
Var operator/(const Var& a, double b);
Var operator/(double a, const Var& b);

}  // namespace kiln
