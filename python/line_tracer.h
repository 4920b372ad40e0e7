// The line tracer of `yep memory`: for each line of the registered functions,
// how often it ran, its time, the bytes it allocated minus freed (exact, from
// the per-thread allocation counters), the peak extra bytes reached while it
// ran, and the process's RSS after it.
//
// The events come from a hook (line_hook.h: sys.monitoring on 3.12+, probes
// inserted into the functions' bytecode on 3.11); code that is not
// registered runs untraced. Functions are registered by code object, so
// methods, generators, coroutines and recursive functions need no wrapper:
// every activation of the code is measured (a generator's lines between its
// yields; a recursive line's figures include those of the calls it makes).
// A line's occurrences are the times it is entered from another line.
//
// Time: the clock (line_clock.h) is read once per line boundary, so the time
// between two readings holds, besides the line's own work, the work of the
// event that ends it (the interpreter's and the tracer's). That cost per
// event is measured at start-up (line_calibration.h) and subtracted, for
// every event the line spans (a line calling a profiled function spans the
// callee's events too): a line that does nothing reads about zero.
//
// RSS is read from /proc/self/statm only when it can have changed: when the
// thread's net bytes moved by 256 KiB since the last reading, or 20 ms
// passed. A line that only touches pages allocated earlier (numpy's zeros)
// shows in RSS within those 20 ms. Without allocation counting (no
// malloc hooks), RSS is read after every line.
//
// All entry points need the GIL; results are per process, activations per
// thread.
#pragma once

#include <Python.h>

#include <cstdint>
#include <vector>

namespace yep {

struct LineRecord {
  int64_t hits = 0;
  int64_t clock_ticks = 0;     // between the clock readings that start and end it, summed over hits
  int64_t events = 0;          // tracer events within those spans (see line_time_ns)
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

// Registers a code object (idempotent); while started, the hook starts
// delivering its events at once. Returns the code object the function must
// run (a new reference): the same one, or on 3.11 a copy with line probes
// (line_hook_probes.cpp); registering that copy again is registering its
// original.
PyObject* line_tracer_add(PyObject* code);
// The registered code object of a code object to run (borrowed): its
// original for a copy line_tracer_add made, else the code itself.
PyObject* line_tracer_registered(PyObject* code);
// Unregisters a code object and drops its figures and its reference (%mprun
// profiles a fresh copy of the code each run, then forgets it).
void line_tracer_forget(PyObject* code);

// Starts the hook (idempotent), in the calling thread too for per-thread
// hooks; the first start in the process measures the tracer's cost per
// event first (line_calibration.h, a few ms). count_allocations adds the allocation counter hooks (CaptureError
// without malloc hooks). Without them the byte columns stay 0 and RSS is read
// after every line instead (the only figure left, so it must not lag).
// Throws CaptureError when the hook cannot start (sys.monitoring's tool ids
// all taken).
void line_tracer_start(bool count_allocations = true);
// Whether new threads need line_tracer_install_thread, and the hook's name.
bool line_tracer_per_thread();
const char* line_tracer_hook_name();
// Per-thread hooks: trace the calling thread too.
void line_tracer_install_thread();
// Stops the hook; the figures stay.
void line_tracer_stop();
bool line_tracer_started();
// Ends the lines still running in this thread (at exit), so they count.
void line_tracer_finish_thread();

// In a forked child, at once (the forking thread, the only one left):
// drops the figures copied from the parent, so the child reports only what
// it ran itself; the lines running in the forking thread go on in the
// child without counting an occurrence (they were entered in the parent),
// and RSS is read afresh from the child's own /proc/self/statm (the
// thread's open file still reads the parent's).
void line_tracer_after_fork();

// Forgotten functions stay as records with no code (their lines are not reported).
const std::vector<FunctionRecord>& line_tracer_results();
// The line's time: its clock time less the tracer's cost of the events it
// spans (never below zero).
int64_t line_time_ns(const LineRecord& r);

// The tracer's own cost per event, in ns (0 until set by the calibration).
void line_tracer_set_event_cost(double ns);
double line_tracer_event_cost();
// Events the calling thread has received from the hook so far.
int64_t line_tracer_thread_events();

}  // namespace yep
