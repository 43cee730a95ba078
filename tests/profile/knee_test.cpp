// find_knee on synthetic curves: linear then flat, still linear, creeping after the knee,
// noise on a plateau, retrograde; the latency cross-check; too few and unsorted steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "weft/profile/knee.hpp"

using weft::profile::find_knee;
using weft::profile::Knee;
using weft::profile::KneeStep;

namespace {

const std::vector<int> kConcurrencies{1, 2, 4, 8, 16, 32, 64};

// Steps with the given throughputs; p50 follows Little's law, N / X (in seconds).
std::vector<KneeStep> steps(const std::vector<double>& throughputs) {
  std::vector<KneeStep> out;
  for (std::size_t i = 0; i < throughputs.size(); ++i) {
    const double p50 = kConcurrencies[i] / throughputs[i];
    out.push_back({kConcurrencies[i], throughputs[i], p50, 2 * p50});
  }
  return out;
}

}  // namespace

TEST(Knee, LinearThenFlatAtEightIsAKneeAtEight) {
  std::vector<double> x;
  for (const int n : kConcurrencies) x.push_back(1000.0 * std::min(n, 8));
  const Knee knee = find_knee(steps(x));
  ASSERT_TRUE(knee.concurrency.has_value());
  EXPECT_EQ(*knee.concurrency, 8);
  EXPECT_EQ(knee.step, 3u);
  EXPECT_TRUE(knee.latency_rises);
}

TEST(Knee, NoKneeWhileThroughputStillScales) {
  std::vector<double> x;
  for (const int n : kConcurrencies) x.push_back(1000.0 * n);
  const Knee knee = find_knee(steps(x));
  EXPECT_FALSE(knee.concurrency.has_value());
  EXPECT_NE(knee.reason.find("measure higher"), std::string::npos);
}

TEST(Knee, ASlowCreepAfterTheKneeDoesNotMoveIt) {
  const Knee knee = find_knee(steps({1000, 2000, 4000, 8000, 8600, 9200, 9800}));
  EXPECT_EQ(knee.concurrency, 8);
}

TEST(Knee, NoiseOnThePlateauDoesNotCarryTheKneePastIt) {
  // 8 → 16 gains 11% of linear (noise), so the scaling rule alone would say 16.
  const Knee knee = find_knee(steps({1000, 2000, 4000, 7300, 8100, 8100, 8050}));
  EXPECT_EQ(knee.concurrency, 8);
}

TEST(Knee, ARetrogradeCurveHasItsKneeAtThePeak) {
  const Knee knee = find_knee(steps({1000, 1900, 3500, 5000, 4000, 3000, 2000}));
  EXPECT_EQ(knee.concurrency, 8);
  EXPECT_TRUE(knee.latency_rises);
}

TEST(Knee, SaysWhenLatencyDoesNotRiseAfterTheKnee) {
  std::vector<KneeStep> s = steps({1000, 2000, 4000, 8000, 8000, 8000, 8000});
  for (KneeStep& step : s) step.p50 = 1.0;
  const Knee knee = find_knee(s);
  EXPECT_EQ(knee.concurrency, 8);
  EXPECT_FALSE(knee.latency_rises);
}

TEST(Knee, NeedsTwoSortedSteps) {
  EXPECT_FALSE(find_knee(steps({1000})).concurrency.has_value());
  std::vector<KneeStep> unsorted = steps({1000, 2000, 4000});
  std::swap(unsorted[0], unsorted[2]);
  EXPECT_THROW(find_knee(unsorted), std::invalid_argument);
}
