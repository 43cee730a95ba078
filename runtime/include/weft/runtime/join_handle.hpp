// spawn() and JoinHandle<T>: a task running on its own (asyncio.create_task / Task).
//
// spawn wraps the user's Task<T> in a root coroutine whose promise is the TaskHeader (see
// detail/task_header.hpp) plus the result. The root frame and the user's frame are the two
// allocations of a spawn, both from the frame allocator. The handle and the running task
// each hold a reference on the header; dropping the handle detaches the task.
//
// spawn(f) takes a callable returning a Task instead, and the root frame owns it: a lambda
// coroutine reaches its captures through the closure object, so `spawn([s]() -> Task<> {
// ... }())` leaves the task reading a closure that died with the spawning expression, while
// `spawn([s]() -> Task<> { ... })` keeps the closure in the root frame and calls it when the
// task starts. The callable is destroyed when the root's body ends, after the Task it
// returned. No frame is added: a spawn still allocates the root frame and the user's.
//
// Awaiting a handle is a *forwarding* wait: cancelling the awaiting task cancels the awaited
// one and goes on waiting until it has finished, then raises CancelledError (asyncio's
// behaviour: the awaited task is cancelled with its awaiter, and nothing runs behind the
// caller's back). If the awaited task has not started yet, the awaiting task runs it right
// away on its own worker (join inlining, detail/task_header.hpp): fork-join code runs
// depth-first, with hot caches and few live frames, as it would on a fork-join pool.
#pragma once

#include <atomic>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <optional>
#include <source_location>
#include <string_view>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/frame_allocator.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

template <class T>
class JoinHandle;

/// What a task says about itself: for logs, the unobserved-error handler and introspection.
struct TaskInfo {
  std::uint64_t id = 0;
  std::string_view name;       ///< empty if the task was not named
  std::source_location where;  ///< where it was spawned
};

/// The running task's id, name and spawn site. Throws UsageError outside a task.
TaskInfo current_task();

/// What spawn(f) accepts besides a Task: a callable that, after decay, is movable and
/// invocable as an rvalue with no arguments, returning a Task<T> by value.
template <class F>
concept TaskCallable =
    std::constructible_from<std::decay_t<F>, F> && std::move_constructible<std::decay_t<F>> &&
    std::invocable<std::decay_t<F>> && is_task_v<std::invoke_result_t<std::decay_t<F>>>;

/// The T of the Task<T> a TaskCallable returns: spawn(f) gives a JoinHandle<T>.
template <class F>
using task_callable_value_t = typename std::invoke_result_t<std::decay_t<F>>::value_type;

namespace detail {

/// Registers a fresh root with `sched` (nullptr: the current runtime) and queues it. Throws
/// RuntimeClosed or UsageError; the caller then destroys the root.
void submit_spawn(TaskHeader* t, Scheduler* sched);

template <class T>
class RootPromise;

struct HandleAccess;

template <class T>
struct RootTask {
  using promise_type = RootPromise<T>;
  std::coroutine_handle<promise_type> h;
};

template <class T>
class RootPromiseBase : public TaskHeader, public FrameAllocated {
 public:
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<>) noexcept {
      return self->complete();
    }
    void await_resume() const noexcept {}
    TaskHeader* self;
  };
  /// Delivers a cancellation that arrived before the task first ran: it never starts.
  struct StartCheck {
    TaskHeader* self;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const {
      if (self->take_cancel()) throw CancelledError("task cancelled before it started");
    }
  };

  RootTask<T> get_return_object() noexcept {
    auto h =
        std::coroutine_handle<RootPromise<T>>::from_promise(static_cast<RootPromise<T>&>(*this));
    set_root(h);
    return RootTask<T>{h};
  }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() noexcept { return FinalAwaiter{this}; }
  void unhandled_exception() noexcept { record_error(std::current_exception()); }
  struct StartTag {};
  StartCheck await_transform(StartTag) noexcept { return StartCheck{this}; }
  template <class A>
  A&& await_transform(A&& a) noexcept {
    return std::forward<A>(a);
  }
};

