// weft::Condition (asyncio.Condition): tasks wait, with a Mutex held, until notified.
//
// ## Waiting
// `co_await c.wait(guard)` takes the mutex out of the guard, links the task's node (in its
// frame) into the condition's list under the condition's SpinLock, and only then unlocks the
// mutex. A notify() must hold the mutex, so it cannot slip in between the unlock and the
// link and be missed: atomically releasing and waiting, as asyncio does on its one thread.
//
// ## Waking, then re-acquiring without resuming the coroutine
// notify(n) claims up to n linked nodes under the SpinLock (a node whose claim a cancellation
// won is skipped and does not count) and schedules their tasks after unlocking. The woken
// task does not resume its coroutine yet: its run hook (TaskHeader::run_hook_) runs first,
// as the task, and awaits the mutex on its behalf — `co_await m.lock()` driven by hand, the
// lock's own node living in the condition's awaiter. The coroutine resumes only once the
// mutex is held again, so the whole wait is one co_await and allocates nothing.
//
// ## Cancellation (and timeouts)
// A cancellation that wins the claim of a linked node unlinks it and schedules the task,
// which re-acquires the mutex the same way and then raises CancelledError: as in asyncio,
// the mutex is held again when the error propagates, and a guard owns it. The re-acquisition
// is shielded (TaskHeader::push_shield), so a cancellation arriving meanwhile cannot end it:
// it stays pending. A task that was notified before it was cancelled returns normally and
// gets the cancellation at its next await (the claim decides, as for every weft wait; asyncio
// raises instead and notifies another waiter, which comes to the same thing without the
// spurious wake-up). Either way no notification is lost.
#pragma once

#include <coroutine>
#include <cstddef>
#include <optional>
#include <source_location>
#include <utility>

#include "weft/runtime/task.hpp"
#include "weft/sync/detail/waiter_list.hpp"
#include "weft/sync/mutex.hpp"

namespace weft {

/// A condition variable for tasks (asyncio.Condition), bound to a weft::Mutex. notify and
/// notify_all from any thread that holds the mutex; wait from a task. Destroying a
/// Condition that tasks wait on aborts with a message.
class Condition {
 public:
  class WaitAwaiter;

  /// A condition with its own mutex (asyncio's `Condition()`); reach it with mutex() or lock().
  Condition() noexcept : m_(&own_) {}
  /// A condition over `m`, which must outlive it (asyncio's `Condition(lock)`). Several
  /// conditions may share one mutex.
  explicit Condition(Mutex& m) noexcept : m_(&m) {}
  ~Condition();
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  /// The mutex the condition is bound to.
  Mutex& mutex() const noexcept { return *m_; }
  /// `co_await c.lock()` locks the mutex (Mutex::lock()) and returns its guard.
  Mutex::LockAwaiter lock() noexcept { return m_->lock(); }
  /// True while the mutex is held. Any thread; a snapshot.
  bool locked() const noexcept { return m_->locked(); }

  /// `co_await c.wait(g)`: releases the mutex `g` holds, waits until notified, and locks the
  /// mutex again (into `g`) before returning. A cancellation point: CancelledError, with the
  /// mutex held by `g` again. Throws UsageError if `g` does not hold this condition's mutex.
  WaitAwaiter wait(MutexGuard& g) noexcept;

  /// `co_await c.wait_for(g, pred)`: waits (as wait()) until `pred()` is true; `pred` is
  /// called with the mutex held, first before any wait. A cancellation point like wait().
  /// Runs as a Task: one coroutine frame per call; the waits inside allocate nothing.
  template <class Pred>
  Task<void> wait_for(MutexGuard& g, Pred pred);

  /// Wakes up to `n` waiting tasks (each re-acquires the mutex before its wait returns).
  /// Throws UsageError if the mutex is not locked (asyncio raises RuntimeError); the check
  /// cannot tell who holds it.
  void notify(std::size_t n = 1);
  /// Wakes every waiting task. Throws UsageError if the mutex is not locked.
  void notify_all();

  /// Counts the waits for a notification from now on (not the mutex's re-acquisition: that
  /// is the mutex's, Mutex::track_waits). Any thread.
  void track_waits();
  /// The waits counted since track_waits(); all zero (`tracked` false) before it. Any
  /// thread; a snapshot.
  WaitStats wait_stats() const noexcept { return tracking_.snapshot(); }

 private:
  void notify_up_to(std::size_t n, const char* what);

  Mutex own_;  // the mutex of a default-constructed condition (unused otherwise)
  Mutex* m_;
  detail::SpinLock lock_;
  detail::WaiterList waiters_;  // guarded by lock_
  detail::WaitTracking tracking_;
};

/// The awaiter of Condition::wait(). Movable until it is awaited.
class [[nodiscard]] Condition::WaitAwaiter : detail::SyncWaiter {
 public:
  WaitAwaiter(Condition& c, MutexGuard& g) noexcept : c_(&c), m_(c.m_), g_(&g) {}
  WaitAwaiter(WaitAwaiter&& o) noexcept : detail::SyncWaiter(), c_(o.c_), m_(o.m_), g_(o.g_) {}
  WaitAwaiter& operator=(WaitAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  void await_resume();

 private:
  static void relock(detail::Waiter* w) noexcept;

  Condition* c_;
  Mutex* m_;  // the condition's mutex: the re-acquisition needs no more of the condition
  MutexGuard* g_;
  std::optional<Mutex::LockAwaiter> lock_;  // the re-acquisition, driven by relock()
  std::source_location where_;              // the co_await, which the re-acquisition reports
  unsigned shield_floor_ = 0;               // restored when the re-acquisition is done
  bool relocking_ = false;
};

inline Condition::WaitAwaiter Condition::wait(MutexGuard& g) noexcept {
  return WaitAwaiter(*this, g);
}

// Defined here, not in the class: `wait(g)` does not depend on Pred, so a compiler may check
// it where the template is defined (clang does), and WaitAwaiter must be complete by then.
template <class Pred>
Task<void> Condition::wait_for(MutexGuard& g, Pred pred) {
  while (!pred()) co_await wait(g);
}

}  // namespace weft
