// The sampled heap mode's sampler (python/heap_sampler.*): the weights, the
// exponential draws, and that the countdown's samples, weighted, estimate
// what was allocated without bias, for small and large allocations.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "heap_sampler.h"

namespace {

constexpr int64_t kMean = 512 << 10;

TEST(HeapSampler, WeightIsOneOverTheChanceOfBeingSampled) {
  EXPECT_DOUBLE_EQ(yep::heap_sample_weight(4096, 0), 1);  // not sampled: every allocation counts once
  EXPECT_NEAR(yep::heap_sample_weight(4096, kMean), 1 / (1 - std::exp(-4096.0 / kMean)), 1e-9);
  EXPECT_NEAR(yep::heap_sample_weight(4096, kMean), 128.5, 0.01);  // about mean / size + 1/2
  EXPECT_NEAR(yep::heap_sample_weight(8 << 20, kMean), 1, 1e-6);   // 16 means: always sampled
  EXPECT_NEAR(yep::heap_sample_weight(1, kMean), kMean + 0.5, 1e-3);  // tiny: expm1 keeps it precise
}

TEST(HeapSampler, DrawsAreExponentialWithTheMean) {
  yep::SampleRng rng{12345};
  constexpr int kDraws = 400000;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double d = static_cast<double>(yep::heap_sample_draw(rng, kMean));
    ASSERT_GE(d, 1);
    sum += d;
    sum_sq += d * d;
  }
  const double mean = sum / kDraws, sd = std::sqrt(sum_sq / kDraws - mean * mean);
  EXPECT_NEAR(mean / kMean, 1, 0.01);  // standard error 0.16%
  EXPECT_NEAR(sd / kMean, 1, 0.02);    // exponential: sd = mean
}

// Weighted bytes and objects of `count` allocations of `size` through the countdown.
void estimate(size_t size, int64_t count, double* bytes, double* objects) {
  *bytes = *objects = 0;
  for (int64_t i = 0; i < count; ++i)
    if (yep::heap_sampler_take(size)) {
      const double w = yep::heap_sample_weight(static_cast<double>(size), kMean);
      *bytes += w * static_cast<double>(size);
      *objects += w;
    }
}

TEST(HeapSampler, WeightedSamplesEstimateWhatWasAllocated) {
  yep::heap_sampler_start(kMean, 42);
  double bytes, objects;
  // 4 GiB in 4 KiB blocks: 8192 samples, standard error 1.1%.
  estimate(4096, 1 << 20, &bytes, &objects);
  EXPECT_NEAR(bytes / (4096.0 * (1 << 20)), 1, 0.05);
  EXPECT_NEAR(objects / (1 << 20), 1, 0.05);
  // 8 MiB blocks are always sampled, each counted once.
  estimate(8 << 20, 8, &bytes, &objects);
  EXPECT_NEAR(bytes, 64.0 * (1 << 20), 16);  // weight 1 + 1e-7
  EXPECT_NEAR(objects, 8, 1e-3);
  // Blocks of twice the mean: sampled 86% of the time, weighted 1.16.
  estimate(1 << 20, 4096, &bytes, &objects);
  EXPECT_NEAR(objects / 4096, 1, 0.05);
}

TEST(HeapSampler, TheSameSeedGivesTheSameSamplesAndThreadsTheirOwn) {
  auto samples = [](uint64_t seed) {
    yep::heap_sampler_start(kMean, seed);
    int64_t taken = 0, at = 0;
    for (int64_t i = 0; i < 100000; ++i)
      if (yep::heap_sampler_take(4096)) taken += 1, at += i;
    return at * 1000003 + taken;
  };
  EXPECT_EQ(samples(7), samples(7));
  EXPECT_NE(samples(7), samples(8));
  // Another thread counts down on its own (and is sampled too).
  yep::heap_sampler_start(kMean, 7);
  int64_t other = 0;
  std::thread([&] {
    for (int i = 0; i < 100000; ++i) other += yep::heap_sampler_take(4096);
  }).join();
  EXPECT_GT(other, 400);  // 100000 * 4096 / 512 KiB = 781 expected
  EXPECT_LT(other, 1200);
}

}  // namespace
