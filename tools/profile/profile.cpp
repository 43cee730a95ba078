// run_profile and analyse; see profile.hpp.
#include "weft/profile/profile.hpp"

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

void check_rates(const std::vector<double>& rates, int connections) {
  for (std::size_t i = 0; i < rates.size(); ++i) {
    if (!(rates[i] > 0) || (i > 0 && rates[i] <= rates[i - 1])) {
      throw std::invalid_argument("run_profile: rates must be increasing and > 0");
    }
  }
  if (connections < 1) throw std::invalid_argument("run_profile: connections must be >= 1");
}

bool served_whole(const StepResult& s) {
  return s.late == 0 && s.errors == 0 && s.throughput() >= Profile::kSustained * s.offered_rate;
}

// The step whose load names the saturated resource: the first past the knee (closed loop)
// or the first not served whole (open loop), else the last.
const StepResult* saturation_step(const Profile& p) {
  if (p.steps.empty()) return nullptr;
  if (p.open_loop()) {
    for (const StepResult& s : p.steps) {
      if (!served_whole(s)) return &s;
    }
  } else if (p.knee.concurrency) {
    for (const StepResult& s : p.steps) {
      if (s.concurrency > *p.knee.concurrency) return &s;
    }
  }
  return &p.steps.back();
}

void name_saturated(Profile& p) {
  p.saturated.reset();
  const StepResult* s = saturation_step(p);
  if (s && s->target) p.saturated = saturated_resource(*s->target);
}

}  // namespace

void analyse(Profile& profile) {
  if (profile.open_loop()) {
    profile.sustained_rate.reset();
    for (const StepResult& s : profile.steps) {
      if (!served_whole(s)) break;
      profile.sustained_rate = s.offered_rate;
    }
    name_saturated(profile);
    return;
  }
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
  name_saturated(profile);
}

Task<Profile> run_profile(Target& target, ProfileOptions options) {
  Profile profile{.target = target.describe()};
  const bool open = !options.rates.empty();
  if (open) {
    check_rates(options.rates, options.connections);
  } else {
    check_concurrencies(options.concurrencies);
  }
  const std::size_t steps = open ? options.rates.size() : options.concurrencies.size();
  for (std::size_t i = 0; i < steps; ++i) {
    std::optional<RuntimeSample> before;
    if (options.read_metrics) before = parse_runtime_sample(co_await options.read_metrics());
    StepResult step;
    if (open) {
      step = co_await run_rate_step(target, options.rates[i], options.connections, options.warmup,
                                    options.measure);
    } else {
      step = co_await run_step(target, options.concurrencies[i], options.warmup, options.measure);
    }
    if (before) {
      step.target = load_between(*before, parse_runtime_sample(co_await options.read_metrics()));
    }
    if (options.on_step) options.on_step(step);
    profile.steps.push_back(std::move(step));
  }
  analyse(profile);
  co_return profile;
}

}  // namespace weft::profile
