// run_profile: the closed loop at each concurrency of a list, then the USL fit and the knee
// over the steps: everything weft-profile reports, as data (report.hpp formats it).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <weft/runtime/task.hpp>
#include <weft/runtime/time.hpp>

#include "closed_loop.hpp"
#include "knee.hpp"
#include "target.hpp"
#include "usl.hpp"

namespace weft::profile {

/// What run_profile measures and how long.
struct ProfileOptions {
  std::vector<int> concurrencies{1, 2, 4, 8, 16, 32, 64};  ///< increasing, each ≥ 1
  Duration warmup = std::chrono::milliseconds(500);        ///< per step, not counted
  Duration measure = std::chrono::seconds(2);              ///< per step, counted
  /// Called after each step (progress output); may be empty.
  std::function<void(const StepResult&)> on_step{};
};

/// The steps and what they show.
struct Profile {
  std::string target{};             ///< Target::describe()
  std::vector<StepResult> steps{};  ///< in the order of ProfileOptions::concurrencies
  std::optional<UslFit> usl{};      ///< empty with fewer than 3 steps
  Knee knee{};                      ///< see knee.hpp
};

/// Runs one step per concurrency, in order, then fits and finds the knee. Throws what
/// run_step throws (a target that refuses connections), std::invalid_argument for an
/// empty or unsorted list of concurrencies.
Task<Profile> run_profile(Target& target, ProfileOptions options);

/// The fit and the knee of already measured steps (run_profile's last part).
void analyse(Profile& profile);

}  // namespace weft::profile
