#include "heap_sampler.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>

namespace yep {

namespace {

std::atomic<int64_t> session_mean{0};
std::atomic<uint64_t> session_seed{0};
std::atomic<uint32_t> session_generation{0};  // a thread whose state is older redraws
std::atomic<uint64_t> threads_seen{0};         // thread k's generator comes from (seed, k)

__attribute__((tls_model("initial-exec"))) thread_local SampleRng thread_rng{0};
__attribute__((tls_model("initial-exec"))) thread_local uint32_t thread_generation = 0;

// splitmix64: spreads (seed, thread number) over the generator's state.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

__thread int64_t heap_sample_countdown __attribute__((tls_model("initial-exec"))) = 0;
std::atomic<uint8_t> heap_sampled_bits[kSampledFilterSlots / 8];

namespace {
uint8_t sampled_counts[kSampledFilterSlots];  // under the recorder's lock

void set_bit(size_t slot, bool on) {
  std::atomic<uint8_t>& byte = heap_sampled_bits[slot >> 3];
  const uint8_t mask = static_cast<uint8_t>(1u << (slot & 7));
  const uint8_t was = byte.load(std::memory_order_relaxed);
  // (only writers under the lock change these bytes: a load and a store suffice)
  byte.store(on ? was | mask : was & ~mask, std::memory_order_relaxed);
}
}  // namespace

size_t heap_sampler_filter_bytes() { return sizeof heap_sampled_bits + sizeof sampled_counts; }

void heap_sampler_filter_add(const void* ptr) {
  const size_t slot = heap_sampled_slot(ptr);
  uint8_t& n = sampled_counts[slot];
  if (n == 255) return;
  if (n++ == 0) set_bit(slot, true);
}

void heap_sampler_filter_remove(const void* ptr) {
  const size_t slot = heap_sampled_slot(ptr);
  uint8_t& n = sampled_counts[slot];
  if (n == 255 || n == 0) return;
  if (--n == 0) set_bit(slot, false);
}

void heap_sampler_filter_clear() {
  for (auto& b : heap_sampled_bits) b.store(0, std::memory_order_relaxed);
  for (auto& n : sampled_counts) n = 0;
}

uint64_t SampleRng::next() {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

double SampleRng::uniform() {
  // 53 random bits, +1 so that log() never sees 0.
  return (static_cast<double>(next() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

int64_t heap_sample_draw(SampleRng& rng, int64_t mean) {
  const double bytes = -std::log(rng.uniform()) * static_cast<double>(mean);
  // Capped far above any mean (a draw of 2^62 would never come round).
  return bytes < 1 ? 1 : bytes > 4e18 ? static_cast<int64_t>(4e18) : static_cast<int64_t>(bytes);
}

double heap_sample_weight(double size, double mean) {
  if (mean <= 0 || size <= 0) return 1;
  // -expm1(-x) = 1 - exp(-x), precise for small x (tiny allocations).
  return 1 / -std::expm1(-size / mean);
}

void heap_sampler_start(int64_t mean, uint64_t seed) {
  if (seed == 0) {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    seed = mix(static_cast<uint64_t>(now.tv_nsec) ^ (static_cast<uint64_t>(now.tv_sec) << 30) ^
               (static_cast<uint64_t>(getpid()) << 48));
  }
  session_mean.store(mean, std::memory_order_relaxed);
  session_seed.store(seed, std::memory_order_relaxed);
  threads_seen.store(0, std::memory_order_relaxed);
  session_generation.fetch_add(1, std::memory_order_release);
  // This thread (the one starting) begins the new session's stream at once.
  heap_sample_countdown = 0;
}

bool heap_sampler_slow(size_t size) {
  const int64_t mean = session_mean.load(std::memory_order_relaxed);
  if (mean <= 0) return true;
  const uint32_t generation = session_generation.load(std::memory_order_acquire);
  if (thread_generation != generation) {
    // A new thread, or one from before this session: its own generator and
    // a first countdown, then this allocation counts against it.
    thread_generation = generation;
    const uint64_t k = threads_seen.fetch_add(1, std::memory_order_relaxed);
    thread_rng.state = mix(session_seed.load(std::memory_order_relaxed) ^ mix(k)) | 1;  // never 0
    heap_sample_countdown = heap_sample_draw(thread_rng, mean) - static_cast<int64_t>(size);
    if (heap_sample_countdown > 0) return false;
  }
  // Sampled. The distance to the next point is a fresh draw: what this
  // allocation went past the point is forgotten (memorylessness keeps every
  // allocation's probability 1 - exp(-size / mean)).
  heap_sample_countdown = heap_sample_draw(thread_rng, mean);
  return true;
}

}  // namespace yep
