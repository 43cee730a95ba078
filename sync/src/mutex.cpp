// weft::Mutex's slow paths (mutex.hpp): waiting, hand-off, and the destructor's check.
#include "weft/sync/mutex.hpp"

#include "weft/runtime/errors.hpp"
#include "weft/sync/detail/fatal.hpp"

namespace weft {

Mutex::~Mutex() {
  lock_.lock();
  std::size_t n = waiters_.size();
  lock_.unlock();
  if (n) detail::fatal_destroyed_with_waiters("weft::Mutex", n, "to lock it");
}

void Mutex::unlock() {
  if (state_.load(std::memory_order_relaxed) == kUnlocked) {
    throw UsageError("weft::Mutex::unlock: the mutex is not locked");
  }
  unlock_held();
}

void Mutex::unlock_slow() noexcept {
  detail::SyncWaiter* next;
  {
    std::lock_guard lk(lock_);
    next = waiters_.claim_front();
    if (!next) {
      // Release: our critical section happens-before the next owner's acquire.
      state_.store(kUnlocked, std::memory_order_release);
      return;
    }
    // Ownership passes to `next`; the word stays locked (its wake orders our writes).
    state_.store(waiters_.empty() ? kLocked : kContended, std::memory_order_relaxed);
  }
  next->wake();
}

void MutexGuard::unlock() {
  if (!m_) throw UsageError("weft::MutexGuard::unlock: the guard holds no mutex");
  release()->unlock_held();
}

bool Mutex::LockAwaiter::await_ready() noexcept {
  if (!m_->try_lock()) return false;
  acquired_ = true;
  return detail::budget_spend();  // spent: await_suspend yields, holding the mutex
}

bool Mutex::LockAwaiter::await_suspend(std::coroutine_handle<> h) {
  detail::TaskHeader* t = detail::current_task();
  if (!t) {
    if (acquired_) m_->unlock_held();
    acquired_ = false;
    detail::require_task("weft::Mutex::lock");  // throws UsageError
  }
  if (acquired_) {  // out of budget: let the others run first
    t->resume_ = h;
    detail::schedule_yield(t);
    return true;
  }
  init(t, &m_->lock_, &m_->waiters_);
  std::lock_guard lk(m_->lock_);
  std::uint32_t s = m_->state_.load(std::memory_order_relaxed);
  for (;;) {
    if (s == kUnlocked) {
      // Acquire: the previous owner's critical section happens-before ours.
      if (m_->state_.compare_exchange_weak(s, kLocked, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
        acquired_ = true;
        return false;
      }
    } else if (s == kContended ||
               // Relaxed: the word is read and written under lock_ from here on.
               m_->state_.compare_exchange_weak(s, kContended, std::memory_order_relaxed,
                                                std::memory_order_relaxed)) {
      break;
    }
  }
  if (!publish(h)) {
    cancelled = true;  // kContended with nobody linked: the next unlock just goes slow
    return false;
  }
  return true;  // lk unlocks the mutex's SpinLock, not the frame: the node is published
}

MutexGuard Mutex::LockAwaiter::await_resume() {
  if (cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
  return MutexGuard(*m_, std::adopt_lock);
}

}  // namespace weft
