// The Universal Scalability Law (Gunther): X(N) = λN / (1 + σ(N−1) + κN(N−1)), the
// throughput X of a system at concurrency N, with λ the throughput of one client, σ the
// contention (the serial fraction: queueing on a shared resource) and κ the coherency
// cost (pairwise crosstalk, which makes throughput fall past a peak).
//
// fit_usl finds λ, σ, κ ≥ 0 by least squares on X, with no dependencies and the same answer
// every time. For fixed σ and κ the model is linear in λ, so the best λ is closed form and
// the search runs over (σ, κ) only: a coarse grid (σ linear in [0, 1], κ logarithmic over
// nine decades and 0) finds the basin, then a pattern search with shrinking steps refines
// it, clamping both at 0. A grid first keeps the search out of the local minima that
// Gauss-Newton from a fixed start falls into on noisy data.
#pragma once

#include <optional>
#include <span>

namespace weft::profile {

/// One measured point: the concurrency and the throughput reached there.
struct UslPoint {
  double concurrency = 0;  ///< N, at least 1
  double throughput = 0;   ///< X at N, in any unit (requests per second in the profiler)
};

/// The fitted law and how well it fits.
struct UslFit {
  double lambda = 0;  ///< throughput of one client (N = 1 with no contention)
  double sigma = 0;   ///< contention, ≥ 0
  double kappa = 0;   ///< coherency, ≥ 0
  double r2 = 0;      ///< coefficient of determination of the fit on X
  /// The concurrency of peak throughput, sqrt((1 − σ)/κ), when κ > 0 and σ < 1.
  std::optional<double> peak_concurrency{};
  /// The law's throughput at concurrency `n`.
  double throughput_at(double n) const noexcept;
};

/// Fits the USL to `points` (at least 3, concurrencies ≥ 1, throughputs ≥ 0). Throws
/// std::invalid_argument when there are fewer than 3 points or a point is out of range.
UslFit fit_usl(std::span<const UslPoint> points);

}  // namespace weft::profile
