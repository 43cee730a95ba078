// Parking: when a worker sleeps, for how long, and who wakes it.
//
// The rule: a worker parks when next_task, its own epoll and a search have all found
// nothing. It fires its due timers, registers as a sleeper (Idle), re-checks every queue if
// it was the last searcher, and sleeps in epoll_wait on its own epoll until the earliest
// timer of its own or of a busy worker's, at most kWatchMs while another worker is busy and
// at most 1 ms while a busy worker's LIFO slot holds a task (park_timeout, park.hpp). Awake,
// it fires its own timers and those of every worker that is not parked.
// Who wakes it: notify_parked (from whoever makes work available to other workers: Idle
// picks a sleeper and its eventfd is written), I/O on its own epoll, its timeout, a worker
// that leaves its park with work while this one watches nobody (call_a_watcher, watch.cpp),
// and shutdown. On the virtual clock the last worker to park moves the clock
// (virtual_clock.cpp).
// The guarantee: work made visible to other workers is never left with every worker asleep
// (Idle: the waker's push-then-check against the parker's register-then-check).
#include <algorithm>
#include <optional>

#include "scheduler/scheduler.hpp"

namespace weft::detail {

void Worker::park() noexcept {
  hook(HookPoint::kPark);
  const BatchSample sample(*this);  // what the timers and the I/O wake, if armed
  const std::size_t fired = remote_.advance_timers(sched_.clock().read_tick());
  if (fired > 0 && trace_ != nullptr) trace(TraceKind::kTimers, fired);
  if (fired > 0 && remote_.has_local_work()) return;
  Idle& idle = sched_.idle();
  Idle::Parked parked = idle.transition_to_parked(index_, searching_);
  searching_ = false;
  if (parked.last_searcher && sched_.any_work_visible()) sched_.notify_parked();

  int timeout;
  if (sched_.clock().is_virtual()) {
    if (parked.last_awake && advance_virtual_clock()) {
      searching_ = idle.transition_from_parked(index_);
      call_a_watcher();
      return;
    }
    // Busy workers are watched as on the real clock (their timers wait for the clock). A
    // blocking job in flight holds the clock still: look again soon for it to end.
    timeout = park_timeout(/*with_timers=*/false,
                           /*job_holds_clock=*/parked.last_awake && sched_.jobs_in_flight() != 0);
  } else {
    timeout = park_timeout(/*with_timers=*/true, /*job_holds_clock=*/false);
  }
  // Parking for longer than kWatchMs watches nobody (watch.cpp).
  const bool unwatched = announce_unwatched(timeout);
  if (!sched_.stopping()) {
    add(remote_.parks, 1);
    // Relaxed: metrics() reads the park in progress as a hint (metrics.hpp).
    const std::int64_t since = clock_ns(CLOCK_MONOTONIC);
    remote_.park_since_ns.store(since, std::memory_order_relaxed);
    remote_.parked.store(true, std::memory_order_relaxed);
    if (trace_ != nullptr) trace(TraceKind::kParkBegin, 0);
    if (sched_.clock().is_virtual()) {
      poll_events_virtual(timeout);
    } else {
      poll_events(timeout);
    }
    remote_.parked.store(false);  // seq_cst: see announce_unwatched
    if (trace_ != nullptr) trace(TraceKind::kParkEnd, 0);
    remote_.park_since_ns.store(0, std::memory_order_relaxed);
    add(remote_.parked_ns,
        static_cast<std::uint64_t>(std::max<std::int64_t>(clock_ns(CLOCK_MONOTONIC) - since, 0)));
  }
  if (unwatched) sched_.unwatched_sleepers().fetch_sub(1);
  searching_ = idle.transition_from_parked(index_);
  refresh_trace();  // tracing may have started or stopped while we slept
  std::uint64_t now = sched_.clock().read_tick();
  const std::size_t fired_after = remote_.advance_timers(now);
  if (fired_after > 0 && trace_ != nullptr) trace(TraceKind::kTimers, fired_after);
  // Timers of workers that are busy (not parked) are ours to fire too: a worker stuck in
  // one long poll must not hold back its wheel. The wheels are lock-protected.
  for (auto& w : sched_.workers()) {
    if (w.get() != this && !w->remote().parked.load(std::memory_order_relaxed))
      w->remote().advance_timers(now);
  }
  call_a_watcher();
}

int Worker::park_timeout(bool with_timers, bool job_holds_clock) noexcept {
  // Until our next timer, or a busy worker's; capped while others are busy (park.hpp).
  // Relaxed loads: hints. A worker that wakes after we saw it parked is caught by
  // announce_unwatched's seq_cst re-check (watch.cpp).
  ParkTimeout timeout(with_timers ? remote_.wheel.next_deadline() : std::nullopt);
  if (job_holds_clock) timeout.blocking_job_holds_clock();
  for (auto& w : sched_.workers()) {
    Remote& other = w->remote();
    if (w.get() == this || other.parked.load(std::memory_order_relaxed)) continue;
    timeout.busy_worker(with_timers ? other.wheel.next_deadline() : std::nullopt,
                        other.lifo.load(std::memory_order_relaxed) != nullptr);
  }
  return timeout.ms([this] { return sched_.clock().now_tick(); });
}

}  // namespace weft::detail
