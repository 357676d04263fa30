// Builders of kiln/ops/conv.hpp and kiln/ops/pool.hpp with their option structs;
// kiln.tensor.nnet.abstract_conv and kiln.tensor.signal.pool give them Theano's Python signatures
// (border_mode spellings, shape lists with None, stride defaulting to ws).
#include "bind_common.hpp"
#include "ops/conv_onednn.hpp"

namespace kiln::py {

void bind_conv(nb::module_& m) {
  // Whether the convolutions can run on oneDNN (config.conv_backend chooses where they do).
  m.attr("has_onednn") = detail::onednn_available();
  nb::enum_<BorderMode>(m, "BorderMode")
      .value("valid", BorderMode::Valid)
      .value("full", BorderMode::Full)
      .value("half", BorderMode::Half)
      .value("explicit", BorderMode::Explicit);
  nb::class_<ConvOptions>(m, "ConvOptions")
      .def(nb::init<>())
      .def_rw("border_mode", &ConvOptions::border_mode)
      .def_rw("pad", &ConvOptions::pad)
      .def_rw("subsample", &ConvOptions::subsample)
      .def_rw("filter_dilation", &ConvOptions::filter_dilation)
      .def_rw("filter_flip", &ConvOptions::filter_flip)
      .def_rw("num_groups", &ConvOptions::num_groups)
      .def_rw("input_shape", &ConvOptions::input_shape)
      .def_rw("filter_shape", &ConvOptions::filter_shape);
  // nd: 2 (conv2d) or 3 (conv3d) checks the rank with the op's name; None takes it from the input.
  m.def("abstract_conv", [](nb::handle input, nb::handle filters, const ConvOptions& o, std::optional<int> nd) {
    if (nd == 2) return conv2d(v(input), v(filters), o);
    if (nd == 3) return conv3d(v(input), v(filters), o);
    return conv(v(input), v(filters), o);
  }, nb::arg("input"), nb::arg("filters"), nb::arg("options"), nb::arg("nd") = nb::none());
  m.def("abstract_conv_grad_inputs", [](nb::handle filters, nb::handle output_grad, nb::handle shape, const ConvOptions& o) {
    return conv_grad_inputs(v(filters), v(output_grad), v(shape), o);
  }, nb::arg("filters"), nb::arg("output_grad"), nb::arg("shape"), nb::arg("options"));
  m.def("abstract_conv_grad_weights", [](nb::handle input, nb::handle output_grad, nb::handle shape, const ConvOptions& o) {
    return conv_grad_weights(v(input), v(output_grad), v(shape), o);
  }, nb::arg("input"), nb::arg("output_grad"), nb::arg("shape"), nb::arg("options"));

  nb::class_<PoolOptions>(m, "PoolOptions")
      .def("__init__", [](PoolOptions* o, std::vector<int64_t> ws, bool ignore_border, std::vector<int64_t> stride,
                          std::vector<int64_t> pad, const std::string& mode) {
        new (o) PoolOptions{std::move(ws), std::move(stride), std::move(pad), ignore_border, pool_mode_from_string(mode)};
      }, nb::arg("ws"), nb::arg("ignore_border") = true, nb::arg("stride") = std::vector<int64_t>{},
         nb::arg("pad") = std::vector<int64_t>{}, nb::arg("mode") = "max");
  m.def("pool", [](nb::handle x, const PoolOptions& o) { return pool(v(x), o); }, nb::arg("x"), nb::arg("options"));
  m.def("max_pool_grad", [](nb::handle x, nb::handle maxout, nb::handle gz, const PoolOptions& o) {
    return max_pool_grad(v(x), v(maxout), v(gz), o);
  }, nb::arg("x"), nb::arg("maxout"), nb::arg("gz"), nb::arg("options"));
  m.def("average_pool_grad", [](nb::handle x, nb::handle gz, const PoolOptions& o) {
    return average_pool_grad(v(x), v(gz), o);
  }, nb::arg("x"), nb::arg("gz"), nb::arg("options"));
  m.def("max_pool_grad_grad", [](nb::handle x, nb::handle maxout, nb::handle ggx, const PoolOptions& o) {
    return max_pool_grad_grad(v(x), v(maxout), v(ggx), o);
  }, nb::arg("x"), nb::arg("maxout"), nb::arg("ggx"), nb::arg("options"));
}

}  // namespace kiln::py
