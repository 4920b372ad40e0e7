// The line hook as a C trace function (PyEval_SetTrace), installed in each
// thread. Activations are named by their frame. A call of an unregistered
// function costs one hash lookup and switches line events off for that
// frame; its return is one more call of the trace function.
#include "line_hook.h"  // Python.h first

#include <frameobject.h>

namespace yep {

namespace {

bool delivering = false;

int trace(PyObject*, PyFrameObject* frame, int what, PyObject*) {
  if (__builtin_expect(!delivering, 0)) {  // stopped from another thread: leave this one too
    PyEval_SetTrace(nullptr, nullptr);
    return 0;
  }
  switch (what) {
    case PyTrace_LINE:
      line_events::line(frame, PyFrame_GetLineNumber(frame));
      return 0;
    case PyTrace_CALL: {  // also when a generator resumes
      PyCodeObject* code = PyFrame_GetCode(frame);
      const bool registered = line_events::enter(frame, reinterpret_cast<PyObject*>(code), -1);
      Py_DECREF(code);
      if (!registered) {
        // No line events for this frame. (The attribute name is made once:
        // PyObject_SetAttrString would build and intern it on every call of
        // every unprofiled function.)
        static PyObject* const f_trace_lines = PyUnicode_InternFromString("f_trace_lines");
        if (f_trace_lines == nullptr ||
            PyObject_SetAttr(reinterpret_cast<PyObject*>(frame), f_trace_lines, Py_False) < 0)
          PyErr_Clear();
      }
      return 0;
    }
    case PyTrace_RETURN:  // also on yield, and when an exception leaves
      line_events::leave(frame);
      return 0;
    default:
      line_events::other();
      return 0;
  }
}

class TraceFunctionHook : public LineHook {
 public:
  const char* name() const override { return "PyEval_SetTrace"; }
  bool per_thread() const override { return true; }
  void start(const std::vector<PyObject*>&) override { delivering = true; }
  void install_thread() override { PyEval_SetTrace(trace, nullptr); }
  void stop(const std::vector<PyObject*>&) override {
    delivering = false;
    PyEval_SetTrace(nullptr, nullptr);
  }
  void watch(PyObject*) override {}    // every call is seen
  void unwatch(PyObject*) override {}
};

}  // namespace

LineHook& trace_function_hook() {
  static TraceFunctionHook hook;
  return hook;
}

}  // namespace yep
