// Timeout scopes (cancel.hpp).
#include "weft/runtime/cancel.hpp"

#include "scheduler/scheduler.hpp"

namespace weft::detail {

TimeoutScope::TimeoutScope(TaskHeader& task, TimePoint deadline)
    : task_(task), depth_(task.push_scope()) {
  if (deadline == TimePoint::max()) return;
  entry_.fire = &TimeoutScope::fire;
  entry_.context = this;
  if (arm_timer(entry_, deadline_tick(deadline))) {
    armed_ = true;
  } else {
    expired_ = true;  // already due: the body's first await is cancelled
    task_.request_cancel(depth_);
  }
}

bool TimeoutScope::close() noexcept {
  if (closed_) return false;
  closed_ = true;
  bool fired = expired_ || (armed_ && !timer_cancel(entry_));
  bool mine = fired && task_.delivered_only_from(depth_);
  task_.pop_scope(depth_);
  return mine;
}

void TimeoutScope::fire(TimerEntry* e) noexcept {
  auto* self = static_cast<TimeoutScope*>(e->context);
  self->task_.request_cancel(self->depth_);
  // Release: last touch; close() may return (and the scope vanish) once it sees kFired.
  e->state.store(TimerEntry::kFired, std::memory_order_release);
}

}  // namespace weft::detail
