// Private interface of the oneDNN convolution kernels (conv_onednn.cpp): the three kernels of
// conv_impl.hpp's contract (cross-correlation, C-contiguous NCHW images and OIHW filters) run by
// oneDNN for the layers where it is faster than im2col + GEMM, chosen by config.conv_backend and the
// measured heuristic of conv_onednn.cpp. Without oneDNN in the build (KILN_HAVE_ONEDNN undefined)
// every call declines and the caller runs im2col + GEMM.
#pragma once

#include "ops/conv_impl.hpp"

namespace kiln::detail {

enum class ConvKernel { Forward, BackwardInput, BackwardFilter };

/// True when kiln was built with oneDNN.
bool onednn_available();

/// Runs kernel k with oneDNN when the configuration and the heuristic choose oneDNN for geometry g:
///   Forward:        a = img,  b = kern, out = output
///   BackwardInput:  a = kern, b = top,  out = img_grad
///   BackwardFilter: a = img,  b = top,  out = kern_grad
/// (the arguments of conv_forward / conv_backward_input / conv_backward_filter). Returns false,
/// having written nothing, when oneDNN is not chosen or cannot run the case (3-d, empty arrays);
/// float64 always declines (oneDNN's CPU convolutions have no f64).
bool onednn_conv(ConvKernel k, const ConvGeometry& g, const float* a, const float* b, float* out);
inline bool onednn_conv(ConvKernel, const ConvGeometry&, const double*, const double*, double*) { return false; }

}  // namespace kiln::detail
