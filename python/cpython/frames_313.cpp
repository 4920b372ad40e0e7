// python_frames.h for CPython 3.13: PyThreadState -> current_frame;
// f_executable is a code object, or None in the entry frame that each C
// call of the eval loop pushes (owner FRAME_OWNED_BY_CSTACK); instr_ptr is
// the instruction running now (3.12's prev_instr was one before). Layout
// from this version's own internal headers, checked at start-up against the
// running interpreter's _Py_DebugOffsets.
#include <Python.h>

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#include "internal/pycore_runtime.h"

#include "debug_offsets.h"
#include "frame_walk.h"

#if PY_VERSION_HEX < 0x030D0000 || PY_VERSION_HEX >= 0x030E0000
#error "frames_313.cpp is the layout of CPython 3.13"
#endif

namespace {

struct Layout {
  template <typename Reader>
  static bool current_frame(Reader& reader, uintptr_t ts, uintptr_t* frame) {
    return reader.read(*frame, ts + offsetof(PyThreadState, current_frame));
  }
  static uintptr_t code_of(const _PyInterpreterFrame& f) { return reinterpret_cast<uintptr_t>(f.f_executable); }
  static bool boundary(const _PyInterpreterFrame& f) { return f.owner == FRAME_OWNED_BY_CSTACK; }
  static bool entry(const _PyInterpreterFrame&) { return false; }
  static intptr_t instruction(const _PyInterpreterFrame& f, uintptr_t code) {
    return yep::cpython::code_units(f.instr_ptr, code);
  }
  static bool incomplete(const _PyInterpreterFrame& f, const PyCodeObject& code, intptr_t instruction) {
    return f.owner != FRAME_OWNED_BY_GENERATOR && instruction < code._co_firsttraceable;
  }
  static const char* unsupported_reason() { return yep::cpython::check_debug_offsets<_Py_DebugOffsets>(); }
  static uintptr_t entry_marker() { return yep::cpython::first_boundary_frame<Layout>(); }
};

}  // namespace

YEP_PYTHON_FRAMES(Layout)
