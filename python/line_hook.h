// How the line tracer hears about the lines the interpreter runs: one
// mechanism per file behind this interface, the cheapest one for the running
// interpreter picked in line_hook.cpp (the only place that knows versions).
//
//   line_hook_trace.cpp       PyEval_SetTrace: a C trace function in each
//                             thread.
//   line_hook_probes.cpp      3.11: the tracer's events inserted into the
//                             bytecode of the registered functions
//                             (line_probes_311.h); the trace function for
//                             generators and coroutines.
//   line_hook_monitoring.cpp  sys.monitoring (PEP 669, 3.12+): events only on
//                             the registered code objects, for every thread
//                             at once; the rest of the program runs untraced.
//
// A hook turns the interpreter's events into the calls below, which the
// tracer implements (line_tracer.cpp). An activation is named by a key the
// hook chooses (a frame, or the code object where frames are not given):
// the same key on enter, its lines and its leave.
#pragma once

#include <Python.h>

#include <vector>

namespace yep {

namespace line_events {

// An activation of `code` starts or resumes. `line` >= 0: that line starts
// too, as a new occurrence if `entered`, else going on (a generator resumed
// inside the line of its yield). Returns false when the code is not
// registered (the hook may then stop line events for it).
bool enter(const void* key, PyObject* code, int line, bool entered = false);
// The activation `key` starts running `line`.
void line(const void* key, int line);
// The activation `key` returns, yields, or is left by an exception.
void leave(const void* key);
// Any other event the hook received: it costs the same, and the
// calibration counts it.
void other();

}  // namespace line_events

class LineHook {
 public:
  virtual ~LineHook() = default;
  // What the report may say it used ("sys.monitoring", "PyEval_SetTrace").
  virtual const char* name() const = 0;
  // Whether each thread needs install_thread (else events come from every
  // thread once started).
  virtual bool per_thread() const = 0;
  // Starts delivering events for `codes`; throws CaptureError (one line)
  // when it cannot.
  virtual void start(const std::vector<PyObject*>& codes) = 0;
  // Delivers events from the calling thread too (per_thread hooks).
  virtual void install_thread() {}
  // Stops delivering events (every thread for per-process hooks; the
  // calling thread at once, the others at their next event, for
  // per-thread ones).
  virtual void stop(const std::vector<PyObject*>& codes) = 0;
  // A code object registered or forgotten while started.
  virtual void watch(PyObject* code) = 0;
  virtual void unwatch(PyObject* code) = 0;
  // The code object to run for a registered one (a new reference): itself,
  // or a copy that reports its lines (line_hook_probes.cpp), made once.
  virtual PyObject* code_to_run(PyObject* code) { return Py_NewRef(code); }
  // The registered code object a code to run was made for (borrowed), or
  // `code` itself.
  virtual PyObject* registered_code(PyObject* code) { return code; }
  // Drops what code_to_run made for a forgotten code object.
  virtual void release(PyObject*) {}
};

// The hooks there are (probe_hook only on 3.11, monitoring_hook only on
// 3.12+), and the one this interpreter uses.
LineHook& trace_function_hook();
LineHook& probe_hook();
LineHook& monitoring_hook();
LineHook& line_hook();

}  // namespace yep
