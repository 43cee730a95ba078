// weft::Barrier (barrier.hpp).
#include "weft/sync/barrier.hpp"

#include <mutex>

#include "weft/runtime/errors.hpp"
#include "weft/sync/detail/fatal.hpp"

namespace weft {

Barrier::Barrier(std::ptrdiff_t parties) : parties_(parties) {
  if (parties < 1) {
    throw std::invalid_argument("weft::Barrier: parties must be at least 1, got " +
                                std::to_string(parties));
  }
}

Barrier::~Barrier() {
  lock_.lock();
  std::size_t n = waiters_.size();
  lock_.unlock();
  if (n) detail::fatal_destroyed_with_waiters("weft::Barrier", n, "for the round to complete");
}

std::ptrdiff_t Barrier::n_waiting() const noexcept {
  std::lock_guard lk(lock_);
  return count_;
}

bool Barrier::broken() const noexcept {
  std::lock_guard lk(lock_);
  return broken_;
}

void Barrier::break_waiters(detail::WakeList& woken) noexcept {
  while (detail::SyncWaiter* w = waiters_.claim_front()) {
    static_cast<WaitAwaiter*>(w)->broken_ = true;
    woken.push(w);
  }
  count_ = 0;
}

void Barrier::abort() noexcept {
  detail::WakeList woken;
  std::lock_guard lk(lock_);  // released before `woken` wakes (reverse order of destruction)
  broken_ = true;
  break_waiters(woken);
}

void Barrier::reset() noexcept {
  detail::WakeList woken;
  std::lock_guard lk(lock_);
  break_waiters(woken);
  broken_ = false;
}

bool Barrier::WaitAwaiter::trip(detail::WakeList& woken) noexcept {
  // Claim every linked node, in arrival order, into a private chain.
  detail::SyncWaiter* head = nullptr;
  detail::SyncWaiter** tail = &head;
  std::ptrdiff_t claimed = 0;
  while (detail::SyncWaiter* w = b_->waiters_.claim_front()) {
    w->wake_next = nullptr;
    *tail = w;
    tail = &w->wake_next;
    ++claimed;
  }
  b_->count_ = 0;
  if (claimed + 1 == b_->parties_) {
    std::ptrdiff_t i = 0;
    for (detail::SyncWaiter* w = head; w;) {
      detail::SyncWaiter* next = w->wake_next;  // push() overwrites it
      static_cast<WaitAwaiter*>(w)->index_ = i++;
      woken.push(w);
      w = next;
    }
    index_ = claimed;  // parties - 1: the arrival that tripped it
    return true;
  }
  // Cancellations took some waiters: the round is not complete. Put the claimed waiters back
  // in their order; we own their waits (we won the claims), so we publish them again.
  for (detail::SyncWaiter* w = head; w;) {
    detail::SyncWaiter* next = w->wake_next;
    detail::TaskHeader* t = w->task;
    detail::WaitSite site{"barrier wait", static_cast<WaitAwaiter*>(w)->where_};
    if (t->begin_wait(w, t->resume_point(), /*forwarding=*/false, site) ==
        detail::WaitResult::kCancelled) {
      w->cancelled = true;  // cancelled since our claim: it leaves with CancelledError
      woken.push(w);
    } else {
      b_->waiters_.push_back(w);
      ++b_->count_;
    }
    w = next;
  }
  return false;
}

bool Barrier::WaitAwaiter::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  detail::TaskHeader* t = &detail::require_task("weft::Barrier::wait");
  where_ = where;
  init(t, &b_->lock_, &b_->waiters_);
  on_cancel = &WaitAwaiter::cancel_wait;
  detail::WakeList woken;  // destroyed after the lock guard: wakes after unlocking
  {
    std::lock_guard lk(b_->lock_);
    if (b_->broken_) {
      broken_ = true;
      return false;
    }
    if (b_->count_ + 1 < b_->parties_ || !trip(woken)) {
      if (!publish(h, {"barrier wait", where})) {
        cancelled = true;
        return false;
      }
      ++b_->count_;
      return true;  // published: the frame is not touched again
    }
  }
  woken.wake_all();
  if (detail::budget_spend()) return false;
  t->set_resume_point(h);  // out of budget: let the others run first
  detail::schedule_yield(t);
  return true;
}

void Barrier::WaitAwaiter::cancel_wait(detail::Waiter* w) noexcept {
  auto* self = static_cast<WaitAwaiter*>(w);
  Barrier* b = self->b_;
  b->lock_.lock();
  if (self->linked) {  // a trip may have unlinked it already (it then did not count it)
    b->waiters_.remove(self);
    --b->count_;
  }
  b->lock_.unlock();
  self->cancelled = true;
  detail::schedule(self->task);
}

std::ptrdiff_t Barrier::WaitAwaiter::await_resume() {
  if (cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
  if (broken_) {
    throw BrokenBarrierError(
        "weft::Barrier::wait: the barrier is broken (aborted, or reset while this task waited)");
  }
  return index_;
}

}  // namespace weft
