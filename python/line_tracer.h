// The line tracer of `yep memory`: a C-level trace function (PyEval_SetTrace)
// that measures, for each line of the registered functions, how often it ran,
// its time, the bytes it allocated minus freed (exact, from the per-thread
// allocation counters), the peak extra bytes reached while it ran, and the
// process's RSS after it.
//
// Cheap where it does not profile: a call of an unregistered function costs
// one hash lookup and switches line events off for that frame. Functions
// are registered by code object, so methods, generators, coroutines and
// recursive functions need no wrapper: every activation of the code is
// measured (a generator's lines between its yields; a recursive line's
// figures include those of the calls it makes).
//
// RSS is read from /proc/self/statm only when it can have changed: when the
// thread's net bytes moved by 256 KiB since the last reading, or 20 ms
// passed. A line that only touches pages allocated earlier (numpy's zeros)
// shows in RSS within those 20 ms. Without allocation counting (no
// tcmalloc), RSS is read after every line.
//
// All entry points need the GIL; results are per process, activations per
// thread.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string>
#include <vector>

namespace yep {

struct LineRecord {
  int64_t hits = 0;
  int64_t time_ns = 0;
  int64_t net_bytes = 0;       // allocated minus freed, summed over hits
  int64_t peak_bytes = 0;      // highest extra bytes above the line's start, over hits
  int64_t rss_max = 0;         // highest RSS read after the line
  int64_t rss_increment = 0;   // RSS after minus before, summed over hits
};

struct FunctionRecord {
  PyObject* code = nullptr;  // strong reference
  int first_line = 0;
  std::vector<LineRecord> lines;  // by line - first_line
};

// Registers a code object (idempotent); returns its index in the results.
size_t line_tracer_add(PyObject* code);
// Installs / removes the trace function in the calling thread. Installing
// also adds the allocation counter hooks (CaptureError without tcmalloc).
// count_allocations adds the allocation hooks (tcmalloc must be the
// allocator). Without them the byte columns stay 0 and RSS is read after
// every line instead (the only figure left, so it must not lag).
void line_tracer_install_thread(bool count_allocations = true);
// Unregisters a code object and drops its figures and its reference (%mprun
// profiles a fresh copy of the code each run, then forgets it).
void line_tracer_forget(PyObject* code);
void line_tracer_uninstall_thread();
// Ends the lines still running in this thread (at exit), so they count.
void line_tracer_finish_thread();
// Forgotten functions stay as records with no code and no lines.
const std::vector<FunctionRecord>& line_tracer_results();

}  // namespace yep
