// run_step: one step of the closed loop. `concurrency` tasks each open a session of their
// own and loop request → response with no pause, so exactly `concurrency` requests are in
// flight at any time (a closed system: the load adapts to the target's speed, which is what
// makes throughput against concurrency a scalability curve).
//
// Timeline of a step, on weft::now() (so the virtual clock works too): connect every
// session (not measured), then `warmup`, then `measure`. A request counts when it completes
// inside the measuring window; its latency goes to its task's histogram, and the histograms
// are merged when every task has stopped. A task stops at its first completion after the
// window. A failed request — one that throws or takes over 10 s — counts as an error
// (also during warm-up, so none go unseen) and its task reconnects; a failed reconnect
// counts too and is retried after a short pause, so a dead target cannot make the loop spin.
#pragma once

#include <cstdint>
#include <optional>

#include <weft/runtime/task.hpp>
#include <weft/runtime/time.hpp>

#include "weft/profile/latency_histogram.hpp"
#include "weft/profile/target.hpp"
#include "weft/profile/target_load.hpp"

namespace weft::profile {

/// What one step measured.
struct StepResult {
  int concurrency = 0;
  std::uint64_t requests = 0;  ///< completed inside the measuring window
  std::uint64_t errors = 0;    ///< failed requests and reconnects, warm-up included
  double seconds = 0;          ///< the measuring window's length
  /// Of the counted requests, in nanoseconds; in the open loop, of those due inside the
  /// window, whenever they completed.
  LatencyHistogram latency{};
  /// Open loop (open_loop.hpp): the requests due per second; 0 for a closed-loop step,
  /// whose `concurrency` is its load (an open-loop step's is its number of sessions).
  double offered_rate = 0;
  /// Open loop: requests due in the window that had not completed by the step's end.
  std::uint64_t late = 0;
  /// The target's runtime during the step (its /metrics before and after, warm-up
  /// included), when run_profile was given a way to read them.
  std::optional<TargetLoad> target{};
  /// Counted requests per second of the window.
  double throughput() const noexcept { return seconds > 0 ? requests / seconds : 0; }
};

/// Runs one closed-loop step against `target` (which must outlive it). Throws what
/// Target::connect throws if a session cannot be opened at the start; later errors are
/// counted, not thrown. std::invalid_argument for concurrency < 1 or measure ≤ 0.
Task<StepResult> run_step(Target& target, int concurrency, Duration warmup, Duration measure);

}  // namespace weft::profile
