// fit_usl: closed-form λ inside a grid-then-pattern search over (σ, κ); see usl.hpp.
#include "weft/profile/usl.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace weft::profile {
namespace {

// The coarse grid: σ in [0, kSigmaMax] in kSigmaSteps steps; κ = 0 and 10^e for e in
// [kKappaMinExp, kKappaMaxExp] in kKappaSteps steps.
constexpr double kSigmaMax = 1.0;
constexpr int kSigmaSteps = 100;
constexpr double kKappaMinExp = -8.0;
constexpr double kKappaMaxExp = 1.0;
constexpr int kKappaSteps = 90;
// The pattern search stops when both steps are below these, or after kMaxRefinements.
constexpr double kSigmaTolerance = 1e-12;
constexpr double kKappaTolerance = 1e-15;
constexpr int kMaxRefinements = 10'000;

// The model's shape N / (1 + σ(N−1) + κN(N−1)), so that X = λ · shape.
double shape(double n, double sigma, double kappa) {
  return n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0));
}

struct Candidate {
  double sigma = 0;
  double kappa = 0;
  double lambda = 0;
  double sse = INFINITY;
};

// The best λ for (σ, κ) and the sum of squared errors it leaves.
Candidate evaluate(std::span<const UslPoint> points, double sigma, double kappa) {
  double xf = 0;
  double ff = 0;
  for (const UslPoint& p : points) {
    const double f = shape(p.concurrency, sigma, kappa);
    xf += p.throughput * f;
    ff += f * f;
  }
  const double lambda = ff > 0 ? xf / ff : 0;
  // Summed directly rather than as Σx² − λΣxf, which cancels to noise near an exact fit.
  double sse = 0;
  for (const UslPoint& p : points) {
    const double error = p.throughput - lambda * shape(p.concurrency, sigma, kappa);
    sse += error * error;
  }
  return {sigma, kappa, lambda, sse};
}

Candidate grid_search(std::span<const UslPoint> points) {
  Candidate best;
  for (int i = 0; i <= kSigmaSteps; ++i) {
    const double sigma = kSigmaMax * i / kSigmaSteps;
    for (int j = -1; j <= kKappaSteps; ++j) {
      const double exponent = kKappaMinExp + (kKappaMaxExp - kKappaMinExp) * j / kKappaSteps;
      const double kappa = j < 0 ? 0.0 : std::pow(10.0, exponent);
      const Candidate c = evaluate(points, sigma, kappa);
      if (c.sse < best.sse) best = c;
    }
  }
  return best;
}

// Tries the eight neighbours of `best` at the given steps, clamped at 0; the best of them.
Candidate best_neighbour(std::span<const UslPoint> points, const Candidate& best, double sigma_step,
                         double kappa_step) {
  Candidate found = best;
  for (int ds = -1; ds <= 1; ++ds) {
    for (int dk = -1; dk <= 1; ++dk) {
      const double sigma = std::max(0.0, best.sigma + ds * sigma_step);
      const double kappa = std::max(0.0, best.kappa + dk * kappa_step);
      const Candidate c = evaluate(points, sigma, kappa);
      if (c.sse < found.sse) found = c;
    }
  }
  return found;
}

Candidate pattern_search(std::span<const UslPoint> points, Candidate best) {
  double sigma_step = kSigmaMax / kSigmaSteps;
  double kappa_step = std::max(best.kappa, std::pow(10.0, kKappaMinExp));
  for (int i = 0; i < kMaxRefinements; ++i) {
    if (sigma_step < kSigmaTolerance && kappa_step < kKappaTolerance) break;
    const Candidate next = best_neighbour(points, best, sigma_step, kappa_step);
    if (next.sse < best.sse) {
      best = next;
    } else {
      sigma_step /= 2;
      kappa_step /= 2;
    }
  }
  return best;
}

double r_squared(std::span<const UslPoint> points, double sse) {
  double mean = 0;
  for (const UslPoint& p : points) mean += p.throughput;
  mean /= static_cast<double>(points.size());
  double sst = 0;
  for (const UslPoint& p : points) sst += (p.throughput - mean) * (p.throughput - mean);
  return sst > 0 ? 1.0 - sse / sst : 1.0;
}

void check_points(std::span<const UslPoint> points) {
  if (points.size() < 3) throw std::invalid_argument("fit_usl: needs at least 3 points");
  for (const UslPoint& p : points) {
    if (!(p.concurrency >= 1) || !(p.throughput >= 0)) {
      throw std::invalid_argument("fit_usl: a point has concurrency < 1 or throughput < 0");
    }
  }
}

}  // namespace

double UslFit::throughput_at(double n) const noexcept {
  return lambda * shape(n, sigma, kappa);
}

UslFit fit_usl(std::span<const UslPoint> points) {
  check_points(points);
  const Candidate best = pattern_search(points, grid_search(points));
  UslFit fit{.lambda = best.lambda, .sigma = best.sigma, .kappa = best.kappa};
  fit.r2 = r_squared(points, best.sse);
  if (fit.kappa > 0 && fit.sigma < 1) fit.peak_concurrency = std::sqrt((1 - fit.sigma) / fit.kappa);
  return fit;
}

}  // namespace weft::profile
