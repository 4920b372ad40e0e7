// Where the interpreter's code lives in memory: its eval loop, so that its
// frames can be found in native stacks (stack_merge.h pairs each with the
// Python frames it runs), and which of the interpreter's frames are its own
// plumbing, hidden from reports (see mark_plumbing).
//
// The exported _PyEval_EvalFrameDefault is not enough: compilers split it
// (Debian's python3.14 exports a 1 KiB stub; the body is the local symbol
// _PyEval_EvalFrameDefault.cold, in a stripped executable), and clang's
// tail-calling interpreter runs each instruction in a function of its own
// (_TAIL_CALL_*). So the ranges are gathered three ways:
//  - the exported symbol and its size;
//  - local symbols named _PyEval_EvalFrameDefault.* and _TAIL_CALL_*, when
//    the interpreter's file still has its symbol table;
//  - observation, which needs no symbols at all: a Python function calls a
//    probe in C a few times, in the ways the eval loop calls out (plain,
//    specialized, in a generator); the probe walks its own native stack
//    and finds the native frame whose stack memory holds the eval loop's
//    entry frame (python_frames.h's python_entry_marker), and that frame's
//    whole function, bounded by its unwind information.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace yep {

// Sorted, disjoint address ranges.
struct CodeRanges {
  static constexpr int kMax = 1024;
  struct Range {
    uintptr_t start, end;
  };
  Range ranges[kMax];
  int count = 0;

  bool contains(uintptr_t pc) const {
    int lo = 0, hi = count;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (ranges[mid].start <= pc) lo = mid + 1; else hi = mid;
    }
    return lo > 0 && pc < ranges[lo - 1].end;
  }
  void add(uintptr_t start, uintptr_t end);
};

struct InterpreterCode {
  CodeRanges eval;    // the eval loop
  CodeRanges object;  // all code of the file that holds it (the python executable or libpython)
  CodeRanges loader;  // the dynamic loader's code (ld.so: __tls_get_addr)

  struct Builtin {
    uintptr_t entry;
    std::string name;  // as Python names it: "str.upper", "len", "list" (calling the type)
  };
  std::vector<Builtin> builtins;  // the builtins' C functions, sorted by entry point

  // Sets hidden[i] for the native frames of a stack (pcs leaf first; pcs[0]
  // the exact leaf pc, the others return addresses) that are the
  // interpreter's plumbing: the eval loop, and all the interpreter's code
  // under it (its call machinery and its own helpers: arithmetic, attribute
  // lookup, allocation, deallocation...) except a builtin's C function (a
  // builtin function or method, or calling a builtin type to build an
  // instance: unicode_upper under `s.upper()`, builtin_sorted and list_sort
  // under `sorted(x)`)
  // and what that calls, up to the next eval loop; and whatever started the
  // thread before its first eval loop (main, libc's start, the thread
  // bootstrap); and the dynamic loader's code the hidden frames call
  // (__tls_get_addr, for the interpreter's thread-locals). Other files'
  // frames under the first eval loop are never hidden, nor any frame of
  // threads that run no Python. Builtins are found at start-up from the objects
  // themselves (PyMethodDef entry points, types' tp_vectorcall), and
  // functions are bounded by their unwind information, so stripped
  // interpreters need no debug symbols. Not for signal handlers.
  bool builtin(uintptr_t pc) const { return builtin_at(pc, nullptr, nullptr) != nullptr; }
  // The builtin whose C function holds pc, and that function's bounds; nullptr if none.
  const Builtin* builtin_at(uintptr_t pc, uintptr_t* start, uintptr_t* end) const;
  void mark_plumbing(const uint64_t* pcs, size_t depth, std::vector<bool>& hidden) const;
};

// Collects, from the native frames of the stacks a profile file holds, the
// builtins' C functions among them, and writes the "# yep-function:" lines
// that name them (converters/python_stand_ins.h): a stripped interpreter
// (Debian's) has no symbol for them, but the capture knows their Python
// names. Not for signal handlers.
class BuiltinNames {
 public:
  explicit BuiltinNames(const InterpreterCode& code) : code_(code) {}
  void add(const uint64_t* pcs, size_t depth);  // leaf first, pcs[0] the exact leaf pc
  std::string lines() const;

 private:
  const InterpreterCode& code_;
  std::set<uintptr_t> checked_;
  std::map<uintptr_t, std::pair<uintptr_t, const std::string*>> found_;  // start -> (end, name)
};

// Finds the interpreter's code (needs the GIL; runs a little Python code).
// Computed once: the result does not change while the process runs.
const InterpreterCode& interpreter_code();

}  // namespace yep
