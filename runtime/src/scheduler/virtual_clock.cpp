// The virtual clock: time that moves only when nothing can run.
//
// The rule: the worker that parks last (every other worker parked, nothing queued, no
// blocking job in flight) takes every epoll's ready I/O, then jumps the clock to the earliest
// timer of any worker and fires what is due everywhere, and stops as soon as any worker is
// awake or any work is visible. Parked workers take their own I/O only under the same mutex
// (poll_events_virtual).
// The guarantee: no timer fires on the virtual clock while something could still run, and no
// I/O event is in a worker's hands unseen while the clock moves.
#include <poll.h>

#include <algorithm>
#include <ctime>
#include <mutex>
#include <vector>

#include "scheduler/scheduler.hpp"

namespace weft::detail {

void Worker::poll_events_virtual(int timeout_ms) noexcept {
  // Wait for readiness without taking the events (poll(2) on the epoll fd), then take them
  // under the virtual clock's mutex: the worker that moves the clock holds it and collects
  // every epoll's events first, so it either takes these itself or sees the work they made.
  pollfd p{remote_.epfd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return;
  std::lock_guard lk(sched_.virtual_clock_mutex());
  poll_events(0);
}

bool Worker::advance_virtual_clock() noexcept {
  // Called by the worker that parked last: nothing runs, nothing is queued, no blocking job
  // is in flight. Jump to the earliest timer of any worker and expire what is due
  // everywhere. A wheel's next deadline may be a higher level's slot start that only
  // cascades, so go on until something fires — but stop as soon as any worker is awake or
  // any work is visible: time must not move while something could still run.
  std::lock_guard lk(sched_.virtual_clock_mutex());
  Idle& idle = sched_.idle();
  // I/O that is ready is work too (a signal sent, a reply on loopback): take every epoll's
  // events first. Parked workers take theirs only under this mutex (poll_events_virtual), so
  // no event can be in a worker's hands unseen while the clock moves. Our own epoll is polled
  // like the others, leaving its eventfd unread: a wake-up meant for us (notify_parked may
  // pick us while we are registered as a sleeper) must still end our park.
  for (auto& w : sched_.workers()) poll_other(w->remote());
  // What a task wrote to a loopback socket is not always in the peer's socket when write()
  // returns: on a loaded machine the kernel leaves the delivery to ksoftirqd. Before time
  // jumps, give it kIoGrace of real time to arrive, when any worker has fds registered (a
  // request on loopback would otherwise meet its timeout, not its answer).
  if (idle.unparked() == 0 && !sched_.any_work_visible()) {
    std::vector<pollfd>& fds = sched_.grace_fds();  // reserved: no allocation here
    fds.clear();
    for (auto& w : sched_.workers()) {
      if (w->has_io_.load(std::memory_order_relaxed)) fds.push_back({w->remote().epfd, POLLIN, 0});
    }
    const timespec grace{0, kIoGraceNs};
    if (!fds.empty() && ::ppoll(fds.data(), fds.size(), &grace, nullptr) > 0) {
      for (auto& w : sched_.workers()) poll_other(w->remote());
    }
  }
  for (;;) {
    if (idle.unparked() != 0 || sched_.jobs_in_flight() != 0 || sched_.any_work_visible()) {
      return remote_.has_local_work();
    }
    std::uint64_t earliest = ~std::uint64_t{0};
    for (auto& w : sched_.workers()) {
      if (auto d = w->remote().wheel.next_deadline()) earliest = std::min(earliest, *d);
    }
    if (earliest == ~std::uint64_t{0}) return false;
    sched_.clock().advance_to(earliest);
    std::size_t fired = 0;
    for (auto& w : sched_.workers()) fired += w->remote().advance_timers(earliest);
    if (fired > 0 || remote_.has_local_work()) return true;
  }
}

}  // namespace weft::detail
