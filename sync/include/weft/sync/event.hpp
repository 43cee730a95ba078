// weft::Event (asyncio.Event): a flag that tasks wait to become set.
//
// The flag is an atomic, so is_set() and a wait on a set event take no lock. A wait on a
// clear event links its node under the SpinLock after re-checking the flag there; set()
// stores the flag and claims every linked node under the same lock, so no waiter can slip
// in between and miss it. Waiters whose claim a cancellation won are skipped (their
// cancellation resumes them).
#pragma once

#include <atomic>
#include <coroutine>
#include <source_location>

#include "weft/sync/detail/waiter_list.hpp"

namespace weft {

/// A flag tasks can wait on (asyncio.Event). set, clear and is_set from any thread; wait()
/// from a task. Destroying an Event that tasks wait on aborts with a message.
class Event {
 public:
  class WaitAwaiter;

  Event() = default;
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Sets the flag and wakes every task waiting for it. Any thread; never throws.
  void set() noexcept;
  /// Clears the flag: later waits suspend until the next set(). Any thread.
  void clear() noexcept { set_.store(false, std::memory_order_relaxed); }
  /// True while the flag is set. Any thread.
  bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }
  /// `co_await e.wait()` returns once the flag is set (at once if it is). A cancellation
  /// point while it waits.
  WaitAwaiter wait() noexcept;

  /// Counts the waits for the flag from now on (weft/runtime/wait_stats.hpp: each wait then
  /// costs two clock reads). Any thread.
  void track_waits();
  /// The waits counted since track_waits(); all zero (`tracked` false) before it. Any
  /// thread; a snapshot.
  WaitStats wait_stats() const noexcept { return tracking_.snapshot(); }

 private:
  std::atomic<bool> set_{false};
  detail::SpinLock lock_;
  detail::WaiterList waiters_;  // guarded by lock_
  detail::WaitTracking tracking_;
};

/// The awaiter of Event::wait(). Movable until it is awaited.
class [[nodiscard]] Event::WaitAwaiter : detail::SyncWaiter {
 public:
  explicit WaitAwaiter(Event& e) noexcept : e_(&e) {}
  WaitAwaiter(WaitAwaiter&& o) noexcept : detail::SyncWaiter(), e_(o.e_) {}
  WaitAwaiter& operator=(WaitAwaiter&&) = delete;

  bool await_ready() noexcept;
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  void await_resume();

 private:
  Event* e_;
  bool ready_ = false;
};

inline Event::WaitAwaiter Event::wait() noexcept {
  return WaitAwaiter(*this);
}

}  // namespace weft
