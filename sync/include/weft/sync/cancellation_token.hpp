// weft::CancellationToken: a signal that tells a group of tasks to stop, and the tree of
// tokens a server builds from it (Tokio's CancellationToken; asyncio code passes an Event).
// A server hands one to its handlers as the drain signal: on shutdown it cancels the token,
// the handlers see it and wrap up before the grace deadline, and whatever is still running
// at the deadline is cancelled as a task. Cancelling a token cancels no task by itself:
// tasks see it by asking (`is_cancelled`), by waiting (`co_await token.cancelled()`), or by
// running work under it (`token.run_until_cancelled(work)`).
//
// ## The tree (sync/src/cancellation_token.cpp)
// A token is a counted reference to a node; copies share it. `child_token()` makes a node
// linked under its parent: cancelling a node cancels its whole subtree, cancelling a child
// leaves its parent alone. All nodes of one tree share one lock (the family lock) that guards
// the structure and the cancelled flags' transitions; each node's own lock guards the tasks
// waiting in `cancelled()` and the open `run_until_cancelled` scopes. Lock order: family,
// then node.
//  - cancel() walks the subtree under the family lock without recursion (a chain of any
//    depth) and unlinks every node in it: a cancelled node has no parent and no children,
//    since nothing more can reach it. Then, descendants before ancestors (so a token seen
//    cancelled has every token derived from it cancelled), it sets each node's flag under
//    its node lock, claims its waiters and takes its scopes. After unlocking it wakes the
//    waiters and fires the scopes. So a waiter that links under the node lock before the
//    flag is set is woken, and one that comes after sees the flag (DESIGN invariant 1: the
//    wake and a cancellation of the waiting task race to claim the wait; only the winner
//    resumes it).
//  - child_token() links the new node under the family lock unless the parent is cancelled,
//    in which case the child starts cancelled. So a child made before the walk is reached by
//    it, and one made after is cancelled at once.
//  - A node whose last reference goes (token copies, tasks waiting in cancelled() and open
//    run_until_cancelled scopes all hold one) leaves the tree under the family lock: it
//    unlinks from its parent and hands its children to that parent. A long-lived parent
//    therefore links only the children that still exist, and re-deriving a token in a loop
//    (`t = t.child_token()`) keeps one node per live token, not one per step.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <source_location>
#include <type_traits>
#include <utility>

#include "weft/runtime/cancel.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/task.hpp"
#include "weft/sync/detail/waiter_list.hpp"

namespace weft {

class CancellationToken;

namespace detail {
struct CancelNode;
class TokenScope;

/// The number of tokens linked directly under `t` now: those derived from it that still
/// exist and are not cancelled (the tree never keeps more). For tests and debugging.
std::size_t linked_children(const CancellationToken& t) noexcept;
}  // namespace detail

/// The type of `co_await token.run_until_cancelled(aw)`: std::optional of what `co_await aw`
/// gives (std::nullopt: the token ended the work), or for work that returns nothing, a bool
/// (true: it finished). Work that returns a reference is refused by a static_assert.
template <class Aw>
struct until_cancelled_result {
  using R = scope_result_t<Aw>;
  static_assert(!std::is_reference_v<R>,
                "weft::CancellationToken::run_until_cancelled: the body returns a reference; "
                "return a value or a pointer instead");
  using type = std::conditional_t<std::is_void_v<R>, bool, std::optional<R>>;
};
/// until_cancelled_result<Aw>::type.
template <class Aw>
using until_cancelled_t = typename until_cancelled_result<Aw>::type;

/// A cancellation signal shared by copies (cheap: a reference count), with child tokens that
/// are cancelled with their parent. Every operation may be called from any thread, also
/// outside a runtime, except the awaits, which need a weft task.
class CancellationToken {
 public:
  class CancelledAwaiter;
  class DropGuard;

  /// A new token, not cancelled, with no parent. Throws std::bad_alloc.
  CancellationToken();
  /// Another reference to the same token: cancelling either cancels both. There is no move:
  /// moving copies, so a moved-from token is still the same valid token.
  CancellationToken(const CancellationToken& other) noexcept;
  CancellationToken& operator=(const CancellationToken& other) noexcept;
  ~CancellationToken();

  /// Cancels this token and every token derived from it (child_token), wakes the tasks
  /// waiting in cancelled() and ends the run_until_cancelled scopes open on them. Idempotent;
  /// any thread, also outside a runtime; never throws.
  void cancel() noexcept;
  /// True once this token, or one it was derived from, has been cancelled; then every token
  /// derived from it is cancelled too. What the thread that cancelled wrote before cancel()
  /// is visible to one that sees true. Any thread.
  bool is_cancelled() const noexcept;
  /// `co_await token.cancelled()` returns once the token is cancelled (at once if it is). A
  /// cancellation point while it waits: a cancelled task stops waiting with CancelledError.
  /// Throws UsageError when awaited outside a weft task.
  CancelledAwaiter cancelled() const noexcept;
  /// A new token cancelled when this one is (at once if it already is); cancelling it does
  /// not cancel this one. Any thread. Throws std::bad_alloc.
  CancellationToken child_token() const;
  /// `co_await token.run_until_cancelled(work)` awaits `work` (a Task, or any weft
  /// awaitable; held as weft::wait_for holds it) in the calling task, and ends it if the
  /// token is cancelled first: the work's current await raises CancelledError, the work is
  /// awaited to its end, and the result is std::nullopt (false for work that returns
  /// nothing). If the token is already cancelled, the work is never started. Work that
  /// finishes anyway (it had no await left, or it caught the CancelledError) keeps its
  /// value, as a timeout scope does. A cancellation of the calling task itself passes
  /// through as CancelledError. Must be awaited in a weft task.
  template <class Aw>
  Task<until_cancelled_t<Aw>> run_until_cancelled(Aw&& work) const;
  /// A guard that cancels this token when it is destroyed, unless disarmed (Tokio's
  /// DropGuard): scope-bound cancellation of whatever was handed the token.
  DropGuard drop_guard() const noexcept;

