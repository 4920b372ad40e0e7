// One stack from a thread's native stack and its Python frames (see
// python_frames.h), leaf first: every native frame of the interpreter's eval
// function gets, just above it (leafward), the run of Python frames it was
// running; Python frames left over (a native stack cut short) go at the
// root. Allocation-free: the mixed CPU sampler and the heap recorder's
// malloc hook share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "interpreter_code.h"
#include "python_frames.h"

namespace yep {

// push_native(pc) and push_python(const PyFrameRecord&) receive the frames
// in order, leaf first. Consecutive native frames of the eval loop belong
// to one C call of it (clang's tail-calling interpreter runs each
// instruction in a function of its own, called from the loop's entry).
template <typename PushNative, typename PushPython>
void merge_stacks(const uintptr_t* pcs, int native_depth, const PyFrameRecord* python, int python_depth,
                  const EvalRanges& eval, PushNative push_native, PushPython push_python) {
  int next = 0;
  auto run = [&] {  // the Python frames of one native eval call
    while (next < python_depth) {
      const PyFrameRecord& f = python[next++];
      if (f.code != kNoCode) push_python(f);
      if (f.is_entry) return;
    }
  };
  bool in_eval = false;
  for (int i = 0; i < native_depth; ++i) {
    // Return addresses (all but the leaf) may point just past the call.
    const bool eval_frame = eval.contains(i == 0 ? pcs[i] : pcs[i] - 1);
    if (eval_frame && !in_eval && next < python_depth) run();
    in_eval = eval_frame;
    push_native(pcs[i]);
  }
  while (next < python_depth) run();
}

// The depth a merged stack (leaf first) keeps when it is cut at the
// root-most frame for which is_root holds: that frame, everything below it,
// and the frames just above it for which is_runner holds are left out
// (yep's runner and the runpy frames that execute the profiled script).
template <typename IsRoot, typename IsRunner>
size_t depth_above_root(const uint64_t* stack, size_t depth, IsRoot is_root, IsRunner is_runner) {
  for (size_t i = depth; i-- > 0;)
    if (is_root(stack[i])) {
      while (i > 0 && is_runner(stack[i - 1])) --i;
      return i;
    }
  return depth;
}

// Whether a Python file is runpy's (its frames run the profiled script).
inline bool is_runpy_file(std::string_view f) {
  return f == "<frozen runpy>" || (f.size() >= 9 && f.substr(f.size() - 9) == "/runpy.py");
}

// The line that explains a Python frame's stand-in address in a profile
// file (see converters/python_stand_ins.h).
inline std::string python_stand_in_line(uint64_t address, int line, const CodeInfo& code) {
  auto field = [](std::string s) {
    for (char& c : s)
      if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    return s;
  };
  char hex[32];
  std::snprintf(hex, sizeof hex, "%#llx", static_cast<unsigned long long>(address));
  return "# yep-python:\t" + std::string(hex) + "\t" + std::to_string(line) + "\t" + std::to_string(code.firstlineno) +
         "\t" + field(code.filename) + "\t" + field(code.qualname) + "\n";
}

}  // namespace yep
