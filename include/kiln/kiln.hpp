// The umbrella header of kiln's C++ API.
#pragma once

#include "kiln/compile/function.hpp"
#include "kiln/config.hpp"
#include "kiln/error.hpp"
#include "kiln/graph/fgraph.hpp"
#include "kiln/graph/graph.hpp"
#include "kiln/graph/type.hpp"
#include "kiln/grad/grad.hpp"
#include "kiln/ops/blas.hpp"
#include "kiln/ops/elemwise.hpp"
#include "kiln/ops/nnet.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/shape.hpp"
#include "kiln/ops/subtensor.hpp"
#include "kiln/print/printing.hpp"
#include "kiln/runtime/array.hpp"
#include "kiln/runtime/dtype.hpp"
