// to_thread (asyncio.to_thread) and offload (CPU work in a oneTBB arena).
//
// Both suspend the task and run `f` elsewhere — to_thread on the runtime's elastic blocking
// pool, offload inside a tbb::task_arena, so `f` may itself use tbb::parallel_for — and
// resume the task on a worker with f's result or exception. The job lives in the awaiting
// frame (no allocation for to_thread). A running `f` cannot be interrupted, so cancelling
// the task waits for `f` to return and then raises CancelledError (its result is dropped);
// a task cancelled before it awaits never starts `f`.
// `f` sees the task's TaskLocal values, as asyncio.to_thread runs its function in a copy of
// the caller's context: values `f` sets stay with `f` (detail/task_context.hpp).
//
// detail::spawn_blocking is the pool without an awaiting task (Tokio's spawn_blocking with its
// handle dropped), for work a destructor on a worker must not do there and must not lose: the
// runtime's shutdown waits for it as for any other job.
#pragma once

#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/blocking_job.hpp"
#include "weft/runtime/detail/closure_check.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/task_context.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"

namespace weft {

template <class F>
auto to_thread(F&& f);
template <class F>
auto offload(F&& f);

/// The awaiter of to_thread and offload: owns `f`, runs it off the worker when awaited and
/// resumes the task with its result. Made only by those two; awaited once.
template <class F>
class [[nodiscard]] OffThreadAwaiter : detail::Waiter, detail::BlockingJob {
 public:
  /// What `f()` returns, and so what the co_await gives.
  using R = std::invoke_result_t<F&>;

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current()) {
    task_ = &detail::require_task(cpu_ ? "weft::offload" : "weft::to_thread");
    if (task_->cancel_pending()) return false;  // never start f
    const detail::WaitSite site{cpu_ ? "offload" : "to_thread", where};
    if (task_->begin_wait(this, h, /*forwarding=*/true, site) ==
        detail::WaitResult::kSuspendedMustForward) {
      task_->end_forward();
    }
    if (cpu_) {
      detail::submit_offload(task_, this);
    } else {
      detail::submit_blocking(task_, this);
    }
    return true;
  }

  R await_resume() {
    if (task_->take_cancel()) throw CancelledError();
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<R>) return std::move(*result_);
  }

 private:
  template <class G>
  friend auto to_thread(G&& f);
  template <class G>
  friend auto offload(G&& f);

  template <class G>
  OffThreadAwaiter(G&& f, bool cpu) : f_(std::forward<G>(f)), cpu_(cpu) {
    on_forward = [](detail::Waiter*) noexcept {};  // nothing to interrupt: wait for f to return
    run = &OffThreadAwaiter::run_job;
  }

  static void run_job(detail::BlockingJob* j) noexcept {
    auto* self = static_cast<OffThreadAwaiter*>(j);
    {
      // The task is suspended until the claim below, so its context cannot change meanwhile.
      detail::JobContextScope context(self->task_->context());
      try {
        if constexpr (std::is_void_v<R>) {
          std::invoke(self->f_);
        } else {
          self->result_.emplace(std::invoke(self->f_));
        }
      } catch (...) {
        self->error_ = std::current_exception();
      }
    }
    detail::TaskHeader* t = self->task_;
    detail::Scheduler* s = t->scheduler();
    if (t->try_claim()) detail::schedule(t);  // `self` may be gone after this
    detail::job_finished(s);
  }

  F f_;
  bool cpu_;
  detail::TaskHeader* task_ = nullptr;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result_{};
  std::exception_ptr error_;
};

namespace detail {

/// A job of spawn_blocking: `f` and the scheduler it tells when it is done, on the heap.
template <class F>
class DetachedJob : BlockingJob {
 public:
  /// A job that runs `f` and then deletes itself; nullptr if it cannot be allocated (`f` is
  /// then untouched).
  static DetachedJob* make(F& f, Scheduler* s) noexcept {
    return new (std::nothrow) DetachedJob(std::move(f), s);
  }
  /// Queues the job on its scheduler's blocking pool.
  void submit() { submit_blocking(sched_, this); }

 private:
  DetachedJob(F&& f, Scheduler* s) noexcept : f_(std::move(f)), sched_(s) {
    run = &DetachedJob::run_job;
  }

  static void run_job(BlockingJob* j) noexcept {
    auto* self = static_cast<DetachedJob*>(j);
    Scheduler* s = self->sched_;
    self->f_();
    delete self;
    job_finished(s);  // last: the runtime's shutdown may go on from here
  }

  F f_;
  Scheduler* sched_;
};

/// Runs `f()` on the blocking pool of the runtime whose worker calls it, without waiting
/// for it: that runtime's shutdown (and so weft::run) returns only after `f` has. On any
/// other thread, where blocking is allowed, `f` runs at once, before this returns, and so it
/// does on a worker if the job cannot be allocated: the work is never lost. `f` must not
/// throw. Any thread.
template <class F>
void spawn_blocking(F f) noexcept {
  static_assert(std::is_nothrow_invocable_v<F&>, "spawn_blocking: f must be noexcept");
  static_assert(std::is_nothrow_move_constructible_v<F>, "spawn_blocking: f must move noexcept");
  if (Scheduler* s = worker_scheduler()) {
    if (auto* job = DetachedJob<F>::make(f, s)) {
      job->submit();
      return;
    }
  }
  f();
}

}  // namespace detail

/// Runs blocking `f()` on the runtime's blocking pool and resumes with its result
/// (asyncio.to_thread). Bind arguments with a lambda. `f` is moved or copied into the
/// awaiter. With GCC 12, an rvalue `f` must be trivially destructible (see
/// detail::check_survives_co_await; a compile error says so).
template <class F>
auto to_thread(F&& f) {
  detail::check_survives_co_await<F>();
  return OffThreadAwaiter<std::decay_t<F>>(std::forward<F>(f), /*cpu=*/false);
}

/// Runs CPU-bound `f()` in the runtime's oneTBB arena (it may use tbb::parallel_for) and
/// resumes the task on a worker with its result. Takes `f` as to_thread does.
template <class F>
auto offload(F&& f) {
  detail::check_survives_co_await<F>();
  return OffThreadAwaiter<std::decay_t<F>>(std::forward<F>(f), /*cpu=*/true);
}

}  // namespace weft
