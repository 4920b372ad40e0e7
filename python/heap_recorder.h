// yep's heap recorder: what gperftools' heap profiler records (every
// allocation's stack, allocated and in-use objects and bytes per stack),
// kept by yep's own malloc hooks and written in gperftools' heap profile
// text format, so google-pprof and go tool pprof read it too.
//
// Why not gperftools' own dumps: up to gperftools 2.15 a dump is cut at
// 1 MiB, keeping the stacks with the most bytes in use. A Python program
// has thousands of stacks of 32 frames, so on these machines every dump is
// cut, and fully freed stacks (the churn) are the first to go: allocation
// reports from those files are wrong. Here dumps have no size limit and
// stacks have up to 64 native frames (128 with Python frames, --mixed).
//
// The hooks run inside malloc and free of every thread: they never call
// malloc (tables live in mmap'ed memory), take one spin lock, and walk the
// caller's stack with the objects' unwind tables (native_unwinder.h), skipping the
// interposer's (or tcmalloc's) own frames. They need yep's malloc hooks
// (malloc_hooks.h; heap_profiler.h checks and finds them). With the
// interposer, the program's anonymous mmaps are recorded as allocations
// too, and its munmaps as their frees.
//
// In the sampled mode (HeapSampling below, heap_sampler.h) only the
// sampled allocations take a stack and enter the live map, weighted; an
// unsampled malloc costs a thread-local subtraction and a branch, an
// unsampled free one load from a small filter of the recorded addresses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "malloc_hooks.h"

namespace yep {

struct HeapDumpIntervals {
  int64_t allocated_bytes = 1LL << 30;  // dump every time this much more was allocated (0: never)
  int64_t inuse_bytes = 100LL << 20;    // dump when in-use bytes grow by this much past the last high (0: never)
  int64_t seconds = 0;                  // dump every this many seconds (0: never)
};

// With mixed, each stack holds the allocating thread's Python frames too,
// merged with the native ones (stack_merge.h), so native allocations are
// charged to the Python line that caused them; root_code as in
// mixed_sampler.h (0: none).
struct HeapMixed {
  bool enabled = false;
  uintptr_t root_code = 0;
};

// The sampled mode (heap_sampler.h): mean 0 records every allocation;
// otherwise one allocation per `mean` bytes on average is recorded, weighted
// so that the dumps' figures are unbiased estimates, and the dumps say so
// ("# yep-sampled: <mean>" after the header). seed: as heap_sampler_start.
struct HeapSampling {
  int64_t mean = 0;
  uint64_t seed = 0;
};

// Starts recording from now on into empty tables. `prefix` is absolute.
void heap_recorder_start(const MallocHooks& hooks, const std::string& prefix, const HeapDumpIntervals& intervals,
                         const HeapMixed& mixed, const HeapSampling& sampling = HeapSampling());
// Writes PREFIX.NNNN.heap (numbered from 0001 per session); returns its path.
// In the exact mode a dump refers to the stacks of PREFIX.stacks, written
// once per session, unless it is the session's last (complete on its own).
std::string heap_recorder_dump(bool last = false);
// Stops recording (and the interval dumps); the tables are kept until the next start.
void heap_recorder_stop();
bool heap_recorder_running();
// The session's mean (0: exact) and its bytes in use now: in the sampled mode
// the weighted estimate (what a dump's header would say), read without the
// lock; -1 when not recording. For `yep mprof run --heap --heap-sample`.
int64_t heap_recorder_sample_mean();
int64_t heap_recorder_inuse_bytes();

// The recording session's figures, all in requested bytes (in the sampled
// mode, estimates): in use now, and the highest in use since the start;
// distinct stacks and blocks in the live map; and the memory yep's own
// tables hold (stacks, live map, filter), which stays bounded when the
// program's stacks are (the sampled mode's live map holds only samples).
struct HeapRecorderStats {
  bool recording = false;
  int64_t sample_mean = 0;
  int64_t inuse_bytes = 0, peak_bytes = 0, allocated_bytes = 0;
  int64_t stacks = 0, live_blocks = 0;
  int64_t memory_bytes = 0;
};
HeapRecorderStats heap_recorder_stats();
// Whether the calling thread is writing a dump: its allocations are yep's own
// (heap_stats leaves them out too).
bool heap_recorder_dumping();

}  // namespace yep
