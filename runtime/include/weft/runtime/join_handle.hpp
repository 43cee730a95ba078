// spawn() and JoinHandle<T>: a task running on its own (asyncio.create_task / Task).
//
// spawn wraps the user's Task<T> in a root coroutine whose promise is the TaskHeader (see
// detail/task_header.hpp) plus the result. The root frame and the user's frame are the two
// allocations of a spawn, both from the frame allocator. The handle and the running task
// each hold a reference on the header; dropping the handle detaches the task.
//
// Awaiting a handle is a *forwarding* wait: cancelling the awaiting task cancels the awaited
// one and goes on waiting until it has finished, then raises CancelledError (asyncio's
// behaviour: the awaited task is cancelled with its awaiter, and nothing runs behind the
// caller's back). If the awaited task has not started yet, the awaiting task runs it right
// away on its own worker (join inlining, detail/task_header.hpp): fork-join code runs
// depth-first, with hot caches and few live frames, as it would on a fork-join pool.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
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

namespace detail {

/// Registers a fresh root with `sched` (nullptr: the current runtime) and queues it. Throws
/// RuntimeClosed or UsageError; the caller then destroys the root.
void submit_spawn(TaskHeader* t, Scheduler* sched);
/// Completion of a root: unregister, notify the group and the observer, drop a reference.
/// Returns the coroutine to transfer to (a joiner that ran this task inline), or noop.
std::coroutine_handle<> complete_task(TaskHeader* t) noexcept;
enum class Attach { kAttached, kCompleted, kBusy };
/// Attaches `c` as the completion observer of `t`: kCompleted if `t` has already completed,
/// kBusy if another observer is attached.
Attach attach_observer(TaskHeader* t, Completion* c) noexcept;
/// Detaches `c`; false if `t` completed and is notifying or has notified `c`.
bool detach_observer(TaskHeader* t, Completion* c) noexcept;

template <class T>
class RootPromise;

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
      return complete_task(self);
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
    root_ = h;
    resume_ = h;
    return RootTask<T>{h};
  }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() noexcept { return FinalAwaiter{this}; }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }
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
    if (this->error_) std::rethrow_exception(this->error_);
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class RootPromise<void> final : public RootPromiseBase<void> {
 public:
  void return_void() noexcept {}
  void take() {
    if (error_) std::rethrow_exception(error_);
  }
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

/// Creates the root for `task` (not yet submitted).
template <class T>
RootPromise<T>* make_spawn_root(Task<T>&& task, std::string_view name, std::source_location where,
                                GroupLink* group) {
  static_assert(!std::is_reference_v<T>, "a spawned task returns a value, not a reference");
  if (!task) throw UsageError("weft::spawn: the Task was already awaited or moved from");
  auto h = make_root<T>(std::move(task)).h;
  RootPromise<T>& p = h.promise();
  p.set_name(name);
  p.where_ = where;
  p.group_ = group;
  return &p;
}

/// Destroys a root that was never submitted.
inline void destroy_unsubmitted(TaskHeader* t) noexcept {
  t->root_.destroy();
}

/// Creates the root for `task`, names it and submits it; the root is destroyed if the
/// submission throws.
template <class T>
RootPromise<T>* spawn_root(Task<T>&& task, Scheduler* sched, std::string_view name,
                           std::source_location where) {
  RootPromise<T>* p = make_spawn_root(std::move(task), name, where, nullptr);
  try {
    submit_spawn(p, sched);
  } catch (...) {
    destroy_unsubmitted(p);
    throw;
  }
  return p;
}

/// The awaiter of a JoinHandle: a forwarding wait with the awaited task as observer target.
template <class T>
class [[nodiscard]] JoinAwaiter : Waiter, Completion {
 public:
  explicit JoinAwaiter(RootPromise<T>* child) noexcept : child_(child) {
    on_forward = [](Waiter* w) noexcept {
      static_cast<JoinAwaiter*>(w)->child_->request_cancel(0);
    };
    notify = [](Completion* c, TaskHeader*) noexcept {
      auto* self = static_cast<JoinAwaiter*>(c);
      TaskHeader* task = self->task_;
      const bool inlined = self->inlined_;
      if (!task->try_claim()) return;
      // A child we started inline hands the worker straight back to us.
      if (inlined) {
        resume_next(task);
      } else {
        schedule(task);
      }
    };
  }

  bool await_ready() const {
    if (!child_) throw UsageError("weft::JoinHandle awaited after it was moved from");
    if (child_->observed_.load(std::memory_order_relaxed)) {
      throw UsageError("weft::JoinHandle awaited twice: the result was already taken");
    }
    std::uintptr_t obs = child_->observer_.load(std::memory_order_acquire);
    if (obs != 0 && obs != TaskHeader::kCompleted) {
      throw UsageError("weft::JoinHandle awaited while another task awaits it");
    }
    // Finished: done at once, unless the budget is spent (then await_suspend yields).
    return obs == TaskHeader::kCompleted && budget_spend();
  }

  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    task_ = &require_task("co_await JoinHandle");
    if (child_->observer_.load(std::memory_order_acquire) == TaskHeader::kCompleted) {
      return yield(h);  // finished, but our budget is spent
    }
    // The budget bounds how long a fork-join tree runs inline before the worker looks at
    // its other tasks.
    inlined_ = child_->sched_ == task_->sched_ &&
               child_->start_.load(std::memory_order_relaxed) == TaskHeader::kNotStarted &&
               budget_spend() && child_->claim_inline();
    const bool run_child = inlined_;
    const std::coroutine_handle<> child_root = child_->root_;
    WaitResult r = task_->begin_wait(this, h, /*forwarding=*/true);
    if (r == WaitResult::kSuspendedMustForward) {
      child_->request_cancel(0);
      task_->end_forward();
    }
    switch (attach_observer(child_, this)) {
      case Attach::kAttached:
        // Published: only the child's completion resumes us now. If we won the child's
        // first run, it is ours to start, here.
        if (!run_child) return std::noop_coroutine();
        enter_task(child_);
        return child_root;
      case Attach::kCompleted:
        // Finished meanwhile (so not one we claimed). Nobody else claims a join wait: take
        // it back and go on after the other runnable tasks.
        task_->try_claim();
        return yield(h);
      case Attach::kBusy:
        break;
    }
    // Another task attached first: take our wait back, hand the child we claimed (if any)
    // back to the scheduler, and fail.
    task_->try_claim();
    if (run_child) schedule(child_);
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
    if (task_ && task_->cancel_pending() && !(child_->cancel_pending() && !child_->error_)) {
      task_->take_cancel();
      throw CancelledError();
    }
    if (child_->observed_.exchange(true, std::memory_order_acq_rel)) {
      throw UsageError("weft::JoinHandle awaited twice: the result was already taken");
    }
    return child_->take();
  }

 private:
  std::coroutine_handle<> yield(std::coroutine_handle<> h) noexcept {
    task_->resume_ = h;
    schedule_yield(task_);
    return std::noop_coroutine();
  }

  RootPromise<T>* child_;
  TaskHeader* task_ = nullptr;
  bool inlined_ = false;
};

}  // namespace detail

