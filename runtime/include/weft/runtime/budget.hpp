// The cooperative budget (Tokio's `coop`): how a task that never has to wait still lets the
// other tasks of its worker run.
//
// A worker runs a task until the task awaits something that is not ready. An operation that
// completes at once (a read from a socket with data queued, a lock nobody holds, a join of a
// finished task) does not suspend, so a task that only meets ready operations would hold its
// worker for good: a client that always has data to send would starve every other connection
// on that worker. So each time a worker takes a task from its queues to run it, it gives the
// task a budget of 128 units (DESIGN §4). Each awaitable of weft that completes without waiting
// spends one unit: socket, pipe, file, child and signal operations, the sync primitives (locks,
// semaphores, events, queues, channels, latches, barriers) and the join of a finished task. When
// the budget is spent, such an awaitable yields instead (the task goes to the back of its worker's
// queue, as with yield_now) and completes when the task runs again, with a new budget. Awaitables
// that suspend anyway (sleep, yield_now, a wait for readiness) spend nothing.
//
// consume_budget() is that unit for code of one's own: an awaitable built on weft's
// primitives that can complete without waiting, or a loop that computes without awaiting.
#pragma once

#include <coroutine>

namespace weft {

/// The awaiter of consume_budget(): completes at once while the task has budget, else
/// yields. Not a cancellation point.
class [[nodiscard]] BudgetAwaiter {
 public:
  /// Spends one unit; false when the budget was spent already (await_suspend then yields).
  bool await_ready() const noexcept;
  /// Re-queues the task behind the other runnable tasks of its worker.
  void await_suspend(std::coroutine_handle<> h) const noexcept;
  void await_resume() const noexcept {}
};

/// `co_await consume_budget()` spends one unit of the running task's cooperative budget and
/// yields only when the budget is spent, that is once in 128 calls of a task that never
/// waits. From a task on a worker. Throws nothing; not a cancellation point.
inline BudgetAwaiter consume_budget() noexcept {
  return {};
}

}  // namespace weft
