#include "interpreter_code.h"

#include <Python.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "native_unwinder.h"
#include "python_frames.h"

namespace yep {

void CodeRanges::add(uintptr_t start, uintptr_t end) {
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
void add_exported(CodeRanges& r, void* symbol) {
  Dl_info info{};
  ElfW(Sym)* entry = nullptr;
  if (symbol && dladdr1(symbol, &info, reinterpret_cast<void**>(&entry), RTLD_DL_SYMENT) && entry) {
    const uintptr_t start = reinterpret_cast<uintptr_t>(symbol);
    r.add(start, start + (entry->st_size ? entry->st_size : 1));
  }
}

// Local function symbols of the eval loop's pieces, from the symbol table
// of the file that holds the exported symbol (nothing when it is stripped).
void add_local_symbols(CodeRanges& r, void* symbol) {
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

CodeRanges* observing = nullptr;

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

void observe(CodeRanges& r) {
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

// The executable segments of the object that holds `symbol`, and, with
// `program`, of the program too (the python executable, which may be a
// launcher of libpython).
void add_object_code(CodeRanges& r, void* symbol, bool program) {
  Dl_info info{};
  link_map* map = nullptr;
  if (!symbol || !dladdr1(symbol, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) || !map) return;
  struct Search {
    CodeRanges* ranges;
    uintptr_t bias;
    bool program;
    bool first = true;
  } search{&r, map->l_addr, program};
  dl_iterate_phdr(
      [](dl_phdr_info* object, size_t, void* data) {
        auto* s = static_cast<Search*>(data);
        const bool is_program = s->first;  // dl_iterate_phdr lists the program first
        s->first = false;
        if (object->dlpi_addr != s->bias && !(is_program && s->program)) return 0;
        for (int i = 0; i < object->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = object->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
            s->ranges->add(object->dlpi_addr + ph.p_vaddr, object->dlpi_addr + ph.p_vaddr + ph.p_memsz);
        }
        return 0;
      },
      &search);
}

// ---- the builtins' C functions ---------------------------------------------

// Every builtin function and method, and every type (its tp_vectorcall:
// calling it), reachable now: all types from object down, what their dicts
// hold, and what every module's dict holds.
constexpr char kCollector[] =
    "def collect(sys):\n"
    "    out, seen, types = [], set(), [object]\n"
    "    while types:\n"
    "        t = types.pop()\n"
    "        if id(t) in seen:\n"
    "            continue\n"
    "        seen.add(id(t))\n"
    "        out.append(t)\n"
    "        try:\n"
    "            types.extend(type.__subclasses__(t))\n"
    "            out.extend(t.__dict__.values())\n"
    "        except Exception:\n"
    "            pass\n"
    "    for m in list(sys.modules.values()):\n"
    "        d = getattr(m, '__dict__', None)\n"
    "        if isinstance(d, dict):\n"
    "            out.extend(d.values())\n"
    "    return out\n";

// A wrapper that only jumps on (Argument Clinic's `return f_impl(...)`,
// compiled to a tail call) stands for its target as well.
uintptr_t jump_target(uintptr_t entry, const CodeRanges& code) {
  const auto* p = reinterpret_cast<const unsigned char*>(entry);
  if (!code.contains(entry) || !code.contains(entry + 8)) return 0;
  if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) p += 4;  // endbr64
  if (p[0] != 0xe9) return 0;
  int32_t displacement;
  std::memcpy(&displacement, p + 1, sizeof displacement);
  const uintptr_t target = reinterpret_cast<uintptr_t>(p) + 5 + displacement;
  return code.contains(target) ? target : 0;
}

void add_builtins(InterpreterCode& code) {
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyObject* globals = PyDict_New();
  PyObject* sys = PyImport_ImportModule("sys");
  PyObject* found = nullptr;
  if (globals && sys && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0) {
    PyObject* ran = PyRun_String(kCollector, Py_file_input, globals, globals);
    Py_XDECREF(ran);
    PyObject* collect = ran ? PyDict_GetItemString(globals, "collect") : nullptr;  // borrowed
    if (collect) found = PyObject_CallOneArg(collect, sys);
  }
  std::vector<InterpreterCode::Builtin>& entries = code.builtins;
  auto add = [&](const void* f, std::string name) {
    const uintptr_t entry = reinterpret_cast<uintptr_t>(f);
    if (!code.object.contains(entry)) return;  // only the interpreter's own code is ever hidden
    for (char& c : name)
      if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    if (const uintptr_t target = jump_target(entry, code.object)) entries.push_back({target, name});
    entries.push_back({entry, std::move(name)});
  };
  auto text = [](PyObject* s) -> std::string {
    const char* utf8 = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : nullptr;
    if (!utf8) PyErr_Clear();
    return utf8 ? utf8 : "";
  };
  const Py_ssize_t n = found && PyList_Check(found) ? PyList_GET_SIZE(found) : 0;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* o = PyList_GET_ITEM(found, i);
    if (PyCFunction_Check(o)) {
      const PyCFunctionObject* f = reinterpret_cast<PyCFunctionObject*>(o);
      const std::string module = text(f->m_module);
      const std::string name = f->m_ml->ml_name ? f->m_ml->ml_name : "?";
      add(reinterpret_cast<const void*>(f->m_ml->ml_meth),
          module.empty() || module == "builtins" ? name : module + "." + name);
    } else if (Py_IS_TYPE(o, &PyMethodDescr_Type) || Py_IS_TYPE(o, &PyClassMethodDescr_Type)) {
      const PyMethodDescrObject* d = reinterpret_cast<PyMethodDescrObject*>(o);
      add(reinterpret_cast<const void*>(d->d_method->ml_meth),
          std::string(d->d_common.d_type->tp_name) + "." + (d->d_method->ml_name ? d->d_method->ml_name : "?"));
    } else if (PyType_Check(o)) {
      // Calling a type builds an instance (list(x), dict(...)): its work. (A
      // type's tp_call, calling its instances, is mostly call machinery:
      // builtin_function_or_method's, method's.)
      PyTypeObject* t = reinterpret_cast<PyTypeObject*>(o);
      if (t->tp_vectorcall) add(reinterpret_cast<const void*>(t->tp_vectorcall), t->tp_name);
    }
  }
  // The first name found for an entry point stays (stable_sort keeps the order found).
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.entry < b.entry; });
  entries.erase(std::unique(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.entry == b.entry; }),
                entries.end());
  Py_XDECREF(found);
  Py_XDECREF(sys);
  Py_XDECREF(globals);
  PyErr_Clear();
  PyErr_Restore(type, value, traceback);
}

}  // namespace

