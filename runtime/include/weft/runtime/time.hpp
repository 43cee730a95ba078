// Time: sleep, sleep_until, yield_now and the runtime's clock.
#pragma once

#include <chrono>
#include <cmath>
#include <coroutine>
#include <string>

#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/timer_entry.hpp"
#include "weft/runtime/errors.hpp"

namespace weft {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

/// The current runtime's time: the real steady clock, or the virtual clock of a runtime
/// built with ClockKind::Virtual. Outside a runtime, the steady clock.
TimePoint now() noexcept;

namespace detail {

/// Converts a user duration to the clock's duration; throws std::invalid_argument naming
/// `what` for a negative or NaN duration.
template <class Rep, class Period>
Duration checked_duration(std::chrono::duration<Rep, Period> d, const char* what) {
  if constexpr (std::is_floating_point_v<Rep>) {
    if (std::isnan(d.count())) throw std::invalid_argument(std::string(what) + ": duration is NaN");
  }
  if (d < d.zero()) throw std::invalid_argument(std::string(what) + ": negative duration");
  using Wide = std::chrono::duration<long double, Duration::period>;
  if (std::chrono::duration_cast<Wide>(d) >= Wide(Duration::max())) return Duration::max();
  return std::chrono::ceil<Duration>(d);
}

/// Saturating `now + d`.
TimePoint deadline_after(Duration d) noexcept;

/// The implementation of weft::SleepAwaiter: a claimable wait on a timer entry in this frame.
/// Movable until it is awaited (wait_for moves it into its frame); its timer entry is linked
/// by address once it waits.
class [[nodiscard]] SleepAwaiter : Waiter {
 public:
  explicit SleepAwaiter(TimePoint deadline) noexcept : deadline_(deadline) {}
  SleepAwaiter(SleepAwaiter&& o) noexcept : Waiter(), deadline_(o.deadline_) {}
  SleepAwaiter& operator=(SleepAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  void await_resume();

 private:
  static void cancel_wait(Waiter* w) noexcept;
  static void fire_wait(TimerEntry* e) noexcept;

  TimePoint deadline_;
  TaskHeader* task_ = nullptr;
  TimerEntry entry_;
  bool cancelled_ = false;
  bool yielded_ = false;
};

/// The implementation of weft::YieldAwaiter.
struct [[nodiscard]] YieldAwaiter {
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();
  TaskHeader* task = nullptr;
  bool cancelled = false;
};

}  // namespace detail

/// The awaiter of sleep() and sleep_until(): waits on a timer of the running task's worker.
/// Movable until it is awaited (wait_for moves it into its frame), not after: its timer entry
/// is linked by address. The implementation is detail::SleepAwaiter
/// (runtime/src/time/time.cpp).
class [[nodiscard]] SleepAwaiter : detail::SleepAwaiter {
  using Base = detail::SleepAwaiter;

 public:
  using Base::Base;
  SleepAwaiter(SleepAwaiter&&) noexcept = default;
  SleepAwaiter& operator=(SleepAwaiter&&) = delete;

  using Base::await_ready;
  using Base::await_resume;
  using Base::await_suspend;
};

/// The awaiter of yield_now(). The implementation is detail::YieldAwaiter
/// (runtime/src/time/time.cpp).
class [[nodiscard]] YieldAwaiter : detail::YieldAwaiter {
  using Base = detail::YieldAwaiter;

 public:
  using Base::await_ready;
  using Base::await_resume;
  using Base::await_suspend;
};

/// Suspends the task until `deadline` (asyncio.sleep's absolute form). A cancellation point.
inline SleepAwaiter sleep_until(TimePoint deadline) {
  return SleepAwaiter(deadline);
}

/// Suspends the task for `d` (asyncio.sleep). `sleep(0s)` yields. Throws
/// std::invalid_argument for a negative or NaN duration. A cancellation point.
template <class Rep, class Period>
SleepAwaiter sleep(std::chrono::duration<Rep, Period> d) {
  return SleepAwaiter(detail::deadline_after(detail::checked_duration(d, "weft::sleep")));
}

/// Lets the other runnable tasks run, then resumes (asyncio.sleep(0)). A cancellation point.
inline YieldAwaiter yield_now() noexcept {
  return {};
}

}  // namespace weft
