// Bindings of the subtensor op family.
#include "bind_common.hpp"

namespace kiln::py {

void bind_subtensor(nb::module_& m) { (void)m; }

}  // namespace kiln::py
