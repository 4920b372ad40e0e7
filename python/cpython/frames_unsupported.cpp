// python_frames.h for an interpreter yep has no layout for: says so, and
// reads nothing (yep then samples native stacks only).
#include <Python.h>

#include "../python_frames.h"

namespace yep {

const char* python_frames_unsupported_reason() {
  return "yep has no frame layout for Python " PY_VERSION " (it knows CPython 3.11 to 3.15)";
}
bool python_frames_layout_known() { return false; }
int read_python_frames(SafeReader&, PyFrameRecord*, int, uint64_t* thread_id) {
  *thread_id = 0;
  return 0;
}
int read_python_frames(DirectReader&, PyFrameRecord*, int, uint64_t* thread_id) {
  *thread_id = 0;
  return 0;
}
uintptr_t python_entry_marker() { return 0; }

}  // namespace yep
