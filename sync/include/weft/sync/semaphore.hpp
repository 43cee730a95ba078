// weft::Semaphore and weft::BoundedSemaphore (asyncio.Semaphore, asyncio.BoundedSemaphore).
//
// ## Permits
// `value_` counts free permits. It only grows under the SpinLock, and only when no waiter
// could be claimed: release() hands a permit directly to the first waiter it can claim, so
// a free permit and a claimable waiter never coexist, and waiters are served FIFO (a
// newcomer cannot take a permit a waiter was promised). Taking a free permit is one CAS
// without the lock. A release whose claim lost to a cancellation (or a timeout) passes the
// permit to the next waiter, or back to `value_`: a permit is never lost (invariant 4).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <source_location>

#include "weft/runtime/detail/wait_counters.hpp"
#include "weft/sync/detail/waiter_list.hpp"

namespace weft {

class Semaphore;

/// Owns one permit of a Semaphore and releases it when destroyed. Move-only; the destructor
/// never throws.
class [[nodiscard]] SemaphoreGuard {
 public:
  SemaphoreGuard() noexcept = default;
  /// Adopts a permit the caller holds (from try_acquire()).
  explicit SemaphoreGuard(Semaphore& s) noexcept : s_(&s) {}
  SemaphoreGuard(SemaphoreGuard&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  SemaphoreGuard& operator=(SemaphoreGuard&& o) noexcept;
  ~SemaphoreGuard();

  /// Releases the permit now. Throws UsageError if the guard holds none.
  void release();
  /// Keeps the permit but forgets it: the caller must call Semaphore::release().
  Semaphore* disarm() noexcept {
    Semaphore* s = s_;
    s_ = nullptr;
    return s;
  }
  /// True while the guard holds a permit.
  bool owns_permit() const noexcept { return s_ != nullptr; }
  explicit operator bool() const noexcept { return owns_permit(); }

 private:
  Semaphore* s_ = nullptr;
};

/// A counting semaphore for tasks (asyncio.Semaphore), FIFO. Every operation may be called
/// from any thread; acquire() from a task. Destroying a Semaphore that tasks wait on aborts
/// with a message.
class Semaphore {
 public:
  class AcquireAwaiter;

  /// A semaphore with `value` permits. Throws std::invalid_argument if `value` < 0.
  explicit Semaphore(std::ptrdiff_t value = 1);
  ~Semaphore();
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// `co_await s.acquire()` takes a permit, waiting in FIFO order, and returns its guard. A
  /// cancellation point while it waits: CancelledError, and no permit is taken.
  AcquireAwaiter acquire() noexcept;
  /// Takes a permit if one is free; never suspends. Any thread.
  bool try_acquire() noexcept;
  /// Returns a permit: to the first waiter, else to the pool. Any thread. A
  /// BoundedSemaphore throws std::logic_error if that would exceed its initial value.
  void release();
  /// True if acquire() would wait (no free permit). Any thread; a snapshot.
  bool locked() const noexcept { return value() == 0; }
  /// The number of free permits. Any thread; a snapshot.
  std::ptrdiff_t value() const noexcept { return value_.load(std::memory_order_relaxed); }
  /// Counts the waits for it from now on (weft/runtime/wait_stats.hpp; each wait then costs two
  /// clock reads, an acquisition that does not wait nothing). Any thread.
  void track_waits();
  /// The waits counted since track_waits(); all zero (`tracked` false) before it. Any
  /// thread; a snapshot.
  WaitStats wait_stats() const noexcept { return tracking_.snapshot(); }

 protected:
  /// `bound` < 0: unbounded.
  Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound, const char* what);

 private:
  friend class SemaphoreGuard;
  /// Returns a permit; over the bound it throws if `checked`, else drops the permit.
  void release_permit(bool checked);
  bool take_free() noexcept;

  std::atomic<std::ptrdiff_t> value_;
  std::ptrdiff_t bound_;
  const char* name_;
  // Apart from the state word and from the list it guards: tasks on other cores wait for
  // it (spin_lock.hpp).
  alignas(64) detail::SpinLock lock_;
  alignas(64) detail::WaiterList waiters_;  // guarded by lock_
  detail::WaitTracking tracking_;
};

/// A Semaphore that refuses to grow above its initial value (asyncio.BoundedSemaphore):
/// release() without a matching acquire throws std::logic_error. A guard never throws: if
/// its release would exceed the bound (the permit was also released by hand), it is dropped.
class BoundedSemaphore : public Semaphore {
 public:
  /// Throws std::invalid_argument if `value` < 0.
  explicit BoundedSemaphore(std::ptrdiff_t value = 1)
      : Semaphore(value, value, "weft::BoundedSemaphore") {}
};

/// The awaiter of Semaphore::acquire(). Movable until it is awaited.
class [[nodiscard]] Semaphore::AcquireAwaiter : detail::SyncWaiter {
 public:
  explicit AcquireAwaiter(Semaphore& s) noexcept : s_(&s) {}
  AcquireAwaiter(AcquireAwaiter&& o) noexcept : detail::SyncWaiter(), s_(o.s_) {}
  AcquireAwaiter& operator=(AcquireAwaiter&&) = delete;

  bool await_ready() noexcept;
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  SemaphoreGuard await_resume();

 private:
  Semaphore* s_;
  bool acquired_ = false;
};

inline Semaphore::AcquireAwaiter Semaphore::acquire() noexcept {
  return AcquireAwaiter(*this);
}

inline SemaphoreGuard& SemaphoreGuard::operator=(SemaphoreGuard&& o) noexcept {
  if (this != &o) {
    if (s_) s_->release_permit(/*checked=*/false);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

inline SemaphoreGuard::~SemaphoreGuard() {
  if (s_) s_->release_permit(/*checked=*/false);
}

}  // namespace weft
