// LifoQueue's and PriorityQueue's implementation (their API: lifo_queue.hpp,
// priority_queue.hpp): BasicQueue, a queue over a store that decides the order, and the two
// stores. weft::Queue has its own implementation (fifo_queue.hpp).
//
// ## The protocol
// One SpinLock guards the items, the counters and three waiter lists: getters (the queue
// is empty), putters (the queue is full) and joiners (unfinished tasks remain). Every
// operation takes the lock once. A put that finds a getter waiting claims it and hands the
// item over in the getter's node; a get that frees a slot while putters wait claims the
// first and moves its item into the queue. A claim lost to a cancellation (or a timeout)
// moves on to the next waiter, so a cancelled get leaves its item in the queue and a
// cancelled put puts nothing (DESIGN invariant 4). Claimed waiters are resumed after the
// lock is released. Items are moved under the lock, so T must be nothrow-move-constructible
// (the public classes check it).
//
// ## Plain threads
// blocking_put and blocking_get wait in the same lists with a node whose BlockingSignal is
// notified instead of a task being scheduled (detail/waiter_list.hpp). They throw
// UsageError on a worker thread, where blocking would stall every task behind it.
//
// ## Shutdown (asyncio 3.13)
// shutdown() makes every put (waiting or future) throw QueueShutDown; gets go on until the
// queue is drained, then throw it too. shutdown(true) also drops the items (each counts as
// task_done) and wakes every getter at once.
#pragma once

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "weft/runtime/errors.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/sync/detail/fatal.hpp"
#include "weft/sync/detail/queue_nodes.hpp"
#include "weft/sync/detail/waiter_list.hpp"
#include "weft/sync/queue_errors.hpp"

namespace weft::detail {

/// Last in, first out (LifoQueue).
template <class T>
class LifoStore {
 public:
  /// The names the queue's messages use.
  static constexpr const char* kName = "weft::LifoQueue";
  static constexpr const char* kPut = "weft::LifoQueue::put";
  static constexpr const char* kGet = "weft::LifoQueue::get";
  static constexpr const char* kJoin = "weft::LifoQueue::join";

  void push(T&& v) { items_.push_back(std::move(v)); }
  T pop() noexcept {
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  std::vector<T> items_;
};

/// Smallest first by `Compare` (PriorityQueue; asyncio's heap order).
template <class T, class Compare>
class PriorityStore {
 public:
  /// The names the queue's messages use.
  static constexpr const char* kName = "weft::PriorityQueue";
  static constexpr const char* kPut = "weft::PriorityQueue::put";
  static constexpr const char* kGet = "weft::PriorityQueue::get";
  static constexpr const char* kJoin = "weft::PriorityQueue::join";

  void push(T&& v) {
    items_.push_back(std::move(v));
    std::push_heap(items_.begin(), items_.end(), greater_);
  }
  T pop() noexcept {
    std::pop_heap(items_.begin(), items_.end(), greater_);
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  struct Greater {
    Compare less;
    bool operator()(const T& a, const T& b) const { return less(b, a); }
  };
  std::vector<T> items_;
  Greater greater_{};
};

/// The queue itself, over one of the stores above. The operations are documented where users
/// read them (lifo_queue.hpp, priority_queue.hpp); the comments here say how they work.
template <class T, class Store>
class BasicQueue {
  using PutNode = queue::PutNode<T>;
  using GetNode = queue::GetNode<T>;

 public:
  class PutAwaiter;
  class GetAwaiter;
  class JoinAwaiter;

