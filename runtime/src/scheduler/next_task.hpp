// What a worker runs next: the order in which Worker::next_task (worker.cpp) looks at its
// sources, written as a template over them so that a test can hand it sources of its own
// (tests/runtime/scheduler_test.cpp). The worker instantiates it with its own queues and the
// compiler inlines it: the same code as a function written for them.
//
// The order, each time the worker needs a task (one tick):
//  1. every kEventInterval-th tick, a maintenance pass (due timers, the I/O the local queue
//     has room for), then one task from the injection queue: a task injected from another
//     thread waits at most kEventInterval ticks for a busy worker, however full its queues;
//  2. the LIFO slot, unless it has run kMaxLifoStreak times in a row: then its task goes to
//     the back of the local queue instead, and the streak starts over;
//  3. the front of the local queue;
//  4. a batch from the injection queue (its first task runs, the rest join the local queue),
//     only once the local queue is empty, so that a batch never overflows straight back.
// The guarantee: at most kMaxLifoStreak LIFO tasks run between two turns of the local queue,
// and a busy worker takes a task from the injection queue at least every kEventInterval
// ticks.
#pragma once

#include <cstdint>

namespace weft::detail {

/// Every kEventInterval-th tick the injection queue comes first (fairness), and the worker
/// takes its due timers and I/O.
inline constexpr std::uint32_t kEventInterval = 61;

/// How many times in a row the LIFO slot runs before the local queue gets a turn. Long
/// enough that a pair of tasks trading messages stays in one core's cache while it talks (Go
/// lets runnext inherit the whole time slice; Tokio 1.24 allowed a budget's worth), rather
/// than cycling through every frame of many such pairs (modern Tokio's 3); short enough that
/// the local queue still runs, and can be stolen meanwhile. Measured:
/// bench/results/2026-12-06-scheduler-constants.md.
inline constexpr unsigned kMaxLifoStreak = 32;

/// The part of a worker's state that the order depends on (the worker's own thread's).
struct RunOrder {
  std::uint32_t tick = 0;    // times the worker asked for a task
  unsigned lifo_streak = 0;  // tasks the LIFO slot ran in a row
};

/// The next task from `src` in the order above, or a null task if every source is empty.
/// `Source` provides maintenance(), pop_inject_one(), lifo_occupied() (a cheap look that may
/// be stale), take_lifo(), push_back(task), pop_local() and pop_inject_batch(); each pop and
/// take returns a null task when it finds none. Always inlined: Worker::next_task must stay the
/// one function it was, not a call to this one.
template <class Source>
[[gnu::always_inline]] inline auto pick_next_task(Source& src, RunOrder& order) noexcept
    -> decltype(src.pop_local()) {
  ++order.tick;
  if (order.tick % kEventInterval == 0) {
    src.maintenance();
    if (auto t = src.pop_inject_one()) return t;
  }
  if (order.lifo_streak < kMaxLifoStreak) {
    if (src.lifo_occupied()) {
      if (auto t = src.take_lifo()) {
        ++order.lifo_streak;
        return t;
      }
    }
  } else if (auto t = src.take_lifo()) {
    // The LIFO slot has run enough in a row: send its task to the back of the line.
    src.push_back(t);
  }
  order.lifo_streak = 0;
  if (auto t = src.pop_local()) return t;
  return src.pop_inject_batch();
}

}  // namespace weft::detail
