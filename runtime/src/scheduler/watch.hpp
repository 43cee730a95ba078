// Watching (watch.cpp): what a searcher decides when it looks at another worker's published
// poll, as a function of what it reads there and of the clocks, so that a test can hand it
// ticks and clock readings (tests/runtime/scheduler_test.cpp).
//
// A worker publishes its tick while it runs a task (Remote::poll_tick) and kNoPoll while it
// searches or parks. A searcher remembers, per other worker, the tick it saw and since when
// (SeenPoll). Looking again at the same tick means the same poll: that worker has run one
// task since our previous search round, so its LIFO task may be taken. In the same poll for
// kLongPollNs, the searcher reads that worker's thread CPU clock (a syscall, made only then),
// and at the next look compares: a thread that ran for at least an eighth of the time since
// keeps its CPU in one long task, and its I/O is polled for it (a long poll). A thread that
// ran less was preempted or blocked in a syscall: taking its I/O would only move its
// connections, so it is left alone.
#pragma once

#include <cstdint>

namespace weft::detail {

/// Remote::poll_tick of a worker in no poll (searching or parked): it holds nothing back.
inline constexpr std::uint32_t kNoPoll = ~0u;

/// A poll this long holds back its worker's I/O: an idle worker polls that epoll for it. Far
/// above one echo round trip, far below what a user would notice.
inline constexpr std::int64_t kLongPollNs = 100'000;

/// A parked worker's longest nap while others are busy. A worker running one poll is taken
/// for stuck at the third look (search round) that finds it there: the first starts the
/// kLongPollNs, the second reads its CPU clock, the third compares; so I/O behind a long task
/// waits at most about 3 x kWatchMs.
inline constexpr int kWatchMs = 5;

/// What a searcher saw of one other worker's poll at its previous looks.
struct SeenPoll {
  std::uint32_t tick = kNoPoll;  // the worker's poll_tick at a previous search round
  std::int64_t since_ns = 0;     // when we first saw it there
  std::int64_t cpu_ns = -1;      // its thread's CPU time at our first long look, or -1
  std::int64_t cpu_at_ns = 0;    // when that was
};

/// What one look found.
struct PollLook {
  bool same_poll = false;  // in the poll it was in at our previous search round
  bool long_poll = false;  // ... for kLongPollNs, and running on its CPU
};

/// One look, at `now_ns` (CLOCK_MONOTONIC), at a worker whose published poll reads `tick`;
/// updates `seen`. `read_cpu_ns()` reads that worker thread's CPU clock in ns (-1 if it cannot
/// be read: nothing to help); it is called only once the worker has been in one poll for
/// kLongPollNs.
template <class ReadCpuNs>
inline PollLook look_at_poll(SeenPoll& seen, std::uint32_t tick, std::int64_t now_ns,
                             ReadCpuNs&& read_cpu_ns) noexcept {
  PollLook look;
  if (tick != seen.tick || tick == kNoPoll) {
    seen = SeenPoll{tick, now_ns};
    return look;
  }
  look.same_poll = true;
  if (now_ns - seen.since_ns < kLongPollNs) return look;
  const std::int64_t cpu = read_cpu_ns();
  if (cpu < 0) return look;
  if (seen.cpu_ns < 0) {
    seen.cpu_ns = cpu;  // the first long look: compare at the next one
    seen.cpu_at_ns = now_ns;
    return look;
  }
  // Running for at least an eighth of the time since: a task that keeps its CPU.
  look.long_poll = (cpu - seen.cpu_ns) * 8 >= now_ns - seen.cpu_at_ns;
  return look;
}

}  // namespace weft::detail
