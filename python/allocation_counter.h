// Per-thread allocation counters kept by malloc hooks: the bytes a thread
// has allocated minus the bytes it has freed ("net"), and the highest net
// since the thread last reset its peak. Counting per thread makes a line's
// figures exact even while other threads allocate: memory another thread
// allocates is never charged to this thread's line.
//
// Sizes are tcmalloc's allocated sizes (requests rounded to its size
// classes), the same for an allocation and its free. Needs tcmalloc as the
// process's allocator (see tcmalloc.h); the counters are thread-local
// (initial-exec: reading them in a hook never allocates), so the hooks cost a
// size lookup and two additions.
#pragma once

#include <cstdint>

namespace yep {

// Adds the hooks (once); throws CaptureError unless tcmalloc is the allocator.
void allocation_counter_install();

struct ThreadAllocations {
  int64_t net;   // allocated minus freed by this thread since it started
  int64_t peak;  // highest net since reset_thread_peak
};

ThreadAllocations thread_allocations();
// Sets this thread's peak to its current net.
void reset_thread_peak();

}  // namespace yep
