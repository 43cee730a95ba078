// LatencyHistogram: percentiles against the exact order statistics of random latencies,
// within the bucket error; merge, mean, min, max and the empty histogram.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "weft/profile/latency_histogram.hpp"

using weft::profile::LatencyHistogram;

namespace {

// Latencies spread evenly over six decades (1 µs to 1 s), where the buckets change width.
std::vector<std::uint64_t> random_latencies(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> exponent(3.0, 9.0);
  std::vector<std::uint64_t> values(n);
  for (auto& v : values) v = static_cast<std::uint64_t>(std::pow(10.0, exponent(random)));
  return values;
}

// The exact value at quantile q by the histogram's rank rule: the ceil(q·n)-th smallest.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double q) {
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

}  // namespace

TEST(LatencyHistogram, PercentilesAreWithinTheBucketErrorOfTheExactValues) {
  std::vector<std::uint64_t> values = random_latencies(100'000, 19);
  LatencyHistogram h;
  for (const auto v : values) h.record(v);
  std::ranges::sort(values);
  for (const double q : {0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const auto exact = static_cast<double>(exact_percentile(values, q));
    EXPECT_NEAR(static_cast<double>(h.percentile(q)), exact, exact / 64 + 1) << "q=" << q;
  }
  EXPECT_EQ(h.percentile(1.0), values.back());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (std::uint64_t v = 0; v < 64; ++v) h.record(v);
  EXPECT_EQ(h.percentile(0.5), 31u);
  EXPECT_EQ(h.percentile(1.0), 63u);
  EXPECT_DOUBLE_EQ(h.mean(), 31.5);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  const std::vector<std::uint64_t> values = random_latencies(10'000, 7);
  LatencyHistogram all;
  LatencyHistogram first;
  LatencyHistogram second;
  for (std::size_t i = 0; i < values.size(); ++i) {
    all.record(values[i]);
    (i % 3 == 0 ? first : second).record(values[i]);
  }
  first.merge(second);
  EXPECT_EQ(first.count(), all.count());
  EXPECT_DOUBLE_EQ(first.mean(), all.mean());
  EXPECT_EQ(first.min(), all.min());
  EXPECT_EQ(first.max(), all.max());
  for (const double q : {0.5, 0.9, 0.99, 0.999}) EXPECT_EQ(first.percentile(q), all.percentile(q));
}

TEST(LatencyHistogram, AnEmptyHistogramReportsZeros) {
  LatencyHistogram h;
  LatencyHistogram other;
  h.merge(other);
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.99), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
}

TEST(LatencyHistogram, TheLargestValuesHaveABucket) {
  LatencyHistogram h;
  h.record(UINT64_MAX);
  h.record(std::uint64_t{1} << 63);
  EXPECT_EQ(h.percentile(1.0), UINT64_MAX);
  EXPECT_EQ(h.count(), 2u);
}
