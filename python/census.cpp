// The object census (census.h): a traversal of every reachable object and
// sys.getsizeof-exact shallow sizes. Everything that differs between CPython
// versions (3.11 to 3.15: object layouts, where a running frame's locals are,
// what sys.getsizeof adds to __sizeof__) is in namespace `version` below, the
// one place with PY_VERSION_HEX tests; the traversal and the sizing rules
// after it are the same on every version.
#include "census.h"

#include <cstring>
#include <unordered_map>
#include <utility>

#include "cpu_profiler.h"  // CaptureError

namespace yep {
namespace {

// An open-addressing set of object addresses (0 is never an object).
class AddressSet {
 public:
  explicit AddressSet(size_t expected) {
    size_t capacity = 1024;
    while (capacity < expected * 2) capacity *= 2;
    resize(capacity);
  }
  // True if p was not in the set yet.
  bool insert(const void* p) {
    if ((size_ + 1) * 2 > slots_.size()) resize(slots_.size() * 2);
    return place(reinterpret_cast<uintptr_t>(p));
  }

 private:
  bool place(uintptr_t key) {
    for (size_t i = hash(key);; i = (i + 1) & mask_) {
      if (slots_[i] == key) return false;
      if (slots_[i] == 0) {
        slots_[i] = key;
        ++size_;
        return true;
      }
    }
  }
  size_t hash(uintptr_t key) const { return static_cast<size_t>((key >> 4) * 0x9E3779B97F4A7C15ull) & mask_; }
  void resize(size_t capacity) {
    std::vector<uintptr_t> old = std::move(slots_);
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    size_ = 0;
    for (uintptr_t key : old)
      if (key) place(key);
  }

