// The thread's context: the worker and the task running on this thread, the task's
// cooperative budget, the task a completing task asked to resume next, and the stack floor
// (weft/runtime/detail/context.hpp, detail/stack_guard.hpp).
//
// The rule: each of these is thread_local and written only by its own thread: tls_worker
// and tls_stack_floor by Worker::main, tls_task and tls_budget by the worker loop (run_task)
// and the transfers below, tls_next between a task's final step and the transfer that follows
// it. tls_worker and tls_task are defined inline in scheduler.hpp (the worker loop and
// schedule read them in their own files), tls_budget in weft/runtime/detail/context.hpp
// (awaiters spend it inline), the others here.
// The guarantee: current_task() is the task being polled on this thread (nullptr on threads
// that are not workers). schedule() and schedule_yield() are in scheduler.cpp, beside the
// Scheduler members they call.
#include <string>
#include <utility>

#include "scheduler/scheduler.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/stack_guard.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::detail {

constinit thread_local char* tls_stack_floor = nullptr;  // detail/stack_guard.hpp

namespace {
thread_local TaskHeader* tls_next = nullptr;  // resume_next()'s task, until complete() ends
}  // namespace

Worker* current_worker() noexcept {
  return tls_worker;
}

TaskHeader* current_task() noexcept {
  return tls_task.load(std::memory_order_relaxed);
}

void enter_task(TaskHeader* t) noexcept {
  tls_task.store(t, std::memory_order_relaxed);
}

void resume_next(TaskHeader* t) noexcept {
  tls_next = t;
}

std::coroutine_handle<> take_resume_next() noexcept {
  TaskHeader* t = std::exchange(tls_next, nullptr);
  if (!t) return std::noop_coroutine();
  if (stack_exhausted()) [[unlikely]] {  // see stack_guard.hpp: the joiner runs from the queue
    schedule_yield(t);
    return std::noop_coroutine();
  }
  tls_task.store(t, std::memory_order_relaxed);
  return t->resume_point();
}

std::coroutine_handle<> resume_from_queue(std::coroutine_handle<> next) noexcept {
  TaskHeader* t = tls_task.load(std::memory_order_relaxed);
  if (!t || next.address() == std::noop_coroutine().address()) return next;
  t->set_resume_point(next);
  schedule_yield(t);
  return std::noop_coroutine();
}

TaskHeader& require_task(const char* what) {
  TaskHeader* t = tls_task.load(std::memory_order_relaxed);
  if (!t) {
    throw UsageError(std::string(what) +
                     " awaited outside a weft task (no runtime is running "
                     "on this thread)");
  }
  return *t;
}

bool budget_exhausted() noexcept {
  if (Worker* w = tls_worker) w->count_budget_yield();
  return false;
}

std::uint64_t deadline_tick(std::chrono::steady_clock::time_point tp) {
  Worker* w = tls_worker;
  if (!w) throw UsageError("weft: a timer was armed outside a weft runtime");
  return w->scheduler().clock().ceil_tick(tp);
}

Scheduler* worker_scheduler() noexcept {
  return tls_worker ? &tls_worker->scheduler() : nullptr;
}

}  // namespace weft::detail
