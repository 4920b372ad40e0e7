// yep's RSS sampler: the memory of one process (and of its descendants) over
// time, read by a native thread at a fixed interval, for yep.memory_usage.
//
// What it promises:
//  - No Python, no GIL and no psutil in the sampling thread: it reads
//    /proc/<pid>/statm through a descriptor kept open (pread at offset 0),
//    and /proc/<pid>/smaps_rollup for PSS and USS. The descriptor refers to
//    the process, not to its number: once the process has exited the reads
//    fail, so a recycled pid is never sampled by mistake.
//  - Samples are taken on a fixed schedule (start + k * interval on the
//    monotonic clock; ticks that could not be kept are skipped, never
//    bunched up) and stamped with CLOCK_REALTIME. Reading statm takes about a
//    microsecond; at 1 ms the thread's wake-ups cost more than the reads.
//  - start() takes the first sample in the calling thread before the
//    sampling thread exists, and stop(true) has the thread take one last
//    sample, so a run that is shorter than the interval still has two.
//  - Heap reads the allocator's bytes in use (malloc_hooks.h): no malloc hook,
//    so the program's allocations cost nothing more while it is sampled.
//  - Descendants (children, their children, ...) are found through
//    /proc/<pid>/task/<tid>/children, or, on kernels built without it, by
//    reading every /proc/<n>/stat for its parent pid (at most every 50 ms).
//    Zombies and processes that exit are left out.
//  - The sampler ends by itself when the process exits (or becomes a zombie)
//    or after max_samples samples; wait() sleeps until then.
//  - Samples stay in memory until take() hands them over; with max_only,
//    only the sample with the most memory is kept.
//  - The sampling thread blocks every signal, so SIGINT, SIGPROF (the CPU
//    profiler) and friends go to the program's own threads.
//
// One thread drives a sampler (start, wait, stop, take). Errors (bad
// options, no such process, unreadable /proc file) are thrown as
// CaptureError with a one-line message.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace yep {

// What "memory" means: resident set size (statm), proportional set size or
// unique set size (Private_* lines of smaps_rollup), as psutil defines them;
// or the native heap: the bytes the program holds from malloc, as its
// allocator counts them (glibc's mallinfo2, through yep's interposer). Heap
// is for this process only, and needs the interposer preloaded; reading it
// costs the allocator a few microseconds.
// HeapSampled: the native heap in use as the running sampled heap profiler
// estimates it (heap_recorder.h; `yep mprof run --heap --heap-sample`).
enum class MemoryMetric { Rss, Pss, Uss, Heap, HeapSampled };

struct RssSamplerOptions {
  int pid = 0;                    // process to sample; 0: this one
  double interval = 0.1;          // seconds between samples, > 0
  MemoryMetric metric = MemoryMetric::Rss;
  bool include_children = false;  // add the descendants' memory to the process's
  bool per_child = false;         // also record each descendant's memory on its own
  bool max_only = false;          // keep only the sample with the most memory (the first of equals)
  int64_t max_samples = 0;        // finish after this many samples; 0: no limit
};

struct ChildMemory {
  int pid = 0;
  int64_t bytes = 0;
};

struct MemorySample {
  int64_t unix_ns = 0;  // CLOCK_REALTIME when the process was read
  int64_t bytes = 0;    // the process, plus its descendants with include_children
};

struct MemorySamples {
  std::vector<MemorySample> samples;
  // With per_child: children[i] are the descendants read for samples[i]
  // (depth first, in the kernel's order). Empty otherwise.
  std::vector<std::vector<ChildMemory>> children;
};

class RssSampler {
 public:
  // Opens the process's /proc files; throws CaptureError when the options
  // are wrong or the process does not exist or cannot be read.
  explicit RssSampler(const RssSamplerOptions& options);
  // Stops (without a last sample) and joins the thread.
  ~RssSampler();
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  // Takes the first sample now, then starts the sampling thread. Once only.
  // If the process has already exited the sampler is finished at once, with
  // no sample.
  void start();
  // Sleeps until the sampler has finished by itself (the process exited or
  // max_samples were taken) or `seconds` passed; returns whether it finished.
  bool wait(double seconds);
  // Ends sampling: with last_sample, the thread takes one more sample first
  // (unless it had already finished). Joins the thread. Idempotent.
  void stop(bool last_sample);
  // The samples recorded since the previous take() (max_only: the largest
  // sample so far, which is kept).
  MemorySamples take();

  int64_t samples_taken() const;
  bool process_exited() const;

 private:
  class Reader;  // the /proc side: descriptors, parsing, descendants

  void run();
  bool sample();  // false when the process is gone
  void record(int64_t unix_ns, int64_t bytes, std::vector<ChildMemory>&& children);

  RssSamplerOptions options_;
  std::unique_ptr<Reader> reader_;
  std::chrono::steady_clock::time_point start_time_;  // of the first sample: the schedule's origin
  int owner_pid_ = 0;  // the process that started the thread (a forked child must not join it)

  mutable std::mutex mutex_;
  std::condition_variable wake_;      // stop requests, to the sampling thread
  std::condition_variable finished_;  // the sampling thread ended by itself
  bool started_ = false;
  bool stop_requested_ = false;
  bool last_sample_ = false;
  bool finished_flag_ = false;
  bool exited_ = false;
  int64_t taken_ = 0;
  std::deque<MemorySample> samples_;
  std::deque<std::vector<ChildMemory>> children_;
  std::unique_ptr<std::thread> thread_;
};

}  // namespace yep
