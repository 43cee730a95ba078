// run_profile and analyse; see profile.hpp.
#include "profile.hpp"

#include <stdexcept>
#include <utility>

namespace weft::profile {
namespace {

void check_concurrencies(const std::vector<int>& concurrencies) {
  if (concurrencies.empty()) throw std::invalid_argument("run_profile: no concurrencies");
  for (std::size_t i = 0; i < concurrencies.size(); ++i) {
    if (concurrencies[i] < 1 || (i > 0 && concurrencies[i] <= concurrencies[i - 1])) {
      throw std::invalid_argument("run_profile: concurrencies must be increasing and >= 1");
    }
  }
}

}  // namespace

void analyse(Profile& profile) {
  std::vector<UslPoint> points;
  std::vector<KneeStep> knee_steps;
  for (const StepResult& s : profile.steps) {
    points.push_back(
        {.concurrency = static_cast<double>(s.concurrency), .throughput = s.throughput()});
    knee_steps.push_back({.concurrency = s.concurrency,
                          .throughput = s.throughput(),
                          .p50 = static_cast<double>(s.latency.percentile(0.5)),
                          .p99 = static_cast<double>(s.latency.percentile(0.99))});
  }
  if (points.size() >= 3) profile.usl = fit_usl(points);
  profile.knee = find_knee(knee_steps);
}

Task<Profile> run_profile(Target& target, ProfileOptions options) {
  check_concurrencies(options.concurrencies);
  Profile profile{.target = target.describe()};
  for (const int concurrency : options.concurrencies) {
    StepResult step = co_await run_step(target, concurrency, options.warmup, options.measure);
    if (options.on_step) options.on_step(step);
    profile.steps.push_back(std::move(step));
  }
  analyse(profile);
  co_return profile;
}

}  // namespace weft::profile
