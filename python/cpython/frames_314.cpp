// python_frames.h for CPython 3.14: the tagged layout of 3.14 and later
// (tagged_layout.h), from this version's own internal headers.
#include <Python.h>

#define Py_BUILD_CORE 1
#include "internal/pycore_debug_offsets.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_interpframe.h"
#include "internal/pycore_runtime.h"

#if PY_VERSION_HEX < 0x030E0000 || PY_VERSION_HEX >= 0x030F0000
#error "frames_314.cpp is the layout of CPython 3.14"
#endif

#include "tagged_layout.h"
