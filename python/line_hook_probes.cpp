// The line hook of CPython 3.11: each registered plain function runs a copy
// of its code with the tracer's events inserted (line_probes_311.h), so
// nothing else is traced and its own instructions keep their specialized
// forms; a trace function (PyEval_SetTrace) would send every instruction of
// every frame through 3.11's slow tracing path, 2.3x on the Julia benchmark
// before any work of the tracer's. Generators and coroutines, which the
// rewriter leaves alone, are traced by the trace function
// (line_hook_trace.cpp), installed only once one of them is registered, in
// the registering thread and those started after it.
//
// Each probe is an object that names its event and the registered code
// object; activations are keyed by that code object. A function's copy
// stays valid after its code is forgotten (a %mprun run ends): its probes
// then report nothing.
//
// The whole file is for 3.11 (line_hook.cpp picks it there).
#include "line_hook.h"  // Python.h

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000

#include <unordered_map>

#include "line_probes_311.h"

namespace yep {

namespace {

bool reporting = false;  // started: the probes report their events

// A probe: which event, and the registered code object it reports for. The
// bytecode applies it with @ to a line number (line_probes_311.h).
enum class ProbeKind { kEnter, kLine, kLeave };

struct Probe {
  PyObject_HEAD
  ProbeKind kind;
  PyObject* code;  // strong
};

PyObject* probe_event(PyObject* self, PyObject* line) {
  const Probe* p = reinterpret_cast<Probe*>(self);
  if (__builtin_expect(reporting, 1)) {
    switch (p->kind) {
      case ProbeKind::kLine:
        line_events::line(p->code, static_cast<int>(PyLong_AsLong(line)));
        break;
      case ProbeKind::kEnter: {
        const int l = static_cast<int>(PyLong_AsLong(line));
        line_events::enter(p->code, p->code, l, l >= 0);
        break;
      }
      case ProbeKind::kLeave:
        line_events::leave(p->code);
        break;
    }
  }
  Py_RETURN_NONE;
}

void probe_dealloc(PyObject* self) {
  Py_XDECREF(reinterpret_cast<Probe*>(self)->code);
  PyObject_Free(self);
}

PyTypeObject* probe_type() {
  static PyNumberMethods number = {};
  static PyTypeObject type = {PyVarObject_HEAD_INIT(nullptr, 0)};
  if (!type.tp_name) {
    number.nb_matrix_multiply = probe_event;
    type.tp_name = "yep._native.line_probe";
    type.tp_basicsize = sizeof(Probe);
    type.tp_flags = Py_TPFLAGS_DEFAULT;
    type.tp_dealloc = probe_dealloc;
    type.tp_as_number = &number;
    type.tp_doc = "One of yep's line tracer events, inserted into a function's bytecode.";
    if (PyType_Ready(&type) < 0) PyErr_Clear();
  }
  return &type;
}

PyObject* new_probe(ProbeKind kind, PyObject* code) {
  Probe* p = PyObject_New(Probe, probe_type());
  if (!p) return nullptr;
  p->kind = kind;
  p->code = Py_NewRef(code);
  return reinterpret_cast<PyObject*>(p);
}

class ProbeHook : public LineHook {
 public:
  const char* name() const override { return "bytecode probes"; }
  bool per_thread() const override { return true; }  // the trace function, for generators

  void start(const std::vector<PyObject*>& codes) override {
    reporting = true;
    trace_function_hook().start(codes);
  }
  void install_thread() override {
    if (tracing_)
      trace_function_hook().install_thread();
    else  // a new thread's bootstrap trace function (threading.settrace) would keep it slow
      PyEval_SetTrace(nullptr, nullptr);
  }
  void stop(const std::vector<PyObject*>& codes) override {
    reporting = false;
    trace_function_hook().stop(codes);
  }
  void watch(PyObject*) override {}
  void unwatch(PyObject*) override {}

  PyObject* code_to_run(PyObject* code) override {
    auto it = copies_.find(code);
    if (it != copies_.end()) return Py_NewRef(it->second);
    PyObject* copy = probed_copy(code);
    if (!copy) {  // a generator or coroutine: the trace function's
      if (!tracing_) {
        tracing_ = true;
        if (reporting) trace_function_hook().install_thread();
      }
      copy = Py_NewRef(code);
    }
    copies_.emplace(code, copy);
    if (copy != code) originals_.emplace(copy, code);
    return Py_NewRef(copy);
  }

  PyObject* registered_code(PyObject* code) override {
    auto it = originals_.find(code);
    return it == originals_.end() ? code : it->second;
  }

  void release(PyObject* code) override {
    auto it = copies_.find(code);
    if (it == copies_.end()) return;
    originals_.erase(it->second);
    Py_DECREF(it->second);
    copies_.erase(it);
  }

 private:
  static PyObject* probed_copy(PyObject* code) {
    LineProbes probes{new_probe(ProbeKind::kEnter, code), new_probe(ProbeKind::kLine, code),
                      new_probe(ProbeKind::kLeave, code)};
    PyObject* copy = probes.enter && probes.line && probes.leave ? insert_line_probes(code, probes) : nullptr;
    Py_XDECREF(probes.enter);
    Py_XDECREF(probes.line);
    Py_XDECREF(probes.leave);
    PyErr_Clear();
    return copy;
  }

  bool tracing_ = false;  // a registered code object runs under the trace function
  std::unordered_map<PyObject*, PyObject*> copies_;    // registered -> to run (strong)
  std::unordered_map<PyObject*, PyObject*> originals_;  // copy -> registered (borrowed)
};

}  // namespace

LineHook& probe_hook() {
  static ProbeHook hook;
  return hook;
}

}  // namespace yep

#endif  // 3.11
