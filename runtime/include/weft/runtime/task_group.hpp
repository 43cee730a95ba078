// TaskGroup (asyncio.TaskGroup, 3.11 semantics), as a structured scope:
//
//   co_await weft::task_group([&](weft::TaskGroup& tg) -> weft::Task<> {
//     tg.spawn(fetch("a"));
//     tg.spawn(fetch("b"));
//     co_return;
//   });
//
// task_group returns when the body and every child have finished. The first child to fail
// (with anything but CancelledError) cancels the other children and the body — the body
// runs inside a cancel scope of the parent task, so its current await ends with
// CancelledError — and once everything has finished, every error (in the order they
// happened) is raised together as an ExceptionGroup.
// Cancelling the parent cancels the children too and waits for them; then CancelledError.
// Children are notified through the header's group link, so their JoinHandles stay free to
// be awaited by the body.
#pragma once

#include <cstddef>
#include <exception>
#include <source_location>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/runtime/detail/closure_check.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/spin_lock.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/join_handle.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

class TaskGroup;

namespace detail {
template <class F>
Task<void> run_task_group(F body);
}

/// The handle a task_group body gets for spawning children. Thread-safe: children may
/// spawn into the group too, while the group is open.
class TaskGroup {
 public:
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  /// Spawns `task` as a child of the group; the handle may be dropped (the group waits for
  /// the child anyway). Throws UsageError once the group has closed, RuntimeClosed during
  /// shutdown.
  template <class T>
  JoinHandle<T> spawn(Task<T> task, std::string_view name = {},
                      std::source_location where = std::source_location::current()) {
    return adopt(detail::make_spawn_root(std::move(task), name, where, &link_));
  }

  /// Spawns a child that owns `f` and runs the Task `f()` returns (see weft::spawn(f)): a
  /// capturing lambda's captures live as long as the child. Throws as spawn(Task).
  template <TaskCallable F>
  JoinHandle<task_callable_value_t<F>> spawn(
      F&& f, std::string_view name = {},
      std::source_location where = std::source_location::current()) {
    return adopt(detail::make_spawn_root(std::forward<F>(f), name, where, &link_));
  }

  /// Cancels every child (the body goes on). Any thread.
  void cancel() noexcept;

  /// Number of children still running.
  std::size_t active() const noexcept;

 private:
  template <class F>
  friend Task<void> detail::run_task_group(F body);

  /// Adds a fresh root to the children and submits it; destroys it if either throws.
  template <class T>
  JoinHandle<T> adopt(detail::RootPromise<T>* p) {
    try {
      add_child(p);
    } catch (...) {
      detail::destroy_unsubmitted(p);
      throw;
    }
    try {
      detail::submit_spawn(p, parent_.scheduler());
    } catch (...) {
      remove_child(p);
      detail::destroy_unsubmitted(p);
      throw;
    }
    return detail::HandleAccess::make(p);
  }

  struct Link : detail::GroupLink {
    TaskGroup* owner;
  };
  class [[nodiscard]] JoinAwaiter : detail::Waiter {
   public:
    explicit JoinAwaiter(TaskGroup& g) noexcept;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current());
    void await_resume();

   private:
    TaskGroup& group_;
  };

  explicit TaskGroup(detail::TaskHeader& parent);
  ~TaskGroup();

  void add_child(detail::TaskHeader* t);
  void remove_child(detail::TaskHeader* t) noexcept;
  static void on_child_done(detail::GroupLink* link, detail::TaskHeader* child) noexcept;
  void fail(std::exception_ptr e) noexcept;  // records an error; the first cancels all
  void cancel_children_once() noexcept;      // cancels the children unless already done
  JoinAwaiter join() noexcept { return JoinAwaiter(*this); }
  std::vector<std::exception_ptr> take_errors();

  detail::TaskHeader& parent_;
  const unsigned depth_;
  Link link_;
  mutable detail::SpinLock lock_;
  std::vector<detail::TaskHeader*> children_;  // each holds a reference
  std::size_t active_ = 0;
  std::vector<std::exception_ptr> errors_;
  bool failing_ = false;
  bool children_cancelled_ = false;  // the group cancelled them once already (asyncio: once)
  bool joining_ = false;
  bool closed_ = false;  // set when the join ends: spawning then throws UsageError
};

namespace detail {

template <class F>
Task<void> run_task_group(F body) {
  TaskGroup tg(detail::require_task("weft::task_group"));
  std::exception_ptr body_error;
  try {
    co_await body(tg);
  } catch (...) {
    body_error = std::current_exception();
  }
  bool body_cancelled = body_error && detail::is_cancelled_error(body_error);
  if (body_error && !body_cancelled) tg.fail(body_error);
  if (body_cancelled) tg.cancel_children_once();  // the body used up the cancellation
  bool join_cancelled = false;
  try {
    co_await tg.join();
  } catch (const CancelledError&) {
    join_cancelled = true;
  }
  detail::hook(detail::HookPoint::kGroupJoined);
  std::vector<std::exception_ptr> errors = tg.take_errors();
  if (!errors.empty()) throw ExceptionGroup(std::move(errors));
  if (body_cancelled) std::rethrow_exception(body_error);
  if (join_cancelled) throw CancelledError();
}

}  // namespace detail

/// Runs `body(tg)` as a structured task group; see the file comment. `body` is a callable
/// taking TaskGroup& and returning Task<void>, moved or copied in. Throws ExceptionGroup, or
/// CancelledError. With GCC 12 an rvalue `body` must be trivially destructible (capture by
/// reference; see detail/closure_check.hpp).
template <class F>
Task<void> task_group(F&& body) {
  detail::check_survives_co_await<F>();
  return detail::run_task_group<std::decay_t<F>>(std::forward<F>(body));
}

}  // namespace weft
