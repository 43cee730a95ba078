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

/// Awaiter of sleep/sleep_until: a claimable wait on a timer entry in this frame. Movable
/// until it is awaited (wait_for moves it into its frame); its timer entry is linked by
/// address once it waits.
class [[nodiscard]] SleepAwaiter : Waiter {
 public:
  explicit SleepAwaiter(TimePoint deadline) noexcept : deadline_(deadline) {}
  SleepAwaiter(SleepAwaiter&& o) noexcept : Waiter(), deadline_(o.deadline_) {}
  SleepAwaiter& operator=(SleepAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
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

/// Awaiter of yield_now.
struct [[nodiscard]] YieldAwaiter {
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();
  TaskHeader* task = nullptr;
  bool cancelled = false;
};

}  // namespace detail

/// Suspends the task until `deadline` (asyncio.sleep's absolute form). A cancellation point.
inline detail::SleepAwaiter sleep_until(TimePoint deadline) {
  return detail::SleepAwaiter(deadline);
}

/// Suspends the task for `d` (asyncio.sleep). `sleep(0s)` yields. Throws
/// std::invalid_argument for a negative or NaN duration. A cancellation point.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> d) {
  return detail::SleepAwaiter(detail::deadline_after(detail::checked_duration(d, "weft::sleep")));
}

/// Lets the other runnable tasks run, then resumes (asyncio.sleep(0)). A cancellation point.
inline detail::YieldAwaiter yield_now() noexcept {
  return {};
}

}  // namespace weft
