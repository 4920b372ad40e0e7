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

namespace yep {

namespace {

struct Layout {
  template <typename Reader>
  static bool current_frame(Reader& reader, uintptr_t ts, uintptr_t* frame) {
    return reader.read(*frame, ts + offsetof(PyThreadState, current_frame));
  }
  static uintptr_t code_of(const _PyInterpreterFrame& f) { return reinterpret_cast<uintptr_t>(f.f_executable); }
  static bool boundary(const _PyInterpreterFrame& f) { return f.owner == FRAME_OWNED_BY_CSTACK; }
  static bool entry(const _PyInterpreterFrame&) { return false; }
  static intptr_t instruction(const _PyInterpreterFrame& f, uintptr_t code) { return cpython::code_units(f.instr_ptr, code); }
  static bool incomplete(const _PyInterpreterFrame& f, const PyCodeObject& code, intptr_t instruction) {
    return f.owner != FRAME_OWNED_BY_GENERATOR && instruction < code._co_firsttraceable;
  }
};

}  // namespace

const char* python_frames_unsupported_reason() { return cpython::check_debug_offsets<_Py_DebugOffsets>(); }

bool python_frames_layout_known() { return true; }

int read_python_frames(SafeReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) {
  return cpython::walk_frames<Layout>(reader, out, max, thread_id);
}

int read_python_frames(DirectReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) {
  return cpython::walk_frames<Layout>(reader, out, max, thread_id);
}

// The running eval loop's entry frame is a local of its C stack frame.
uintptr_t python_entry_marker() {
  for (_PyInterpreterFrame* f = PyThreadState_Get()->current_frame; f; f = f->previous)
    if (f->owner == FRAME_OWNED_BY_CSTACK) return reinterpret_cast<uintptr_t>(f);
  return 0;
}

}  // namespace yep
