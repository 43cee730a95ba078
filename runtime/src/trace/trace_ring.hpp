// One worker's trace: a ring of fixed-size events that its worker writes and any thread may
// copy (docs/design.md §8, "Tracing").
//
// The rule: one writer, the worker that owns the ring, which never waits and never
// allocates (the ring is allocated when tracing starts); once full it overwrites the oldest
// event. A reader copies the events without stopping the writer: each slot carries the
// sequence number of the position it holds (2 x (position + 1), odd while being written),
// so a copy keeps exactly the slots whose number was the same even value before and after
// it read them, and drops a slot the writer was overwriting meanwhile. Fields are relaxed
// or release/acquire atomics (plain moves on x86), so ThreadSanitizer sees no race: the
// writer's release stores of the fields follow its odd mark, and a reader's acquire loads
// of them precede its second look at the mark, so a field from a later round always shows
// as a changed mark.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace weft::detail {

/// What happened. `task`, `other` and `aux` mean, per kind (a worker's ring holds task
/// addresses where it cannot know the id: the exporter maps them to the ids of the polls
/// that follow, tracing.cpp):
enum class TraceKind : std::uint8_t {
  kPollBegin,  ///< task: the task polled; other: its address
  kPollEnd,    ///< task: the task polled (not in a worker's ring: tracing.cpp adds them)
  kWake,       ///< task: the task made runnable; other: the task that woke it, 0 if none
  kSpawn,      ///< task: the new task; other: the spawner, 0 if none (outside a task)
  kSteal,      ///< task: tasks taken; other: the victim worker
  kParkBegin,  ///< the worker sleeps in epoll_wait
  kParkEnd,    ///< it woke
  kIoEvents,   ///< task: I/O events taken in one epoll_wait
  kTimers,     ///< task: timers fired in one pass
  kTaskStart,  ///< task: the task, at its first poll; other: its spawn site's file name (a
               ///< const char* of static storage), aux: the line
  kIdle,       ///< the worker ran out of tasks (its stamp ends the poll before)
};

struct TraceEvent {
  /// CLOCK_MONOTONIC. In a worker's ring a trace_stamp, or 0 for "at the worker's next
  /// stamped event": what a poll's end writes (its end, the tasks it woke), so that a
  /// traced poll reads the clock once (tracing.cpp resolves them).
  std::int64_t ns = 0;
  std::uint64_t task = 0;
  std::uint64_t other = 0;
  std::uint32_t aux = 0;
  TraceKind kind = TraceKind::kPollBegin;
};

class TraceRing {
 public:
  /// A ring of at least `capacity` events (rounded up to a power of two, at least 2).
  explicit TraceRing(std::size_t capacity) : mask_(round_up(capacity) - 1) {
    slots_ = std::make_unique<Slot[]>(mask_ + 1);
  }
  TraceRing(const TraceRing&) = delete;
  TraceRing& operator=(const TraceRing&) = delete;

  std::size_t capacity() const noexcept { return mask_ + 1; }

  /// Appends `e`, overwriting the oldest event once the ring is full. The owner only.
  void push(const TraceEvent& e) noexcept {
    const std::uint64_t pos = next_;
    Slot& s = slots_[pos & mask_];
    s.seq.store(2 * pos + 1, std::memory_order_relaxed);  // odd: being written
    s.ns.store(e.ns, std::memory_order_release);
    s.task.store(e.task, std::memory_order_release);
    s.other.store(e.other, std::memory_order_release);
    s.aux.store(e.aux, std::memory_order_release);
    s.kind.store(static_cast<std::uint8_t>(e.kind), std::memory_order_release);
    s.seq.store(2 * (pos + 1), std::memory_order_release);
    next_ = pos + 1;
    // Release: a reader that sees the count sees the slots written before it.
    written_.store(pos + 1, std::memory_order_release);
  }

  /// Events pushed since the ring was made (including those overwritten since). Any thread.
  std::uint64_t written() const noexcept { return written_.load(std::memory_order_acquire); }

  /// The events still in the ring, oldest first, without those the writer overwrote while
  /// they were being copied. Any thread.
  std::vector<TraceEvent> snapshot() const {
    const std::uint64_t end = written();
    const std::uint64_t begin = end > capacity() ? end - capacity() : 0;
    std::vector<TraceEvent> out;
    out.reserve(static_cast<std::size_t>(end - begin));
    for (std::uint64_t pos = begin; pos < end; ++pos) {
      const Slot& s = slots_[pos & mask_];
      const std::uint64_t want = 2 * (pos + 1);
      if (s.seq.load(std::memory_order_acquire) != want) continue;
      TraceEvent e;
      e.ns = s.ns.load(std::memory_order_acquire);
      e.task = s.task.load(std::memory_order_acquire);
      e.other = s.other.load(std::memory_order_acquire);
      e.aux = s.aux.load(std::memory_order_acquire);
      e.kind = static_cast<TraceKind>(s.kind.load(std::memory_order_acquire));
      if (s.seq.load(std::memory_order_relaxed) != want) continue;  // overwritten meanwhile
      out.push_back(e);
    }
    return out;
  }

 private:
  struct Slot {
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::int64_t> ns{0};
    std::atomic<std::uint64_t> task{0};
    std::atomic<std::uint64_t> other{0};
    std::atomic<std::uint32_t> aux{0};
    std::atomic<std::uint8_t> kind{0};
  };

  static std::size_t round_up(std::size_t n) noexcept {
    std::size_t c = 2;
    while (c < n) c *= 2;
    return c;
  }

  const std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  std::uint64_t next_ = 0;  // the owner's
  std::atomic<std::uint64_t> written_{0};
};

}  // namespace weft::detail
