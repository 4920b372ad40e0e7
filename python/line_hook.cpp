// Which line hook this interpreter gets (line_hook.h): the one place that
// knows Python versions. Measured on the Julia benchmark
// (benchmarks/line_memory.py, README): sys.monitoring's local events are the
// cheapest from 3.12 on, and cost nothing in the code not profiled; 3.11
// has only the trace function.
#include "line_hook.h"

namespace yep {

LineHook& line_hook() {
#if PY_VERSION_HEX >= 0x030C0000
  return monitoring_hook();
#elif PY_VERSION_HEX >= 0x030B0000
  return probe_hook();
#else
  return trace_function_hook();
#endif
}

}  // namespace yep
