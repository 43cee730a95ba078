// weft::Mutex (asyncio.Lock): a lock for tasks on any worker, FIFO among its waiters.
//
// ## State
// One atomic word of flags: kLocked (held), kWaiters (the waiter list may be non-empty),
// kWoken (a waiter has been woken and will try again) and kStarving (hand-off mode). An
// uncontended lock and unlock are one CAS each: no syscall, no allocation. kLocked is set and
// cleared by CAS outside the SpinLock; the other flags change only under it.
//
// ## Normal mode: FIFO wake-up, newcomers may barge
// A task that finds the mutex held links its node (in its own frame) at the back of the
// list. Unlocking with waiters and nobody woken clears kLocked and wakes the first waiter,
// without handing it the mutex: when it runs, it takes the mutex if it is free, or goes back
// to the *front* of the list (its run hook, TaskHeader::run_hook_, waits again without
// resuming the coroutine). A task that wants the mutex while a woken waiter is on its way may
// take it first. Handing the mutex to a waiter that is not running would keep it held until
// that task is scheduled, and every task running meanwhile would queue behind it (a lock
// convoy: a task switch per lock instead of a CAS; bench/results/2026-12-06-sync-constants.md
// has the mutex workload's times both ways).
//
// ## Starvation mode: hand-off
// A woken waiter that loses again after waiting over kStarvationNs sets kStarving: from then
// on unlock hands the mutex straight to the first waiter and newcomers queue at the back, so
// no waiter waits for ever (Go's sync.Mutex does the same). The mode ends when a waiter that
// is handed the mutex is the last one or has waited less than kStarvationNs.
//
// ## Cancellation (DESIGN invariant 4)
// A waiter cancelled while linked unlinks itself. A woken or handed waiter was claimed, so a
// cancellation arriving then is delivered at its next wait: a woken waiter that must wait
// again raises CancelledError instead (without the mutex), and the next unlock wakes the
// next waiter; a handed waiter returns holding the mutex. A cancelled lock() never leaves
// the mutex held, and no wake-up is lost.
//
// ## The cooperative budget
// lock() spends one unit of the task's budget. Out of budget, it yields *before* locking (and
// then locks as a fresh lock()), never while holding the mutex, for the same convoy reason.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <mutex>
#include <source_location>

#include "weft/runtime/detail/wait_counters.hpp"
#include "weft/runtime/task.hpp"
#include "weft/sync/detail/waiter_list.hpp"

namespace weft {

class Mutex;

/// Owns a locked Mutex and unlocks it when destroyed (asyncio's `async with lock`).
/// Move-only; the destructor never throws.
class [[nodiscard]] MutexGuard {
 public:
  MutexGuard() noexcept = default;
  /// Adopts a mutex the caller has locked (by try_lock()).
  MutexGuard(Mutex& m, std::adopt_lock_t) noexcept : m_(&m) {}
  MutexGuard(MutexGuard&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  MutexGuard& operator=(MutexGuard&& o) noexcept;
  ~MutexGuard();

  /// Unlocks now instead of at destruction. Throws UsageError if the guard holds nothing.
  void unlock();
  /// Forgets the mutex without unlocking it; the caller must call Mutex::unlock().
  Mutex* release() noexcept {
    Mutex* m = m_;
    m_ = nullptr;
    return m;
  }
  /// True while the guard holds its mutex.
  bool owns_lock() const noexcept { return m_ != nullptr; }
  explicit operator bool() const noexcept { return owns_lock(); }

 private:
  Mutex* m_ = nullptr;
};

/// A FIFO lock for tasks (asyncio.Lock). Not reentrant. Every operation may be called from
/// any worker; lock() only from a task. Destroying a Mutex that tasks wait on aborts the
/// process with a message (they could never resume).
class Mutex {
 public:
  class LockAwaiter;

