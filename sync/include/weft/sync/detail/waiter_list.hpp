// The waiter nodes and the intrusive FIFO list every sync primitive keeps its waiters in.
//
// ## The protocol (runtime/include/weft/runtime/detail/task_header.hpp)
// A node lives in the frame of the coroutine that waits (DESIGN invariant 5: no allocation
// per wait). The waiting task takes the primitive's SpinLock, re-checks its condition, calls
// `begin_wait` *under the lock* and links the node; from the unlock on it never touches the
// node again (invariant 2). A waker takes the same lock, unlinks the front node and claims
// it (`claim`, one CAS on the task's wait word). Winning, it owns the wait: it stores the
// result in the node and, after unlocking, resumes the task (`wake`). Losing means a
// cancellation (or a timeout, which is one) claimed the wait first: the waker passes the
// resource to the next node, so nothing is lost (invariant 4). The canceller runs the
// node's `on_cancel`, which takes the lock and unlinks the node if it is still linked
// (`remove` is idempotent) before it resumes the task. Every claimer looks at linked nodes
// only under the lock, and a cancelled node leaves the list under the lock before its task
// may run again, so a linked node is always alive.
//
// ## Blocking nodes
// A plain (non-worker) thread may wait in the same lists (Queue::blocking_get and
// blocking_put) with a node that has no task but a BlockingSignal: it cannot be cancelled,
// so claiming it always succeeds, and waking it notifies the thread instead of scheduling.
#pragma once

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <mutex>

#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/spin_lock.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/detail/wait_counters.hpp"

namespace weft::detail {

/// How a plain thread blocked on a sync primitive is woken.
struct BlockingSignal {
  std::mutex m;
  std::condition_variable cv;
  bool woken = false;

  /// Wakes the thread. The notify happens under the mutex, so the thread cannot return
  /// and destroy the signal before the notifier is done with it.
  void notify() noexcept {
    std::lock_guard lk(m);
    woken = true;
    cv.notify_one();
  }
  /// Blocks until notify().
  void wait() {
    std::unique_lock lk(m);
    cv.wait(lk, [this] { return woken; });
  }
};

class WaiterList;

/// A waiter of a sync primitive: a task's claimable wait, or a blocked plain thread.
struct SyncWaiter : Waiter {
  SyncWaiter* prev = nullptr;  // list links, guarded by the primitive's lock
  SyncWaiter* next = nullptr;
  SyncWaiter* wake_next = nullptr;   // a waker's private list of claimed nodes
  TaskHeader* task = nullptr;        // the waiting task, or nullptr for a blocking node
  BlockingSignal* signal = nullptr;  // the blocked thread's signal (blocking nodes)
  SpinLock* owner_lock = nullptr;    // the primitive's lock and the list the node is in
  WaiterList* owner_list = nullptr;
  bool linked = false;             // guarded by *owner_lock
  bool cancelled = false;          // set by on_cancel, read by the task after it resumes
  std::int64_t wait_began_ns = 0;  // when it was linked, if its list counts (WaitCounters)

  /// Prepares a task's node for the list `wl` guarded by `l`.
  void init(TaskHeader* t, SpinLock* l, WaiterList* wl) noexcept {
    task = t;
    owner_lock = l;
    owner_list = wl;
    on_cancel = &SyncWaiter::cancel_wait;
  }

  /// Claims the wait for a waker. Call under the primitive's lock on a linked node. False:
  /// a cancellation won; the node's on_cancel will unlink it.
  bool claim() noexcept { return task ? task->try_claim() : true; }
  /// Resumes the claimed waiter. Call after unlocking; the node may be gone afterwards.
  void wake() noexcept {
    if (task) {
      schedule(task);
    } else {
      signal->notify();
    }
  }

  /// Prepares a plain thread's node (never cancelled) for the list `wl` guarded by `l`.
  void init_blocking(BlockingSignal* s, SpinLock* l, WaiterList* wl) noexcept {
    signal = s;
    owner_lock = l;
    owner_list = wl;
  }

  /// Suspends the task on this node: call with *owner_lock held, after init(). `site` says
  /// what the wait is, for the task dump (TaskHeader::begin_wait). False: a cancellation is
  /// pending (the node is not linked; the caller unlocks and throws).
  bool publish(std::coroutine_handle<> h, const WaitSite& site) noexcept;
  /// publish(), but first in line (a waiter that waits again after losing a race).
  bool publish_front(std::coroutine_handle<> h, const WaitSite& site) noexcept;

