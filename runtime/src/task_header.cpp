// The cancellation side of the wait protocol (detail/task_header.hpp) and task lifetime.
#include <stdexcept>
#include <string>

#include "scheduler/scheduler.hpp"
#include "weft/runtime/detail/task_header.hpp"

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

void TaskHeader::release() noexcept {
  // AcqRel: the last owner sees every other owner's writes before destroying the frame.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (error_ && !observed_.load(std::memory_order_relaxed) && !is_cancelled_error(error_)) {
    report_unobserved_error(this);
  }
  root_.destroy();
}

void TaskHeader::set_name(std::string_view name) {
  if (name.empty()) return;
  name_ = new char[name.size() + 1];
  name.copy(name_, name.size());
  name_[name.size()] = '\0';
}

}  // namespace weft::detail
