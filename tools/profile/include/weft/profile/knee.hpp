// find_knee: the concurrency at which a target stops scaling, from the closed loop's steps.
//
// The rule. Steps are taken in order of concurrency N with throughput X.
//  1. A step *scales* when raising the concurrency from the previous step bought at least
//     10% of the throughput that linear scaling would have added:
//         X_i − X_{i−1} ≥ 0.10 · X_{i−1} · (N_i / N_{i−1} − 1).
//     The scaling knee is the last step before the first step that does not scale.
//  2. The plateau knee is the first step whose throughput is at least 90% of the best
//     measured throughput, unless that is the largest concurrency measured (then the best
//     may still be ahead).
//  3. The knee is the earlier of the two. Rule 1 alone lets noise on a plateau (a step a
//     few percent above a threshold) carry the knee past where the plateau began; rule 2
//     alone misses a target that keeps creeping up slowly after it has stopped scaling.
//  No knee is named when neither rule fires: every step still scaled, so the target was
//  not saturated and the steps should go higher.
//
// Cross-check. At a real knee latency starts to rise, since in a closed loop N = X · R
// (Little's law): once X stops growing, R grows with N. `latency_rises` says whether the
// p50 of the step after the knee is at least 1.5× the lowest p50 of the steps up to the
// knee. A knee without it points at a throughput limit in the load generator or the
// network rather than in the target.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace weft::profile {

/// What the knee rule reads of one step.
struct KneeStep {
  int concurrency = 0;
  double throughput = 0;  ///< requests per second
  double p50 = 0;         ///< any time unit, the same for every step
  double p99 = 0;         ///< the same unit as p50
};

/// The knee, if the steps show one, and why.
struct Knee {
  std::optional<int> concurrency{};   ///< empty: the target did not saturate
  std::optional<std::size_t> step{};  ///< the knee's index in the steps given
  bool latency_rises = false;         ///< the cross-check above held
  std::string reason{};               ///< one sentence: which rule fired, or why none did
};

/// Applies the rule above to `steps`, sorted by increasing concurrency (at least 2 to name
/// a knee). Throws std::invalid_argument if they are not sorted or a concurrency is < 1.
Knee find_knee(std::span<const KneeStep> steps);

}  // namespace weft::profile
