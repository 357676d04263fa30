// kiln::scan through the C++ API: a cumulative sum with a sequence, a two-tap recurrence with
// n_steps, the gradient of a loop, and a bad initial state.
#include <gtest/gtest.h>

#include <cstring>

#include "kiln/kiln.hpp"

using namespace kiln;

namespace {

Array vector_of(std::vector<double> values) {
  Array a = Array::empty(DType::Float64, {static_cast<int64_t>(values.size())});
  std::memcpy(a.data(), values.data(), values.size() * sizeof(double));
  return a;
}

std::vector<double> values_of(const Array& a) {
  std::vector<double> out;
  for (int64_t i = 0; i < a.size(); ++i) out.push_back(a.item_as_double(i));
  return out;
}

}  // namespace

TEST(Scan, CumulativeSumOverASequence) {
  Var x = vector("x", DType::Float64);
  Var zero = typed_constant(0.0, DType::Float64);
  ScanResult r = scan([](const std::vector<Var>& a) { return ScanStepResult{{a[1] + a[0]}, {}, nullptr}; },
                      {{x}}, {{zero}}, {});
  auto f = function({x}, {r.outputs[0]});
  EXPECT_EQ(values_of((*f)({vector_of({1, 2, 3, 4})})[0]), (std::vector<double>{1, 3, 6, 10}));
}

TEST(Scan, TwoTapRecurrenceAndItsGradient) {
  Var init = vector("init", DType::Float64);
  Var n = scalar("n", DType::Int64);
  ScanOptions options;
  options.n_steps = n;
  ScanResult r = scan([](const std::vector<Var>& a) { return ScanStepResult{{a[0] + a[1]}, {}, nullptr}; }, {},
                      {{init, {-2, -1}}}, {}, options);
  Var g = grad(sum(r.outputs[0]), init);
  auto f = function({init, n}, {r.outputs[0], g});
  Array n_value = Array::scalar_int(5);
  std::vector<Array> out = (*f)({vector_of({1, 1}), n_value});
  EXPECT_EQ(values_of(out[0]), (std::vector<double>{2, 3, 5, 8, 13}));
  // Outputs as combinations of (a0, a1): (1,1) (1,2) (2,3) (3,5) (5,8); their sum is (12, 19).
  EXPECT_EQ(values_of(out[1]), (std::vector<double>{12, 19}));
}

TEST(Scan, WrongInitialStateRaisesValueErrorNamingScan) {
  Var h0 = vector("h0", DType::Float64);
  ScanOptions options;
  options.n_steps = typed_constant(2.0, DType::Int64);
  try {
    scan([](const std::vector<Var>& a) { return ScanStepResult{{sum(a[0])}, {}, nullptr}; }, {}, {{h0}}, {}, options);
    FAIL() << "expected a ValueError";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::ValueError);
    EXPECT_NE(e.message().find("scan: the step function's output 0 has 0 dimensions"), std::string::npos) << e.message();
  }
}
