// Cancellation scopes: wait_for, timeout, timeout_at (asyncio.wait_for / asyncio.timeout)
// and shield.
//
// A timeout is a cancel scope of the running task (detail/task_header.hpp): entering it
// takes the next scope depth and arms a timer on the current worker's wheel; when the
// timer fires it requests cancellation at that depth, so the body's current await ends
// with CancelledError (and a task or gather it awaits is cancelled and waited for). At the
// scope's boundary a CancelledError that this scope caused becomes TimeoutError; one that
// came from further out stays CancelledError. The body runs in the same task — no spawn.
//
// shield(aw) runs `aw` with outer cancellation held back: a cancel that arrives meanwhile
// stays pending and is delivered at the task's next await after `aw` finished. (asyncio
// raises at once and leaves the shielded work running unobserved; weft keeps it
// structured and still gives you the result.)
#pragma once

#include <chrono>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/awaitable_traits.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/timer_entry.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft {

namespace detail {

/// A timeout scope of the running task. Not movable: its timer entry is linked by address.
class TimeoutScope {
 public:
  TimeoutScope(TaskHeader& task, TimePoint deadline);
  ~TimeoutScope() { close(); }
  TimeoutScope(const TimeoutScope&) = delete;
  TimeoutScope& operator=(const TimeoutScope&) = delete;

  /// Disarms the timer and leaves the scope. Returns true if the CancelledError being
  /// handled was caused by this scope's deadline (it should become TimeoutError).
  bool close() noexcept;

 private:
  static void fire(TimerEntry* e) noexcept;

  TaskHeader& task_;
  unsigned depth_;
  TimerEntry entry_;
  bool armed_ = false;
  bool expired_ = false;
  bool closed_ = false;
};

template <class Aw>
Task<await_result_t<Aw>> run_with_deadline(TimePoint deadline, Aw aw, const char* what) {
  TimeoutScope scope(require_task(what), deadline);
  bool mine = false;
  try {
    if constexpr (std::is_void_v<await_result_t<Aw>>) {
      co_await std::move(aw);
      scope.close();
      co_return;
    } else {
      decltype(auto) v = co_await std::move(aw);
      scope.close();
      co_return static_cast<await_result_t<Aw>&&>(v);  // moves: guards are move-only
    }
  } catch (const CancelledError&) {
    mine = scope.close();
    if (!mine) throw;
  }
  throw TimeoutError(std::string(what) + ": timed out");
}

template <class Aw>
Task<await_result_t<Aw>> run_shielded(Aw aw) {
  TaskHeader& task = require_task("weft::shield");
  struct Restore {
    TaskHeader& task;
    unsigned floor;
    ~Restore() { task.pop_shield(floor); }
  } restore{task, task.push_shield()};
  co_return co_await std::move(aw);
}

}  // namespace detail

/// Awaits `aw` for at most `d` (asyncio.wait_for): on expiry `aw` is cancelled (and waited
/// for, if it is a task) and TimeoutError is raised. Throws std::invalid_argument for a
/// negative or NaN duration.
template <class Aw, class Rep, class Period>
Task<detail::await_result_t<Aw>> wait_for(Aw aw, std::chrono::duration<Rep, Period> d) {
  Duration checked = detail::checked_duration(d, "weft::wait_for");
  return detail::run_with_deadline(detail::deadline_after(checked), std::move(aw),
                                   "weft::wait_for");
}

/// The scope form (asyncio.timeout): `co_await weft::timeout(5s, body())`.
template <class Rep, class Period, class Aw>
Task<detail::await_result_t<Aw>> timeout(std::chrono::duration<Rep, Period> d, Aw aw) {
  Duration checked = detail::checked_duration(d, "weft::timeout");
  return detail::run_with_deadline(detail::deadline_after(checked), std::move(aw), "weft::timeout");
}

/// Like timeout, with an absolute deadline on weft::now()'s clock (asyncio.timeout_at).
template <class Aw>
Task<detail::await_result_t<Aw>> timeout_at(TimePoint deadline, Aw aw) {
  return detail::run_with_deadline(deadline, std::move(aw), "weft::timeout_at");
}

/// Awaits `aw` with outer cancellation deferred until it finishes (asyncio.shield).
template <class Aw>
Task<detail::await_result_t<Aw>> shield(Aw aw) {
  return detail::run_shielded(std::move(aw));
}

}  // namespace weft
