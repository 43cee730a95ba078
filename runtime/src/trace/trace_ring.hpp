// One worker's trace: a ring of fixed-size events that its worker writes and any thread may
// copy (docs/design.md §8, "Tracing").
//
// The rule: one writer, the worker that owns the ring, which never waits and never
// allocates (the ring is allocated when tracing starts); once full it overwrites the oldest
// event. A slot is three words, so an event costs the writer four stores (the slot, then
// the count of events written). A reader copies without stopping the writer and keeps only
// the slots the writer cannot have touched meanwhile: it reads the count after copying,
// and the writer writes at most one slot past the count it last published, so any
// position at least a lap behind that count plus one may be torn and is dropped. Fields
// are release stores and acquire loads (plain moves on x86): a reader that saw any word of
// a later lap also sees the count that lap's writer had published before it, so its check
// drops that slot; ThreadSanitizer sees no race.
#pragma once

#include <algorithm>
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
  /// traced poll reads the clock once; for a poll's begin, 0 means one of a group of short
  /// polls stamped only at its first (tracing.cpp resolves them).
  std::int64_t ns = 0;
  std::uint64_t task = 0;
  std::uint64_t other = 0;
  /// A task start's line. In an exported poll's begin: the size of the group whose times
  /// were spread evenly between two stamps, 0 if stamped itself.
  std::uint32_t aux = 0;
  TraceKind kind = TraceKind::kPollBegin;
};

class TraceRing {
 public:
  /// A ring of `capacity` slots rounded up to a power of two (at least 2), which keeps one
  /// event less (capacity()): a reader cannot trust the slot the writer may be writing.
  explicit TraceRing(std::size_t capacity) : mask_(round_up(capacity) - 1) {
    slots_ = std::make_unique<Slot[]>(mask_ + 1);
  }
  TraceRing(const TraceRing&) = delete;
  TraceRing& operator=(const TraceRing&) = delete;

  /// The events a snapshot can hold: the slots less one.
  std::size_t capacity() const noexcept { return mask_; }

  /// Appends `e`, overwriting the oldest event once the ring is full. The owner only.
  void push(const TraceEvent& e) noexcept {
    const std::uint64_t pos = written_.load(std::memory_order_relaxed);  // ours alone
    Slot& s = slots_[pos & mask_];
    // A task start's line rides in the stamp's word: the event is never stamped.
    const std::uint64_t first =
        e.kind == TraceKind::kTaskStart ? std::uint64_t{e.aux} : static_cast<std::uint64_t>(e.ns);
    s.words[0].store(first, std::memory_order_release);
    s.words[1].store(
        (std::uint64_t{static_cast<std::uint8_t>(e.kind)} << kKindShift) | (e.task & kTaskMask),
        std::memory_order_release);
    s.words[2].store(e.other, std::memory_order_release);
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
      const std::uint64_t w0 = s.words[0].load(std::memory_order_acquire);
      const std::uint64_t w1 = s.words[1].load(std::memory_order_acquire);
      const std::uint64_t w2 = s.words[2].load(std::memory_order_acquire);
      TraceEvent e;
      e.kind = static_cast<TraceKind>(w1 >> kKindShift);
      e.task = w1 & kTaskMask;
      e.other = w2;
      if (e.kind == TraceKind::kTaskStart) {
        e.aux = static_cast<std::uint32_t>(w0);
      } else {
        e.ns = static_cast<std::int64_t>(w0);
      }
      out.push_back(e);
    }
    // The writer may have lapped the first of them while they were copied, and may be
    // writing the slot after the count it published: keep what is not a lap behind that.
    const std::uint64_t now = written();
    const std::uint64_t safe = now + 1 > mask_ + 1 ? now - mask_ : 0;
    if (safe > begin) {
      out.erase(out.begin(),
                out.begin() + static_cast<std::ptrdiff_t>(std::min(safe, end) - begin));
    }
    return out;
  }

 private:
  // The second word: the kind in its top byte, the task below (ids and addresses never
  // reach 2^56).
  static constexpr unsigned kKindShift = 56;
  static constexpr std::uint64_t kTaskMask = (std::uint64_t{1} << kKindShift) - 1;

  struct Slot {
    std::atomic<std::uint64_t> words[3] = {};  // stamp (a start's line), kind | task, other
  };

  static std::size_t round_up(std::size_t n) noexcept {
    std::size_t c = 2;
    while (c < n) c *= 2;
    return c;
  }

  const std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::uint64_t> written_{0};
};

}  // namespace weft::detail
