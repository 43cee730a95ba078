// find_knee: the scaling rule, the plateau rule and the latency cross-check of knee.hpp.
#include "weft/profile/knee.hpp"

#include <algorithm>
#include <stdexcept>

namespace weft::profile {
namespace {

// The share of linear scaling's gain a step must buy to count as scaling (rule 1).
constexpr double kMinScalingGain = 0.10;
// The share of the best throughput that marks the plateau (rule 2).
constexpr double kPlateauShare = 0.90;
// How far p50 must rise above its minimum to confirm the knee (the cross-check).
constexpr double kLatencyRise = 1.5;

bool scales(const KneeStep& previous, const KneeStep& step) {
  const double ratio = static_cast<double>(step.concurrency) / previous.concurrency;
  const double linear_gain = previous.throughput * (ratio - 1.0);
  return step.throughput - previous.throughput >= kMinScalingGain * linear_gain;
}

std::optional<std::size_t> scaling_knee(std::span<const KneeStep> steps) {
  for (std::size_t i = 1; i < steps.size(); ++i) {
    if (!scales(steps[i - 1], steps[i])) return i - 1;
  }
  return std::nullopt;
}

std::optional<std::size_t> plateau_knee(std::span<const KneeStep> steps) {
  double best = 0;
  for (const KneeStep& s : steps) best = std::max(best, s.throughput);
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
    if (steps[i].throughput >= kPlateauShare * best) return i;
  }
  return std::nullopt;
}

bool latency_rises_after(std::span<const KneeStep> steps, std::size_t knee) {
  if (knee + 1 >= steps.size()) return false;
  double lowest = steps[0].p50;
  for (std::size_t i = 1; i <= knee; ++i) lowest = std::min(lowest, steps[i].p50);
  return steps[knee + 1].p50 >= kLatencyRise * lowest;
}

void check_steps(std::span<const KneeStep> steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].concurrency < 1) throw std::invalid_argument("find_knee: concurrency < 1");
    if (i > 0 && steps[i].concurrency <= steps[i - 1].concurrency) {
      throw std::invalid_argument("find_knee: steps not sorted by increasing concurrency");
    }
  }
}

std::string describe(std::optional<std::size_t> scaling, std::optional<std::size_t> plateau,
                     std::size_t knee) {
  if (scaling == knee && plateau == knee) {
    return "throughput stops scaling and reaches its plateau here";
  }
  if (scaling == knee) return "the next step adds less than 10% of linear scaling's gain";
  return "first step within 90% of the best throughput";
}

}  // namespace

Knee find_knee(std::span<const KneeStep> steps) {
  check_steps(steps);
  if (steps.size() < 2) return {.reason = "fewer than 2 steps"};
  const std::optional<std::size_t> scaling = scaling_knee(steps);
  const std::optional<std::size_t> plateau = plateau_knee(steps);
  if (!scaling && !plateau) {
    return {.reason = "throughput still scales at the largest concurrency: measure higher"};
  }
  const std::size_t knee = std::min(scaling.value_or(steps.size()), plateau.value_or(steps.size()));
  return {.concurrency = steps[knee].concurrency,
          .step = knee,
          .latency_rises = latency_rises_after(steps, knee),
          .reason = describe(scaling, plateau, knee)};
}

}  // namespace weft::profile
