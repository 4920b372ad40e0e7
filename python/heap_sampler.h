// The sampled heap mode's sampler (--heap-sample BYTES): which allocations
// the heap recorder records, and what each recorded one stands for.
//
// As in tcmalloc, Go and jemalloc, allocated bytes are a stream in which
// sample points fall as a Poisson process of mean spacing `mean` bytes:
// each thread counts down the bytes to its next point, drawn from an
// exponential distribution, and the allocation that reaches zero is
// sampled. Memorylessness makes every allocation of size s sampled
// independently with probability p(s) = 1 - exp(-s / mean), so weighting a
// sample by 1 / p(s) objects and s / p(s) bytes makes the sums unbiased
// estimates of the true counts and bytes (the estimator pprof applies to
// tcmalloc's heap_v2 samples).
//
// The fast path (heap_sampler_take on an allocation that is not sampled) is
// a thread-local subtraction and a branch; it never allocates (the hooks
// run inside malloc) and needs no lock (the state is per thread).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace yep {

// The weight of a sample of `size` bytes at mean `mean`: 1 / (1 - exp(-size
// / mean)); 1 when mean <= 0 (every allocation recorded).
double heap_sample_weight(double size, double mean);

// Starts a sampling session: every thread draws its countdowns with this
// mean from now on (a thread's countdown left from an earlier session runs
// out first). seed 0: a seed from the clock and the pid; otherwise thread
// number k (in the order threads first allocate) gets a generator seeded
// from (seed, k), so a single-threaded run is reproducible.
void heap_sampler_start(int64_t mean, uint64_t seed);

// The calling thread's state (initial-exec TLS: reading it never allocates;
// __thread, not thread_local: no dynamic initialisation, so no call to a
// TLS wrapper on each read from another file).
extern __thread int64_t heap_sample_countdown __attribute__((tls_model("initial-exec")));

// The slow path: the countdown reached zero (or the thread is new).
bool heap_sampler_slow(size_t size);

// The fast path alone: true when this allocation of `size` bytes is
// certainly not sampled; otherwise heap_sampler_slow(size) decides.
inline bool heap_sampler_passes(size_t size) {
  return (heap_sample_countdown -= static_cast<int64_t>(size)) > 0;
}

// Whether this allocation of `size` bytes is sampled.
inline bool heap_sampler_take(size_t size) { return !heap_sampler_passes(size) && heap_sampler_slow(size); }

// Which blocks were sampled. Most frees are of blocks never sampled, and
// must not take the recorder's lock to find that out: a filter over the
// sampled blocks' addresses answers "certainly not sampled" for all but a
// fraction of them (the share of its 16 Ki slots in use: the live samples
// over 16 Ki, 1% for 160 samples, 80 MiB in use at the default mean).
// Frees read only its bits, 2 KiB that stay in the L1 cache (the 16 KiB of
// one-byte counters it had were the wrapper's costliest load: a cache miss
// on most of Python's frees). Each slot's count of sampled blocks is kept
// beside the bits and changed under the recorder's lock, which sets a bit
// when its count leaves 0 and clears it when it comes back; a block's bit
// was set before its malloc returned, so before any free of it. A count that
// reaches 255 stays there (never a false "not sampled").
constexpr int kSampledFilterBits = 14;
constexpr size_t kSampledFilterSlots = size_t(1) << kSampledFilterBits;
extern std::atomic<uint8_t> heap_sampled_bits[kSampledFilterSlots / 8];
// The filter's size in bytes (bits and counts), for the recorder's own figures.
size_t heap_sampler_filter_bytes();

inline size_t heap_sampled_slot(const void* ptr) {
  return static_cast<size_t>(((reinterpret_cast<uintptr_t>(ptr) >> 4) * 0x9E3779B97F4A7C15ull) >>
                             (64 - kSampledFilterBits));
}
inline bool heap_sampler_maybe_sampled(const void* ptr) {
  const size_t slot = heap_sampled_slot(ptr);
  return (heap_sampled_bits[slot >> 3].load(std::memory_order_relaxed) >> (slot & 7)) & 1;
}
// Under the recorder's lock.
void heap_sampler_filter_add(const void* ptr);
void heap_sampler_filter_remove(const void* ptr);
void heap_sampler_filter_clear();

// The generator and the exponential draw, exposed for tests.
struct SampleRng {
  uint64_t state;
  uint64_t next();       // xorshift64*: a multiply and three shifts
  double uniform();      // in (0, 1]
};
// Bytes to the next sample point: exponential with mean `mean`, at least 1.
int64_t heap_sample_draw(SampleRng& rng, int64_t mean);

}  // namespace yep