  /// True if both refer to the same token.
  friend bool operator==(const CancellationToken& a, const CancellationToken& b) noexcept {
    return a.node_ == b.node_;
  }

 private:
  friend class detail::TokenScope;
  friend std::size_t detail::linked_children(const CancellationToken& t) noexcept;
  explicit CancellationToken(detail::CancelNode* node) noexcept : node_(node) {}

  detail::CancelNode* node_;
};

/// The awaiter of CancellationToken::cancelled(). Holds a reference to the token, so the
/// token object it came from may go away meanwhile. Movable until it is awaited.
class [[nodiscard]] CancellationToken::CancelledAwaiter : detail::SyncWaiter {
 public:
  explicit CancelledAwaiter(const CancellationToken& t) noexcept : token_(t) {}
  CancelledAwaiter(CancelledAwaiter&& o) noexcept : detail::SyncWaiter(), token_(o.token_) {}
  CancelledAwaiter& operator=(CancelledAwaiter&&) = delete;

  bool await_ready() noexcept;
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  void await_resume();

 private:
  CancellationToken token_;
  bool ready_ = false;
};

/// Cancels its token when destroyed, unless disarm() was called. Movable, not copyable.
class [[nodiscard]] CancellationToken::DropGuard {
 public:
  explicit DropGuard(const CancellationToken& t) noexcept : token_(t) {}
  DropGuard(DropGuard&& o) noexcept : token_(o.token_), armed_(std::exchange(o.armed_, false)) {}
  DropGuard& operator=(DropGuard&&) = delete;
  ~DropGuard() {
    if (armed_) token_.cancel();
  }
  /// The guard will not cancel; returns its token.
  CancellationToken disarm() noexcept {
    armed_ = false;
    return token_;
  }

 private:
  CancellationToken token_;
  bool armed_ = true;
};

inline CancellationToken::CancelledAwaiter CancellationToken::cancelled() const noexcept {
  return CancelledAwaiter(*this);
}

inline CancellationToken::DropGuard CancellationToken::drop_guard() const noexcept {
  return DropGuard(*this);
}

namespace detail {

/// A cancel scope of the running task that the token's cancellation ends, as a deadline ends
/// a timeout scope (cancel.hpp): the scope registers on the token's node, and cancel() fires
/// it (requests cancellation of the task at the scope's depth) after releasing the locks.
/// Not movable: the node links it by address.
class TokenScope {
 public:
  /// Opens the scope; if the token is cancelled already, the body's first await is
  /// cancelled. Throws std::length_error when the task's scopes are nested too deep.
  TokenScope(TaskHeader& task, const CancellationToken& token);
  ~TokenScope() { close(); }
  TokenScope(const TokenScope&) = delete;
  TokenScope& operator=(const TokenScope&) = delete;

  /// Unregisters from the token (waiting for a fire in progress to end) and leaves the
  /// scope. True if the CancelledError being handled came from this scope's token (and no
  /// outer scope): the body was ended by the token.
  bool close() noexcept;

 private:
  friend struct CancelNode;
  enum : std::uint8_t { kIdle, kLinked, kFiring, kFired };

  /// Called by cancel() for a scope it took off the node (state kFiring).
  void fire() noexcept;

  TaskHeader& task_;
  unsigned depth_;
  // The outer scopes whose cancellation had been delivered when this one opened.
  std::uint64_t outside_at_open_;
  CancellationToken token_;     // keeps the node alive while the scope is linked in it
  TokenScope* prev_ = nullptr;  // the node's scope list, guarded by the node's lock
  TokenScope* next_ = nullptr;
  TokenScope* fire_next_ = nullptr;         // cancel()'s private list of scopes to fire
  std::atomic<std::uint8_t> state_{kIdle};  // kLinked and kFiring under the node's lock
  bool closed_ = false;
};

template <class Aw>
Task<until_cancelled_t<Aw>> run_until_token(CancellationToken token, scope_held_t<Aw> work) {
  using R = scope_result_t<Aw>;
  using Result = until_cancelled_t<Aw>;
  TaskHeader& task = require_task("weft::CancellationToken::run_until_cancelled");
  if (token.is_cancelled()) co_return Result{};
  TokenScope scope(task, token);
  try {
    if constexpr (std::is_void_v<R>) {
      co_await static_cast<Aw&&>(work);
      scope.close();
      co_return true;
    } else {
      decltype(auto) v = co_await static_cast<Aw&&>(work);
      scope.close();
      co_return Result(std::in_place, static_cast<R&&>(v));
    }
  } catch (const CancelledError&) {
    if (!scope.close()) throw;
  }
  co_return Result{};
}

}  // namespace detail

template <class Aw>
Task<until_cancelled_t<Aw>> CancellationToken::run_until_cancelled(Aw&& work) const {
  if constexpr (detail::scope_accepts<Aw>()) {
    return detail::run_until_token<Aw>(*this, std::forward<Aw>(work));
  } else {
    return {};
  }
}

}  // namespace weft
