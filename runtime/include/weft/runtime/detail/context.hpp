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

/// Spends one unit of the running task's cooperative budget. False when the budget is spent:
/// an awaitable that could complete at once should suspend and yield instead.
bool budget_spend() noexcept;

/// Milliseconds since the runtime's epoch, for a deadline: rounded up so a timer never fires
/// early. Uses the current runtime's clock (real or virtual).
std::uint64_t deadline_tick(std::chrono::steady_clock::time_point tp);

}  // namespace weft::detail
