// The thread's view of the runtime: which task runs here, and how to hand a task back to
// its scheduler. Implemented in runtime/src/scheduler/context.cpp.
#pragma once

#include <chrono>
#include <cstdint>

#include "weft/runtime/detail/task_header.hpp"

namespace weft::detail {

/// The task being polled on this thread, or nullptr outside a runtime's worker.
TaskHeader* current_task() noexcept;

/// The running task; throws UsageError naming `what` when called outside a weft task.
TaskHeader& require_task(const char* what);

/// Makes `t` the task running on this worker (join inlining transfers into it directly).
void enter_task(TaskHeader* t) noexcept;

/// From a completing task's final step on this thread: resume `t` (whose wait the caller
/// claimed) directly after, by symmetric transfer, instead of queueing it.
void resume_next(TaskHeader* t) noexcept;

/// Hands a task whose wait was claimed back to its scheduler. Any thread. On a worker of the
/// same runtime the task goes to that worker's LIFO slot (it was just woken by this task).
void schedule(TaskHeader* t) noexcept;

/// Re-queues the running task behind the other runnable tasks (yield_now).
void schedule_yield(TaskHeader* t) noexcept;

/// The running task's cooperative budget on this thread, refilled by the worker before each
/// poll. Defined here, not declared: every file that uses it defines it, so the compiler
/// addresses it directly from the thread pointer; constinit, so no TLS wrapper call.
inline constinit thread_local int tls_budget = 0;

/// budget_spend() with nothing left: counts the forced yield (the worker's metrics), false.
bool budget_exhausted() noexcept;

/// Spends one unit of the running task's cooperative budget. False when the budget is spent:
/// an awaitable that could complete at once should suspend and yield instead. Inline: an
/// uncontended lock or a ready queue item pays a decrement, not a call.
inline bool budget_spend() noexcept {
  if (tls_budget > 0) [[likely]] {
    --tls_budget;
    return true;
  }
  return budget_exhausted();
}

/// Milliseconds since the runtime's epoch, for a deadline: rounded up so a timer never fires
/// early. Uses the current runtime's clock (real or virtual).
std::uint64_t deadline_tick(std::chrono::steady_clock::time_point tp);

}  // namespace weft::detail
