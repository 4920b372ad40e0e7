// The Python frames a thread is running, read from the interpreter's own
// structures without the Python API: safe in a signal handler (with a
// SafeReader) and in malloc hooks (with a DirectReader). This interface is
// the only place the interpreter's private layout is known; each supported
// CPython version has its own implementation file (python_frames_311.cpp).
//
// On CPython 3.11 one C call of _PyEval_EvalFrameDefault runs a chain of
// _PyInterpreterFrames: Python-to-Python calls do not recurse in C. The
// frame that started the C call is marked `is_entry`. So walking the chain
// from the leaf, each run of frames ending at an entry frame belongs to one
// native _PyEval_EvalFrameDefault frame, leaf first (the rule py-spy uses).
#pragma once

#include <cstddef>
#include <cstdint>

#include "code_table.h"
#include "safe_reader.h"

namespace yep {

struct PyFrameRecord {
  uint32_t code;      // index in code_table(), kNoCode when unreadable
  int32_t lasti;      // instruction index (code units) being run, -1 before the first
  uint32_t is_entry;  // last Python frame of its native eval call
};

// Whether this build knows the running interpreter's layout; if not, why.
bool python_frames_supported();
const char* python_frames_unsupported_reason();

// The current thread's Python frames, leaf first, at most max; returns how
// many. Code objects are copied into code_table() on first sight.
// *thread_id gets the thread's native id (0 if the thread has no Python
// thread state).
int read_python_frames(SafeReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id);
int read_python_frames(DirectReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id);

// The source line of instruction `lasti` of a copied code object; the
// second form reads the copied line table directly (allocation-free).
int python_line(const CodeInfo& code, int lasti);
int python_line(const unsigned char* linetable, size_t size, int firstlineno, int lasti);

// The address range of the native function that runs Python frames
// (_PyEval_EvalFrameDefault), to find its frames in native stacks.
struct AddressRange {
  uintptr_t start = 0, end = 0;
  bool contains(uintptr_t pc) const { return pc >= start && pc < end; }
};
AddressRange python_eval_function();

// Has each other thread of the interpreter run `once` itself, the next time
// it calls a Python function: a one-shot profile hook, left out for threads
// that have a profile function of their own. Needs the GIL.
void run_in_other_python_threads(void (*once)());

}  // namespace yep
