// Where the interpreter's eval loop lives in memory, so that its frames can
// be found in native stacks (stack_merge.h pairs each with the Python
// frames it runs).
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

namespace yep {

struct EvalRanges {
  static constexpr int kMax = 1024;
  struct Range {
    uintptr_t start, end;
  };
  Range ranges[kMax];  // sorted, disjoint
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

// Finds the eval loop's code (needs the GIL; runs a little Python code).
// The result does not change while the process runs: computed once.
const EvalRanges& python_eval_ranges();

}  // namespace yep
