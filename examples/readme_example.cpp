// The first kiln program in C++: the same graph as examples/readme_example.py.
#include <kiln/kiln.hpp>

#include <iostream>

int main() {
  using namespace kiln;
  Var x = matrix("x");
  Var w = shared(Array::zeros(floatX(), {3, 2}), "w");
  Var y = sum(tanh(dot(x, w) + 1.0), std::vector<int>{1});

  FunctionOptions options;
  options.updates = {{w, w + 0.1}};
  auto f = function({x}, {y}, options);

  Array ones = Array::empty(DType::Float64, {4, 3});
  for (int i = 0; i < 12; ++i) ones.data_as<double>()[i] = 1.0;
  ones = ones.astype(floatX());
  for (int call = 0; call < 2; ++call) {
    Array out = (*f)({ones})[0];
    std::cout << "y =";
    for (int i = 0; i < out.size(); ++i) std::cout << " " << out.item_as_double(i);
    std::cout << "   w[0, 0] = " << w->storage()->get().item_as_double(0) << "\n";
  }
  return 0;
}
