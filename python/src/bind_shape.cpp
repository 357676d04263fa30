// Bindings of the shape op family.
#include "bind_common.hpp"

namespace kiln::py {

void bind_shape_ops(nb::module_& m) { (void)m; }

}  // namespace kiln::py
