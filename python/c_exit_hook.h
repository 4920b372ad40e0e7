// exit() called from C (a library's fatal error, Fortran's STOP, a ctypes
// call) ends the process without Python's clean-up: no atexit handler, no
// finally block runs, and a profiled run would leave no profile. A run
// registers its finish here; a C atexit handler calls it, holding the GIL,
// when that is safe:
//   - the interpreter is running, not finalizing (a normal end reaches
//     exit() after Py_Finalize, when there is nothing to do);
//   - the exiting thread is one of Python's (it holds the GIL, or released
//     it around the call, as ctypes does); a thread that never ran Python
//     is left alone.
// The finish runs at most once. A forked child inherits the registration;
// the finish itself knows whose run it is.
#pragma once

#include <Python.h>

namespace yep {

// `finish`: a callable taking no arguments, or None to forget it. Needs the GIL.
void c_exit_hook_set(PyObject* finish);

}  // namespace yep
