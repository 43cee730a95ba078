// The stall detector: a monitor thread per runtime (Go's sysmon, Seastar's stall detector)
// that reports a task holding its worker for longer than RuntimeOptions::stall_threshold in
// one poll, while that poll still runs.
//
// The protocol: a worker publishes, for each poll, the task it runs (Remote::running, relaxed)
// and then its poll count (Remote::polls, release); between polls its poll_tick is kNoPoll
// whenever it searches or parks. Every interval (a quarter of the threshold) the monitor
// looks at each worker: a worker in a poll whose count has not moved since the look that
// first saw it has been in that one poll since then at least (StallWatch below). Once that
// reaches the threshold the poll is reported, once: the monitor finds the task in the
// live-task registry by its address, under the registry's shard lock — never through the
// pointer alone, since the poll may end and the task be freed at any moment — and reads its
// id, name and spawn site there; if the poll count has moved by then, the poll ended and the
// report names no task. The worker's thread CPU clock tells a task that computes from one
// blocked in a system call; a thread that is neither — runnable, but left without a CPU
// by a busy machine — is not the task's doing and is reported only once it has also used
// half the threshold of CPU time. The hot path pays one relaxed store per poll.
// The guarantee: a poll is reported at most threshold + interval = 1.25 x threshold after it
// began, if the monitor thread gets a CPU on time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "weft/runtime/stall.hpp"

namespace weft::detail {

class Scheduler;

/// What the monitor knows of one worker's current poll, and when to report it. A pure
/// function of what it is shown, so that tests can drive it with any clock.
struct StallWatch {
  std::uint64_t polls = 0;  // the poll count the current watch is about
  bool watching = false;    // the worker was in that poll at the first look
  bool reported = false;
  std::int64_t since_ns = 0;  // the first look that saw the poll
  std::int64_t cpu_since_ns = -1;

  /// One look at `now_ns`: true if the poll `polls` (`in_poll`: the worker is in a poll,
  /// not searching or parked) has now lasted `threshold_ns` since the first look that saw
  /// it and was not reported yet. The caller decides whether it is a stall (StallDetector:
  /// not a thread the kernel merely left without a CPU) and then sets `reported`.
  bool look(std::uint64_t polls_now, bool in_poll, std::int64_t now_ns, std::int64_t cpu_ns,
            std::int64_t threshold_ns) noexcept {
    if (!in_poll || !watching || polls_now != polls) {
      polls = polls_now;
      watching = in_poll;
      reported = false;
      since_ns = now_ns;
      cpu_since_ns = cpu_ns;
      return false;
    }
    return !reported && now_ns - since_ns >= threshold_ns;
  }
};

class StallDetector {
 public:
  /// Starts the monitor thread over `s`'s workers (already started).
  StallDetector(Scheduler& s, std::chrono::milliseconds threshold, StallHandler handler);
  /// Stops and joins the monitor thread. Idempotent.
  void stop();
  ~StallDetector() { stop(); }
  StallDetector(const StallDetector&) = delete;
  StallDetector& operator=(const StallDetector&) = delete;

 private:
  void main();
  void look_at_all(std::vector<StallWatch>& watches);
  void report(unsigned worker, const StallWatch& watch, std::int64_t now_ns, bool blocked);

  Scheduler& sched_;
  const std::int64_t threshold_ns_;
  const std::chrono::nanoseconds interval_;
  StallHandler handler_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace weft::detail
