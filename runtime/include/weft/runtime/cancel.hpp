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
// structured and still gives you the result.) So `wait_for(shield(x), t)` returns when `x`
// finishes, not at `t`, with x's value or exception: the deadline's request is dropped as
// the scope closes, since an outcome that arrived is never traded for TimeoutError.
//
// How a scope holds its awaitable (any of weft's: a Task, a JoinHandle, sleep, a lock, a
// queue's get, a socket's readable() ...): an rvalue is moved into the scope's coroutine
// frame, so the Task a scope returns may be awaited later than the full-expression that
// made it, and no temporary is referred to after it dies; an lvalue is awaited in place, by
// reference, as `co_await x` would, so it must outlive the await. An awaiter that cannot be
// moved is refused as an rvalue at compile time (name it, then pass the lvalue): holding a
// reference to a temporary would be right only if the scope were awaited in the same
// full-expression, which nothing could check. weft's own awaiters are movable until they
// are awaited, and moving one adds no allocation.
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

/// The type of `co_await` on a scope over `Aw` (wait_for, timeout, timeout_at, shield): what
/// `co_await aw` gives. Formed in the scopes' signatures, so a non-awaitable argument is
/// reported here, by a static_assert that says what to pass, before any error it would cause
/// elsewhere.
template <class Aw>
struct scope_result {
  static_assert(detail::awaitable<Aw>,
                "weft::wait_for/timeout/timeout_at/shield: the argument cannot be co_awaited "
                "(a weft::Task is awaited as an rvalue: pass f() or std::move(task))");
  using type = void;
};
template <class Aw>
requires detail::awaitable<Aw>
struct scope_result<Aw> {
  using type = detail::await_result_t<Aw>;
};
/// scope_result<Aw>::type.
template <class Aw>
using scope_result_t = typename scope_result<Aw>::type;

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
  // The outer scopes whose cancellation had been delivered when this one opened.
  std::uint64_t outside_at_open_;
  TimerEntry entry_;
  bool armed_ = false;
  bool expired_ = false;
  bool closed_ = false;
};

/// How a scope holds an `Aw&&` argument (see the file comment): an lvalue by reference,
/// an rvalue by value, moved into the frame.
template <class Aw>
using scope_held_t =
    std::conditional_t<std::is_lvalue_reference_v<Aw>, Aw, std::remove_cvref_t<Aw>>;

/// True if a scope takes `Aw&&` (an awaitable, see scope_result); otherwise a static_assert
/// says what to write instead. Called in a constant expression, so its message comes before
/// any other error.
template <class Aw>
constexpr bool scope_accepts() {
  constexpr bool movable =
      std::is_lvalue_reference_v<Aw> || std::is_move_constructible_v<std::remove_cvref_t<Aw>>;
  static_assert(movable,
                "weft::wait_for/timeout/timeout_at/shield: this awaiter cannot be moved into "
                "the scope's frame. Name it and pass the lvalue, which is awaited in place: "
                "auto aw = make(); co_await weft::wait_for(aw, d);");
  return awaitable<Aw> && movable;
}

template <class Aw>
Task<scope_result_t<Aw>> run_with_deadline(TimePoint deadline, scope_held_t<Aw> aw,
                                           const char* what) {
  using R = scope_result_t<Aw>;
  TimeoutScope scope(require_task(what), deadline);
  bool mine = false;
  try {
    if constexpr (std::is_void_v<R>) {
      co_await static_cast<Aw&&>(aw);
      scope.close();
      co_return;
    } else {
      decltype(auto) v = co_await static_cast<Aw&&>(aw);
      scope.close();
      co_return static_cast<R&&>(v);  // moves: guards are move-only
    }
  } catch (const CancelledError&) {
    mine = scope.close();
    if (!mine) throw;
  }
  throw TimeoutError(std::string(what) + ": timed out");
}

template <class Aw>
Task<scope_result_t<Aw>> run_shielded(scope_held_t<Aw> aw) {
  TaskHeader& task = require_task("weft::shield");
  struct Restore {
    TaskHeader& task;
    unsigned floor;
    ~Restore() { task.pop_shield(floor); }
  } restore{task, task.push_shield()};
  co_return co_await static_cast<Aw&&>(aw);
}

/// run_with_deadline, once scope_accepts has checked `Aw` (nothing else is compiled if not).
template <class Aw>
Task<scope_result_t<Aw>> deadline_scope(TimePoint deadline, Aw&& aw, const char* what) {
  if constexpr (scope_accepts<Aw>()) {
    return run_with_deadline<Aw>(deadline, std::forward<Aw>(aw), what);
  } else {
    return {};
  }
}

}  // namespace detail

/// Awaits `aw` for at most `d` (asyncio.wait_for): on expiry `aw` is cancelled (and waited
/// for, if it is a task) and TimeoutError is raised. Any awaitable: an rvalue is moved into
/// the returned Task, an lvalue is awaited in place (see the file comment). Throws
/// std::invalid_argument for a negative or NaN duration.
template <class Aw, class Rep, class Period>
Task<scope_result_t<Aw>> wait_for(Aw&& aw, std::chrono::duration<Rep, Period> d) {
  Duration checked = detail::checked_duration(d, "weft::wait_for");
  return detail::deadline_scope<Aw>(detail::deadline_after(checked), std::forward<Aw>(aw),
                                    "weft::wait_for");
}

/// The scope form (asyncio.timeout): `co_await weft::timeout(5s, body())`. Holds `aw` as
/// wait_for does.
template <class Rep, class Period, class Aw>
Task<scope_result_t<Aw>> timeout(std::chrono::duration<Rep, Period> d, Aw&& aw) {
  Duration checked = detail::checked_duration(d, "weft::timeout");
  return detail::deadline_scope<Aw>(detail::deadline_after(checked), std::forward<Aw>(aw),
                                    "weft::timeout");
}

/// Like timeout, with an absolute deadline on weft::now()'s clock (asyncio.timeout_at).
template <class Aw>
Task<scope_result_t<Aw>> timeout_at(TimePoint deadline, Aw&& aw) {
  return detail::deadline_scope<Aw>(deadline, std::forward<Aw>(aw), "weft::timeout_at");
}

/// Awaits `aw` with outer cancellation deferred until it finishes (asyncio.shield); its
/// value or exception is the result. Holds `aw` as wait_for does.
template <class Aw>
Task<scope_result_t<Aw>> shield(Aw&& aw) {
  if constexpr (detail::scope_accepts<Aw>()) {
    return detail::run_shielded<Aw>(std::forward<Aw>(aw));
  } else {
    return {};
  }
}

}  // namespace weft