template <class T>
class RootPromise final : public RootPromiseBase<T> {
 public:
  template <class U>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(v));
  }
  T take() {
    this->rethrow_if_failed();
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class RootPromise<void> final : public RootPromiseBase<void> {
 public:
  void return_void() noexcept {}
  void take() { rethrow_if_failed(); }
};

template <class T>
RootTask<T> make_root(Task<T> task) {
  // A local, not the parameter, and taken before the start check: it dies when the body
  // ends, or when a cancellation before the start ends it at the check, so the user's frame
  // and the arguments it holds (a channel's sender, a socket, a guard) are freed at
  // completion, not when the last JoinHandle goes.
  Task<T> body = std::move(task);
  co_await typename RootPromiseBase<T>::StartTag{};
  if constexpr (std::is_void_v<T>) {
    co_await std::move(body);
  } else {
    co_return co_await std::move(body);
  }
}

/// Destroys the callable a root owns when the root's body ends, however it ends.
template <class F>
struct DestroyAtEnd {
  std::optional<F>& callable;
  ~DestroyAtEnd() { callable.reset(); }
};

template <class T, class F>
RootTask<T> make_root_calling(std::optional<F> callable) {
  // The callable stays in this frame while the Task it returns runs (a lambda coroutine's
  // frame points at it). The guard comes first, so it outlives `body` and destroys the
  // callable right after the user's frame, at completion or at a cancellation before the
  // start, and not when the last JoinHandle goes (as make_root frees the user's frame).
  DestroyAtEnd<F> destroy{callable};
  co_await typename RootPromiseBase<T>::StartTag{};
  Task<T> body = std::invoke(std::move(*callable));
  if constexpr (std::is_void_v<T>) {
    co_await std::move(body);
  } else {
    co_return co_await std::move(body);
  }
}

/// Names a fresh root and links it to `group`; destroys it if naming throws.
template <class T>
RootPromise<T>* adopt_root(RootTask<T> root, std::string_view name, std::source_location where,
                           GroupLink* group) {
  RootPromise<T>& p = root.h.promise();
  try {
    p.set_name(name);
  } catch (...) {
    root.h.destroy();
    throw;
  }
  p.set_where(where);
  p.set_group(group);
  return &p;
}

/// Creates the root for `task` (not yet submitted).
template <class T>
RootPromise<T>* make_spawn_root(Task<T>&& task, std::string_view name, std::source_location where,
                                GroupLink* group) {
  static_assert(!std::is_reference_v<T>, "a spawned task returns a value, not a reference");
  if (!task) throw UsageError("weft::spawn: the Task was already awaited or moved from");
  return adopt_root(make_root<T>(std::move(task)), name, where, group);
}

/// Creates the root that owns `f` (decay-copied: moved from an rvalue) and will call it
/// (not yet submitted).
template <TaskCallable F>
RootPromise<task_callable_value_t<F>>* make_spawn_root(F&& f, std::string_view name,
                                                       std::source_location where,
                                                       GroupLink* group) {
  using T = task_callable_value_t<F>;
  using D = std::decay_t<F>;
  static_assert(!std::is_reference_v<T>, "a spawned task returns a value, not a reference");
  return adopt_root(make_root_calling<T, D>(std::optional<D>(std::in_place, std::forward<F>(f))),
                    name, where, group);
}

/// Drops a root that was never submitted: its two references, the handle's and the run's.
/// A refused spawn was briefly in the live-task registry, where a shutdown may have taken a
/// third to cancel it; the last release destroys the frame.
inline void destroy_unsubmitted(TaskHeader* t) noexcept {
  t->release();
  t->release();
}

/// Submits a fresh root; drops it (destroy_unsubmitted) if the submission throws.
template <class T>
RootPromise<T>* submit_root(RootPromise<T>* p, Scheduler* sched) {
  try {
    submit_spawn(p, sched);
  } catch (...) {
    destroy_unsubmitted(p);
    throw;
  }
  return p;
}

}  // namespace detail

