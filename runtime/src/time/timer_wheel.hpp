// Hierarchical timer wheel of one worker: 6 levels of 64 slots, 1 ms resolution, so it
// spans 64^6 ms (about 2.2 years; later deadlines are clamped to its end). Insert and
// cancel are O(1) (intrusive doubly-linked slot lists and a bitmap of occupied slots per
// level); expiring walks only occupied slots and cascades a higher level's slot down when
// its time comes (the same shape as Tokio's wheel, but one per worker, not one per runtime).
//
// Concurrency: every operation takes `lock_` (a spinlock). The owning worker links entries
// and expires them; any thread may cancel. Expiry unlinks one entry at a time under the
// lock, marks it kFiring, and runs its callback outside the lock (timer_entry.hpp).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "weft/runtime/detail/spin_lock.hpp"
#include "weft/runtime/detail/timer_entry.hpp"

namespace weft::detail {

class TimerWheel {
 public:
  static constexpr unsigned kLevels = 6;
  static constexpr unsigned kSlots = 64;
  static constexpr std::uint64_t kMaxTick = (std::uint64_t{1} << (6 * kLevels)) - 1;

  /// Links `e` for `e.deadline` (caller holds lock()). False if the deadline is not after
  /// the wheel's current time (the timer is already due; nothing is linked).
  bool link_locked(TimerEntry& e) noexcept;
  /// Unlinks a linked entry (caller holds lock()).
  void unlink_locked(TimerEntry& e) noexcept;

  /// Expires every entry due at or before `now`, calling each one's fire callback outside
  /// the lock. Returns how many fired.
  std::size_t advance(std::uint64_t now) noexcept;

  /// The earliest tick at which something may be due, if anything is linked. (May be a
  /// higher-level slot's start, which only cascades.)
  std::optional<std::uint64_t> next_deadline() noexcept;

  /// Number of linked entries.
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

  SpinLock& lock() noexcept { return lock_; }
  /// The wheel's current time (ticks already processed). Caller holds lock().
  std::uint64_t elapsed_locked() const noexcept { return elapsed_; }

 private:
  /// An intrusive FIFO list: timers due at the same tick fire in the order they were armed.
  struct List {
    TimerEntry* head = nullptr;
    TimerEntry* tail = nullptr;
    void push_back(TimerEntry& e) noexcept;
    void erase(TimerEntry& e) noexcept;
    TimerEntry* pop_front() noexcept;
  };
  struct Level {
    std::uint64_t occupied = 0;
    std::array<List, kSlots> slots{};
  };
  struct Due {
    std::uint64_t deadline;
    unsigned level;
    unsigned slot;
  };

  static unsigned level_for(std::uint64_t elapsed, std::uint64_t when) noexcept;
  std::optional<Due> next_due_locked() const noexcept;
  void push_slot(TimerEntry& e) noexcept;
  TimerEntry* pop_expired_locked(std::uint64_t now) noexcept;

  SpinLock lock_;
  std::uint64_t elapsed_ = 0;
  List pending_;  // entries that are due, fired one at a time
  std::array<Level, kLevels> levels_{};
  std::atomic<std::size_t> count_{0};
};

}  // namespace weft::detail