 private:
  static void cancel_wait(Waiter* w) noexcept;
};

/// An intrusive doubly linked FIFO of SyncWaiters. Not thread-safe: guarded by the owner's
/// lock. With counters (count_waits), each node linked begins a wait and each node unlinked
/// ends one: claimed by a waker (claim_front), or cancelled (remove, which only cancellations
/// call, and claim_front's nodes whose claim a cancellation won).
class WaiterList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }

  /// Counts the waits of this list from now on into `c` (which must outlive the list's use).
  /// Call under the owner's lock.
  void count_waits(WaitCounters* c) noexcept { counters_ = c; }

  void push_back(SyncWaiter* w) noexcept {
    if (counters_) [[unlikely]]
      began(w);
    w->prev = tail_;
    w->next = nullptr;
    if (tail_) {
      tail_->next = w;
    } else {
      head_ = w;
    }
    tail_ = w;
    w->linked = true;
  }

  void push_front(SyncWaiter* w) noexcept {
    if (counters_) [[unlikely]]
      began(w);
    w->prev = nullptr;
    w->next = head_;
    if (head_) {
      head_->prev = w;
    } else {
      tail_ = w;
    }
    head_ = w;
    w->linked = true;
  }

  /// Unlinks `w`, cancelled, if it is still linked (a waker may have unlinked it already).
  void remove(SyncWaiter* w) noexcept {
    if (!w->linked) return;
    unlink(w);
    if (counters_) [[unlikely]]
      ended(w, /*cancelled=*/true);
  }

  /// Unlinks and claims the first node whose claim succeeds; nodes whose claim a
  /// cancellation won are unlinked and skipped. nullptr when no claimable node is left.
  SyncWaiter* claim_front() noexcept {
    while (SyncWaiter* w = head_) {
      unlink(w);
      const bool claimed = w->claim();
      if (counters_) [[unlikely]]
        ended(w, /*cancelled=*/!claimed);
      if (claimed) return w;
    }
    return nullptr;
  }

  /// Number of linked nodes (walks the list).
  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (SyncWaiter* w = head_; w; w = w->next) ++n;
    return n;
  }

 private:
  void unlink(SyncWaiter* w) noexcept {
    (w->prev ? w->prev->next : head_) = w->next;
    (w->next ? w->next->prev : tail_) = w->prev;
    w->prev = w->next = nullptr;
    w->linked = false;
  }
  void began(SyncWaiter* w) noexcept {
    counters_->began();
    w->wait_began_ns = steady_now_ns();
  }
  void ended(SyncWaiter* w, bool cancelled) noexcept {
    counters_->ended(steady_now_ns() - w->wait_began_ns, cancelled);
  }

  SyncWaiter* head_ = nullptr;
  SyncWaiter* tail_ = nullptr;
  WaitCounters* counters_ = nullptr;  // guarded by the owner's lock; null: not counted
};

/// A waker's private list of claimed nodes, resumed after the primitive's lock is released.
class WakeList {
 public:
  WakeList() = default;
  WakeList(const WakeList&) = delete;
  WakeList& operator=(const WakeList&) = delete;
  /// Wakes whatever is still listed (after the caller has released its lock).
  ~WakeList() { wake_all(); }

  void push(SyncWaiter* w) noexcept {
    w->wake_next = nullptr;
    (tail_ ? tail_->wake_next : head_) = w;
    tail_ = w;
  }
  /// Resumes every node, in the order they were pushed.
  void wake_all() noexcept {
    tail_ = nullptr;
    while (SyncWaiter* w = head_) {
      head_ = w->wake_next;  // read before waking: the node may be gone afterwards
      w->wake();
    }
  }

 private:
  SyncWaiter* head_ = nullptr;
  SyncWaiter* tail_ = nullptr;
};

inline bool SyncWaiter::publish(std::coroutine_handle<> h, const WaitSite& site) noexcept {
  if (task->begin_wait(this, h, /*forwarding=*/false, site) == WaitResult::kCancelled) {
    return false;
  }
  owner_list->push_back(this);
  return true;
}

inline bool SyncWaiter::publish_front(std::coroutine_handle<> h, const WaitSite& site) noexcept {
  if (task->begin_wait(this, h, /*forwarding=*/false, site) == WaitResult::kCancelled) {
    return false;
  }
  owner_list->push_front(this);
  return true;
}

inline void SyncWaiter::cancel_wait(Waiter* w) noexcept {
  auto* self = static_cast<SyncWaiter*>(w);
  self->owner_lock->lock();
  self->owner_list->remove(self);
  self->owner_lock->unlock();
  self->cancelled = true;
  schedule(self->task);
}

}  // namespace weft::detail