/// The awaiter of a JoinHandle (made by its co_await): a forwarding wait with the awaited
/// task as observer target.
template <class T>
class [[nodiscard]] JoinAwaiter : detail::Waiter, detail::Completion {
 public:
  bool await_ready() const {
    if (!child_) throw UsageError("weft::JoinHandle awaited after it was moved from");
    if (child_->result_taken()) {
      throw UsageError("weft::JoinHandle awaited twice: the result was already taken");
    }
    const detail::TaskHeader::ObserverState obs = child_->observer_state();
    if (obs == detail::TaskHeader::ObserverState::kAttached) {
      throw UsageError("weft::JoinHandle awaited while another task awaits it");
    }
    // Finished: done at once, unless the budget is spent (then await_suspend yields).
    return obs == detail::TaskHeader::ObserverState::kCompleted && detail::budget_spend();
  }

  std::coroutine_handle<> await_suspend(
      std::coroutine_handle<> h, std::source_location where = std::source_location::current()) {
    task_ = &detail::require_task("co_await JoinHandle");
    if (child_->completed()) return yield(h);  // finished, but our budget is spent
    // The budget bounds how long a fork-join tree runs inline before the worker looks at
    // its other tasks.
    inlined_ = child_->scheduler() == task_->scheduler() && child_->not_started() &&
               detail::budget_spend() && child_->claim_inline();
    const bool run_child = inlined_;
    const std::coroutine_handle<> child_root = child_->root();
    detail::WaitResult r =
        task_->begin_wait(this, h, /*forwarding=*/true, {"join", where, child_->id()});
    if (r == detail::WaitResult::kSuspendedMustForward) {
      child_->request_cancel(0);
      task_->end_forward();
    }
    switch (child_->attach_observer(this)) {
      case detail::Attach::kAttached:
        // Published: only the child's completion resumes us now. If we won the child's
        // first run, it is ours to start, here.
        if (!run_child) return std::noop_coroutine();
        detail::enter_task(child_);
        return child_root;
      case detail::Attach::kCompleted:
        // Finished meanwhile (so not one we claimed). Nobody else claims a join wait: take
        // it back and go on after the other runnable tasks.
        task_->try_claim();
        return yield(h);
      case detail::Attach::kBusy:
        break;
    }
    // Another task attached first: take our wait back, hand the child we claimed (if any)
    // back to the scheduler, and fail.
    task_->try_claim();
    if (run_child) detail::schedule(child_);
    throw UsageError("weft::JoinHandle awaited while another task awaits it");
  }

  /// The child's outcome, or CancelledError if we were cancelled meanwhile (asyncio: even
  /// if the child swallowed the cancellation; the result then stays in the handle). One
  /// exception: a child that returned a value with the cancellation we forwarded still
  /// undelivered never saw it (it finished in the same instant), so its value is returned
  /// and our cancellation stays pending for the next await, or is dropped by the cancel
  /// scope (timeout) that requested it as the scope closes: a value is never traded for
  /// CancelledError or TimeoutError.
  T await_resume() {
    if (task_ && task_->cancel_pending() && !(child_->cancel_pending() && !child_->error())) {
      task_->take_cancel();
      throw CancelledError();
    }
    if (!child_->claim_result()) {
      throw UsageError("weft::JoinHandle awaited twice: the result was already taken");
    }
    return child_->take();
  }

 private:
  friend class JoinHandle<T>;

  explicit JoinAwaiter(detail::RootPromise<T>* child) noexcept : child_(child) {
    on_forward = [](detail::Waiter* w) noexcept {
      static_cast<JoinAwaiter*>(w)->child_->request_cancel(0);
    };
    notify = [](detail::Completion* c, detail::TaskHeader*) noexcept {
      auto* self = static_cast<JoinAwaiter*>(c);
      detail::TaskHeader* task = self->task_;
      const bool inlined = self->inlined_;
      if (!task->try_claim()) return;
      // A child we started inline hands the worker straight back to us.
      if (inlined) {
        detail::resume_next(task);
      } else {
        detail::schedule(task);
      }
    };
  }

  std::coroutine_handle<> yield(std::coroutine_handle<> h) noexcept {
    task_->set_resume_point(h);
    detail::schedule_yield(task_);
    return std::noop_coroutine();
  }

  detail::RootPromise<T>* child_;
  detail::TaskHeader* task_ = nullptr;
  bool inlined_ = false;
};

