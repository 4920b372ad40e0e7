// Where a merged stack (leaf first, see stack_merge.h) is cut so that the
// profile holds the program's frames only, not the code that runs it: the
// CLI's runner and runpy's frames, or the function that called yep.start().
// Dependency-free: the CPU sampler and the heap recorder share it, and
// tests/cpp/root_cut_test.cpp checks it on made-up stacks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace yep {

// The depth a merged stack keeps when it is cut at the root-most frame for
// which is_root holds. That frame and everything below it go, and so do
// the frames just leafward of it that run the profiled script: runpy's
// frames (is_runner) and the native frames of the calls between them. The
// script's stack starts at its first Python frame that is not a runner's
// (its <module>), on the eval-loop frames (is_eval) that run it, up to the
// root-most one since the last runner frame.
//
// A runner frame leafward of an eval frame is still the runner's: runpy's
// own methods called through C (a class's __init__, a with-statement's
// __enter__ and __exit__) run in an eval call of their own.
//
// Before the <module> runs (runpy reads and compiles the script) there is
// no frame of the program: what is left is the native frames at the leaf,
// up to the first runner or eval frame. Compiling is the program's time,
// as under `python script.py`. 0 when the leaf is a runner's frame.
template <typename IsRoot, typename IsRunner, typename IsPython, typename IsEval>
size_t depth_above_root(const uint64_t* stack, size_t depth, IsRoot is_root, IsRunner is_runner,
                        IsPython is_python, IsEval is_eval) {
  for (size_t i = depth; i-- > 0;) {
    if (!is_root(stack[i])) continue;
    const size_t root = i;
    size_t eval = root;  // the root-most eval frame since the last runner frame, root for none
    for (size_t j = root; j-- > 0;) {
      const uint64_t frame = stack[j];
      if (is_runner(frame)) {
        eval = root;
      } else if (is_python(frame)) {
        return eval != root ? eval + 1 : j + 1;
      } else if (is_eval(frame) && eval == root) {
        eval = j;
      }
    }
    size_t leaf = 0;
    while (leaf < root && !is_runner(stack[leaf]) && !is_python(stack[leaf]) && !is_eval(stack[leaf])) ++leaf;
    return leaf;
  }
  return depth;
}

}  // namespace yep
