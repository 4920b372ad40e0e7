// From CPython 3.13 on, the interpreter publishes the offsets of its
// private structures at the start of _PyRuntime (_Py_DebugOffsets, cookie
// "xdebugpy"), for debuggers and profilers. yep reads the structures with
// the layout of the headers it was compiled against; this check compares
// every offset it relies on with the running interpreter's published ones,
// so a patch release that moves a field is refused in one line instead of
// read wrongly. Include after the version's internal headers.
#pragma once

#include <Python.h>
#include <dlfcn.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

namespace yep::cpython {

// nullptr when the running interpreter matches the compiled layout, else why not.
template <typename DebugOffsets>
const char* check_debug_offsets() {
  static std::string reason;
  static const bool checked = [] {
    const auto* published = static_cast<const DebugOffsets*>(dlsym(RTLD_DEFAULT, "_PyRuntime"));
    if (!published) {
      reason = "this Python does not export _PyRuntime, where it publishes its frame layout";
      return true;
    }
    if (std::memcmp(published->cookie, "xdebugpy", 8) != 0) {
      reason = "this Python's published frame layout (_Py_DebugOffsets) has no valid cookie";
      return true;
    }
    const uint64_t version = published->version;
    if ((version >> 16) != (PY_VERSION_HEX >> 16)) {
      char text[160];
      std::snprintf(text, sizeof text, "this yep was built for Python %d.%d, not %d.%d", PY_MAJOR_VERSION,
                    PY_MINOR_VERSION, static_cast<int>((version >> 24) & 0xff), static_cast<int>((version >> 16) & 0xff));
      reason = text;
      return true;
    }
    if (published->free_threaded) {
      reason = "free-threaded Python builds are not supported";
      return true;
    }
    struct Field {
      const char* name;
      uint64_t published, compiled;
    };
    const Field fields[] = {
        {"thread_state.current_frame", published->thread_state.current_frame, offsetof(PyThreadState, current_frame)},
        {"thread_state.native_thread_id", published->thread_state.native_thread_id,
         offsetof(PyThreadState, native_thread_id)},
        {"interpreter_frame.previous", published->interpreter_frame.previous, offsetof(_PyInterpreterFrame, previous)},
        {"interpreter_frame.executable", published->interpreter_frame.executable,
         offsetof(_PyInterpreterFrame, f_executable)},
        {"interpreter_frame.instr_ptr", published->interpreter_frame.instr_ptr, offsetof(_PyInterpreterFrame, instr_ptr)},
        {"interpreter_frame.owner", published->interpreter_frame.owner, offsetof(_PyInterpreterFrame, owner)},
        {"code_object.filename", published->code_object.filename, offsetof(PyCodeObject, co_filename)},
        {"code_object.qualname", published->code_object.qualname, offsetof(PyCodeObject, co_qualname)},
        {"code_object.linetable", published->code_object.linetable, offsetof(PyCodeObject, co_linetable)},
        {"code_object.firstlineno", published->code_object.firstlineno, offsetof(PyCodeObject, co_firstlineno)},
        {"code_object.co_code_adaptive", published->code_object.co_code_adaptive,
         offsetof(PyCodeObject, co_code_adaptive)},
        {"bytes_object.ob_size", published->bytes_object.ob_size, offsetof(PyVarObject, ob_size)},
        {"bytes_object.ob_sval", published->bytes_object.ob_sval, offsetof(PyBytesObject, ob_sval)},
        {"unicode_object.length", published->unicode_object.length, offsetof(PyASCIIObject, length)},
        {"unicode_object.asciiobject_size", published->unicode_object.asciiobject_size, sizeof(PyASCIIObject)},
    };
    for (const Field& f : fields) {
      if (f.published != f.compiled) {
        char text[256];
        std::snprintf(text, sizeof text,
                      "this Python (%d.%d.%d) moved %s from where yep's build for %s expects it (%llu, not %llu); "
                      "rebuild yep for this Python",
                      static_cast<int>((version >> 24) & 0xff), static_cast<int>((version >> 16) & 0xff),
                      static_cast<int>((version >> 8) & 0xff), f.name, PY_VERSION,
                      static_cast<unsigned long long>(f.published), static_cast<unsigned long long>(f.compiled));
        reason = text;
        return true;
      }
    }
    return true;
  }();
  (void)checked;
  return reason.empty() ? nullptr : reason.c_str();
}

}  // namespace yep::cpython
