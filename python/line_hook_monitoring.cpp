// The line hook through sys.monitoring (PEP 669, CPython 3.12+), driven
// through its Python API so that nothing here depends on the interpreter's
// internals.
//
// One tool id (PROFILER_ID, else 3 or 4, which no one is assigned), with
// LINE, PY_START, PY_RESUME, PY_RETURN and PY_YIELD set only on the
// registered code objects (local events), so the rest of the program runs
// uninstrumented; PY_UNWIND and PY_THROW (an exception leaving a frame, a
// generator resumed by throw()) exist only as global events, and cost
// something only when an exception passes. sys.monitoring delivers events
// in every thread, so threads need nothing of their own. Activations are
// named by their code object (the events give no frame); the tracer's
// per-thread stack keeps recursion apart.
//
// The callbacks are objects of a small type of our own that is called
// through vectorcall straight into the functions below: no argument
// parsing, no method object in between.
//
// The whole file is for 3.12+ (line_hook.cpp picks it there).
#include "line_hook.h"  // Python.h

#if PY_VERSION_HEX >= 0x030C0000

#include <cstdarg>
#include <cstddef>
#include <string>

#include "cpu_profiler.h"  // CaptureError

namespace yep {

namespace {

struct EventCallback {
  PyObject_HEAD
  vectorcallfunc vectorcall;
};

// A line number or an offset as sys.monitoring passes it: a small int,
// read inline.
inline int int_of(PyObject* v) {
  return static_cast<int>(PyUnstable_Long_IsCompact(reinterpret_cast<PyLongObject*>(v))
                              ? PyUnstable_Long_CompactValue(reinterpret_cast<PyLongObject*>(v))
                              : PyLong_AsLong(v));
}

// args: (code, instruction offset in bytes, ...): the line at that offset.
int line_at(PyObject* const* args) {
  return PyCode_Addr2Line(reinterpret_cast<PyCodeObject*>(args[0]), int_of(args[1]));
}

PyObject* on_line(PyObject*, PyObject* const* args, size_t nargsf, PyObject*) {  // (code, line)
  if (PyVectorcall_NARGS(nargsf) >= 2) line_events::line(args[0], int_of(args[1]));
  Py_RETURN_NONE;
}

PyObject* on_start(PyObject*, PyObject* const* args, size_t nargsf, PyObject*) {  // (code, offset)
  if (PyVectorcall_NARGS(nargsf) >= 2) line_events::enter(args[0], args[0], -1);
  Py_RETURN_NONE;
}

// PY_RESUME (code, offset), PY_THROW (code, offset, exception): the frame
// goes on inside the line it stopped in.
PyObject* on_resume(PyObject*, PyObject* const* args, size_t nargsf, PyObject*) {
  if (PyVectorcall_NARGS(nargsf) >= 2) line_events::enter(args[0], args[0], line_at(args));
  Py_RETURN_NONE;
}

// PY_RETURN, PY_YIELD (code, offset, value), PY_UNWIND (code, offset, exception).
PyObject* on_leave(PyObject*, PyObject* const* args, size_t nargsf, PyObject*) {
  if (PyVectorcall_NARGS(nargsf) >= 1) line_events::leave(args[0]);
  Py_RETURN_NONE;
}

PyTypeObject* callback_type() {
  static PyTypeObject type = {PyVarObject_HEAD_INIT(nullptr, 0)};
  if (!type.tp_name) {
    type.tp_name = "yep._native.line_event_callback";
    type.tp_basicsize = sizeof(EventCallback);
    type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL;
    type.tp_vectorcall_offset = offsetof(EventCallback, vectorcall);
    type.tp_call = PyVectorcall_Call;
    type.tp_doc = "A sys.monitoring callback of yep's line tracer.";
    if (PyType_Ready(&type) < 0) {
      PyErr_Clear();
      throw CaptureError("yep's line tracer cannot make its sys.monitoring callbacks");
    }
  }
  return &type;
}

PyObject* new_callback(vectorcallfunc f) {
  EventCallback* c = PyObject_New(EventCallback, callback_type());
  if (!c) {
    PyErr_Clear();
    throw CaptureError("yep's line tracer cannot make its sys.monitoring callbacks");
  }
  c->vectorcall = f;
  return reinterpret_cast<PyObject*>(c);
}

// The Python error set now as one line ("TypeError: ..."), cleared.
std::string python_error() {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  std::string text = "unknown error";
  if (PyObject* s = value ? PyObject_Str(value) : nullptr) {
    if (const char* c = PyUnicode_AsUTF8(s)) text = c;
    Py_DECREF(s);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  PyErr_Clear();
  return text;
}

class MonitoringHook : public LineHook {
 public:
  const char* name() const override { return "sys.monitoring"; }
  bool per_thread() const override { return false; }

  void start(const std::vector<PyObject*>& codes) override {
    load();
    tool_ = -1;
    std::string holders;
    for (int id : {kProfilerId, 3, 4}) {
      PyObject* holder = call("get_tool", "(i)", id);
      if (holder == Py_None) {
        Py_DECREF(holder);
        tool_ = id;
        break;
      }
      PyObject* s = PyObject_Str(holder);
      holders += (holders.empty() ? "" : ", ") + std::to_string(id) + " by '" +
                 (s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : "?") + "'";
      Py_XDECREF(s);
      Py_DECREF(holder);
    }
    if (tool_ < 0)
      throw CaptureError("the line tracer needs a sys.monitoring tool id, and 2, 3 and 4 are taken (" + holders +
                         "): stop the other tools (debugger, coverage, profiler) first");
    Py_DECREF(call("use_tool_id", "(is)", tool_, "yep memory"));
    try {
      for (const auto& [event, callback] : callbacks_)
        Py_DECREF(call("register_callback", "(iiO)", tool_, event, callback));
      Py_DECREF(call("set_events", "(ii)", tool_, global_events_));
      for (PyObject* code : codes) watch(code);
    } catch (const CaptureError&) {
      stop(codes);  // the tool id back, for the next try
      throw;
    }
  }

  void stop(const std::vector<PyObject*>& codes) override {
    if (tool_ < 0) return;
    try {
      for (PyObject* code : codes) unwatch(code);
      Py_DECREF(call("set_events", "(ii)", tool_, 0));
      for (const auto& [event, callback] : callbacks_) {
        (void)callback;
        Py_DECREF(call("register_callback", "(iiO)", tool_, event, Py_None));
      }
      Py_DECREF(call("free_tool_id", "(i)", tool_));
    } catch (const CaptureError&) {
      // Leaving as much off as could be: the figures are still worth a report.
    }
    tool_ = -1;
  }

  void watch(PyObject* code) override {
    if (tool_ >= 0) Py_DECREF(call("set_local_events", "(iOi)", tool_, code, local_events_));
  }
  void unwatch(PyObject* code) override {
    if (tool_ >= 0) Py_DECREF(call("set_local_events", "(iOi)", tool_, code, 0));
  }

 private:
  static constexpr int kProfilerId = 2;

  // sys.monitoring, its event numbers and our callbacks, the first time.
  void load() {
    if (monitoring_) return;
    PyObject* sys = PyImport_ImportModule("sys");
    PyObject* monitoring = sys ? PyObject_GetAttrString(sys, "monitoring") : nullptr;
    Py_XDECREF(sys);
    if (!monitoring) throw CaptureError("the line tracer needs sys.monitoring: " + python_error());
    PyObject* events = PyObject_GetAttrString(monitoring, "events");
    if (!events) {
      Py_DECREF(monitoring);
      throw CaptureError("the line tracer needs sys.monitoring.events: " + python_error());
    }
    auto event = [&](const char* name) {
      PyObject* v = PyObject_GetAttrString(events, name);
      const long bit = v ? PyLong_AsLong(v) : -1;
      Py_XDECREF(v);
      if (bit <= 0 || PyErr_Occurred()) {
        Py_DECREF(events);
        throw CaptureError(std::string("the line tracer needs sys.monitoring.events.") + name + ": " +
                           python_error());
      }
      return static_cast<int>(bit);
    };
    const int line = event("LINE"), start = event("PY_START"), resume = event("PY_RESUME"),
              ret = event("PY_RETURN"), yield = event("PY_YIELD"), unwind = event("PY_UNWIND"),
              thrown = event("PY_THROW");
    Py_DECREF(events);
    local_events_ = line | start | resume | ret | yield;
    global_events_ = unwind | thrown;
    PyObject* leave = new_callback(on_leave);
    PyObject* resumed = new_callback(on_resume);
    callbacks_ = {{line, new_callback(on_line)}, {start, new_callback(on_start)}, {resume, resumed},
                  {thrown, resumed},                {ret, leave},                    {yield, leave},
                  {unwind, leave}};
    Py_INCREF(leave);  // one reference per entry above (never released: they live as long as the module)
    Py_INCREF(leave);
    Py_INCREF(resumed);
    monitoring_ = monitoring;
  }

  // sys.monitoring.<name>(*args); a new reference, or CaptureError.
  PyObject* call(const char* name, const char* format, ...) {
    PyObject* f = PyObject_GetAttrString(monitoring_, name);
    if (!f) throw CaptureError(std::string("sys.monitoring.") + name + ": " + python_error());
    va_list va;
    va_start(va, format);
    PyObject* args = Py_VaBuildValue(format, va);
    va_end(va);
    PyObject* result = args ? PyObject_Call(f, args, nullptr) : nullptr;
    Py_XDECREF(args);
    Py_DECREF(f);
    if (!result) throw CaptureError(std::string("sys.monitoring.") + name + ": " + python_error());
    return result;
  }

  PyObject* monitoring_ = nullptr;
  int tool_ = -1;
  int local_events_ = 0, global_events_ = 0;
  std::vector<std::pair<int, PyObject*>> callbacks_;  // (event, callback)
};

}  // namespace

LineHook& monitoring_hook() {
  static MonitoringHook hook;
  return hook;
}

}  // namespace yep

#endif  // PY_VERSION_HEX >= 0x030C0000