const InterpreterCode::Builtin* InterpreterCode::builtin_at(uintptr_t pc, uintptr_t* start, uintptr_t* end) const {
  uintptr_t first, last;
  if (!native_function_bounds(pc, &first, &last)) return nullptr;
  auto it = std::lower_bound(builtins.begin(), builtins.end(), first,
                             [](const Builtin& b, uintptr_t entry) { return b.entry < entry; });
  if (it == builtins.end() || it->entry != first) return nullptr;
  if (start) *start = first;
  if (end) *end = last;
  return &*it;
}

void BuiltinNames::add(const uint64_t* pcs, size_t depth) {
  for (size_t i = 0; i < depth; ++i) {
    const uintptr_t at = i == 0 ? pcs[i] : pcs[i] - 1;
    if (!code_.object.contains(at) || code_.eval.contains(at) || !checked_.insert(at).second) continue;
    uintptr_t start, end;
    if (const InterpreterCode::Builtin* b = code_.builtin_at(at, &start, &end)) found_[start] = {end, &b->name};
  }
}

std::string BuiltinNames::lines() const {
  std::string out;
  char line[64];
  for (const auto& [start, found] : found_) {
    std::snprintf(line, sizeof line, "# yep-function:\t%llx\t%llx\t", static_cast<unsigned long long>(start),
                  static_cast<unsigned long long>(found.first));
    out += line + *found.second + "\n";
  }
  return out;
}

void InterpreterCode::mark_plumbing(const uint64_t* pcs, size_t depth, std::vector<bool>& hidden) const {
  hidden.assign(depth, false);
  auto at = [&](size_t i) -> uintptr_t { return i == 0 ? pcs[i] : pcs[i] - 1; };
  bool kept = false;  // inside a builtin's C function, until the next eval loop
  bool started = false;  // the root-most eval loop was met: what came before started the thread
  for (size_t i = depth; i-- > 0;) {
    if (eval.contains(at(i))) {
      if (!started) std::fill(hidden.begin() + i, hidden.end(), true);
      started = true;
      hidden[i] = true;
      kept = false;
      // The call machinery that led from a builtin into this eval loop
      // (PyObject_Call, _PyEval_Vector...) is plumbing too; the builtin is not.
      for (size_t j = i + 1; j < depth && !hidden[j] && object.contains(at(j)) && !eval.contains(at(j)) &&
                             !builtin(at(j));
           ++j)
        hidden[j] = true;
    } else if (!object.contains(at(i))) {
      // The dynamic loader's code the plumbing calls (__tls_get_addr, for
      // the interpreter's thread-locals) is plumbing too.
      hidden[i] = loader.contains(at(i)) && i + 1 < depth && hidden[i + 1];
      kept = false;
    } else {
      kept = kept || builtin(at(i));
      hidden[i] = !kept;
    }
  }
}

const InterpreterCode& interpreter_code() {
  static InterpreterCode* code = nullptr;
  if (!code) {
    static InterpreterCode found;
    native_unwinder_scan();
    void* symbol = dlsym(RTLD_DEFAULT, kEvalName);
    add_exported(found.eval, symbol);
    add_local_symbols(found.eval, symbol);
    observe(found.eval);
    add_object_code(found.object, symbol, true);
    add_object_code(found.loader, dlsym(RTLD_DEFAULT, "__tls_get_addr"), false);
    add_builtins(found);
    code = &found;
  }
  return *code;
}

}  // namespace yep
