// Watching: idle workers keep an eye on busy ones, so that a runnable task is not held back
// by a worker that runs one long poll (a task that computes, or blocks in a syscall).
//
// The rule: while another worker is busy, a parked worker wakes at least every kWatchMs
// (park_timeout) and searches. Its search reads each worker's published poll
// (Remote::poll_tick) and decides (look_at, watch.hpp): a worker still in the poll it was in
// at the previous round gives up its LIFO task; one that has stayed in it for kLongPollNs
// while its thread's CPU clock ran for at least an eighth of the time (running, not
// preempted or blocked) has its epoll polled by the searcher. A worker that parks for longer
// than kWatchMs watches nobody: it says so (announce_unwatched), and a worker that leaves its
// park with work wakes it (call_a_watcher), so that it parks again watching.
// The guarantee: while a worker is idle, a task in a busy worker's LIFO slot waits for it
// about kWatchMs and a search round at most, and I/O behind one long poll about
// 3 x kWatchMs (the first look starts the kLongPollNs, the second reads the CPU clock, the
// third compares).
// The seq_cst pairing: a parker increments unwatched_sleepers, then loads the others'
// Remote::parked; a waking worker stores its Remote::parked = false, then loads
// unwatched_sleepers (call_a_watcher). All four are sequentially consistent, so at least one
// of the two sees the other: the parker sees the worker awake and keeps watching it, or the
// worker sees the sleeper and wakes it.
#include <ctime>

#include "scheduler/scheduler.hpp"

namespace weft::detail {

PollLook Worker::look_at(const Remote& victim, SeenPoll& seen, std::int64_t now_ns) noexcept {
  // Has the victim's tick moved since our previous search round (watch.hpp)? One reading per
  // victim per round (`now_ns`: one clock read per round, on the idle path, so that a stuck
  // worker is known after two looks past kLongPollNs). Relaxed: poll_tick and cpu_clock are
  // hints that order nothing; a stale value only delays or hastens a look.
  const std::uint32_t tick = victim.poll_tick.load(std::memory_order_relaxed);
  return look_at_poll(seen, tick, now_ns, [&victim] {
    // In one poll for kLongPollNs. Running, or off its CPU (preempted by the kernel, or
    // blocked in a syscall)? Its thread's CPU clock tells: one syscall, made only here. No
    // clock (the thread has not started or has ended): -1, nothing to help.
    const clockid_t clock = victim.cpu_clock.load(std::memory_order_relaxed);
    return clock == Remote::kNoCpuClock ? std::int64_t{-1} : clock_ns(clock);
  });
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
