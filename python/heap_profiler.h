// yep's wrapper around gperftools' heap profiler and malloc hooks.
//
// The hooks come from yep's malloc interposer, preloaded so that the
// program keeps its own allocator (malloc_hooks.h); every call first checks
// that they are there, else it throws CaptureError saying how to run the
// program.
//
// Profiles are gperftools' heap profile text files "<prefix>.NNNN.heap",
// recorded by yep's own hooks (heap_recorder.h says why) and written on
// demand, when gperftools' HEAP_PROFILE_ALLOCATION_INTERVAL /
// _INUSE_INTERVAL / _TIME_INTERVAL thresholds are crossed (read at start),
// and once more by heap_profiler_stop, so a session always ends with a
// profile of what was still in use.
//
// heap_stats counts through MallocHook new/delete hooks installed on first
// use: bytes live (the allocator's block sizes, malloc_usable_size) and the peak
// since the hooks were installed or the peak was last reset. Each thread
// adds its share to the totals every 16 KiB or 256 calls (heap_profiler.cpp
// says why), so other threads' figures lag by less than that.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cpu_profiler.h"  // CaptureError
#include "heap_recorder.h"  // HeapMixed
#include "malloc_hooks.h"

namespace yep {

// mixed: Python frames in the stacks too; sampling: the sampled mode (see heap_recorder.h).
void heap_profiler_start(const std::string& prefix, const HeapMixed& mixed = HeapMixed(),
                         const HeapSampling& sampling = HeapSampling());
// Writes a profile now; returns its path.
std::string heap_profiler_dump(const std::string& reason);
// Dumps a last profile, stops, and returns every file this session wrote.
std::vector<std::string> heap_profiler_stop();
bool heap_profiler_running();

struct HeapStats {
  int64_t live_bytes = 0;
  int64_t peak_bytes = 0;
  int64_t allocations = 0;
  int64_t frees = 0;
};
HeapStats heap_stats(bool reset_peak);

}  // namespace yep