/// A running task's handle: await it for the value (or exception), cancel it, poll it.
/// Move-only; dropping it detaches the task, whose unobserved error then goes to the
/// runtime's handler. `cancel()` and `done()` may be called from any thread.
template <class T>
class JoinHandle {
 public:
  JoinHandle() noexcept = default;
  explicit JoinHandle(detail::RootPromise<T>* p) noexcept : p_(p) {}
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
  bool done() const noexcept {
    return p_ && p_->observer_.load(std::memory_order_acquire) == detail::TaskHeader::kCompleted;
  }
  /// The task's id, name and spawn site.
  TaskInfo info() const noexcept {
    return p_ ? TaskInfo{p_->id_, p_->name(), p_->where_} : TaskInfo{};
  }
  /// True unless moved from.
  explicit operator bool() const noexcept { return p_ != nullptr; }

  /// The result of a finished task (asyncio's Task.result()): the value, or rethrows. Throws
  /// UsageError if the task has not finished or the result was already taken.
  T result() {
    if (!done()) throw UsageError("weft::JoinHandle::result: the task has not finished");
    if (p_->observed_.exchange(true, std::memory_order_relaxed)) {
      throw UsageError("weft::JoinHandle::result: the result was already taken");
    }
    return p_->take();
  }

  detail::JoinAwaiter<T> operator co_await() && noexcept { return detail::JoinAwaiter<T>(p_); }
  detail::JoinAwaiter<T> operator co_await() & noexcept { return detail::JoinAwaiter<T>(p_); }

  /// The header, for combinators (gather, wait, TaskGroup).
  detail::RootPromise<T>* header() const noexcept { return p_; }

 private:
  detail::RootPromise<T>* p_ = nullptr;
};

/// Spawns `task` on the current runtime (asyncio.create_task). Must be called from a task;
/// throws UsageError outside a runtime and RuntimeClosed while it shuts down.
template <class T>
[[nodiscard]] JoinHandle<T> spawn(Task<T> task, std::string_view name = {},
                                  std::source_location where = std::source_location::current()) {
  return JoinHandle<T>(detail::spawn_root(std::move(task), nullptr, name, where));
}

}  // namespace weft
