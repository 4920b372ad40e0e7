// python_frames.h for CPython 3.11: PyThreadState -> _PyCFrame ->
// current_frame; a frame's f_code is its code object and prev_instr the
// instruction it runs; the last frame of each C call of the eval loop is
// marked is_entry (no separate entry frame). Layout from this version's
// own internal headers.
#include <Python.h>

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"

#include "frame_walk.h"

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "frames_311.cpp is the layout of CPython 3.11"
#endif

namespace yep {

namespace {

struct Layout {
  template <typename Reader>
  static bool current_frame(Reader& reader, uintptr_t ts, uintptr_t* frame) {
    _PyCFrame* cframe = nullptr;
    if (!reader.read(cframe, ts + offsetof(PyThreadState, cframe)) || !cframe) return false;
    return reader.read(*frame, reinterpret_cast<uintptr_t>(cframe) + offsetof(_PyCFrame, current_frame));
  }
  static uintptr_t code_of(const _PyInterpreterFrame& f) { return reinterpret_cast<uintptr_t>(f.f_code); }
  static bool boundary(const _PyInterpreterFrame&) { return false; }
  static bool entry(const _PyInterpreterFrame& f) { return f.is_entry; }
  static intptr_t instruction(const _PyInterpreterFrame& f, uintptr_t code) { return cpython::code_units(f.prev_instr, code); }
  static bool incomplete(const _PyInterpreterFrame& f, const PyCodeObject& code, intptr_t instruction) {
    return f.owner != FRAME_OWNED_BY_GENERATOR && instruction < code._co_firsttraceable;
  }
};

}  // namespace

const char* python_frames_unsupported_reason() { return nullptr; }

bool python_frames_layout_known() { return true; }

int read_python_frames(SafeReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) {
  return cpython::walk_frames<Layout>(reader, out, max, thread_id);
}

int read_python_frames(DirectReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) {
  return cpython::walk_frames<Layout>(reader, out, max, thread_id);
}

// The running eval loop keeps its _PyCFrame in its own C stack frame.
uintptr_t python_entry_marker() {
  PyThreadState* ts = PyThreadState_Get();
  return reinterpret_cast<uintptr_t>(ts->cframe);
}

}  // namespace yep
