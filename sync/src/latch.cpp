// weft::Latch (latch.hpp).
#include "weft/sync/latch.hpp"

#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "weft/runtime/errors.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/sync/detail/fatal.hpp"

namespace weft {

namespace {

constexpr std::uint64_t kMaxCount = std::numeric_limits<std::uint64_t>::max() >> 1;

void check_non_negative(std::ptrdiff_t n, const char* what) {
  if (n < 0) {
    throw std::invalid_argument(std::string(what) + ": n must not be negative, got " +
                                std::to_string(n));
  }
}

}  // namespace

Latch::Latch(std::ptrdiff_t count) : state_(0) {
  if (count < 0) {
    throw std::invalid_argument("weft::Latch: initial count " + std::to_string(count) +
                                " is negative");
  }
  // Relaxed: nobody else sees the latch before it is constructed.
  state_.store(static_cast<std::uint64_t>(count) << 1, std::memory_order_relaxed);
}

Latch::~Latch() {
  lock_.lock();
  std::size_t n = waiters_.size();
  lock_.unlock();
  if (n) detail::fatal_destroyed_with_waiters("weft::Latch", n, "for the count to reach zero");
}

void Latch::count_down(std::ptrdiff_t n) {
  check_non_negative(n, "weft::Latch::count_down");
  const auto d = static_cast<std::uint64_t>(n);
  std::uint64_t s = state_.load(std::memory_order_relaxed);  // the CAS below checks it
  std::uint64_t next;
  do {
    std::uint64_t c = s >> 1;
    if (d > c) {
      throw std::logic_error("weft::Latch::count_down: counting down " + std::to_string(n) +
                             " from " + std::to_string(c) + " would go below zero");
    }
    next = ((c - d) << 1) | (s & kReleased);
    if (c != 0 && c == d) next |= kReleased;
    // Release: what the caller wrote before counting down is visible to whoever sees zero
    // (count()'s acquire, or the lock and the wake below).
  } while (
      !state_.compare_exchange_weak(s, next, std::memory_order_release, std::memory_order_relaxed));
  if ((next >> 1) != 0 || d == 0) return;
  detail::WakeList woken;
  {
    std::lock_guard lk(lock_);
    while (detail::SyncWaiter* w = waiters_.claim_front()) woken.push(w);
  }
  woken.wake_all();
}

void Latch::add(std::ptrdiff_t n) {
  check_non_negative(n, "weft::Latch::add");
  const auto d = static_cast<std::uint64_t>(n);
  std::uint64_t s = state_.load(std::memory_order_relaxed);  // the CAS below checks it
  std::uint64_t next;
  do {
    if (s & kReleased) {
      throw std::logic_error(
          "weft::Latch::add: the latch was already counted down to zero and released its "
          "waiters; a Latch is single-use");
    }
    if (d > kMaxCount - (s >> 1)) {
      throw std::logic_error("weft::Latch::add: the count would overflow");
    }
    next = s + (d << 1);
    // Relaxed: raising the count publishes nothing; waiters only act on reaching zero.
  } while (
      !state_.compare_exchange_weak(s, next, std::memory_order_relaxed, std::memory_order_relaxed));
}

void Latch::blocking_wait() {
  if (in_runtime()) throw UsageError("weft::Latch::blocking_wait called on a worker thread");
  if (try_wait()) return;
  detail::BlockingSignal signal;
  detail::SyncWaiter node;
  {
    std::lock_guard lk(lock_);
    if (try_wait()) return;  // zero is stored before the waker takes lock_: not missed
    node.init_blocking(&signal, &lock_, &waiters_);
    waiters_.push_back(&node);
  }
  signal.wait();
}

bool Latch::WaitAwaiter::await_ready() noexcept {
  if (!l_->try_wait()) return false;
  ready_ = true;
  return detail::budget_spend();  // spent: await_suspend yields
}

bool Latch::WaitAwaiter::await_suspend(std::coroutine_handle<> h, std::source_location where) {
  detail::TaskHeader* t = &detail::require_task("weft::Latch::wait");
  if (ready_) {  // out of budget: let the others run first
    t->set_resume_point(h);
    detail::schedule_yield(t);
    return true;
  }
  init(t, &l_->lock_, &l_->waiters_);
  std::lock_guard lk(l_->lock_);
  if (l_->try_wait()) return false;
  if (!publish(h, {"latch wait", where})) {
    cancelled = true;
    return false;
  }
  return true;  // published: the frame is not touched again
}

void Latch::WaitAwaiter::await_resume() {
  if (cancelled) {
    task->take_cancel();
    throw CancelledError();
  }
}

}  // namespace weft
