// Which line hook this interpreter gets (line_hook.h): the one place that
// knows Python versions. Measured on the Julia benchmark
// (benchmarks/line_memory.py, 200x200 grid, CPU time, ratio to unprofiled):
//
//   3.11  trace function 3.2x (a no-op one alone: 2.3x, every instruction
//         goes through the tracing path), bytecode probes 2.2x;
//   3.12  sys.monitoring 2.1x, the trace function 2.5x;
//   3.13  sys.monitoring 2.05x, the trace function 1.9x: 3.13 calls a C trace
//         function directly for line events, but it also takes a call event
//         and a frame object for every call of every function, and line
//         events in all code (the program with nothing profiled: 1.42x, with
//         sys.monitoring 1.19x), so sys.monitoring stays.
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