  std::vector<uintptr_t> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// A strong reference released at scope exit.
struct Ref {
  PyObject* p;
  explicit Ref(PyObject* o) : p(o) {}
  ~Ref() { Py_XDECREF(p); }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
};

[[noreturn]] void throw_python_error(const char* what) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  std::string message = what;
  if (value) {
    Ref text(PyObject_Str(value));
    if (text.p && PyUnicode_Check(text.p)) message += std::string(": ") + PyUnicode_AsUTF8(text.p);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  PyErr_Clear();
  throw CaptureError(message);
}

// ---- The seam: everything that differs between CPython versions -----------------
//
// Checked against each version's headers (3.11, 3.12, 3.13, 3.14, 3.15) and
// against sys.getsizeof on every object of a real heap (tests/test_census.py).
// Versions before 3.11 keep the generic answers (sizes by calling __sizeof__).
namespace version {

// Appends to `roots`, as new references, what holds the locals of a running
// frame, which the frame object's tp_traverse does not show.
//  - 3.11, 3.12: PyFrame_GetLocals fills the frame's locals dict and keeps it
//    on the frame: that dict, an object from then on (counted as "dict").
//  - 3.13+ (PEP 667): an optimized frame's locals are a FrameLocalsProxy, a
//    view made afresh by each call and gone with it, so the values it shows
//    are the roots (the proxy is not an object the program has); a module or
//    class body's frame returns its real locals mapping, which is a root.
void add_frame_locals(PyFrameObject* frame, std::vector<PyObject*>& roots) {
#if PY_VERSION_HEX >= 0x030B0000
  PyObject* locals = PyFrame_GetLocals(frame);
#else
  PyObject* locals = PyObject_GetAttrString(reinterpret_cast<PyObject*>(frame), "f_locals");
#endif
  if (!locals) {
    PyErr_Clear();
    return;
  }
#if PY_VERSION_HEX >= 0x030D0000
  if (PyFrameLocalsProxy_Check(locals)) {
    PyObject* values = PyMapping_Values(locals);  // a list, released before gc.get_objects() runs
    Py_DECREF(locals);
    if (!values) {
      PyErr_Clear();
      return;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values); ++i) {
      PyObject* value = PyList_GET_ITEM(values, i);
      Py_INCREF(value);
      roots.push_back(value);
    }
    Py_DECREF(values);
    return;
  }
#endif
  roots.push_back(locals);
}

// The namespace dict of a static type (borrowed; the type or the interpreter
// holds it): 3.12+ keeps those of builtin static types in the interpreter,
// with tp_dict NULL.
PyObject* static_type_dict(PyTypeObject* t) {
#if PY_VERSION_HEX >= 0x030C0000
  PyObject* dict = PyType_GetDict(t);  // a new reference
  Py_XDECREF(dict);
  return dict;
#else
  return t->tp_dict;
#endif
}

// Calls visit(r) for each object a code object holds (code objects have no
// tp_traverse): its names, constants and tables, and the co_code, co_varnames,
// ... it made on request and keeps (3.11: _co_code; 3.12+: _co_cached).
template <typename Visit>
void visit_code(PyObject* o, Visit& visit) {
#if PY_VERSION_HEX >= 0x030B0000
  PyCodeObject* c = reinterpret_cast<PyCodeObject*>(o);
  for (PyObject* p : {c->co_consts, c->co_names, c->co_exceptiontable, c->co_localsplusnames, c->co_localspluskinds,
                      c->co_filename, c->co_name, c->co_qualname, c->co_linetable})
    if (p) visit(p);
#if PY_VERSION_HEX >= 0x030C0000
  if (c->_co_cached)
    for (PyObject* p : {c->_co_cached->_co_code, c->_co_cached->_co_varnames, c->_co_cached->_co_cellvars,
                        c->_co_cached->_co_freevars})
      if (p) visit(p);
#else
  if (c->_co_code) visit(c->_co_code);
#endif
#else
  (void)o;
  (void)visit;
#endif
}

// The bytes sys.getsizeof adds to __sizeof__: the GC header of GC types
// (none in free-threaded builds) and, since 3.11, the managed-dict (3.12+:
// and managed-weakref) pointers before the object. 3.13+ adds nothing for a
// static type whose type is exactly `type` (int, list, an extension's static
// types): they are not allocated with a pre-header.
Py_ssize_t pre_header(PyObject* o) {
  PyTypeObject* t = Py_TYPE(o);
#ifdef Py_GIL_DISABLED
  const Py_ssize_t gc_head = 0;
#else
  const Py_ssize_t gc_head = 2 * sizeof(uintptr_t);  // sizeof(PyGC_Head), which is internal
#endif
#if PY_VERSION_HEX >= 0x030D0000
  if (t == &PyType_Type && !(reinterpret_cast<PyTypeObject*>(o)->tp_flags & Py_TPFLAGS_HEAPTYPE)) return 0;
#endif
#if PY_VERSION_HEX >= 0x030C0000
  return (PyType_IS_GC(t) ? gc_head : 0) + ((t->tp_flags & Py_TPFLAGS_PREHEADER) ? 2 * sizeof(PyObject*) : 0);
#elif PY_VERSION_HEX >= 0x030B0000
  return (PyType_IS_GC(t) ? gc_head : 0) + ((t->tp_flags & Py_TPFLAGS_MANAGED_DICT) ? 2 * sizeof(PyObject*) : 0);
#else
  return PyObject_IS_GC(o) ? gc_head : 0;
#endif
}

// int.__sizeof__ (inherited by bool and int subclasses): the header and the
// digits, at least one; -1 where unknown.
Py_ssize_t int_sizeof(PyObject* o) {
#if PY_VERSION_HEX >= 0x030C0000
  const Py_ssize_t digits =
      static_cast<Py_ssize_t>(reinterpret_cast<PyLongObject*>(o)->long_value.lv_tag >> _PyLong_NON_SIZE_BITS);
  return offsetof(PyLongObject, long_value.ob_digit) + (digits > 1 ? digits : 1) * sizeof(digit);
#elif PY_VERSION_HEX >= 0x030B0000
  const Py_ssize_t digits = Py_SIZE(o) < 0 ? -Py_SIZE(o) : Py_SIZE(o);
  return offsetof(PyLongObject, ob_digit) + (digits > 1 ? digits : 1) * sizeof(digit);
#else
  (void)o;
  return -1;
#endif
}

// str.__sizeof__ of a compact str (the usual kind: all but instances of str
// subclasses), its UTF-8 copy included; -1 for the others.
Py_ssize_t str_sizeof(PyObject* o) {
#if PY_VERSION_HEX < 0x030C0000
  if (!PyUnicode_IS_READY(o) || reinterpret_cast<PyASCIIObject*>(o)->wstr) return -1;
#endif
  if (PyUnicode_IS_COMPACT_ASCII(o)) return sizeof(PyASCIIObject) + PyUnicode_GET_LENGTH(o) + 1;
  if (PyUnicode_IS_COMPACT(o)) {
    const PyCompactUnicodeObject* u = reinterpret_cast<PyCompactUnicodeObject*>(o);
    return sizeof(PyCompactUnicodeObject) + (PyUnicode_GET_LENGTH(o) + 1) * PyUnicode_KIND(o) +
           (u->utf8 ? u->utf8_length + 1 : 0);
  }
  return -1;
}

}  // namespace version

// ---- The traversal -------------------------------------------------------------------

// Every frame of every thread as a frame object, and what holds its locals
// (version::add_frame_locals), as new references: the collector does not
// traverse the locals of running frames, so these are where the traversal
// finds them.
std::vector<PyObject*> materialize_frames() {
  std::vector<PyObject*> roots;
  Ref current(_PyThread_CurrentFrames());
  if (!current.p) throw_python_error("cannot list the threads' frames");
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(current.p, &pos, &key, &value)) {
    Py_INCREF(value);
    for (PyObject* frame = value; frame;) {
      roots.push_back(frame);
      version::add_frame_locals(reinterpret_cast<PyFrameObject*>(frame), roots);
      frame = reinterpret_cast<PyObject*>(PyFrame_GetBack(reinterpret_cast<PyFrameObject*>(frame)));
    }
  }
  return roots;
}

// Calls visit(r) for every reference o holds that keeps r alive: what
// tp_traverse reports, plus what it leaves out because the collector does
// not need it (the str keys of dicts, the names and constants of code
// objects, the names of heap types, the parts of static types). Each
// reference is reported once (owned_closure counts them).
template <typename Visit>
void visit_referents(PyObject* o, Visit& visit) {
  if (PyDict_Check(o)) {  // dict_traverse skips the keys of str-keyed dicts: walk the items instead
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(o, &pos, &key, &value)) {
      visit(key);
      visit(value);
    }
    return;
  }
  if (PyType_Check(o) && !(reinterpret_cast<PyTypeObject*>(o)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
    PyTypeObject* t = reinterpret_cast<PyTypeObject*>(o);  // static types have no traverse
    for (PyObject* p : {version::static_type_dict(t), t->tp_mro, t->tp_bases, reinterpret_cast<PyObject*>(t->tp_base)})
      if (p) visit(p);
    return;
  }
  auto visitproc = [](PyObject* r, void* arg) -> int {
    (*static_cast<Visit*>(arg))(r);
    return 0;
  };
  traverseproc traverse = Py_TYPE(o)->tp_traverse;
  if (traverse && PyObject_IS_GC(o)) traverse(o, visitproc, &visit);
  if (PyType_Check(o)) {  // a heap type: type_traverse leaves out its names
    PyHeapTypeObject* h = reinterpret_cast<PyHeapTypeObject*>(o);
    for (PyObject* p : {h->ht_name, h->ht_qualname, h->ht_slots})
      if (p) visit(p);
  } else if (PyCode_Check(o)) {
    version::visit_code(o, visit);
  }
}

// The objects that would be freed with `roots`: the roots, and every object
// reachable from them (not crossing into types and modules) whose
// references all come from within that set and that no other object there
// keeps alive. A reference tp_traverse cannot see (from C) keeps an object.
std::vector<PyObject*> owned_closure(const std::vector<PyObject*>& roots) {
  std::vector<PyObject*> reached;
  std::unordered_map<PyObject*, size_t> index;
  auto reach = [&](PyObject* r) {
    if (PyType_Check(r) || PyModule_Check(r)) return;
    if (index.emplace(r, reached.size()).second) reached.push_back(r);
  };
  for (PyObject* r : roots)
    if (index.emplace(r, reached.size()).second) reached.push_back(r);
  for (size_t i = 0; i < reached.size(); ++i) visit_referents(reached[i], reach);

  std::vector<Py_ssize_t> internal(reached.size(), 0);
  auto count = [&](PyObject* r) {
    auto it = index.find(r);
    if (it != index.end()) ++internal[it->second];
  };
  for (PyObject* o : reached) visit_referents(o, count);

  std::vector<char> kept(reached.size(), 0), is_root(reached.size(), 0);
  for (PyObject* r : roots) is_root[index[r]] = 1;
  std::vector<size_t> stack;
  for (size_t i = 0; i < reached.size(); ++i)
    if (!is_root[i] && Py_REFCNT(reached[i]) > internal[i]) {
      kept[i] = 1;
      stack.push_back(i);
    }
  auto keep = [&](PyObject* r) {
    auto it = index.find(r);
    if (it != index.end() && !kept[it->second] && !is_root[it->second]) {
      kept[it->second] = 1;
      stack.push_back(it->second);
    }
  };
  while (!stack.empty()) {
    const size_t i = stack.back();
    stack.pop_back();
    visit_referents(reached[i], keep);
  }
  std::vector<PyObject*> owned;
  for (size_t i = 0; i < reached.size(); ++i)
    if (!kept[i]) owned.push_back(reached[i]);
  return owned;
}

// Calls visit(o) once for every reachable object (census.h says which),
// except those owned by `exclude` (owned_closure), until visit returns
// false. Runs no Python code between the calls: visit must not either.
template <typename Visit>
void for_each_reachable(const std::vector<PyObject*>& exclude, Visit&& visit) {
  std::vector<PyObject*> frames = materialize_frames();
  struct FramesRelease {
    std::vector<PyObject*>& frames;
    ~FramesRelease() {
      for (PyObject* f : frames) Py_DECREF(f);
    }
  } release_frames{frames};

  // Before gc.get_objects(), whose list holds a reference to every tracked
  // object and would make them all look referenced from elsewhere.
  const std::vector<PyObject*> excluded = owned_closure(exclude);
  Ref gc(PyImport_ImportModule("gc"));
  if (!gc.p) throw_python_error("cannot import gc");
  Ref tracked(PyObject_CallMethod(gc.p, "get_objects", nullptr));
  if (!tracked.p || !PyList_Check(tracked.p)) throw_python_error("gc.get_objects() failed");

  const Py_ssize_t n = PyList_GET_SIZE(tracked.p);
  AddressSet seen(static_cast<size_t>(n) * 2);
  for (PyObject* o : excluded) seen.insert(o);
  std::vector<PyObject*> stack;
  stack.reserve(static_cast<size_t>(n));
  for (PyObject* o : frames)  // running frames are not tracked, nor are all locals
    if (seen.insert(o)) stack.push_back(o);
  for (Py_ssize_t i = n - 1; i >= 0; --i) {
    PyObject* o = PyList_GET_ITEM(tracked.p, i);
    if (seen.insert(o)) stack.push_back(o);
  }
  auto push = [&](PyObject* o) {
    if (seen.insert(o)) stack.push_back(o);
  };
  while (!stack.empty()) {
    PyObject* o = stack.back();
    stack.pop_back();
    if (!visit(o)) return;
    visit_referents(o, push);
  }
}

enum class SizeRule { Generic, Int, Str, List, Call };

Py_ssize_t generic_sizeof(PyObject* o) {  // object.__sizeof__
  PyTypeObject* t = Py_TYPE(o);
  return t->tp_basicsize + (t->tp_itemsize > 0 ? Py_SIZE(o) * t->tp_itemsize : 0);
}

// __sizeof__ of the builtin methods whose formula we know, or -1 when this
// object needs its __sizeof__ called.
Py_ssize_t known_sizeof(PyObject* o, SizeRule rule) {
  switch (rule) {
    case SizeRule::Generic:
      return generic_sizeof(o);
    case SizeRule::List:
      return Py_TYPE(o)->tp_basicsize + reinterpret_cast<PyListObject*>(o)->allocated * sizeof(void*);
    case SizeRule::Int:
      return version::int_sizeof(o);
    case SizeRule::Str:
      return version::str_sizeof(o);
    case SizeRule::Call:
      return -1;
  }
  return -1;
}

// The __sizeof__ of o's type, called as sys.getsizeof calls it (looked up
// on the type, not the instance); object.__sizeof__'s answer if it fails.
Py_ssize_t called_sizeof(PyObject* o) {
  static PyObject* name = PyUnicode_InternFromString("__sizeof__");
  PyObject* method = _PyType_Lookup(Py_TYPE(o), name);  // borrowed
  Ref bound(nullptr);
  if (method) {
    descrgetfunc get = Py_TYPE(method)->tp_descr_get;
    bound.p = get ? get(method, o, reinterpret_cast<PyObject*>(Py_TYPE(o))) : (Py_INCREF(method), method);
  }
  Ref result(bound.p ? PyObject_CallNoArgs(bound.p) : nullptr);
  Py_ssize_t size = result.p && PyLong_Check(result.p) ? PyLong_AsSsize_t(result.p) : -1;
  if (size < 0) {
    PyErr_Clear();
    size = generic_sizeof(o);
  }
  return size;
}

// Which formula gives __sizeof__ for instances of t: the builtin method that
// t inherits decides.
SizeRule size_rule(PyTypeObject* t) {
  static PyObject* name = PyUnicode_InternFromString("__sizeof__");
  static PyObject* object_sizeof = _PyType_Lookup(&PyBaseObject_Type, name);
  static PyObject* int_sizeof = _PyType_Lookup(&PyLong_Type, name);
  static PyObject* str_sizeof = _PyType_Lookup(&PyUnicode_Type, name);
  static PyObject* list_sizeof = _PyType_Lookup(&PyList_Type, name);
  PyObject* method = _PyType_Lookup(t, name);
  if (method == object_sizeof) return SizeRule::Generic;
  if (method == int_sizeof) return SizeRule::Int;
  if (method == str_sizeof) return SizeRule::Str;
  if (method == list_sizeof) return SizeRule::List;
  return SizeRule::Call;
}

struct TypeStats {
  SizeRule rule;
  int64_t count = 0;
  int64_t bytes = 0;
};

}  // namespace