  /// A queue of at most `maxsize` items; 0 means unbounded.
  explicit BasicQueue(std::size_t maxsize = 0) noexcept : maxsize_(maxsize) {}
  /// Aborts with a message if tasks or threads still wait on the queue.
  ~BasicQueue() {
    lock_.lock();
    std::size_t n = getters_.size() + putters_.size() + joiners_.size();
    lock_.unlock();
    if (n) fatal_destroyed_with_waiters(Store::kName, n, "to put, get or join");
  }
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  // put_nowait and blocking_put take the public call's by-value parameter, which holds the
  // item until it is moved in (by a get, while blocking_put's thread waits).
  void put_nowait(T& v) {
    WakeList woken;
    std::unique_lock lk(lock_);
    switch (try_put(v, woken)) {
      case kDone:
        break;
      case kWouldWait:
        throw QueueFull();
      case kShutDown:
        throw QueueShutDown();
    }
    lk.unlock();
    woken.wake_all();
  }
  T get_nowait() {
    WakeList woken;
    std::optional<T> item;
    std::unique_lock lk(lock_);
    switch (try_get(item, woken)) {
      case kDone:
        break;
      case kWouldWait:
        throw QueueEmpty();
      case kShutDown:
        throw QueueShutDown();
    }
    lk.unlock();
    woken.wake_all();
    return std::move(*item);
  }
  void blocking_put(T& v) {
    if (in_runtime())
      throw UsageError(std::string(Store::kName) + "::blocking_put called on a worker thread");
    WakeList woken;
    BlockingSignal signal;
    PutNode node;
    {
      std::lock_guard lk(lock_);
      switch (try_put(v, woken)) {
        case kDone:
          break;
        case kShutDown:
          throw QueueShutDown();
        case kWouldWait:
          node.init_blocking(&signal, &lock_, &putters_);
          node.value = &v;
          putters_.push_back(&node);
          break;
      }
    }
    woken.wake_all();
    if (!node.signal) return;
    signal.wait();
    node.finish();
  }
  T blocking_get() {
    if (in_runtime())
      throw UsageError(std::string(Store::kName) + "::blocking_get called on a worker thread");
    WakeList woken;
    BlockingSignal signal;
    GetNode node;
    {
      std::lock_guard lk(lock_);
      switch (try_get(node.item, woken)) {
        case kDone:
          break;
        case kShutDown:
          throw QueueShutDown();
        case kWouldWait:
          node.init_blocking(&signal, &lock_, &getters_);
          getters_.push_back(&node);
          break;
      }
    }
    woken.wake_all();
    if (node.signal) signal.wait();
    return node.finish();
  }

  void task_done() {
    WakeList woken;
    {
      std::lock_guard lk(lock_);
      if (unfinished_ == 0) {
        throw std::logic_error(std::string(Store::kName) +
                               "::task_done: called more times than items were put");
      }
      if (--unfinished_ == 0) queue::claim_all(joiners_, woken);
    }
    woken.wake_all();
  }

  void shutdown(bool immediate = false) noexcept {
    WakeList woken;
    {
      std::lock_guard lk(lock_);
      shut_down_ = true;
      if (immediate) {
        unfinished_ -= std::min(unfinished_, store_.size());
        store_.clear();
        if (unfinished_ == 0) queue::claim_all(joiners_, woken);
      }
      while (auto* p = static_cast<PutNode*>(putters_.claim_front())) {
        p->shut_down = true;
        woken.push(p);
      }
      if (store_.size() == 0) {
        while (auto* g = static_cast<GetNode*>(getters_.claim_front())) {
          g->shut_down = true;
          woken.push(g);
        }
      }
    }
    woken.wake_all();
  }

  std::size_t qsize() const noexcept {
    std::lock_guard lk(lock_);
    return store_.size();
  }
  bool empty() const noexcept { return qsize() == 0; }
  bool full() const noexcept { return maxsize_ > 0 && qsize() >= maxsize_; }
  std::size_t maxsize() const noexcept { return maxsize_; }

  /// Counts the getters' and the putters' waits from now on (weft/runtime/wait_stats.hpp).
  void track_waits() {
    WaitCounters* g = get_tracking_.make();
    WaitCounters* p = put_tracking_.make();
    std::lock_guard lk(lock_);
    getters_.count_waits(g);
    putters_.count_waits(p);
  }
  WaitStats get_wait_stats() const noexcept { return get_tracking_.snapshot(); }
  WaitStats put_wait_stats() const noexcept { return put_tracking_.snapshot(); }

 private:
  enum Outcome { kDone, kWouldWait, kShutDown };

  /// Under lock_: hands `v` to a waiting getter or stores it.
  Outcome try_put(T& v, WakeList& woken) {
    if (shut_down_) return kShutDown;
    if (auto* g = static_cast<GetNode*>(getters_.claim_front())) {
      g->item.emplace(std::move(v));
      ++unfinished_;
      woken.push(g);
      return kDone;
    }
    if (maxsize_ > 0 && store_.size() >= maxsize_) return kWouldWait;
    store_.push(std::move(v));  // may throw (allocation): nothing changed then
    ++unfinished_;
    return kDone;
  }

