// Tests for yep's native unwinder (python/native_unwinder.h, over the
// .eh_frame rows of python/unwind_table.h) against the real thing: stacks of
// known functions, compiled -O2 without frame pointers, walked from the
// calling thread and from inside a SIGPROF handler, compared with what
// glibc's backtrace() (libgcc's unwinder) and dladdr say.
#include <dlfcn.h>
#include <execinfo.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "native_unwinder.h"
#include "safe_reader.h"

namespace {

std::string name_of(uintptr_t pc) {
  Dl_info info{};
  return dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_sname ? info.dli_sname : "?";
}

// ---- from the calling thread --------------------------------------------------

struct Walk {
  std::vector<uintptr_t> ours, theirs;
};

extern "C" __attribute__((noinline, noclone)) void yep_test_leaf(Walk* w) {
  uintptr_t pcs[64];
  const int n = yep::native_unwind_here(pcs, nullptr, 64);
  w->ours.assign(pcs, pcs + n);
  void* raw[64];
  const int m = backtrace(raw, 64);
  for (int i = 0; i < m; ++i) w->theirs.push_back(reinterpret_cast<uintptr_t>(raw[i]));
  __asm__ volatile("" ::: "memory");
}

extern "C" __attribute__((noinline, noclone)) void yep_test_middle(Walk* w, int depth) {
  if (depth > 0) yep_test_middle(w, depth - 1); else yep_test_leaf(w);
  __asm__ volatile("" ::: "memory");  // not a tail call
}

extern "C" __attribute__((noinline, noclone)) void yep_test_outer(Walk* w) {
  yep_test_middle(w, 3);
  __asm__ volatile("" ::: "memory");
}

TEST(NativeUnwinder, WalksTheCallingThreadAsLibgccDoes) {
  yep::native_unwinder_scan();
  Walk w;
  yep_test_outer(&w);
  ASSERT_GE(w.ours.size(), 6u);
  // Ours starts in yep_test_leaf; backtrace()'s too (its own frame is left out).
  EXPECT_EQ(name_of(w.ours[0]), "yep_test_leaf");
  // Every return address after the leaf frame: the same as libgcc's, in order.
  ASSERT_GE(w.theirs.size(), w.ours.size() - 1);
  for (size_t i = 1; i < w.ours.size() && i < w.theirs.size(); ++i) EXPECT_EQ(w.ours[i], w.theirs[i]) << i;
  std::vector<std::string> names;
  for (uintptr_t pc : w.ours) names.push_back(name_of(pc - 1));
  const std::vector<std::string> want = {"yep_test_middle", "yep_test_middle", "yep_test_middle", "yep_test_middle",
                                         "yep_test_outer"};
  EXPECT_EQ(std::vector<std::string>(names.begin() + 1, names.begin() + 6), want);
}

// ---- from a signal handler ----------------------------------------------------

std::atomic<int> taken{0};
uintptr_t handler_pcs[128];
std::atomic<int> handler_depth{0};

void on_prof(int, siginfo_t*, void* context) {
  if (taken.load()) return;
  yep::SafeReader reader;
  const int n = yep::native_unwind_context(context, reader, handler_pcs, 128);
  // Keep only a sample taken inside the spinning leaf.
  if (n > 0 && name_of(handler_pcs[0]) == "yep_test_spin") {
    handler_depth = n;
    taken = 1;
  }
}

extern "C" __attribute__((noinline, noclone)) double yep_test_spin(double x) {
  for (long i = 0; i < 200000000 && !taken.load(std::memory_order_relaxed); ++i) x = x * 0.999999 + (i & 7);
  return x;
}

extern "C" __attribute__((noinline, noclone)) double yep_test_spin_caller(double x) {
  const double y = yep_test_spin(x);
  __asm__ volatile("" ::: "memory");
  return y + 1;
}

TEST(NativeUnwinder, WalksAnInterruptedThreadFromItsSignalContext) {
  yep::native_unwinder_scan();
  yep::SafeReader::init();
  struct sigaction action {};
  action.sa_sigaction = on_prof;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  struct sigaction saved {};
  sigaction(SIGPROF, &action, &saved);
  itimerval timer{{0, 2000}, {0, 2000}};
  setitimer(ITIMER_PROF, &timer, nullptr);
  for (int round = 0; round < 50 && !taken.load(); ++round) yep_test_spin_caller(round);
  itimerval off{};
  setitimer(ITIMER_PROF, &off, nullptr);
  sigaction(SIGPROF, &saved, nullptr);
  ASSERT_TRUE(taken.load()) << "no sample landed in the spinning function";
  const int n = handler_depth.load();
  ASSERT_GE(n, 4);
  // The interrupted pc, then the callers: the signal's own frames are not there.
  EXPECT_EQ(name_of(handler_pcs[0]), "yep_test_spin");
  EXPECT_EQ(name_of(handler_pcs[1] - 1), "yep_test_spin_caller");
  // On down through GoogleTest to main: the whole stack.
  std::string names;
  bool reached_main = false;
  for (int i = 2; i < n; ++i) {
    const std::string name = name_of(handler_pcs[i] - 1);
    names += name + " ";
    reached_main = reached_main || name == "main";
  }
  EXPECT_TRUE(reached_main) << names;
}

TEST(NativeUnwinder, FunctionBoundsComeFromTheUnwindTables) {
  yep::native_unwinder_scan();
  uintptr_t start = 0, end = 0;
  const uintptr_t inside = reinterpret_cast<uintptr_t>(&yep_test_spin_caller) + 4;
  ASSERT_TRUE(yep::native_function_bounds(inside, &start, &end));
  EXPECT_EQ(start, reinterpret_cast<uintptr_t>(&yep_test_spin_caller));
  EXPECT_GT(end, inside);
  EXPECT_FALSE(yep::native_function_bounds(0x10, &start, &end));
}

}  // namespace