  Mutex() = default;
  ~Mutex();
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  /// `co_await m.lock()` locks the mutex, waiting in FIFO order, and returns the guard. A
  /// cancellation point while it waits: CancelledError, and the mutex is not held.
  LockAwaiter lock() noexcept;
  /// Locks the mutex if it is free (and not being handed to a starving waiter); never
  /// suspends. Any thread.
  bool try_lock() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    while (!(s & (kLocked | kStarving))) {
      // Acquire: the previous owner's critical section happens-before ours.
      if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  /// Unlocks, waking the first waiter. Throws UsageError if it is not locked.
  /// Any thread (weft does not track the owner, like asyncio.Lock).
  void unlock();
  /// True while the mutex is held. Any thread; a snapshot.
  bool locked() const noexcept { return state_.load(std::memory_order_relaxed) & kLocked; }
  /// Counts the waits for it from now on (weft/runtime/wait_stats.hpp; each wait then costs two
  /// clock reads, an acquisition that does not wait nothing). Any thread.
  void track_waits();
  /// The waits counted since track_waits(); all zero (`tracked` false) before it. Any
  /// thread; a snapshot.
  WaitStats wait_stats() const noexcept { return tracking_.snapshot(); }

 private:
  friend class MutexGuard;
  static constexpr std::uint32_t kLocked = 1;
  static constexpr std::uint32_t kWoken = 2;
  static constexpr std::uint32_t kStarving = 4;
  static constexpr std::uint32_t kWaiters = 8;
  /// A woken waiter that has waited this long and loses again switches to hand-off.
  static constexpr std::int64_t kStarvationNs = 1'000'000;

  /// Unlocks a mutex the caller holds. Never throws.
  void unlock_held() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    // Fast unless a waiter must be woken or handed the mutex.
    while (!(s & kStarving) && (s & (kWaiters | kWoken)) != kWaiters) {
      // Release: our critical section happens-before the next owner's acquire.
      if (state_.compare_exchange_weak(s, s & ~kLocked, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        return;
      }
    }
    unlock_slow();
  }
  void unlock_slow() noexcept;

  std::atomic<std::uint32_t> state_{0};
  // Apart from the state word and from the list it guards: tasks on other cores wait for
  // it (spin_lock.hpp).
  alignas(64) detail::SpinLock lock_;
  alignas(64) detail::WaiterList waiters_;  // guarded by lock_
  detail::WaitTracking tracking_;
};

/// The awaiter of Mutex::lock(). Movable until it is awaited (wait_for moves it).
class [[nodiscard]] Mutex::LockAwaiter : detail::SyncWaiter {
 public:
  explicit LockAwaiter(Mutex& m) noexcept : m_(&m) {}
  LockAwaiter(LockAwaiter&& o) noexcept
      : detail::SyncWaiter(), m_(o.m_), where_(o.where_), fixed_where_(o.fixed_where_) {}
  LockAwaiter& operator=(LockAwaiter&&) = delete;

  // Inline: an uncontended lock is a budget decrement and a CAS, with no call.
  bool await_ready() noexcept {
    if (!detail::budget_spend()) [[unlikely]] {
      out_of_budget_ = true;  // await_suspend yields first
      return false;
    }
    return m_->try_lock();
  }
  std::coroutine_handle<> await_suspend(
      std::coroutine_handle<> h, std::source_location where = std::source_location::current());
  MutexGuard await_resume() {
    if (out_of_budget_ || cancelled) [[unlikely]]
      return await_resume_slow();
    return MutexGuard(*m_, std::adopt_lock);
  }

 private:
  friend class Mutex;
  /// yield_then_lock's awaiter: its wait reports `where` (the user's co_await), not its own.
  LockAwaiter(Mutex& m, std::source_location where) noexcept
      : m_(&m), where_(where), fixed_where_(true) {}
  static Task<void> yield_then_lock(Mutex* m, std::source_location where);
  static void on_woken(detail::Waiter* w) noexcept;
  MutexGuard await_resume_slow();  // out of budget, or cancelled
  /// Under m_->lock_: takes the mutex if it is free, else links this node (at the front if
  /// `again`) and publishes the wait (at where_). False: not published (locked, or
  /// cancelled).
  bool lock_or_wait(std::coroutine_handle<> h, bool again) noexcept;

  Mutex* m_;
  std::source_location where_;  // the co_await, for the wait and for on_woken's re-waits
  std::int64_t since_ns_ = 0;   // when this waiter first waited (steady clock)
  bool handed_ = false;         // starvation mode: unlock handed the mutex to this waiter
  bool out_of_budget_ = false;
  bool fixed_where_ = false;  // where_ was given at construction (yield_then_lock)
  Task<void> relock_;         // out of budget: yields, then locks (see await_ready)
};

inline Mutex::LockAwaiter Mutex::lock() noexcept {
  return LockAwaiter(*this);
}

inline MutexGuard& MutexGuard::operator=(MutexGuard&& o) noexcept {
  if (this != &o) {
    if (m_) m_->unlock_held();
    m_ = o.m_;
    o.m_ = nullptr;
  }
  return *this;
}

inline MutexGuard::~MutexGuard() {
  if (m_) m_->unlock_held();
}

}  // namespace weft