  /// Under lock_: takes an item into `out`; if that freed a slot, moves the first waiting
  /// putter's item in.
  Outcome try_get(std::optional<T>& out, WakeList& woken) noexcept {
    if (store_.size() == 0) return shut_down_ ? kShutDown : kWouldWait;
    out.emplace(store_.pop());
    if (auto* p = static_cast<PutNode*>(putters_.claim_front())) {
      try {
        store_.push(std::move(*p->value));
        ++unfinished_;
      } catch (...) {
        p->error = std::current_exception();
      }
      woken.push(p);
    }
    return kDone;
  }

  // The lock has a cache line to itself, and what every put and get touches under it comes
  // next, together. A task waiting for the lock on another core polls only the lock's line,
  // so the holder keeps the data's line for its whole critical section (spin_lock.hpp).
  alignas(64) mutable SpinLock lock_;
  alignas(64) bool shut_down_ = false;  // guarded by lock_
  Store store_;                         // guarded by lock_
  std::size_t unfinished_ = 0;          // guarded by lock_: items put and not yet task_done
  WaiterList getters_;                  // guarded by lock_
  WaiterList putters_;                  // guarded by lock_
  WaiterList joiners_;                  // guarded by lock_
  std::size_t maxsize_;
  WaitTracking get_tracking_;
  WaitTracking put_tracking_;

 public:
  /// The awaiter of put(); the public queue derives its own PutAwaiter from it. Movable
  /// until it is awaited.
  class [[nodiscard]] PutAwaiter : PutNode {
   public:
    PutAwaiter(BasicQueue& q, T&& v) noexcept : q_(&q), v_(std::move(v)) {}
    PutAwaiter(PutAwaiter&& o) noexcept : PutNode(), q_(o.q_), v_(std::move(o.v_)) {}
    PutAwaiter& operator=(PutAwaiter&&) = delete;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current()) {
      TaskHeader* t = queue::task_for(Store::kPut);
      WakeList woken;
      {
        std::lock_guard lk(q_->lock_);
        switch (q_->try_put(v_, woken)) {
          case kDone:
            break;
          case kShutDown:
            this->shut_down = true;
            return false;
          case kWouldWait:
            this->init(t, &q_->lock_, &q_->putters_);
            this->value = &v_;
            return queue::publish(*this, h, {"queue put", where});
        }
      }
      woken.wake_all();
      return queue::complete_at_once(t, h);
    }
    void await_resume() { this->finish(); }

   private:
    BasicQueue* q_;
    T v_;
  };

  /// The awaiter of get(); the public queue derives its own GetAwaiter from it. Movable
  /// until it is awaited.
  class [[nodiscard]] GetAwaiter : GetNode {
   public:
    explicit GetAwaiter(BasicQueue& q) noexcept : q_(&q) {}
    GetAwaiter(GetAwaiter&& o) noexcept : GetNode(), q_(o.q_) {}
    GetAwaiter& operator=(GetAwaiter&&) = delete;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current()) {
      TaskHeader* t = queue::task_for(Store::kGet);
      WakeList woken;
      {
        std::lock_guard lk(q_->lock_);
        switch (q_->try_get(this->item, woken)) {
          case kDone:
            break;
          case kShutDown:
            this->shut_down = true;
            return false;
          case kWouldWait:
            this->init(t, &q_->lock_, &q_->getters_);
            return queue::publish(*this, h, {"queue get", where});
        }
      }
      woken.wake_all();
      return queue::complete_at_once(t, h);  // the item is already ours, in this->item
    }
    T await_resume() { return this->finish(); }

   private:
    BasicQueue* q_;
  };

  /// The awaiter of join(); the public queue derives its own JoinAwaiter from it. Movable
  /// until it is awaited.
  class [[nodiscard]] JoinAwaiter : SyncWaiter {
   public:
    explicit JoinAwaiter(BasicQueue& q) noexcept : q_(&q) {}
    JoinAwaiter(JoinAwaiter&& o) noexcept : SyncWaiter(), q_(o.q_) {}
    JoinAwaiter& operator=(JoinAwaiter&&) = delete;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current()) {
      TaskHeader* t = queue::task_for(Store::kJoin);
      std::lock_guard lk(q_->lock_);
      if (q_->unfinished_ == 0) return false;
      this->init(t, &q_->lock_, &q_->joiners_);
      return queue::publish(*this, h, {"queue join", where});
    }
    void await_resume() { queue::throw_if_cancelled(*this); }

   private:
    BasicQueue* q_;
  };
};

}  // namespace weft::detail
