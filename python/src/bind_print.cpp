// Bindings of graph printing (kiln.printing).
#include "bind_common.hpp"

namespace kiln::py {

void bind_print(nb::module_& m) { (void)m; }

}  // namespace kiln::py
