// python_frames.h for CPython 3.12: PyThreadState -> _PyCFrame ->
// current_frame; f_code and prev_instr as in 3.11, but each C call of the
// eval loop pushes an entry frame of its own (owner FRAME_OWNED_BY_CSTACK,
// a real "<interpreter trampoline>" code object, not a frame to show) below
// the frames it runs. Layout from this version's own internal headers.
#include <Python.h>

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"

#include "frame_walk.h"

#if PY_VERSION_HEX < 0x030C0000 || PY_VERSION_HEX >= 0x030D0000
#error "frames_312.cpp is the layout of CPython 3.12"
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
  static bool boundary(const _PyInterpreterFrame& f) { return f.owner == FRAME_OWNED_BY_CSTACK; }
  static bool entry(const _PyInterpreterFrame&) { return false; }
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

// The running eval loop's entry frame is a local of its C stack frame.
uintptr_t python_entry_marker() {
  PyThreadState* ts = PyThreadState_Get();
  for (_PyInterpreterFrame* f = ts->cframe->current_frame; f; f = f->previous)
    if (f->owner == FRAME_OWNED_BY_CSTACK) return reinterpret_cast<uintptr_t>(f);
  return 0;
}

}  // namespace yep
