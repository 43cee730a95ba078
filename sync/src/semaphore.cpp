// weft::Semaphore and BoundedSemaphore (semaphore.hpp).
#include "weft/sync/semaphore.hpp"

#include <mutex>
#include <stdexcept>
#include <string>

#include "weft/runtime/errors.hpp"
#include "weft/sync/detail/fatal.hpp"

namespace weft {

Semaphore::Semaphore(std::ptrdiff_t value) : Semaphore(value, -1, "weft::Semaphore") {}

Semaphore::Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound, const char* what)
    : value_(value), bound_(bound), name_(what) {
  if (value < 0) {
    throw std::invalid_argument(std::string(what) + ": initial value " + std::to_string(value) +
                                " is negative");
  }
}

void Semaphore::track_waits() {
  detail::WaitCounters* c = tracking_.make();
  lock_.lock();
  waiters_.count_waits(c);
  lock_.unlock();
}

Semaphore::~Semaphore() {
  lock_.lock();
  std::size_t n = waiters_.size();
  lock_.unlock();
  if (n) detail::fatal_destroyed_with_waiters(name_, n, "to acquire a permit");
}

bool Semaphore::take_free() noexcept {
  std::ptrdiff_t v = value_.load(std::memory_order_relaxed);
  while (v > 0) {
    // Acquire: the releaser's writes happen-before the new holder's.
    if (value_.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

bool Semaphore::try_acquire() noexcept {
  return take_free();
}

void Semaphore::release() {
  release_permit(/*checked=*/true);
}

void Semaphore::release_permit(bool checked) {
  detail::SyncWaiter* next;
  {
    std::lock_guard lk(lock_);
    if (bound_ >= 0 && value_.load(std::memory_order_relaxed) >= bound_) {
      if (!checked) return;  // a guard's over-release: drop it (documented)
      throw std::logic_error(std::string(name_) +
                             "::release: released more times than acquired (value would exceed "
                             "its initial value " +
                             std::to_string(bound_) + ")");
    }
    next = waiters_.claim_front();
    // Release: the releaser's writes happen-before a later take_free's acquire.
    if (!next) value_.fetch_add(1, std::memory_order_release);
  }
  if (next) next->wake();  // the permit goes to `next` directly
}

void SemaphoreGuard::release() {
  if (!s_) throw UsageError("weft::SemaphoreGuard::release: the guard holds no permit");
  disarm()->release_permit(/*checked=*/false);
}

bool Semaphore::AcquireAwaiter::await_ready() noexcept {
  if (!s_->take_free()) return false;
  acquired_ = true;
  return detail::budget_spend();  // spent: await_suspend yields, holding the permit
}

bool Semaphore::AcquireAwaiter::await_suspend(std::coroutine_handle<> h,
                                              std::source_location where) {
  detail::TaskHeader* t = detail::current_task();
  if (!t) {
    if (acquired_) s_->release_permit(/*checked=*/false);
    acquired_ = false;
    detail::require_task("weft::Semaphore::acquire");  // throws UsageError
  }
  if (acquired_) {  // out of budget: let the others run first
    t->set_resume_point(h);
    detail::schedule_yield(t);
    return true;
  }
  init(t, &s_->lock_, &s_->waiters_);
  std::lock_guard lk(s_->lock_);
  if (s_->take_free()) return false;  // value_ grows only under lk: no release is missed
  if (!publish(h, {"semaphore acquire", where})) {
    cancelled = true;
    return false;
  }
  return true;  // published: the frame is not touched again
}

SemaphoreGuard Semaphore::AcquireAwaiter::await_resume() {
  if (cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
  return SemaphoreGuard(*s_);
}

}  // namespace weft
