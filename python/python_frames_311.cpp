// python_frames.h for CPython 3.11: the layout of PyThreadState, _PyCFrame,
// _PyInterpreterFrame and PyCodeObject comes from the interpreter's own
// internal headers, so it is exact for the Python this module is built for.
#include "python_frames.h"

#include <Python.h>

#include <dlfcn.h>
#include <link.h>

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#define YEP_PYTHON_FRAMES 1
#endif

namespace yep {

#ifdef YEP_PYTHON_FRAMES

bool python_frames_supported() { return true; }
const char* python_frames_unsupported_reason() { return ""; }

namespace {

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
  const uintptr_t data = addr + (head.state.ascii ? sizeof(PyASCIIObject) : sizeof(PyCompactUnicodeObject));
  unsigned char* dst = code_table().arena(length * 4);
  if (!dst) return false;
  size_t n = 0;
  unsigned char chunk[256];
  for (size_t i = 0; i < length;) {
    const size_t count = std::min<size_t>(length - i, sizeof chunk / kind);
    if (!reader.read(chunk, data + i * kind, count * kind)) return false;
    for (size_t k = 0; k < count; ++k) {
      uint32_t c = kind == 1 ? chunk[k] : kind == 2 ? reinterpret_cast<uint16_t*>(chunk)[k] : reinterpret_cast<uint32_t*>(chunk)[k];
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
        dst[n++] = static_cast<unsigned char>(0xF0 | (c >> 18));
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
  if (head.ob_base.ob_base.ob_type != &PyBytes_Type) return false;
  const size_t size = static_cast<size_t>(head.ob_base.ob_size);
  if (size > kMaxLinetable) return false;
  unsigned char* dst = code_table().arena(size ? size : 1);
  if (!dst || !reader.read(dst, addr + offsetof(PyBytesObject, ob_sval), size)) return false;
  *out = dst;
  *out_size = size;
  return true;
}

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

template <typename Reader>
int read_frames(Reader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) {
  *thread_id = 0;
  PyThreadState* tstate = PyGILState_GetThisThreadState();  // a thread-specific key: signal-safe
  if (!tstate) return 0;
  const uintptr_t ts = reinterpret_cast<uintptr_t>(tstate);
  _PyCFrame* cframe_ptr = nullptr;
  unsigned long native_id = 0;
  if (!reader.read(cframe_ptr, ts + offsetof(PyThreadState, cframe)) || !cframe_ptr) return 0;
  if (reader.read(native_id, ts + offsetof(PyThreadState, native_thread_id))) *thread_id = native_id;
  _PyCFrame cframe;
  if (!reader.read(cframe, reinterpret_cast<uintptr_t>(cframe_ptr))) return 0;
  uintptr_t addr = reinterpret_cast<uintptr_t>(cframe.current_frame);
  int n = 0;
  uintptr_t last_code = 0;
  PyCodeObject code;
  for (int guard = 0; addr && n < max && guard < 100000; ++guard) {
    _PyInterpreterFrame frame;
    if (!reader.read(frame, addr)) break;
    const uintptr_t code_addr = reinterpret_cast<uintptr_t>(frame.f_code);
    if (code_addr != last_code) {
      if (!reader.read(&code, code_addr, offsetof(PyCodeObject, co_code_adaptive)) ||
          code.ob_base.ob_base.ob_type != &PyCode_Type)
        break;  // not a frame any more: the chain changed under us
      last_code = code_addr;
    }
    const uintptr_t first_instr = code_addr + offsetof(PyCodeObject, co_code_adaptive);
    const intptr_t lasti = (reinterpret_cast<intptr_t>(frame.prev_instr) - static_cast<intptr_t>(first_instr)) /
                           static_cast<intptr_t>(sizeof(_Py_CODEUNIT));
    // A frame being set up (not yet running its first real instruction)
    // is not shown, but still closes its native call's run of frames.
    const bool incomplete = frame.owner != FRAME_OWNED_BY_GENERATOR && lasti < code._co_firsttraceable;
    if (!incomplete || frame.is_entry) {
      PyFrameRecord& r = out[n++];
      r.code = incomplete ? kNoCode : intern_code(reader, code_addr, code);
      r.lasti = static_cast<int32_t>(lasti);
      r.is_entry = frame.is_entry;
    }
    addr = reinterpret_cast<uintptr_t>(frame.previous);
  }
  return n;
}

int read_varint(const unsigned char*& p, const unsigned char* end) {
  if (p >= end) return 0;
  unsigned read = *p++;
  unsigned value = read & 63, shift = 0;
  while ((read & 64) && p < end) {
    read = *p++;
    shift += 6;
    value |= (read & 63) << shift;
  }
  return static_cast<int>(value);
}

int read_signed_varint(const unsigned char*& p, const unsigned char* end) {
  const unsigned value = static_cast<unsigned>(read_varint(p, end));
  return (value & 1) ? -static_cast<int>(value >> 1) : static_cast<int>(value >> 1);
}

}  // namespace

int read_python_frames(SafeReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) {
  return read_frames(reader, out, max, thread_id);
}

int read_python_frames(DirectReader& reader, PyFrameRecord* out, int max, uint64_t* thread_id) {
  return read_frames(reader, out, max, thread_id);
}

// The 3.11 location table (Objects/locations.md): entries of one header
// byte 1cccclll (code c, length l+1 code units) and code-dependent data.
int python_line(const CodeInfo& code, int lasti) {
  return python_line(code.linetable, code.linetable_size, code.firstlineno, lasti);
}

int python_line(const unsigned char* linetable, size_t size, int firstlineno, int lasti) {
  if (lasti < 0 || !linetable) return firstlineno;
  const unsigned char* p = linetable;
  const unsigned char* end = p + size;
  int line = firstlineno, addr = 0;
  while (p < end) {
    const unsigned char first = *p++;
    const int kind = (first >> 3) & 15, length = (first & 7) + 1;
    int delta = 0;
    if (kind == 14) {  // long form: line delta, end line, columns
      delta = read_signed_varint(p, end);
      read_varint(p, end);
      read_varint(p, end);
      read_varint(p, end);
    } else if (kind == 13) {  // no columns
      delta = read_signed_varint(p, end);
    } else if (kind >= 10 && kind <= 12) {  // one-line forms
      delta = kind - 10;
      p += 2;
    } else if (kind < 10) {  // short form
      p += 1;
    }
    line += delta;
    if (lasti < addr + length) return line;  // "no location" (kind 15): the line it follows
    addr += length;
  }
  return 0;
}

#else  // another Python version: say so instead of guessing its layout

bool python_frames_supported() { return false; }
const char* python_frames_unsupported_reason() {
  return "mixed Python and native stacks need CPython 3.11 (this yep was built for " PY_VERSION ")";
}
int read_python_frames(SafeReader&, PyFrameRecord*, int, uint64_t* thread_id) { *thread_id = 0; return 0; }
int read_python_frames(DirectReader&, PyFrameRecord*, int, uint64_t* thread_id) { *thread_id = 0; return 0; }
int python_line(const CodeInfo& code, int) { return code.firstlineno; }
int python_line(const unsigned char*, size_t, int firstlineno, int) { return firstlineno; }

#endif

namespace {

void (*run_once)() = nullptr;

int run_once_then_unhook(PyObject*, PyFrameObject*, int, PyObject*) {
  if (run_once) run_once();
  _PyEval_SetProfile(PyThreadState_Get(), nullptr, nullptr);
  return 0;
}

}  // namespace

void run_in_other_python_threads(void (*once)()) {
  run_once = once;
  PyThreadState* self = PyThreadState_Get();
  for (PyThreadState* t = PyInterpreterState_ThreadHead(self->interp); t; t = PyThreadState_Next(t)) {
    // The GIL is held, so no other thread is changing its own hooks now.
    if (t != self && t->c_profilefunc == nullptr && _PyEval_SetProfile(t, run_once_then_unhook, nullptr) < 0)
      PyErr_Clear();
  }
}

AddressRange python_eval_function() {
  AddressRange range;
  void* symbol = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
  Dl_info info{};
  ElfW(Sym)* entry = nullptr;
  if (symbol && dladdr1(symbol, &info, reinterpret_cast<void**>(&entry), RTLD_DL_SYMENT) && entry) {
    range.start = reinterpret_cast<uintptr_t>(symbol);
    range.end = range.start + (entry->st_size ? entry->st_size : 1);
  }
  return range;
}

}  // namespace yep
