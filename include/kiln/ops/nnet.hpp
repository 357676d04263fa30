// Neural-network functions (Theano's T.nnet), as composites of existing ops: their gradients come
// from the ops they are made of.
#pragma once

#include "kiln/graph/graph.hpp"

namespace kiln {

/// softmax along the last axis, computed as exp(x - max) / sum(exp(x - max)) so large inputs do
/// not overflow. A vector input is treated as one row.
Var softmax(const Var& x);
/// log(softmax(x)) along the last axis, without forming softmax (accurate for very negative values).
Var log_softmax(const Var& x);
/// max(x, 0), or the leaky form alpha * x for negative x.
Var relu(const Var& x, double alpha = 0.0);
/// Cross-entropy between predicted distributions (rows of coding_dist) and the truth: either
/// integer class labels (a vector) or distributions (a matrix like coding_dist).
Var categorical_crossentropy(const Var& coding_dist, const Var& true_dist);
/// Elementwise -(target * log(output) + (1 - target) * log(1 - output)).
Var binary_crossentropy(const Var& output, const Var& target);
/// Theano's piecewise-linear approximation clip(0.2 * x + 0.5, 0, 1).
Var hard_sigmoid(const Var& x);

}  // namespace kiln
