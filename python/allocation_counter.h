// Per-thread allocation counters kept by malloc hooks: the bytes a thread
// has allocated minus the bytes it has freed ("net"), and the highest net
// since the thread last reset its peak. Counting per thread makes a line's
// figures exact even while other threads allocate: memory another thread
// allocates is never charged to this thread's line.
//
// Sizes are the allocator's sizes of the blocks (malloc_usable_size: the
// request rounded up to the allocator's granule), the same for an
// allocation and its free. Needs yep's malloc hooks (see malloc_hooks.h:
// the program runs with the interposer preloaded); the counters are thread-local
// (initial-exec: reading them in a hook never allocates), so the hooks cost a
// size lookup and two additions.
#pragma once

#include <cstdint>

namespace yep {

// Adds the hooks (once); throws CaptureError unless the malloc hooks are there.
void allocation_counter_install();

// This thread's counters, read inline by the line tracer at every line
// boundary (C-style __thread: no C++ TLS wrapper call).
extern __thread int64_t thread_net_bytes __attribute__((tls_model("initial-exec")));
extern __thread int64_t thread_peak_bytes __attribute__((tls_model("initial-exec")));

struct ThreadAllocations {
  int64_t net;   // allocated minus freed by this thread since it started
  int64_t peak;  // highest net since reset_thread_peak
};

inline ThreadAllocations thread_allocations() { return {thread_net_bytes, thread_peak_bytes}; }
// Sets this thread's peak to its current net.
inline void reset_thread_peak() { thread_peak_bytes = thread_net_bytes; }

}  // namespace yep
