#include "line_calibration.h"

#include <Python.h>

#include <algorithm>
#include <limits>

#include "line_clock.h"
#include "line_tracer.h"

namespace yep {

namespace {

constexpr Py_ssize_t kItems = 20000;  // 40,001 line events a traced run
constexpr int kRuns = 7;

const char* const kSource =
    "def yep_line_calibration(items):\n"
    "    for item in items:\n"
    "        last = item\n"
    "    return last\n";

// New references to the calibration function (its code gets registered)
// and an identical one on a copy of the code (never registered), or false.
bool make_functions(PyObject** traced, PyObject** plain) {
  *traced = *plain = nullptr;
  PyObject* globals = PyDict_New();
  PyObject* compiled = Py_CompileString(kSource, "<yep line calibration>", Py_file_input);
  if (globals && compiled && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0) {
    if (PyObject* done = PyEval_EvalCode(compiled, globals, globals)) {
      Py_DECREF(done);
      if (PyObject* f = PyDict_GetItemString(globals, "yep_line_calibration")) {  // borrowed
        PyObject* code = PyObject_GetAttrString(f, "__code__");
        PyObject* copy = code ? PyObject_CallMethod(code, "replace", nullptr) : nullptr;
        if (copy) *plain = PyFunction_New(copy, globals);
        if (*plain) *traced = Py_NewRef(f);
        Py_XDECREF(copy);
        Py_XDECREF(code);
      }
    }
  }
  Py_XDECREF(compiled);
  Py_XDECREF(globals);
  if (!*traced) {
    Py_CLEAR(*plain);
    PyErr_Clear();
    return false;
  }
  return true;
}

// Calls f(items) and returns its time in clock ticks, or -1 if it failed.
int64_t timed_call(PyObject* f, PyObject* items) {
  const int64_t start = line_clock_ticks();
  PyObject* r = PyObject_CallOneArg(f, items);
  const int64_t end = line_clock_ticks();
  if (!r) {
    PyErr_Clear();
    return -1;
  }
  Py_DECREF(r);
  return end - start;
}

// The clock ticks and events the tracer has counted for a function's lines.
void totals(PyObject* code, int64_t* clock_ticks, int64_t* events) {
  *clock_ticks = *events = 0;
  for (const FunctionRecord& f : line_tracer_results()) {
    if (f.code != code) continue;
    for (const LineRecord& r : f.lines) {
      *clock_ticks += r.clock_ticks;
      *events += r.events;
    }
  }
}

}  // namespace

double measure_line_event_cost(const std::function<void()>& start) {
  PyObject *traced, *plain;
  PyObject* items = PyList_New(kItems);
  if (!items || !make_functions(&traced, &plain)) {
    Py_XDECREF(items);
    PyErr_Clear();
    start();
    return 0;  // no calibration: the times keep the tracer's cost, as before
  }
  for (Py_ssize_t i = 0; i < kItems; ++i) PyList_SET_ITEM(items, i, Py_NewRef(Py_None));
  // The lines' own time, untraced: the fastest run, per line executed.
  int64_t untraced = std::numeric_limits<int64_t>::max();
  for (int run = 0; run <= kRuns; ++run) {  // the first one warms up
    const int64_t t = timed_call(plain, items);
    if (run > 0 && t >= 0) untraced = std::min(untraced, t);
  }
  start();
  // Registered, and running the code the tracer gives it (on 3.11 a copy
  // with line probes).
  PyObject* code = PyObject_GetAttrString(traced, "__code__");
  PyObject* to_run = code ? line_tracer_add(code) : nullptr;
  double cost = 0;
  if (to_run && PyObject_SetAttrString(traced, "__code__", to_run) == 0) {
    // The tracer's time per event: the fastest run again.
    double per_event = std::numeric_limits<double>::max();
    int64_t clock_before = 0, events_before = 0;
    for (int run = 0; run <= kRuns; ++run) {
      if (timed_call(traced, items) < 0) break;
      int64_t clock_ticks, events;
      totals(code, &clock_ticks, &events);
      const int64_t d_clock = clock_ticks - clock_before, d_events = events - events_before;
      clock_before = clock_ticks;
      events_before = events;
      if (run > 0 && d_events > 0) per_event = std::min(per_event, static_cast<double>(d_clock) / d_events);
    }
    // Each item runs two lines (the for and its body).
    if (per_event < std::numeric_limits<double>::max() && untraced < std::numeric_limits<int64_t>::max())
      cost = std::max(0.0, per_event - static_cast<double>(untraced) / (2.0 * kItems + 1));
  }
  if (code) line_tracer_forget(code);
  Py_XDECREF(to_run);
  Py_XDECREF(code);
  PyErr_Clear();
  Py_DECREF(traced);
  Py_DECREF(plain);
  Py_DECREF(items);
  return cost;
}

}  // namespace yep
