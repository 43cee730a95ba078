// weft::Latch (std::latch, Go's sync.WaitGroup): a count that tasks and threads wait to
// reach zero.
//
// ## State
// One atomic word: the count shifted left by one, and in bit 0 "released" — set by the
// count_down that reaches zero. count_down and add are CAS loops on the word, so they take
// no lock and may be called from any thread. A wait on a zero count takes no lock either.
//
// ## Waking
// A wait on a non-zero count takes the SpinLock, re-checks the count there and links its node
// (in the task's frame, or a plain thread's stack for blocking_wait). The count_down that
// reaches zero then takes the same lock and claims every node, so a waiter either sees zero
// or is claimed: no wake-up is lost. Nodes whose claim a cancellation (or timeout) won are
// skipped; they had nothing to lose.
//
// ## WaitGroup use
// add(n) raises the count again, as long as the latch has not been released: a Latch(0) may
// be add()-ed per task before each is spawned, then waited for. Once a count_down has
// brought the count to zero the latch is done for good, like std::latch; add() then throws.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <source_location>

#include "weft/sync/detail/waiter_list.hpp"

namespace weft {

/// A single-use countdown for tasks and plain threads (std::latch, Go's WaitGroup). Every
/// operation may be called from any thread; wait() from a task, blocking_wait() from a plain
/// thread. Destroying a Latch that anyone waits on aborts with a message.
class Latch {
 public:
  class WaitAwaiter;

  /// A latch that opens after `count` count_downs. Throws std::invalid_argument if `count`
  /// < 0. A Latch(0) is open until add() raises its count.
  explicit Latch(std::ptrdiff_t count);
  ~Latch();
  Latch(const Latch&) = delete;
  Latch& operator=(const Latch&) = delete;

  /// Lowers the count by `n`; at zero, wakes every waiter and releases the latch for good.
  /// Throws std::invalid_argument if `n` < 0 and std::logic_error if the count would go
  /// below zero (nothing changes then). Any thread.
  void count_down(std::ptrdiff_t n = 1);
  /// Raises the count by `n` (WaitGroup.Add). Throws std::invalid_argument if `n` < 0 and
  /// std::logic_error once the latch has been released by a count_down to zero. Any thread.
  void add(std::ptrdiff_t n);
  /// True if the count is zero (a wait would not wait). Any thread; a snapshot.
  bool try_wait() const noexcept { return count() == 0; }
  /// The current count. Any thread; a snapshot.
  std::ptrdiff_t count() const noexcept {
    // Acquire: a caller that sees zero sees what the count_downs' callers wrote before.
    return static_cast<std::ptrdiff_t>(state_.load(std::memory_order_acquire) >> 1);
  }

  /// `co_await l.wait()` returns once the count is zero (at once if it is). A cancellation
  /// point while it waits.
  WaitAwaiter wait() noexcept;
  /// count_down(n), then `co_await` the returned wait (std::latch::arrive_and_wait).
  WaitAwaiter arrive_and_wait(std::ptrdiff_t n = 1);
  /// wait() for a plain thread: blocks it until the count is zero. Throws UsageError on a
  /// worker thread, where blocking would stall every task behind it.
  void blocking_wait();

 private:
  static constexpr std::uint64_t kReleased = 1;

  std::atomic<std::uint64_t> state_;  // count << 1 | kReleased
  detail::SpinLock lock_;
  detail::WaiterList waiters_;  // guarded by lock_
};

/// The awaiter of Latch::wait(). Movable until it is awaited.
class [[nodiscard]] Latch::WaitAwaiter : detail::SyncWaiter {
 public:
  explicit WaitAwaiter(Latch& l) noexcept : l_(&l) {}
  WaitAwaiter(WaitAwaiter&& o) noexcept : detail::SyncWaiter(), l_(o.l_) {}
  WaitAwaiter& operator=(WaitAwaiter&&) = delete;

  bool await_ready() noexcept;
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  void await_resume();

 private:
  Latch* l_;
  bool ready_ = false;
};

inline Latch::WaitAwaiter Latch::wait() noexcept {
  return WaitAwaiter(*this);
}

inline Latch::WaitAwaiter Latch::arrive_and_wait(std::ptrdiff_t n) {
  count_down(n);
  return WaitAwaiter(*this);
}

}  // namespace weft
