// The Python frames a thread is running, read from the interpreter's own
// structures without the Python API: safe in a signal handler (with a
// SafeReader) and in malloc hooks (with a DirectReader). This interface is
// the only place the interpreter's private layout is known; each supported
// CPython version has its own implementation file under cpython/
// (frames_311.cpp ... frames_315.cpp, chosen by the build), compiled
// against that version's internal headers.
//
// Since 3.11, one C call of the eval loop runs a chain of
// _PyInterpreterFrames: Python-to-Python calls do not recurse in C. Walking
// the chain from the leaf, each run of frames that one C call runs ends
// with a record marked is_entry, so each native eval-loop frame in a native
// stack pairs with one run, leaf first (the rule py-spy uses).
#pragma once

#include <cstddef>
#include <cstdint>

#include "code_table.h"
#include "safe_reader.h"

namespace yep {

struct PyFrameRecord {
  uint32_t code;      // index in code_table(), kNoCode when unreadable or not shown
  int32_t lasti;      // instruction index (code units) being run, -1 before the first
  uint32_t is_entry;  // last frame of its C call of the eval loop
};

// nullptr when this build can read the running interpreter's frames, else
// a one-line reason (another version, or, from 3.13 on, a layout that the
// interpreter's published _Py_DebugOffsets contradict). Call it before
// reading frames, outside signal handlers (the first call checks).
const char* python_frames_unsupported_reason();
inline bool python_frames_supported() { return python_frames_unsupported_reason() == nullptr; }
// Whether this build has a layout for the running Python's version at all
// (then an unsupported reason means the running interpreter contradicts it).
bool python_frames_layout_known();

// The current thread's Python frames, leaf first, at most max; returns how
// many. Code objects are copied into code_table() on first sight.
// *thread_id gets the thread's native id (0 if the thread has no Python
// thread state).
int read_python_frames(SafeReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id);
int read_python_frames(DirectReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id);

// An address inside the C stack frame of the innermost running C call of
// the eval loop (its entry frame or _PyCFrame), 0 if none; needs the GIL.
// It tells which native frame is the eval loop (interpreter_code.h).
uintptr_t python_entry_marker();

// The source line of instruction `lasti` of a copied code object; the
// second form reads the copied line table directly (allocation-free).
int python_line(const CodeInfo& code, int lasti);
int python_line(const unsigned char* linetable, size_t size, int firstlineno, int lasti);

}  // namespace yep
