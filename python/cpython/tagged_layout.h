// The frame layout of CPython 3.14 and later (frames_314.cpp, frames_315.cpp
// include it after their version's internal headers): PyThreadState ->
// current_frame; f_executable is a tagged _PyStackRef (low bits are tags;
// both set: a tagged int, not a pointer); owners were renumbered in 3.14:
// the entry frame each C call of the eval loop pushes (a local of its C
// stack frame) is FRAME_OWNED_BY_INTERPRETER (3), and anything from 3 up is
// not a Python frame (3.14's CSTACK 4; 3.15 drops CSTACK and adds one more
// interpreter-owned frame at the bottom of every thread, tstate->base_frame);
// instr_ptr is the instruction running now. Checked at start-up against the
// running interpreter's _Py_DebugOffsets.
#pragma once

#include "debug_offsets.h"
#include "frame_walk.h"

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
