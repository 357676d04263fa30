// Bindings of kiln/ops/scan.hpp. kiln.scan_module normalises what the Python step function returns
// into (outputs, updates, until) before it reaches the core.
#include <nanobind/stl/function.h>

#include "bind_common.hpp"

namespace kiln::py {

void bind_scan(nb::module_& m) {
  m.def(
      "scan",
      [](nb::callable step, const std::vector<std::pair<Var, std::vector<int>>>& sequences,
         const std::vector<std::pair<std::optional<Var>, std::vector<int>>>& outputs_info,
         const std::vector<Var>& non_sequences, std::optional<Var> n_steps, bool go_backwards, int truncate_gradient,
         bool strict, const std::string& mode, const std::string& name) {
        std::vector<ScanSequence> seqs;
        for (const auto& [value, taps] : sequences) seqs.push_back({value, taps});
        std::vector<ScanOutputInfo> infos;
        for (const auto& [initial, taps] : outputs_info) infos.push_back({initial.value_or(nullptr), taps});
        ScanOptions options;
        options.n_steps = n_steps.value_or(nullptr);
        options.go_backwards = go_backwards;
        options.truncate_gradient = truncate_gradient;
        options.strict = strict;
        options.mode = mode;
        options.name = name;
        auto fn = [&](const std::vector<Var>& args) {
          nb::tuple r = nb::cast<nb::tuple>(step(args));
          ScanStepResult result;
          result.outputs = nb::cast<std::vector<Var>>(r[0]);
          result.updates = nb::cast<std::vector<std::pair<Var, Var>>>(r[1]);
          if (!r[2].is_none()) result.until = nb::cast<Var>(r[2]);
          return result;
        };
        ScanResult result = scan(fn, seqs, infos, non_sequences, options);
        return std::make_pair(result.outputs, result.updates);
      },
      nb::arg("step"), nb::arg("sequences"), nb::arg("outputs_info"), nb::arg("non_sequences"),
      nb::arg("n_steps").none(), nb::arg("go_backwards"), nb::arg("truncate_gradient"), nb::arg("strict"),
      nb::arg("mode"), nb::arg("name"));
  m.def("is_scan", [](const Apply& node) { return is_scan(node); });
  m.def("scan_inner_outputs", [](const Apply& node) { return scan_inner_outputs(node); });
}

}  // namespace kiln::py
