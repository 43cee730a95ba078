// weft::Mutex's slow paths (mutex.hpp): waiting, waking, hand-off, and the destructor's check.
#include "weft/sync/mutex.hpp"

#include <chrono>

#include "weft/runtime/errors.hpp"
#include "weft/runtime/time.hpp"
#include "weft/sync/detail/fatal.hpp"

namespace weft {

namespace {

std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Mutex::track_waits() {
  detail::WaitCounters* c = tracking_.make();
  lock_.lock();
  waiters_.count_waits(c);
  lock_.unlock();
}

Mutex::~Mutex() {
  lock_.lock();
  std::size_t n = waiters_.size();
  lock_.unlock();
  if (n) detail::fatal_destroyed_with_waiters("weft::Mutex", n, "to lock it");
}

void Mutex::unlock() {
  if (!(state_.load(std::memory_order_relaxed) & kLocked)) {
    throw UsageError("weft::Mutex::unlock: the mutex is not locked");
  }
  unlock_held();
}

void Mutex::unlock_slow() noexcept {
  detail::SyncWaiter* next = nullptr;
  {
    std::lock_guard lk(lock_);
    // We hold kLocked and lock_: nobody else changes the word until we store it (the fast
    // paths only set kLocked when it is clear, and only the holder clears it).
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    if (s & kStarving) {
      next = waiters_.claim_front();
      if (next) {
        // Hand-off: kLocked stays set for `next` (its wake orders our writes before it).
        auto* n = static_cast<LockAwaiter*>(next);
        n->handed_ = true;
        const bool last = waiters_.empty();
        if (last) s &= ~kWaiters;
        if (last || steady_ns() - n->since_ns_ < kStarvationNs) s &= ~kStarving;
        state_.store(s, std::memory_order_relaxed);
      } else {
        // Release: our critical section happens-before the next owner's acquire.
        state_.store(s & ~(kLocked | kStarving | kWaiters), std::memory_order_release);
      }
    } else {
      s &= ~kLocked;
      if (!(s & kWoken)) {
        next = waiters_.claim_front();
        if (next) s |= kWoken;  // it will try again when it runs
      }
      if (waiters_.empty()) s &= ~kWaiters;
      // Release: our critical section happens-before the next owner's acquire.
      state_.store(s, std::memory_order_release);
    }
  }
  if (next) next->wake();
}

void MutexGuard::unlock() {
  if (!m_) throw UsageError("weft::MutexGuard::unlock: the guard holds no mutex");
  release()->unlock_held();
}

Task<void> Mutex::LockAwaiter::yield_then_lock(Mutex* m, std::source_location where) {
  co_await yield_now();
  (void)(co_await LockAwaiter(*m, where)).release();  // the outer awaiter adopts it
}

bool Mutex::LockAwaiter::lock_or_wait(std::coroutine_handle<> h, bool again) noexcept {
  std::uint32_t s = m_->state_.load(std::memory_order_relaxed);
  for (;;) {
    if (!(s & (kLocked | kStarving))) {
      // Acquire: the previous owner's critical section happens-before ours.
      if (m_->state_.compare_exchange_weak(s, (s | kLocked) & ~(again ? kWoken : 0),
                                           std::memory_order_acquire, std::memory_order_relaxed)) {
        return false;
      }
      continue;
    }
    std::uint32_t n = s | kWaiters;
    if (again) {
      n &= ~kWoken;  // the next unlock wakes someone again
      // Lost again after waiting long: hand the mutex over from now on.
      if ((s & kLocked) && steady_ns() - since_ns_ >= kStarvationNs) n |= kStarving;
    }
    // Relaxed: the flags are read under lock_; kLocked's holder orders its own writes.
    if (m_->state_.compare_exchange_weak(s, n, std::memory_order_relaxed,
                                         std::memory_order_relaxed)) {
      break;
    }
  }
  task->set_run_hook(this);
  const detail::WaitSite site{"mutex lock", where_};
  if (again ? publish_front(h, site) : publish(h, site)) return true;
  task->clear_run_hook();
  cancelled = true;  // kWaiters may be set with nobody linked: the next unlock just goes slow
  return false;
}

void Mutex::LockAwaiter::on_woken(detail::Waiter* w) noexcept {
  auto* self = static_cast<LockAwaiter*>(w);
  detail::TaskHeader* t = self->task;
  std::coroutine_handle<> h = t->resume_point();
  if (!self->cancelled && !self->handed_) {
    // Woken (not handed): take the mutex if it is free, else wait again at the front.
    std::lock_guard lk(self->m_->lock_);
    if (self->lock_or_wait(h, /*again=*/true)) return;  // published: the frame is not ours
  }
  t->clear_run_hook();
  h.resume();
}

std::coroutine_handle<> Mutex::LockAwaiter::await_suspend(std::coroutine_handle<> h,
                                                          std::source_location where) {
  detail::TaskHeader* t = &detail::require_task("weft::Mutex::lock");
  if (!fixed_where_) where_ = where;
  if (out_of_budget_) {
    // Runs in this task as an awaited Task would: yields, locks, then resumes `h`; its
    // outcome (locked, or CancelledError) is taken in await_resume. Its lock's wait reports
    // this co_await's location.
    relock_ = yield_then_lock(m_, where_);
    auto inner = std::move(relock_).operator co_await();
    (void)inner.await_ready();
    return inner.await_suspend(h);
  }
  init(t, &m_->lock_, &m_->waiters_);
  on_run = &LockAwaiter::on_woken;
  since_ns_ = steady_ns();
  std::lock_guard lk(m_->lock_);
  if (lock_or_wait(h, /*again=*/false)) return std::noop_coroutine();  // published
  return h;
}

MutexGuard Mutex::LockAwaiter::await_resume_slow() {
  if (out_of_budget_) std::move(relock_).operator co_await().await_resume();  // may throw
  if (cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
  return MutexGuard(*m_, std::adopt_lock);
}

}  // namespace weft