CensusResult::CensusResult(CensusResult&& other) noexcept
    : rows(std::move(other.rows)), objects(other.objects), bytes(other.bytes) {
  other.rows.clear();
}

CensusResult::~CensusResult() {
  for (CensusRow& row : rows) Py_XDECREF(reinterpret_cast<PyObject*>(row.type));
}

CensusResult take_census(const std::vector<PyObject*>& exclude) {
  std::unordered_map<PyTypeObject*, TypeStats> stats;
  std::vector<std::pair<PyObject*, TypeStats*>> to_call;  // new references
  PyTypeObject* last_type = nullptr;
  TypeStats* last = nullptr;
  try {
    for_each_reachable(exclude, [&](PyObject* o) {
      PyTypeObject* t = Py_TYPE(o);
      if (t != last_type) {
        auto it = stats.find(t);
        if (it == stats.end()) it = stats.emplace(t, TypeStats{size_rule(t)}).first;
        last_type = t;
        last = &it->second;
      }
      ++last->count;
      const Py_ssize_t size = known_sizeof(o, last->rule);
      if (size >= 0) {
        last->bytes += size + version::pre_header(o);
      } else {
        Py_INCREF(o);
        to_call.emplace_back(o, last);
      }
      return true;
    });
  } catch (...) {
    for (auto& [o, s] : to_call) Py_DECREF(o);
    throw;
  }
  // Every type in `stats` is alive: its instances are (held by to_call or
  // untouched since the traversal). Hold them before any Python code runs.
  CensusResult result;
  result.rows.reserve(stats.size());
  for (auto& [t, s] : stats) {
    Py_INCREF(reinterpret_cast<PyObject*>(t));
    result.rows.push_back(CensusRow{t, 0, 0});
  }
  for (auto& [o, s] : to_call) {
    s->bytes += called_sizeof(o) + version::pre_header(o);
    Py_DECREF(o);
  }
  for (CensusRow& row : result.rows) {
    const TypeStats& s = stats.at(row.type);
    row.count = s.count;
    row.bytes = s.bytes;
    result.objects += s.count;
    result.bytes += s.bytes;
  }
  return result;
}

std::vector<PyObject*> census_objects(PyTypeObject* type, size_t limit, const std::vector<PyObject*>& exclude) {
  std::vector<PyObject*> found;
  try {
    for_each_reachable(exclude, [&](PyObject* o) {
      if (type == nullptr || Py_TYPE(o) == type) {
        Py_INCREF(o);
        found.push_back(o);
      }
      return limit == 0 || found.size() < limit;
    });
  } catch (...) {
    for (PyObject* o : found) Py_DECREF(o);
    throw;
  }
  return found;
}

RetainedSize retained_size(const std::vector<PyObject*>& roots) {
  std::vector<PyObject*> owned = owned_closure(roots);
  for (PyObject* o : owned) Py_INCREF(o);  // sizes may call Python code
  RetainedSize result;
  for (PyObject* o : owned) {
    ++result.objects;
    result.bytes += shallow_size(o);
    Py_DECREF(o);
  }
  return result;
}

Py_ssize_t shallow_size(PyObject* o) {
  const Py_ssize_t size = known_sizeof(o, size_rule(Py_TYPE(o)));
  return (size >= 0 ? size : called_sizeof(o)) + version::pre_header(o);
}

}  // namespace yep
