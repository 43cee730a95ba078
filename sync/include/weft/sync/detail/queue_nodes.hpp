// What weft's two queue implementations (BasicQueue in basic_queue.hpp, FifoQueue in
// fifo_queue.hpp) share: the waiter nodes of put() and get(), and the steps their awaiters
// take around a wait.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/sync/detail/waiter_list.hpp"
#include "weft/sync/queue_errors.hpp"

namespace weft::detail::queue {

/// The task running an awaiter, or UsageError naming `what`.
inline TaskHeader* task_for(const char* what) {
  return &require_task(what);
}

/// After an operation completed without waiting, from await_suspend: false (go on at once)
/// while the task has budget; out of budget, the task is re-queued behind the others (true).
inline bool complete_at_once(TaskHeader* t, std::coroutine_handle<> h) noexcept {
  if (budget_spend()) return false;
  t->set_resume_point(h);
  schedule_yield(t);
  return true;
}

/// Raises CancelledError in a task whose wait a cancellation claimed.
inline void throw_if_cancelled(SyncWaiter& node) {
  if (node.cancelled) {
    node.task->take_cancel();
    throw CancelledError();
  }
}

/// Publishes a task's wait on `node` (call under the lock of the node's list) and links it;
/// `site` says what the wait is (SyncWaiter::publish). False: a cancellation is pending; the
/// node is not linked and is marked cancelled.
inline bool publish(SyncWaiter& node, std::coroutine_handle<> h, const WaitSite& site) noexcept {
  if (node.publish(h, site)) return true;
  node.cancelled = true;
  return false;
}

/// Claims every node of `list` into `woken`.
inline void claim_all(WaiterList& list, WakeList& woken) noexcept {
  while (SyncWaiter* w = list.claim_front()) woken.push(w);
}

/// A waiting put: the item stays in the putter's frame until a get moves it in. A blocking
/// node (a plain thread's) is never cancelled, so finish() suits it too.
template <class T>
struct PutNode : SyncWaiter {
  T* value = nullptr;
  bool shut_down = false;
  std::exception_ptr error;  // storing the item failed (allocation)

  /// The end of a put, once resumed (or completed without waiting).
  void finish() {
    throw_if_cancelled(*this);
    if (shut_down) throw QueueShutDown();
    if (error) std::rethrow_exception(error);
  }
};

/// A waiting get: a put hands the item over in the node.
template <class T>
struct GetNode : SyncWaiter {
  std::optional<T> item;
  bool shut_down = false;

  /// The end of a get, once resumed (or completed without waiting): the item.
  T finish() {
    throw_if_cancelled(*this);
    if (shut_down) throw QueueShutDown();
    return std::move(*item);
  }
};

}  // namespace weft::detail::queue
