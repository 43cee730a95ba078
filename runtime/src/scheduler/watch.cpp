// Watching: idle workers keep an eye on busy ones, so that a runnable task is not held back
// by a worker that runs one long poll (a task that computes, or blocks in a syscall).
//
// The rule: while another worker is busy, a parked worker wakes at least every kWatchMs
// (park_timeout) and searches. Its search reads each worker's published poll
// (Remote::poll_tick) and decides (look_at): a worker still in the poll it was in at the
// previous round gives up its LIFO task; one that has stayed in it for kLongPollNs while its
// thread's CPU clock ran for at least an eighth of the time (running, not preempted or
// blocked) has its epoll polled by the searcher. A worker that parks for longer than kWatchMs
// watches nobody: it says so (announce_unwatched), and a worker that leaves its park with
// work wakes it (call_a_watcher), so that it parks again watching.
// The guarantee: while a worker is idle, a task in a busy worker's LIFO slot waits for it
// about kWatchMs and a search round at most, and I/O behind one long poll about 3 x kWatchMs
// (the first look starts the kLongPollNs, the second reads the CPU clock, the third compares).
// The seq_cst pairing: a parker increments unwatched_sleepers, then loads the others'
// Remote::parked; a waking worker stores its Remote::parked = false, then loads
// unwatched_sleepers (call_a_watcher). All four are sequentially consistent, so at least one
// of the two sees the other: the parker sees the worker awake and keeps watching it, or the
// worker sees the sleeper and wakes it.
#include <ctime>

#include "scheduler/scheduler.hpp"

namespace weft::detail {

Worker::Look Worker::look_at(const Remote& victim, Seen& seen, std::int64_t now_ns) noexcept {
  // Has the victim's tick moved since our previous search round? A searching or parked
  // worker is in no poll (kNoPoll) and holds nothing back. One reading per victim per
  // round; it updates what we saw, and since when (`now_ns`: one clock read per round, on the
  // idle path, so that a stuck worker is known after two looks past kLongPollNs).
  std::uint32_t tick = victim.poll_tick.load(std::memory_order_relaxed);
  Look look;
  if (tick != seen.tick || tick == kNoPoll) {
    seen = Seen{tick, now_ns};
    return look;
  }
  look.same_poll = true;
  if (now_ns - seen.since_ns < kLongPollNs) return look;
  // In one poll for kLongPollNs. Running, or off its CPU (preempted by the kernel, or
  // blocked in a syscall)? Its thread's CPU clock tells: one syscall, made only here.
  const clockid_t clock = victim.cpu_clock.load(std::memory_order_relaxed);
  const std::int64_t cpu = clock == Remote::kNoCpuClock ? -1 : clock_ns(clock);
  if (cpu < 0) return look;  // no clock (the thread has ended): nothing to help
  if (seen.cpu_ns < 0) {
    seen.cpu_ns = cpu;  // the first long look: compare at the next one
    seen.cpu_at_ns = now_ns;
    return look;
  }
  // Running for at least an eighth of the time since: a task that keeps its CPU.
  look.long_poll = (cpu - seen.cpu_ns) * 8 >= now_ns - seen.cpu_at_ns;
  return look;
}

bool Worker::announce_unwatched(int& timeout) noexcept {
  // Parking for longer than kWatchMs (no timeout, or until a far timer of our own: a task
  // sleeping an hour) watches nobody: say so, then look again whether every other worker is
  // still parked (seq_cst, against the store that ends their park and their load in
  // call_a_watcher: one of the two sees the other). One that is not gets watched.
  if (timeout >= 0 && timeout <= kWatchMs) return false;
  sched_.unwatched_sleepers().fetch_add(1);
  bool others_parked = true;
  for (auto& w : sched_.workers()) {
    if (w.get() != this && !w->remote().parked.load()) others_parked = false;
  }
  if (others_parked) return true;
  timeout = kWatchMs;
  sched_.unwatched_sleepers().fetch_sub(1);
  return false;
}

void Worker::call_a_watcher() noexcept {
  // We leave our park with work to do while another worker sleeps unwatching: wake
  // it, so that it parks again watching us (kWatchMs). Otherwise a task we make runnable
  // and do not get to (we compute, we block in a syscall) would wait for us, however long,
  // with an idle worker beside it. Small batches of wake-ups between polls wake nobody
  // (kHelpBatch), so this is what keeps an idle worker looking.
  if (remote_.has_local_work() && sched_.unwatched_sleepers().load() > 0) sched_.notify_parked();
}

}  // namespace weft::detail
