// What every CPython layout file (frames_3XX.cpp) shares: copying a code
// object's strings into the code table, the walk over a thread's
// _PyInterpreterFrame chain, and the definitions of python_frames.h's
// functions (YEP_PYTHON_FRAMES). Each layout file includes this after its
// version's internal headers and gives the walk a Layout with the rules
// that differ between versions:
//
//   static bool current_frame(Reader&, uintptr_t tstate, uintptr_t* frame);
//   static uintptr_t code_of(const _PyInterpreterFrame&);  // 0: not a code object
//   static bool boundary(const _PyInterpreterFrame&);      // the C entry marker (3.12+)
//   static bool entry(const _PyInterpreterFrame&);         // last frame of its C call (3.11)
//   static intptr_t instruction(const _PyInterpreterFrame&, uintptr_t code);  // code units
//   static bool incomplete(const _PyInterpreterFrame&, const PyCodeObject&, intptr_t instruction);
//
// Everything here reads memory only through the Reader (safe_reader.h), so
// it may run in a signal handler; code objects are copied into the
// allocation-free code table on first sight.
#pragma once

#include <Python.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../code_table.h"
#include "../python_frames.h"
#include "../safe_reader.h"

namespace yep::cpython {

constexpr size_t kMaxStringChars = 1024;
constexpr size_t kMaxLinetable = 1 << 20;

// Copies a str object as UTF-8 into the code table's arena.
template <typename Reader>
bool copy_string(Reader& reader, uintptr_t addr, const unsigned char** out, size_t* out_size) {
  *out = nullptr;
  *out_size = 0;
  PyASCIIObject head;
  if (!addr || !reader.read(head, addr)) return false;
  if (head.ob_base.ob_type != &PyUnicode_Type || !head.state.compact) return false;
  size_t length = static_cast<size_t>(head.length);
  if (length > kMaxStringChars) length = kMaxStringChars;
  const unsigned kind = head.state.kind;
  if (kind != 1 && kind != 2 && kind != 4) return false;
  const uintptr_t data = addr + (head.state.ascii ? sizeof(PyASCIIObject) : sizeof(PyCompactUnicodeObject));
  unsigned char* dst = code_table().arena(length * 4);
  if (!dst) return false;
  size_t n = 0;
  unsigned char chunk[256];
  for (size_t i = 0; i < length;) {
    const size_t count = std::min<size_t>(length - i, sizeof chunk / kind);
    if (!reader.read(chunk, data + i * kind, count * kind)) return false;
    for (size_t k = 0; k < count; ++k) {
      uint32_t c = kind == 1   ? chunk[k]
                   : kind == 2 ? reinterpret_cast<uint16_t*>(chunk)[k]
                               : reinterpret_cast<uint32_t*>(chunk)[k];
      if (c < 0x80) {
        dst[n++] = static_cast<unsigned char>(c);
      } else if (c < 0x800) {
        dst[n++] = static_cast<unsigned char>(0xC0 | (c >> 6));
        dst[n++] = static_cast<unsigned char>(0x80 | (c & 0x3F));
      } else if (c < 0x10000) {
        dst[n++] = static_cast<unsigned char>(0xE0 | (c >> 12));
        dst[n++] = static_cast<unsigned char>(0x80 | ((c >> 6) & 0x3F));
        dst[n++] = static_cast<unsigned char>(0x80 | (c & 0x3F));
      } else {
        dst[n++] = static_cast<unsigned char>(0xF0 | ((c >> 18) & 0x07));
        dst[n++] = static_cast<unsigned char>(0x80 | ((c >> 12) & 0x3F));
        dst[n++] = static_cast<unsigned char>(0x80 | ((c >> 6) & 0x3F));
        dst[n++] = static_cast<unsigned char>(0x80 | (c & 0x3F));
      }
    }
    i += count;
  }
  *out = dst;
  *out_size = n;
  return true;
}

template <typename Reader>
bool copy_bytes(Reader& reader, uintptr_t addr, const unsigned char** out, size_t* out_size) {
  *out = nullptr;
  *out_size = 0;
  PyBytesObject head;
  if (!addr || !reader.read(&head, addr, offsetof(PyBytesObject, ob_sval))) return false;
  if (Py_TYPE(&head.ob_base) != &PyBytes_Type) return false;
  const size_t size = static_cast<size_t>(head.ob_base.ob_size);
  if (size > kMaxLinetable) return false;
  unsigned char* dst = code_table().arena(size ? size : 1);
  if (!dst || !reader.read(dst, addr + offsetof(PyBytesObject, ob_sval), size)) return false;
  *out = dst;
  *out_size = size;
  return true;
}

// The code table index of the code object at addr (copied on first sight).
template <typename Reader>
uint32_t intern_code(Reader& reader, uintptr_t addr, const PyCodeObject& code) {
  CodeKey key;
  key.code = addr;
  key.name = reinterpret_cast<uintptr_t>(code.co_qualname);
  key.filename = reinterpret_cast<uintptr_t>(code.co_filename);
  key.linetable = reinterpret_cast<uintptr_t>(code.co_linetable);
  key.firstlineno = code.co_firstlineno;
  CodeTable& table = code_table();
  uint32_t index = table.find(key);
  if (index != kNoCode) return index;
  index = table.claim(key);
  if (index == kNoCode) return kNoCode;
  const unsigned char *filename, *qualname, *linetable;
  size_t filename_size, qualname_size, linetable_size;
  copy_string(reader, key.filename, &filename, &filename_size);
  copy_string(reader, key.name, &qualname, &qualname_size);
  copy_bytes(reader, key.linetable, &linetable, &linetable_size);
  table.set_strings(index, filename, filename_size, qualname, qualname_size, linetable, linetable_size);
  table.publish(index);
  return index;
}

// The thread state of the calling thread: a thread-specific key read
// (pthread_getspecific), safe in a signal handler, where the interpreter's
// own thread-local may sit in dynamically allocated TLS.
inline uintptr_t this_thread_state() { return reinterpret_cast<uintptr_t>(PyGILState_GetThisThreadState()); }

// The calling thread's Python frames, leaf first (see python_frames.h):
// each run of frames that one C call of the eval loop runs ends with a
// record marked is_entry; a run whose frames are all incomplete still gets
// one (code kNoCode) so that it pairs with its native eval frame.
template <typename Layout, typename Reader>
int walk_frames(Reader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) {
  *thread_id = 0;
  const uintptr_t ts = this_thread_state();
  if (!ts) return 0;
  unsigned long native_id = 0;
  if (reader.read(native_id, ts + offsetof(PyThreadState, native_thread_id))) *thread_id = native_id;
  uintptr_t addr = 0;
  if (!Layout::current_frame(reader, ts, &addr)) return 0;
  int n = 0;
  bool run_open = false;  // a record was written since the last end of run
  uintptr_t last_code = 0;
  PyCodeObject code;
  auto end_run = [&] {
    if (run_open) {
      out[n - 1].is_entry = 1;
    } else if (n < max) {
      out[n++] = PyFrameRecord{kNoCode, -1, 1};
    }
    run_open = false;
  };
  for (int guard = 0; addr && n < max && guard < 100000; ++guard) {
    _PyInterpreterFrame frame;
    if (!reader.read(frame, addr)) break;
    if (Layout::boundary(frame)) {
      end_run();
      addr = reinterpret_cast<uintptr_t>(frame.previous);
      continue;
    }
    const uintptr_t code_addr = Layout::code_of(frame);
    if (!code_addr) {  // not a code object (an entry shim's None): not a frame to show
      addr = reinterpret_cast<uintptr_t>(frame.previous);
      continue;
    }
    if (code_addr != last_code) {
      if (!reader.read(&code, code_addr, offsetof(PyCodeObject, co_code_adaptive))) break;  // the chain changed under us
      last_code = code_addr;
    }
    if (Py_TYPE(&code) != &PyCode_Type) {  // something else runs this frame: not shown
      if (Layout::entry(frame)) end_run();
      addr = reinterpret_cast<uintptr_t>(frame.previous);
      continue;
    }
    const intptr_t instruction = Layout::instruction(frame, code_addr);
    if (!Layout::incomplete(frame, code, instruction)) {
      out[n++] = PyFrameRecord{intern_code(reader, code_addr, code), static_cast<int32_t>(instruction), 0};
      run_open = true;
    }
    if (Layout::entry(frame)) end_run();
    addr = reinterpret_cast<uintptr_t>(frame.previous);
  }
  return n;
}

// The first entry frame (a boundary) below the current frame: from 3.12 on
// a local of the innermost running C call of the eval loop. Needs the GIL.
template <typename Layout>
uintptr_t first_boundary_frame() {
  DirectReader reader;
  uintptr_t addr = 0;
  if (!Layout::current_frame(reader, this_thread_state(), &addr)) return 0;
  for (int guard = 0; addr && guard < 100000; ++guard) {
    const auto* frame = reinterpret_cast<const _PyInterpreterFrame*>(addr);
    if (Layout::boundary(*frame)) return addr;
    addr = reinterpret_cast<uintptr_t>(frame->previous);
  }
  return 0;
}

// Code units from the start of a code object's bytecode to `instr`.
inline intptr_t code_units(const void* instr, uintptr_t code) {
  const uintptr_t first = code + offsetof(PyCodeObject, co_code_adaptive);
  return (reinterpret_cast<intptr_t>(instr) - static_cast<intptr_t>(first)) / static_cast<intptr_t>(sizeof(_Py_CODEUNIT));
}

}  // namespace yep::cpython

// Defines python_frames.h's functions for one layout: Layout also gives
//   static const char* unsupported_reason();  // nullptr, or why not (3.13+: the debug offsets)
//   static uintptr_t entry_marker();           // see python_entry_marker
#define YEP_PYTHON_FRAMES(Layout)                                                              \
  namespace yep {                                                                              \
  const char* python_frames_unsupported_reason() { return Layout::unsupported_reason(); }     \
  bool python_frames_layout_known() { return true; }                                           \
  int read_python_frames(SafeReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) { \
    return cpython::walk_frames<Layout>(reader, out, max, thread_id);                          \
  }                                                                                            \
  int read_python_frames(DirectReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) { \
    return cpython::walk_frames<Layout>(reader, out, max, thread_id);                          \
  }                                                                                            \
  uintptr_t python_entry_marker() { return Layout::entry_marker(); }                           \
  }
