// Parking (park.cpp): how long a parking worker sleeps, as a function of what it reads of
// itself and of the other workers, so that a test can hand it deadlines and ticks
// (tests/runtime/scheduler_test.cpp).
//
// A parked worker sleeps until the earliest timer of its own or of a busy (not parked)
// worker, whose timers it fires when it wakes. While some worker is busy it comes back at
// least every kWatchMs (that worker may arm timers, or sit in one long poll, after we parked),
// and after 1 ms if a busy worker's LIFO slot holds a task it may have to take (watch.hpp).
// On the virtual clock timers are not waited for (the clock moves only when every worker is
// parked), and the last worker to park looks again after 1 ms while a blocking job holds the
// clock still.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "scheduler/watch.hpp"

namespace weft::detail {

/// How long a parking worker sleeps (Worker::park_timeout): told what the worker sees, then
/// asked for the timeout.
class ParkTimeout {
 public:
  /// `own_due`: this worker's next timer in ticks (nullopt: none, or not waited for).
  explicit ParkTimeout(std::optional<std::uint64_t> own_due) noexcept : due_(own_due) {}

  /// Another worker is busy (not parked): its next timer (nullopt: none, or not waited for),
  /// and whether its LIFO slot holds a task.
  void busy_worker(std::optional<std::uint64_t> next_deadline, bool lifo_full) noexcept {
    others_busy_ = true;
    if (next_deadline) due_ = due_ ? std::min(*due_, *next_deadline) : *next_deadline;
    lifo_waiting_ = lifo_waiting_ || lifo_full;
  }

  /// Virtual clock: a blocking job holds the clock still; look again soon (real time) for it
  /// to end.
  void blocking_job_holds_clock() noexcept { job_holds_clock_ = true; }

  /// The epoll_wait timeout in ms, -1 for none. `now_tick()` (the runtime clock's tick) is
  /// read only if there is a timer to wait for.
  template <class NowTick>
  int ms(NowTick&& now_tick) const noexcept {
    int timeout = -1;
    if (due_) {
      const std::uint64_t now = now_tick();
      timeout = *due_ <= now ? 0 : static_cast<int>(std::min<std::uint64_t>(*due_ - now, 1u << 30));
    }
    auto cap = [&](int ms) {
      if (timeout < 0 || timeout > ms) timeout = ms;
    };
    if (others_busy_) cap(kWatchMs);
    if (lifo_waiting_ || job_holds_clock_) cap(1);
    return timeout;
  }

 private:
  std::optional<std::uint64_t> due_;
  bool others_busy_ = false;
  bool lifo_waiting_ = false;
  bool job_holds_clock_ = false;
};

}  // namespace weft::detail
