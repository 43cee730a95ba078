// Searching: what an idle worker takes from the others, and in what order.
//
// The rule: at most half the workers search at once (Idle::transition_to_searching). A
// searcher visits the other workers from a random one on and takes, first found first:
//  1. half of a worker's local queue (LocalQueue::steal_into);
//  2. a batch of the injection queue;
//  3. in a second round from the same start, the LIFO task of a worker still in the poll it
//     was in at our previous round, or the ready I/O of a worker whose poll has kept its CPU
//     for kLongPollNs (look_at, watch.cpp), which it polls from here (poll_other).
// Another worker's epoll is otherwise left to it: events taken here would move its
// connections to this core and back.
// The guarantee: a searcher that finds work and was the last searcher wakes one more
// (end_search), so a burst of work fans out one worker at a time.
#include <sys/epoll.h>

#include <ctime>

#include "reactor/dispatch.hpp"
#include "scheduler/scheduler.hpp"

namespace weft::detail {

TaskHeader* Worker::search() noexcept {
  if (!searching_) {
    if (!sched_.idle().transition_to_searching()) return nullptr;
    searching_ = true;
  }
  auto& ws = sched_.workers();
  const std::size_t n = ws.size();
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const std::size_t start = rng_ % n;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t vi = (start + i) % n;
    if (vi == index_) continue;
    hook(HookPoint::kSteal);
    add(remote_.steal_attempts, 1);
    const std::uint32_t size_before = trace_ != nullptr ? remote_.queue.size() : 0;
    if (TaskHeader* t = ws[vi]->remote().queue.steal_into(remote_.queue)) {
      remote_.steals.fetch_add(1, std::memory_order_relaxed);
      if (trace_ != nullptr) trace(TraceKind::kSteal, remote_.queue.size() - size_before + 1, vi);
      return t;
    }
  }
  if (TaskHeader* t = pop_inject_batch()) return t;
  // A worker that has stayed in one poll for a whole search round holds back its LIFO task:
  // take it (a busy worker cannot hide a runnable task; message-passing pairs keep their
  // locality otherwise). One that has been running one poll for kLongPollNs holds back its
  // I/O as well: poll its epoll for it, so I/O is not stuck behind CPU work. What that
  // delivers is queued here (dispatch schedules from a worker without a running task).
  // Every other worker serves its own epoll (every kEventInterval ticks, and whenever its
  // queue runs dry, or when the kernel runs it again): taking its events would only move
  // its connections to our core and back. Hence the I/O rule is stricter than the LIFO
  // rule: search rounds can be microseconds apart, and wall time alone cannot tell a worker
  // that runs a long task from one the kernel has preempted, so look_at also asks the
  // victim's CPU clock (measured: bench/results/2026-12-06-scheduler-constants.md).
  const std::int64_t now = clock_ns(CLOCK_MONOTONIC);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t vi = (start + i) % n;
    if (vi == index_) continue;
    Remote& v = ws[vi]->remote();
    const PollLook look = look_at(v, seen_[vi], now);
    if (!look.same_poll) continue;
    if (v.lifo.load(std::memory_order_relaxed)) {
      if (TaskHeader* t = v.lifo.exchange(nullptr, std::memory_order_acq_rel)) {
        remote_.steals.fetch_add(1, std::memory_order_relaxed);
        if (trace_ != nullptr) trace(TraceKind::kSteal, 1, vi);
        return t;
      }
    }
    if (look.long_poll && poll_other(v)) {
      if (TaskHeader* t = next_task()) return t;
    }
  }
  return nullptr;
}

bool Worker::poll_other(Remote& busy) noexcept {
  epoll_event events[64];
  int n = ::epoll_wait(busy.epfd, events, 64, 0);
  bool delivered = false;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == 0) {
      // Its wake-up, not ours: the eventfd is level-triggered and we did not read it, so
      // the owner's next epoll_wait still sees it.
      continue;
    }
    remote_.io_events.fetch_add(1, std::memory_order_relaxed);
    dispatch_io_event(events[i].data.u64, events[i].events);
    delivered = true;
  }
  return delivered;
}

}  // namespace weft::detail
