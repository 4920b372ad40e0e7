// The line tracer's clock, read once per line boundary, so its cost is paid
// millions of times: the time-stamp counter (rdtsc, about 8 ns here) where
// the kernel keeps its own time with it (its clocksource is "tsc": the
// counter then runs at a constant rate, through sleep states, and agrees
// between CPUs), else CLOCK_MONOTONIC (about 20 ns through the vDSO).
//
// Readings are ticks; ns_per_tick() turns them into nanoseconds with the
// rate measured against CLOCK_MONOTONIC from line_clock_init() to the call
// (use it after a few milliseconds at least; the tracer asks at start-up,
// after the calibration, and when it reports).
#pragma once

#include <time.h>

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define YEP_LINE_CLOCK_TSC 1
#endif

namespace yep {

extern bool line_clock_tsc;  // set by line_clock_init

inline int64_t monotonic_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
}

inline int64_t line_clock_ticks() {
#ifdef YEP_LINE_CLOCK_TSC
  if (__builtin_expect(line_clock_tsc, 1)) return static_cast<int64_t>(__rdtsc());
#endif
  return monotonic_ns();
}

// Picks the clock and notes the origin of the rate measurement (once; later
// calls do nothing).
void line_clock_init();
// Nanoseconds per tick (1 for CLOCK_MONOTONIC).
double line_clock_ns_per_tick();
// Which clock: "tsc" or "monotonic".
const char* line_clock_name();

}  // namespace yep