/// A running task's handle: await it for the value (or exception), cancel it, poll it.
/// Move-only; dropping it detaches the task, whose unobserved error then goes to the
/// runtime's handler. `cancel()` and `done()` may be called from any thread.
template <class T>
class JoinHandle {
 public:
  JoinHandle() noexcept = default;
  JoinHandle(JoinHandle&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  JoinHandle& operator=(JoinHandle&& o) noexcept {
    if (this != &o) {
      if (p_) p_->release();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  JoinHandle(const JoinHandle&) = delete;
  JoinHandle& operator=(const JoinHandle&) = delete;
  ~JoinHandle() {
    if (p_) p_->release();
  }

  /// Requests cancellation: the task's current or next await raises CancelledError. A task
  /// cancelled before it first runs never starts. Idempotent; any thread.
  void cancel() noexcept {
    if (p_) p_->request_cancel(0);
  }
  /// True once the task has finished (value, exception or cancellation). Any thread.
  bool done() const noexcept { return p_ && p_->completed(); }
  /// The task's id, name and spawn site.
  TaskInfo info() const noexcept {
    return p_ ? TaskInfo{p_->id(), p_->name(), p_->where()} : TaskInfo{};
  }
  /// True unless moved from.
  explicit operator bool() const noexcept { return p_ != nullptr; }

  /// The result of a finished task (asyncio's Task.result()): the value, or rethrows. Throws
  /// UsageError if the task has not finished or the result was already taken.
  T result() {
    if (!done()) throw UsageError("weft::JoinHandle::result: the task has not finished");
    if (!p_->claim_result()) {
      throw UsageError("weft::JoinHandle::result: the result was already taken");
    }
    return p_->take();
  }

  JoinAwaiter<T> operator co_await() && noexcept { return JoinAwaiter<T>(p_); }
  JoinAwaiter<T> operator co_await() & noexcept { return JoinAwaiter<T>(p_); }

 private:
  friend struct detail::HandleAccess;

  explicit JoinHandle(detail::RootPromise<T>* p) noexcept : p_(p) {}

  detail::RootPromise<T>* p_ = nullptr;
};

namespace detail {

/// The task behind a JoinHandle, for the code that attaches to it without awaiting the
/// handle (gather, wait, as_completed, block_on) and for tests; users never name it.
struct HandleAccess {
  /// The handle's task, or nullptr if the handle was moved from.
  template <class T>
  static RootPromise<T>* header(const JoinHandle<T>& h) noexcept {
    return h.p_;
  }
  /// A handle that owns the reference `p` holds for it (spawn's, a TaskGroup's).
  template <class T>
  static JoinHandle<T> make(RootPromise<T>* p) noexcept {
    return JoinHandle<T>(p);
  }
};

}  // namespace detail

/// Spawns `task` on the current runtime (asyncio.create_task). Must be called from a task;
/// throws UsageError outside a runtime and RuntimeClosed while it shuts down. `task` must
/// not refer to anything that dies before it ends, such as the closure of a lambda
/// temporary (`spawn([x]() -> Task<> {...}())`): spawn the lambda itself instead.
template <class T>
[[nodiscard]] JoinHandle<T> spawn(Task<T> task, std::string_view name = {},
                                  std::source_location where = std::source_location::current()) {
  return detail::HandleAccess::make(
      detail::submit_root(detail::make_spawn_root(std::move(task), name, where, nullptr), nullptr));
}

/// Spawns a task that calls `f()` when it starts and runs the Task it returns. The task
/// owns `f` (moved in from an rvalue, copied from an lvalue) until that Task has finished,
/// so a lambda's captures live as long as its coroutine; bind arguments with captures or
/// std::bind_front. An exception from `f` itself is the task's error. A task cancelled
/// before it starts never calls `f`. Throws as spawn(Task).
template <TaskCallable F>
[[nodiscard]] JoinHandle<task_callable_value_t<F>> spawn(
    F&& f, std::string_view name = {},
    std::source_location where = std::source_location::current()) {
  return detail::HandleAccess::make(detail::submit_root(
      detail::make_spawn_root(std::forward<F>(f), name, where, nullptr), nullptr));
}

}  // namespace weft
