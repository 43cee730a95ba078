// run_rate_step: the schedule, the sessions and the merge; see open_loop.hpp.
#include "weft/profile/open_loop.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include <weft/runtime/gather.hpp>

#include "weft/profile/requests.hpp"

namespace weft::profile {
namespace {

// The schedule of one session: its j-th request is due at first + j * period.
struct Schedule {
  TimePoint window_start;  // end of warm-up: requests due from here on are counted
  TimePoint window_end;
  TimePoint stop;  // the session gives up here (window_end + measure)
  TimePoint first;
  Duration period;
};

struct SessionResult {
  LatencyHistogram latency;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t late = 0;
};

// How many of the requests j, j + 1, ... of `s` are due inside the measuring window.
std::uint64_t due_in_window_from(const Schedule& s, std::uint64_t j) {
  // The first index due at or after `t`.
  auto index_at = [&s](TimePoint t) -> std::uint64_t {
    if (t <= s.first) return 0;
    return static_cast<std::uint64_t>((t - s.first + s.period - Duration(1)) / s.period);
  };
  const std::uint64_t lo = std::max(j, index_at(s.window_start));
  const std::uint64_t hi = index_at(s.window_end);
  return hi > lo ? hi - lo : 0;
}

// Drives one session along its schedule until its next request is due after the window,
// or until the schedule's stop time (then what is due in the window and not done is late).
Task<SessionResult> drive_schedule(Target& target, std::unique_ptr<Session> session, Schedule s) {
  SessionResult result;
  TimePoint idle_since = now();  // when this session's last request ended
  for (std::uint64_t j = 0;; ++j) {
    const TimePoint due = s.first + static_cast<Duration::rep>(j) * s.period;
    if (due >= s.window_end) break;
    if (now() < due) co_await sleep_until(due);
    while (!session && now() < s.stop) {
      if (!co_await try_reconnect(target, session)) ++result.errors;
    }
    if (now() >= s.stop) {
      result.late += due_in_window_from(s, j);
      break;
    }
    // Busy when it came due (an earlier request, a reconnect): the wait is latency. Idle:
    // it counts from the send, whatever our own timer added.
    const TimePoint sent = now();
    const TimePoint from = idle_since > due ? due : sent;
    const bool ok = co_await try_request(session);
    const TimePoint done = now();
    idle_since = done;
    if (!ok) {
      ++result.errors;
      continue;
    }
    if (done >= s.window_start && done < s.window_end) ++result.requests;
    if (due >= s.window_start) result.latency.record(nanoseconds(done - from));
  }
  co_return result;
}

}  // namespace

Task<StepResult> run_rate_step(Target& target, double rate, int connections, Duration warmup,
                               Duration measure) {
  if (!(rate > 0) || !std::isfinite(rate)) {
    throw std::invalid_argument("run_rate_step: rate must be > 0");
  }
  if (connections < 1) throw std::invalid_argument("run_rate_step: connections must be >= 1");
  if (measure <= Duration::zero()) {
    throw std::invalid_argument("run_rate_step: measure must be > 0");
  }
  std::vector<std::unique_ptr<Session>> sessions = co_await connect_all(target, connections);
  const auto interval =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1 / rate));
  if (interval <= Duration::zero()) {
    throw std::invalid_argument("run_rate_step: rate above the clock's resolution");
  }
  const TimePoint begin = now();
  const TimePoint window_start = begin + warmup;
  const TimePoint window_end = window_start + measure;
  std::vector<Task<SessionResult>> tasks;
  for (int k = 0; k < connections; ++k) {
    const Schedule s{.window_start = window_start,
                     .window_end = window_end,
                     .stop = window_end + measure,
                     .first = begin + k * interval,
                     .period = connections * interval};
    tasks.push_back(drive_schedule(target, std::move(sessions[static_cast<std::size_t>(k)]), s));
  }
  std::vector<SessionResult> results = co_await gather(std::move(tasks));
  StepResult step{.concurrency = connections,
                  .seconds = std::chrono::duration<double>(measure).count(),
                  .offered_rate = rate};
  for (const SessionResult& r : results) {
    step.latency.merge(r.latency);
    step.requests += r.requests;
    step.errors += r.errors;
    step.late += r.late;
  }
  co_return step;
}

}  // namespace weft::profile
