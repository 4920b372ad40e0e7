// python_frames.h for CPython 3.15: as 3.14 (tagged f_executable,
// entry frames owned by FRAME_OWNED_BY_INTERPRETER), without CSTACK, and
// with one more interpreter-owned frame at the bottom of every thread
// (tstate->base_frame). Layout from this version's own internal headers,
// checked at start-up against the running interpreter's _Py_DebugOffsets.
#include <Python.h>

#define Py_BUILD_CORE 1
#include "internal/pycore_debug_offsets.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_interpframe.h"
#include "internal/pycore_runtime.h"

#include "debug_offsets.h"
#include "frame_walk.h"

#if PY_VERSION_HEX < 0x030F0000 || PY_VERSION_HEX >= 0x03100000
#error "frames_315.cpp is the layout of CPython 3.15"
#endif

namespace yep {

namespace {

struct Layout {
  template <typename Reader>
  static bool current_frame(Reader& reader, uintptr_t ts, uintptr_t* frame) {
    return reader.read(*frame, ts + offsetof(PyThreadState, current_frame));
  }
  static uintptr_t code_of(const _PyInterpreterFrame& f) {
    const uintptr_t bits = f.f_executable.bits;
    if ((bits & Py_INT_TAG) == Py_INT_TAG) return 0;  // a tagged int
    return bits & ~static_cast<uintptr_t>(Py_INT_TAG);
  }
  static bool boundary(const _PyInterpreterFrame& f) { return f.owner >= FRAME_OWNED_BY_INTERPRETER; }
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
    if (f->owner >= FRAME_OWNED_BY_INTERPRETER) return reinterpret_cast<uintptr_t>(f);
  return 0;
}

}  // namespace yep
