// weft::Event (event.hpp).
#include "weft/sync/event.hpp"

#include <mutex>

#include "weft/runtime/errors.hpp"
#include "weft/sync/detail/fatal.hpp"

namespace weft {

void Event::track_waits() {
  detail::WaitCounters* c = tracking_.make();
  std::lock_guard lk(lock_);
  waiters_.count_waits(c);
}

Event::~Event() {
  lock_.lock();
  std::size_t n = waiters_.size();
  lock_.unlock();
  if (n) detail::fatal_destroyed_with_waiters("weft::Event", n, "for it to be set");
}

void Event::set() noexcept {
  detail::WakeList woken;
  {
    std::lock_guard lk(lock_);
    // Release: what the setter wrote before set() is visible to a waiter that sees the flag.
    set_.store(true, std::memory_order_release);
    while (detail::SyncWaiter* w = waiters_.claim_front()) woken.push(w);
  }
  woken.wake_all();
}

bool Event::WaitAwaiter::await_ready() noexcept {
  if (!e_->is_set()) return false;
  ready_ = true;
  return detail::budget_spend();  // spent: await_suspend yields
}

bool Event::WaitAwaiter::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  detail::TaskHeader* t = &detail::require_task("weft::Event::wait");
  if (ready_) {  // out of budget: let the others run first
    t->set_resume_point(h);
    detail::schedule_yield(t);
    return true;
  }
  init(t, &e_->lock_, &e_->waiters_);
  std::lock_guard lk(e_->lock_);
  if (e_->set_.load(std::memory_order_acquire)) return false;
  if (!publish(h, {"event wait", where})) {
    cancelled = true;
    return false;
  }
  return true;  // published: the frame is not touched again
}

void Event::WaitAwaiter::await_resume() {
  if (cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
}

}  // namespace weft
