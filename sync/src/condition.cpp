// weft::Condition (condition.hpp): waiting, notifying, and the re-acquisition run hook.
#include "weft/sync/condition.hpp"

#include <mutex>
#include <source_location>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "weft/runtime/errors.hpp"
#include "weft/sync/detail/fatal.hpp"

namespace weft {

namespace {

/// Calls `aw.await_suspend(h, where)` as a `co_await` at `where` would and returns the
/// coroutine to resume next (noop when the task stays suspended), whatever form the
/// awaiter's await_suspend takes.
template <class Aw>
std::coroutine_handle<> suspend_on(Aw& aw, std::coroutine_handle<> h, std::source_location where) {
  using R = decltype(aw.await_suspend(h, where));
  if constexpr (std::is_void_v<R>) {
    aw.await_suspend(h, where);
    return std::noop_coroutine();
  } else if constexpr (std::is_same_v<R, bool>) {
    return aw.await_suspend(h, where) ? std::noop_coroutine() : h;
  } else {
    return aw.await_suspend(h, where);
  }
}

}  // namespace

void Condition::track_waits() {
  detail::WaitCounters* c = tracking_.make();
  std::lock_guard lk(lock_);
  waiters_.count_waits(c);
}

Condition::~Condition() {
  lock_.lock();
  std::size_t n = waiters_.size();
  lock_.unlock();
  if (n) detail::fatal_destroyed_with_waiters("weft::Condition", n, "to be notified");
}

void Condition::notify(std::size_t n) {
  notify_up_to(n, "weft::Condition::notify");
}

void Condition::notify_all() {
  notify_up_to(static_cast<std::size_t>(-1), "weft::Condition::notify_all");
}

void Condition::notify_up_to(std::size_t n, const char* what) {
  if (!m_->locked()) {
    throw UsageError(std::string(what) + ": the mutex is not locked; notify while holding it");
  }
  detail::WakeList woken;
  {
    std::lock_guard lk(lock_);
    for (; n > 0; --n) {
      detail::SyncWaiter* w = waiters_.claim_front();
      if (!w) break;
      woken.push(w);
    }
  }
  woken.wake_all();  // each task's run hook re-acquires the mutex before it resumes
}

bool Condition::WaitAwaiter::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  detail::TaskHeader* t = &detail::require_task("weft::Condition::wait");
  if (!t->can_open_scope()) {
    throw std::length_error(
        "weft::Condition::wait: too many nested timeout/task-group/shield scopes to shield the "
        "re-acquisition of the mutex");
  }
  Mutex* m = m_;
  Mutex* held = g_->release();
  if (held != m) {
    if (held) *g_ = MutexGuard(*held, std::adopt_lock);
    throw UsageError("weft::Condition::wait: the guard does not hold the condition's mutex");
  }
  // The default on_cancel (unlink, mark cancelled, schedule) is right: the run hook then
  // re-acquires the mutex before the coroutine sees the cancellation.
  init(t, &c_->lock_, &c_->waiters_);
  on_run = &WaitAwaiter::relock;
  where_ = where;  // for relock()
  {
    std::lock_guard lk(c_->lock_);
    t->set_run_hook(this);  // published to the claimer by begin_wait's release
    if (!publish(h, {"condition wait", where})) {
      t->clear_run_hook();
      cancelled = true;  // never released: await_resume gives the mutex back to the guard
      return false;
    }
  }
  // Linked: a notify, which must hold the mutex, sees this node from now on. Unlock through
  // a guard (never throws) and touch nothing of the frame: the task may already be woken.
  { MutexGuard unlock_now(*m, std::adopt_lock); }
  return true;
}

void Condition::WaitAwaiter::relock(detail::Waiter* w) noexcept {
  auto* self = static_cast<WaitAwaiter*>(w);
  detail::TaskHeader* t = self->task;
  t->clear_run_hook();
  std::coroutine_handle<> h = t->resume_point();
  // Runs as the task (its worker polls it): open a shield so that no cancellation ends the
  // lock wait; await_suspend checked that one more scope fits, so this cannot throw.
  self->shield_floor_ = t->push_shield();
  self->relocking_ = true;
  Mutex::LockAwaiter& aw = self->lock_.emplace(*self->m_);
  if (aw.await_ready()) {
    h.resume();
    return;
  }
  // The lock's wait reports the condition's co_await (kind "mutex lock").
  suspend_on(aw, h, self->where_).resume();  // h once locked; noop while the lock waits
}

void Condition::WaitAwaiter::await_resume() {
  if (relocking_) {
    task->pop_shield(shield_floor_);  // a cancellation that arrived meanwhile is pending again
    *g_ = lock_->await_resume();
  } else {
    *g_ = MutexGuard(*m_, std::adopt_lock);
  }
  if (cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
}

}  // namespace weft
