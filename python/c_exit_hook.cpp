#include "c_exit_hook.h"

#include <cstdlib>

namespace yep {

namespace {

PyObject* finish_callable = nullptr;  // a strong reference
bool registered = false;

bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

void at_c_exit() {
  if (finish_callable == nullptr || !Py_IsInitialized() || finalizing()) return;
  if (PyGILState_GetThisThreadState() == nullptr) return;
  const PyGILState_STATE state = PyGILState_Ensure();
  PyObject* finish = finish_callable;
  finish_callable = nullptr;  // once (an exit() from inside the finish finds nothing)
  PyObject* result = PyObject_CallNoArgs(finish);
  if (result == nullptr) {
    PyErr_Clear();
  } else {
    Py_DECREF(result);
  }
  Py_DECREF(finish);
  PyGILState_Release(state);
}

}  // namespace

void c_exit_hook_set(PyObject* finish) {
  PyObject* old = finish_callable;
  finish_callable = nullptr;
  if (finish != nullptr && finish != Py_None) {
    Py_INCREF(finish);
    finish_callable = finish;
  }
  Py_XDECREF(old);
  if (!registered) registered = std::atexit(at_c_exit) == 0;
}

}  // namespace yep
