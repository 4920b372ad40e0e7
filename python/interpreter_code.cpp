#include "interpreter_code.h"

#include <Python.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "native_unwinder.h"
#include "python_frames.h"

namespace yep {

void EvalRanges::add(uintptr_t start, uintptr_t end) {
  if (start >= end) return;
  for (int i = 0; i < count; ++i) {
    if (start < ranges[i].end && ranges[i].start < end) {  // overlaps: merge
      ranges[i].start = std::min(ranges[i].start, start);
      ranges[i].end = std::max(ranges[i].end, end);
      return;
    }
  }
  if (count == kMax) return;
  ranges[count++] = Range{start, end};
  std::sort(ranges, ranges + count, [](const Range& a, const Range& b) { return a.start < b.start; });
}

namespace {

constexpr char kEvalName[] = "_PyEval_EvalFrameDefault";

// The exported symbol: [address, address + size).
void add_exported(EvalRanges& r, void* symbol) {
  Dl_info info{};
  ElfW(Sym)* entry = nullptr;
  if (symbol && dladdr1(symbol, &info, reinterpret_cast<void**>(&entry), RTLD_DL_SYMENT) && entry) {
    const uintptr_t start = reinterpret_cast<uintptr_t>(symbol);
    r.add(start, start + (entry->st_size ? entry->st_size : 1));
  }
}

// Local function symbols of the eval loop's pieces, from the symbol table
// of the file that holds the exported symbol (nothing when it is stripped).
void add_local_symbols(EvalRanges& r, void* symbol) {
  Dl_info info{};
  link_map* map = nullptr;
  if (!symbol || !dladdr1(symbol, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) || !map) return;
  const char* path = map->l_name && map->l_name[0] ? map->l_name : "/proc/self/exe";
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  for (Elf_Scn* scn = nullptr; elf && (scn = elf_nextscn(elf, scn));) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_SYMTAB || shdr.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    const size_t n = data ? shdr.sh_size / shdr.sh_entsize : 0;
    for (size_t i = 0; i < n; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size) continue;
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (!name) continue;
      const bool piece = std::strncmp(name, kEvalName, sizeof kEvalName - 1) == 0 &&
                         (name[sizeof kEvalName - 1] == '.' || name[sizeof kEvalName - 1] == '\0');
      if (piece || std::strncmp(name, "_TAIL_CALL_", 11) == 0)
        r.add(map->l_addr + sym.st_value, map->l_addr + sym.st_value + sym.st_size);
    }
  }
  if (elf) elf_end(elf);
  ::close(fd);
}

// ---- observation ------------------------------------------------------------

EvalRanges* observing = nullptr;

PyObject* probe(PyObject*, PyObject*) {
  const uintptr_t marker = python_entry_marker();
  uintptr_t pcs[256], sps[256];
  const int n = native_unwind_here(pcs, sps, 256);
  for (int i = 1; i + 1 < n && marker; ++i) {
    if (sps[i] <= marker && marker < sps[i + 1]) {  // frame i's stack holds the entry frame: the eval loop
      uintptr_t start, end;
      if (native_function_bounds(pcs[i] - 1, &start, &end)) observing->add(start, end);
      break;
    }
  }
  Py_RETURN_NONE;
}

PyMethodDef probe_def = {"probe", probe, METH_NOARGS, nullptr};

// The ways the eval loop calls out to C: a plain call (generic, then
// specialized after a few runs), a method of an object, a call from a
// generator's frame and from a frame started by a C function (map).
constexpr char kObserver[] =
    "def observe(probe):\n"
    "    for _ in range(64):\n"
    "        probe()\n"
    "    class C:\n"
    "        pass\n"
    "    c = C()\n"
    "    c.p = probe\n"
    "    for _ in range(8):\n"
    "        c.p()\n"
    "    for _ in (probe() for _ in range(8)):\n"
    "        pass\n"
    "    list(map(lambda _: probe(), range(8)))\n";

void observe(EvalRanges& r) {
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyObject* globals = PyDict_New();
  PyObject* probe_function = PyCFunction_New(&probe_def, nullptr);
  PyObject* result = nullptr;
  if (globals && probe_function && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0) {
    PyObject* ran = PyRun_String(kObserver, Py_file_input, globals, globals);
    Py_XDECREF(ran);
    PyObject* function = ran ? PyDict_GetItemString(globals, "observe") : nullptr;  // borrowed
    observing = &r;
    if (function) result = PyObject_CallOneArg(function, probe_function);
    observing = nullptr;
  }
  Py_XDECREF(result);
  Py_XDECREF(probe_function);
  Py_XDECREF(globals);
  PyErr_Clear();
  PyErr_Restore(type, value, traceback);
}

}  // namespace

const EvalRanges& python_eval_ranges() {
  static EvalRanges* ranges = nullptr;
  if (!ranges) {
    static EvalRanges found;
    native_unwinder_scan();
    void* symbol = dlsym(RTLD_DEFAULT, kEvalName);
    add_exported(found, symbol);
    add_local_symbols(found, symbol);
    observe(found);
    ranges = &found;
  }
  return *ranges;
}

}  // namespace yep
