// run_profile: the closed loop at each concurrency of a list, then the USL fit and the knee
// over the steps; or the open loop at each request rate of a list, then the highest rate
// the target sustained: everything weft-profile reports, as data (report.hpp formats it).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <weft/runtime/task.hpp>
#include <weft/runtime/time.hpp>

#include "weft/profile/closed_loop.hpp"
#include "weft/profile/knee.hpp"
#include "weft/profile/open_loop.hpp"
#include "weft/profile/target.hpp"
#include "weft/profile/usl.hpp"

namespace weft::profile {

/// What run_profile measures and how long.
struct ProfileOptions {
  std::vector<int> concurrencies{1, 2, 4, 8, 16, 32, 64};  ///< increasing, each ≥ 1
  /// Not empty: the open loop at these request rates (increasing, each > 0) instead of
  /// the closed loop at `concurrencies`, with `connections` sessions.
  std::vector<double> rates{};
  int connections = 64;
  Duration warmup = std::chrono::milliseconds(500);  ///< per step, not counted
  Duration measure = std::chrono::seconds(2);        ///< per step, counted
  /// Called after each step (progress output); may be empty.
  std::function<void(const StepResult&)> on_step{};
  /// Reads the target's /metrics (weft's Prometheus text); may be empty. Set, it is read
  /// before and after each step, and the step's `target` load and the profile's
  /// `saturated` resource come from it.
  std::function<Task<std::string>()> read_metrics{};
};

/// The steps and what they show.
struct Profile {
  std::string target{};             ///< Target::describe()
  std::vector<StepResult> steps{};  ///< in the order of ProfileOptions::concurrencies
  std::optional<UslFit> usl{};      ///< closed loop; empty with fewer than 3 steps
  Knee knee{};                      ///< closed loop; see knee.hpp
  /// Open loop: the highest offered rate served whole — at least kSustained of it
  /// achieved, nothing late, no errors — with the steps before it served whole too;
  /// empty if the first step was not.
  std::optional<double> sustained_rate{};
  static constexpr double kSustained = 0.95;
  /// The resource the target's metrics point at (target_load.hpp's saturated_resource), at
  /// the step after the knee (closed loop) or the first not served whole (open loop), else
  /// the last step; empty without metrics.
  std::optional<std::string> saturated{};
  bool open_loop() const noexcept { return !steps.empty() && steps.front().offered_rate > 0; }
};

/// Runs one step per concurrency (or rate), in order, then analyses them. Throws what
/// run_step throws (a target that refuses connections), std::invalid_argument for an
/// empty or unsorted list of concurrencies or rates, or connections < 1.
Task<Profile> run_profile(Target& target, ProfileOptions options);

/// The fit and the knee of already measured steps (run_profile's last part).
void analyse(Profile& profile);

}  // namespace weft::profile
