// fit_usl: recovers known λ, σ, κ from exact points and, within tolerances, from noisy
// ones; the peak concurrency; no peak for a law without coherency cost; bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "weft/profile/usl.hpp"

using weft::profile::fit_usl;
using weft::profile::UslFit;
using weft::profile::UslPoint;

namespace {

const std::vector<double> kConcurrencies{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};

double usl(double n, double lambda, double sigma, double kappa) {
  return lambda * n / (1 + sigma * (n - 1) + kappa * n * (n - 1));
}

// The law's points, each multiplied by 1 + u for u uniform in [-noise, noise].
std::vector<UslPoint> points(double lambda, double sigma, double kappa, double noise = 0) {
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> error(-noise, noise);
  std::vector<UslPoint> out;
  for (const double n : kConcurrencies) {
    const double factor = noise > 0 ? 1 + error(random) : 1;
    out.push_back({.concurrency = n, .throughput = usl(n, lambda, sigma, kappa) * factor});
  }
  return out;
}

}  // namespace

TEST(UslFit, RecoversTheParametersOfExactPoints) {
  const UslFit fit = fit_usl(points(1000, 0.05, 0.002));
  EXPECT_NEAR(fit.lambda, 1000, 1e-3);
  EXPECT_NEAR(fit.sigma, 0.05, 1e-6);
  EXPECT_NEAR(fit.kappa, 0.002, 1e-8);
  EXPECT_GT(fit.r2, 0.999999);
  ASSERT_TRUE(fit.peak_concurrency.has_value());
  EXPECT_NEAR(*fit.peak_concurrency, std::sqrt(0.95 / 0.002), 1e-3);
  EXPECT_NEAR(fit.throughput_at(10), usl(10, 1000, 0.05, 0.002), 1e-3);
}

TEST(UslFit, RecoversTheParametersOfNoisyPointsWithinTolerance) {
  const UslFit fit = fit_usl(points(5000, 0.1, 0.001, 0.03));
  EXPECT_NEAR(fit.lambda, 5000, 0.05 * 5000);
  EXPECT_NEAR(fit.sigma, 0.1, 0.03);
  EXPECT_NEAR(fit.kappa, 0.001, 0.0003);
  EXPECT_GT(fit.r2, 0.95);
}

TEST(UslFit, FindsNoCoherencyCostInAmdahlsLaw) {
  const UslFit fit = fit_usl(points(200, 0.2, 0));
  EXPECT_NEAR(fit.lambda, 200, 1e-3);
  EXPECT_NEAR(fit.sigma, 0.2, 1e-6);
  EXPECT_LT(fit.kappa, 1e-9);
  if (fit.peak_concurrency) {
    EXPECT_GT(*fit.peak_concurrency, 1000);
  }
}

TEST(UslFit, FitsLinearScalingWithZeroContention) {
  const UslFit fit = fit_usl(points(100, 0, 0));
  EXPECT_NEAR(fit.lambda, 100, 1e-6);
  EXPECT_LT(fit.sigma, 1e-9);
  EXPECT_LT(fit.kappa, 1e-12);
}

TEST(UslFit, RejectsTooFewPointsAndBadOnes) {
  const std::vector<UslPoint> two{{1, 10}, {2, 20}};
  EXPECT_THROW(fit_usl(two), std::invalid_argument);
  const std::vector<UslPoint> zero{{0, 10}, {2, 20}, {4, 30}};
  EXPECT_THROW(fit_usl(zero), std::invalid_argument);
}
