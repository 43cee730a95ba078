// Cancelling a task: requests, cancel scopes, shields, and timeouts (the scopes a timer
// cancels).
//
// The rule (detail/task_header.hpp, "The wait word" and "Scopes"): a request only sets its
// scope's bit in the wait word, from any thread, and acts on the wait in the same CAS. A
// claimable wait is claimed by it (WAITING cleared), and the canceller then runs the
// waiter's on_cancel, which unlinks the waiter and resumes the task; a forwarding wait is
// held (FWD_LOCK) while the canceller passes the request on to what the task waits for;
// a wait held by someone else is left alone, its holder acts on the bit as it lets go.
// Scopes and shields are opened and closed by the task alone, so `depth_` and
// `delivered_` need no ordering of their own. A timeout is a scope whose request comes
// from a timer (TimeoutScope, cancel.hpp); it turns the CancelledError that crosses its
// boundary into TimeoutError only if the request was its own.
#include <stdexcept>
#include <string>

#include "weft/runtime/cancel.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/time.hpp"

namespace weft::detail {

void TaskHeader::request_cancel(unsigned depth) noexcept {
  const std::uint64_t bit = cancel_bit(depth);
  std::uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    std::uint64_t n = s | bit;
    enum { kNone, kClaim, kForward } act = kNone;
    // A held wait (FWD_LOCK) is left alone: its holder acts on the bit when it lets go.
    if ((s & kWaiting) && !(s & kFwdLock) && effective(n)) {
      if (!(s & kForwarding)) {
        n &= ~kWaiting;
        act = kClaim;
      } else {
        n |= kFwdLock;
        act = kForward;
      }
    }
    // AcqRel: a claim must see waiter_ (published by begin_wait's release).
    if (state_.compare_exchange_weak(s, n, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if (act == kClaim) {
        waiter_->on_cancel(waiter_);
      } else if (act == kForward) {
        waiter_->on_forward(waiter_);
        end_forward();
      }
      return;
    }
  }
}

unsigned TaskHeader::push_scope() {
  unsigned d = depth_ + 1;
  if (d > kMaxDepth) {
    throw std::length_error("weft: more than " + std::to_string(kMaxDepth) +
                            " nested timeout/task-group/shield scopes in one task");
  }
  depth_ = static_cast<std::uint8_t>(d);
  state_.fetch_and(~cancel_bit(d), std::memory_order_acq_rel);
  delivered_ &= ~(std::uint64_t{1} << d);
  return d;
}

unsigned TaskHeader::push_shield() {
  unsigned d = push_scope();
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t n = (s & ~kFloorMask) | (std::uint64_t{d} << kFloorShift);
    if (state_.compare_exchange_weak(s, n, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return static_cast<unsigned>((s & kFloorMask) >> kFloorShift);
    }
  }
}

void TaskHeader::pop_shield(unsigned saved_floor) noexcept {
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t n = (s & ~kFloorMask) | (std::uint64_t{saved_floor} << kFloorShift);
    if (state_.compare_exchange_weak(s, n, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      break;
    }
  }
  depth_ -= 1;
}

TimeoutScope::TimeoutScope(TaskHeader& task, TimePoint deadline)
    : task_(task), depth_(task.push_scope()), outside_at_open_(task.delivered_outside(depth_)) {
  if (deadline == TimePoint::max()) return;
  entry_.fire = &TimeoutScope::fire;
  entry_.context = this;
  // A deadline that has passed is expired now, not at the wheel's next tick: the clock reads
  // between ticks (and a worker's wheel may lag the virtual clock), and the body's first
  // await could otherwise finish before the timer fires.
  if (deadline > weft::now() && arm_timer(entry_, deadline_tick(deadline))) {
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
  bool mine = fired && task_.delivered_only_from(depth_, outside_at_open_);
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
