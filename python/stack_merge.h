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
#include <vector>

#include "interpreter_code.h"
#include "python_frames.h"
#include "root_cut.h"

namespace yep {

// push_native(pc) and push_python(const PyFrameRecord&) receive the frames
// in order, leaf first. Consecutive native frames of the eval loop belong
// to one C call of it (clang's tail-calling interpreter runs each
// instruction in a function of its own, called from the loop's entry).
template <typename PushNative, typename PushPython>
void merge_stacks(const uintptr_t* pcs, int native_depth, const PyFrameRecord* python, int python_depth,
                  const CodeRanges& eval, PushNative push_native, PushPython push_python) {
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

// Whether a Python file is runpy's (its frames run the profiled script).
inline bool is_runpy_file(std::string_view f) {
  return f == "<frozen runpy>" || (f.size() >= 9 && f.substr(f.size() - 9) == "/runpy.py");
}

// The line that defines a Python frame's key in a profile file (see
// converters/python_stand_ins.h).
inline std::string python_stand_in_line(uint64_t key, int line, const CodeInfo& code) {
  auto field = [](std::string s) {
    for (char& c : s)
      if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    return s;
  };
  char hex[32];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(key));
  return "# yep-python:\t" + std::string(hex) + "\t" + std::to_string(line) + "\t" + std::to_string(code.firstlineno) +
         "\t" + field(code.filename) + "\t" + field(code.qualname) + "\n";
}

// Appends `value` in hex (no "0x") or in decimal, without printf: a dump
// writes millions (printf's format parsing was a tenth of an exact run).
inline void append_hex(std::string& out, unsigned long long value) {
  char buf[16];
  char* p = buf + sizeof buf;
  do {
    *--p = "0123456789abcdef"[value & 0xf];
    value >>= 4;
  } while (value);
  out.append(p, static_cast<size_t>(buf + sizeof buf - p));
}
inline void append_decimal(std::string& out, unsigned long long value) {
  char buf[20];
  char* p = buf + sizeof buf;
  do {
    *--p = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value);
  out.append(p, static_cast<size_t>(buf + sizeof buf - p));
}

// Splits a merged stack (leaf first) as profile files carry it (see
// converters/python_stand_ins.h): its native frames go to `native`, in
// order; its Python frames, the thread (a key, or -1 for none) and which
// native frames are the interpreter's plumbing make the returned
// "# yep-stack:" line for record `record` ("" when there is nothing to
// say). python_key(frame) is the key of a Python frame, -1 for a native one.
template <typename PythonKey>
std::string split_mixed_stack(size_t record, const uint64_t* stack, size_t depth, long long thread_key,
                              const InterpreterCode& interpreter, PythonKey python_key, std::vector<uint64_t>& native) {
  std::string frames;
  native.clear();
  for (size_t i = 0; i < depth; ++i) {
    const long long key = python_key(stack[i]);
    if (key < 0) {
      native.push_back(stack[i]);
      continue;
    }
    if (!frames.empty()) frames += ',';
    append_decimal(frames, native.size());
    frames += ':';
    append_hex(frames, static_cast<unsigned long long>(key));
  }
  std::vector<bool> hidden;
  interpreter.mark_plumbing(native.data(), native.size(), hidden);
  std::string plumbing;
  for (size_t i = 0; i < hidden.size();) {
    if (!hidden[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j + 1 < hidden.size() && hidden[j + 1]) ++j;
    if (!plumbing.empty()) plumbing += ',';
    append_decimal(plumbing, i);
    if (j > i) {
      plumbing += '-';
      append_decimal(plumbing, j);
    }
    i = j + 1;
  }
  if (frames.empty() && plumbing.empty() && thread_key < 0) return "";
  std::string line = "# yep-stack:\t";
  append_decimal(line, record);
  line += '\t';
  if (thread_key < 0)
    line += '-';
  else
    append_hex(line, static_cast<unsigned long long>(thread_key));
  line += '\t';
  line += frames;
  line += '\t';
  line += plumbing;
  line += '\n';
  return line;
}

}  // namespace yep
