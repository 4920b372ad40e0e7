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

// The calling thread's state (initial-exec TLS: reading it never allocates).
extern __attribute__((tls_model("initial-exec"))) thread_local int64_t heap_sample_countdown;

// The slow path: the countdown reached zero (or the thread is new).
bool heap_sampler_slow(size_t size);

// Whether this allocation of `size` bytes is sampled.
inline bool heap_sampler_take(size_t size) {
  if ((heap_sample_countdown -= static_cast<int64_t>(size)) > 0) return false;
  return heap_sampler_slow(size);
}

// Which blocks were sampled. Most frees are of blocks never sampled, and
// must not take the recorder's lock to find that out: a counting filter
// over the sampled blocks' addresses (16 Ki one-byte counters, 16 KiB: it
// stays in the L1 and L2 caches; a 64 KiB one made its load the sampled
// mode's costliest instruction) answers "certainly not sampled" for all but
// a fraction of them (the share of non-zero counters: the live samples over
// 16 Ki, 1% for 160 samples, 80 MiB in use at the default mean). Counters
// are changed under the recorder's lock and read without it: a block's
// counter was raised before its malloc returned, so before any free of it.
// A counter that reaches 255 stays there (never a false "not sampled").
constexpr int kSampledFilterBits = 14;
extern std::atomic<uint8_t> heap_sampled_filter[size_t(1) << kSampledFilterBits];

inline size_t heap_sampled_slot(const void* ptr) {
  return static_cast<size_t>(((reinterpret_cast<uintptr_t>(ptr) >> 4) * 0x9E3779B97F4A7C15ull) >>
                             (64 - kSampledFilterBits));
}
inline bool heap_sampler_maybe_sampled(const void* ptr) {
  return heap_sampled_filter[heap_sampled_slot(ptr)].load(std::memory_order_relaxed) != 0;
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
