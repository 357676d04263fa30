// Logistic regression trained with SGD from C++: three Gaussian classes in 2-d, a softmax model,
// gradients from kiln::grad, parameter updates inside the compiled function.
#include <kiln/kiln.hpp>

#include <cstdio>
#include <random>

using namespace kiln;

int main() {
  const int n = 600, classes = 3;
  // Synthetic data: class c is centred at (2 cos(2 pi c / 3), 2 sin(2 pi c / 3)).
  std::mt19937_64 rng(0);
  std::normal_distribution<double> noise(0.0, 0.7);
  Array data = Array::empty(DType::Float64, {n, 2}), labels = Array::empty(DType::Int64, {n});
  for (int i = 0; i < n; ++i) {
    int c = i % classes;
    data.data_as<double>()[2 * i] = 2 * std::cos(2 * M_PI * c / classes) + noise(rng);
    data.data_as<double>()[2 * i + 1] = 2 * std::sin(2 * M_PI * c / classes) + noise(rng);
    labels.data_as<int64_t>()[i] = c;
  }

  Var x = matrix("x", DType::Float64);
  Var y = vector("y", DType::Int64);
  Var W = shared(Array::zeros(DType::Float64, {2, classes}), "W");
  Var b = shared(Array::zeros(DType::Float64, {classes}), "b");
  Var p = softmax(dot(x, W) + b);
  Var cost = mean(categorical_crossentropy(p, y));
  Var error = mean(neq(argmax(p, std::vector<int>{1}), y));
  std::vector<Var> g = grad(cost, {W, b});

  FunctionOptions sgd;
  sgd.updates = {{W, W - 0.5 * g[0]}, {b, b - 0.5 * g[1]}};
  auto train = function({x, y}, {cost, error}, sgd);
  for (int epoch = 1; epoch <= 20; ++epoch) {
    auto out = (*train)({data, labels});
    if (epoch % 5 == 0 || epoch == 1)
      std::printf("epoch %2d  cost %.4f  error %5.2f%%\n", epoch, out[0].item_as_double(), 100 * out[1].item_as_double());
  }
  Array w = W->storage()->get();
  std::printf("W = [[%.3f %.3f %.3f], [%.3f %.3f %.3f]]\n", w.item_as_double(0), w.item_as_double(1),
              w.item_as_double(2), w.item_as_double(3), w.item_as_double(4), w.item_as_double(5));
  return 0;
}
