// wait (asyncio.wait) and as_completed (asyncio.as_completed) over running tasks' handles.
//
// Neither cancels the tasks it watches: they keep running, and the caller decides. Both
// watch through the handles' completion observers and give them back when they return, so
// the handles can be awaited afterwards. The wait is *claimable*: a completion that meets
// the condition, the timeout and a cancellation race to end it (one CAS). It is begun held
// (TaskHeader::begin_wait with `hold`), because the task still has to attach itself to
// every handle after it has published the wait.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "weft/runtime/async_generator.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/spin_lock.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/detail/timer_entry.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/join_handle.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft {

/// When wait() returns (asyncio's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class ReturnWhen { FirstCompleted, FirstException, AllCompleted };

/// The two sets wait() returns: finished handles and still-running ones, each in the order
/// they were given.
template <class T>
struct WaitSets {
  std::vector<JoinHandle<T>> done;
  std::vector<JoinHandle<T>> pending;
};

namespace detail {

/// Waits until a ReturnWhen condition holds over `children`, or the timeout passes.
class WaitAwaiter : Waiter {
 public:
  WaitAwaiter(TaskHeader* const* children, std::size_t n, ReturnWhen when,
              std::optional<TimePoint> deadline);
  WaitAwaiter(const WaitAwaiter&) = delete;
  WaitAwaiter& operator=(const WaitAwaiter&) = delete;

  bool await_ready() const noexcept;
  bool await_suspend(std::coroutine_handle<> h,
                     std::source_location where = std::source_location::current());
  void await_resume();

 private:
  struct Slot : Completion {
    WaitAwaiter* owner;
    std::atomic<bool> acked{false};
    bool attached = false;
  };
  static void on_child_done(Completion* c, TaskHeader* child) noexcept;
  static void on_timer(TimerEntry* e) noexcept;
  bool counts_meet(std::size_t done, bool failed) const noexcept;
  void trigger() noexcept;
  void release_all() noexcept;

  TaskHeader* const* children_;
  std::size_t n_;
  ReturnWhen when_;
  std::optional<TimePoint> deadline_;
  TaskHeader* task_ = nullptr;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::size_t> done_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> triggered_{false};
  std::atomic<int> holds_{0};
  TimerEntry timer_;
  bool timer_armed_ = false;
  bool cancelled_ = false;
};

template <class T>
Task<WaitSets<T>> wait_impl(std::vector<JoinHandle<T>> hs, ReturnWhen when,
                            std::optional<TimePoint> deadline) {
  std::vector<TaskHeader*> children;
  children.reserve(hs.size());
  for (auto& h : hs) {
    if (!h) throw UsageError("weft::wait: a JoinHandle was moved from");
    children.push_back(HandleAccess::header(h));
  }
  co_await WaitAwaiter(children.data(), children.size(), when, deadline);
  WaitSets<T> sets;
  for (auto& h : hs) (h.done() ? sets.done : sets.pending).push_back(std::move(h));
  co_return sets;
}

/// Shared by as_completed's generator and the observers: indices of finished handles.
class CompletionQueue {
 public:
  CompletionQueue(TaskHeader* const* children, std::size_t n);
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  /// Awaitable: the index of the next handle to finish. A claimable wait.
  struct Next : Waiter {
    static constexpr std::size_t kNoIndex = ~std::size_t{0};
    explicit Next(CompletionQueue& queue) noexcept : q(queue) {}
    CompletionQueue& q;
    TaskHeader* task = nullptr;
    std::size_t index = kNoIndex;
    bool cancelled = false;
    bool await_ready() noexcept;
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current());
    std::size_t await_resume();
  };
  Next next() noexcept { return Next(*this); }

 private:
  struct Slot : Completion {
    CompletionQueue* owner;
    std::size_t index;
    std::atomic<bool> acked{false};  // the notifier's last touch (or never attached)
    bool attached = false;           // guarded by lock_: observing, not yet notified
  };
  static void on_child_done(Completion* c, TaskHeader* child) noexcept;

  TaskHeader* const* children_;
  std::size_t n_;
  std::unique_ptr<Slot[]> slots_;
  SpinLock lock_;
  std::vector<std::size_t> ready_;  // guarded by lock_; reserved for n up front
  std::size_t taken_ = 0;           // guarded by lock_
  TaskHeader* waiting_ = nullptr;   // guarded by lock_: the consumer, while suspended
};

template <class T>
AsyncGenerator<JoinHandle<T>> as_completed_impl(std::vector<JoinHandle<T>> hs) {
  std::vector<TaskHeader*> children;
  children.reserve(hs.size());
  for (auto& h : hs) {
    if (!h) throw UsageError("weft::as_completed: a JoinHandle was moved from");
    children.push_back(HandleAccess::header(h));
  }
  CompletionQueue q(children.data(), children.size());
  for (std::size_t i = 0; i < hs.size(); ++i) {
    std::size_t k = co_await q.next();
    co_yield std::move(hs[k]);
  }
}

}  // namespace detail

/// Waits until `when` holds for `handles` or the timeout passes, and splits them into done
/// and pending (asyncio.wait). Does not cancel anything. A cancellation point.
template <class T>
Task<WaitSets<T>> wait(std::vector<JoinHandle<T>> handles,
                       ReturnWhen when = ReturnWhen::AllCompleted) {
  return detail::wait_impl(std::move(handles), when, std::nullopt);
}

/// wait() with a timeout: on expiry it returns with whatever is done (no TimeoutError).
template <class T, class Rep, class Period>
Task<WaitSets<T>> wait(std::vector<JoinHandle<T>> handles, ReturnWhen when,
                       std::chrono::duration<Rep, Period> timeout) {
  Duration d = detail::checked_duration(timeout, "weft::wait");
  return detail::wait_impl(std::move(handles), when, detail::deadline_after(d));
}

/// Yields the handles in the order their tasks finish (asyncio.as_completed); each yielded
/// handle is done, so awaiting it gives its value or exception at once.
template <class T>
AsyncGenerator<JoinHandle<T>> as_completed(std::vector<JoinHandle<T>> handles) {
  return detail::as_completed_impl(std::move(handles));
}

}  // namespace weft
