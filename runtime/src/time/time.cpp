// sleep and yield_now (time.hpp).
#include "weft/runtime/time.hpp"

#include "scheduler/scheduler.hpp"

namespace weft::detail {

bool SleepAwaiter::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  task_ = &require_task("weft::sleep");
  if (deadline_ > now()) {
    on_cancel = &SleepAwaiter::cancel_wait;
    entry_.fire = &SleepAwaiter::fire_wait;
    entry_.context = this;
    switch (arm_wait_timer(entry_, deadline_tick(deadline_), task_, this, {"sleep", where}, h)) {
      case ArmResult::kSuspended:
        return true;
      case ArmResult::kCancelled:
        cancelled_ = true;
        return false;
      case ArmResult::kExpired:
        break;
    }
  }
  // Due already (or sleep(0)): a plain yield, still a cancellation point.
  yielded_ = true;
  if (task_->cancel_pending()) return false;
  task_->set_resume_point(h);
  schedule_yield(task_);
  return true;
}

void SleepAwaiter::await_resume() {
  if (cancelled_ || yielded_) {
    if (task_->take_cancel()) throw CancelledError();
  }
}

void SleepAwaiter::cancel_wait(Waiter* w) noexcept {
  auto* self = static_cast<SleepAwaiter*>(w);
  self->cancelled_ = true;
  timer_cancel(self->entry_);
  schedule(self->task_);
}

void SleepAwaiter::fire_wait(TimerEntry* e) noexcept {
  auto* self = static_cast<SleepAwaiter*>(e->context);
  TaskHeader* t = self->task_;
  bool won = t->try_claim();
  // Release: the last touch of the entry; a cancel spinning in timer_cancel may free it now.
  e->state.store(TimerEntry::kFired, std::memory_order_release);
  if (won) schedule(t);
}

bool YieldAwaiter::await_suspend(std::coroutine_handle<> h) {
  task = &require_task("weft::yield_now");
  if (task->cancel_pending()) return false;
  task->set_resume_point(h);
  schedule_yield(task);
  return true;
}

void YieldAwaiter::await_resume() {
  if (task->take_cancel()) throw CancelledError();
}

}  // namespace weft::detail
