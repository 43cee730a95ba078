// weft::Mutex (asyncio.Lock): a FIFO mutual-exclusion lock for tasks on any worker.
//
// ## State
// One atomic word: kUnlocked, kLocked (held, nobody waits) or kContended (held, and the
// waiter list may be non-empty). Uncontended lock and unlock are one CAS each (0 -> 1,
// 1 -> 0): no syscall, no allocation. A task that finds the mutex held takes the SpinLock,
// marks the word kContended, and links its node (detail/waiter_list.hpp); the word leaves
// kContended only under the SpinLock, so an unlock that sees it goes the slow way.
//
// ## Hand-off (no barging)
// The slow unlock claims the first waiter and passes ownership to it directly: the word stays
// locked, so a newcomer's CAS cannot overtake the waiters. If a waiter's claim lost to a
// cancellation (or timeout), ownership goes to the next; with nobody left the mutex is
// unlocked. A cancelled lock() therefore never leaves the mutex held (DESIGN invariant 4).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <mutex>

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
  /// Locks the mutex if it is free and nobody waits; never suspends. Any thread.
  bool try_lock() noexcept {
    std::uint32_t s = kUnlocked;
    // Acquire: the previous owner's critical section happens-before ours.
    return state_.compare_exchange_strong(s, kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  /// Unlocks, handing the mutex to the first waiter. Throws UsageError if it is not locked.
  /// Any thread (weft does not track the owner, like asyncio.Lock).
  void unlock();
  /// True while the mutex is held. Any thread; a snapshot.
  bool locked() const noexcept { return state_.load(std::memory_order_relaxed) != kUnlocked; }

 private:
  friend class MutexGuard;
  static constexpr std::uint32_t kUnlocked = 0;
  static constexpr std::uint32_t kLocked = 1;
  static constexpr std::uint32_t kContended = 2;

  /// Unlocks a mutex the caller holds. Never throws.
  void unlock_held() noexcept {
    std::uint32_t s = kLocked;
    // Release: our critical section happens-before the next owner's acquire.
    if (!state_.compare_exchange_strong(s, kUnlocked, std::memory_order_release,
                                        std::memory_order_relaxed)) {
      unlock_slow();
    }
  }
  void unlock_slow() noexcept;

  std::atomic<std::uint32_t> state_{kUnlocked};
  detail::SpinLock lock_;
  detail::WaiterList waiters_;  // guarded by lock_
};

/// The awaiter of Mutex::lock(). Movable until it is awaited (wait_for moves it).
class Mutex::LockAwaiter : detail::SyncWaiter {
 public:
  explicit LockAwaiter(Mutex& m) noexcept : m_(&m) {}
  LockAwaiter(LockAwaiter&& o) noexcept : detail::SyncWaiter(), m_(o.m_) {}
  LockAwaiter& operator=(LockAwaiter&&) = delete;

  bool await_ready() noexcept;
  bool await_suspend(std::coroutine_handle<> h);
  MutexGuard await_resume();

 private:
  Mutex* m_;
  bool acquired_ = false;
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
