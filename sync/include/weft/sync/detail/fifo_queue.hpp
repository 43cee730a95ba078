// weft::Queue<T>'s implementation (its API: queue.hpp): the FIFO queue, bounded or unbounded,
// between tasks on any workers and plain threads. LifoQueue and PriorityQueue have their own
// (basic_queue.hpp).
//
// ## Two sides, two locks
// The items live in a ring of slots indexed by two counters that only grow: `tail_` (the
// next slot to fill) and `head_` (the oldest item). The producer side (tail_, the putters'
// and joiners' lists, the task_done count) is guarded by `tail_lock_`; the consumer side
// (head_ and the getters' list) by `head_lock_`. Each lock and each counter has a cache line
// of its own, so a put and a get running on two cores at once neither wait for each other's
// lock nor take each other's lines (the two-lock queue of Michael and Scott, on a ring). A
// put reads head_ only when the ring looks full from the last head it saw, a get reads tail_
// only when it looks empty from the last tail it saw; in between, producers and consumers
// share only the slots. The ring doubles while it is full and below the bound (for a
// bounded queue, up to the bound rounded up to a power of two); at a steady depth nothing is
// allocated.
//
// In ASan builds a slot that holds no item is poisoned (detail/sanitizer.hpp, DESIGN
// invariant 5), so reading an item after its get, or a slot no put has filled, is reported.
// Only for items a whole number of ASan granules long: the slot a put fills and the slot a
// get empties at the same time must not share a granule, whose shadow byte both would write.
//
// ## Waiting: under both locks, so the fast paths need no fence
// A put or get that cannot complete takes both locks (tail_lock_ first: the one order in
// which both are ever held), looks again (exactly: nothing moves while it holds both), and
// if it still cannot complete links its node (in its frame) and sets its side's flag,
// `getters_waiting_` or `putters_waiting_`. Every flag is written only under both locks, so
// a put reads getters_waiting_ under tail_lock_ alone, right after storing its item, and
// sees exactly whether a getter linked before it (a get reads putters_waiting_ likewise
// under head_lock_). Seeing it, it takes both locks and serves the waiters (serve_locked):
// it claims the first getter (the wait protocol of detail/waiter_list.hpp; a node that a
// cancellation claimed first is skipped), pops the oldest item into its node, and so on;
// and it claims putters and moves their items into the ring while there is room. Claiming
// comes before moving, so a cancelled get leaves the item in the queue and a cancelled put
// puts nothing (DESIGN invariant 4). Claimed waiters are resumed after the locks are
// released. A flag may stay set after its last waiter was cancelled; the next serve clears it.
//
// A put that finds putters linked (a get that finds getters linked) waits behind them: a
// waiter is never overtaken. put_nowait and get_nowait do not wait and so do not queue.
//
// ## Lifetime
// Destroying a queue while tasks or threads wait on it aborts with a message. A call that
// completed its own put or get touches the queue only until it releases its lock, except
// when it saw the other side's flag and goes on to serve the waiters under both locks: such
// a call counts itself in `serving_` before it lets its lock go, and the destructor (which
// takes both locks) waits until no call is serving. So a queue may be destroyed as soon as
// its owner has what it waited for, e.g. right after a get that timed out while a put from
// another thread was about to serve it. (Calling into a queue that is being destroyed is
// still an error, as for any C++ object.)
//
// ## Shutdown (asyncio 3.13)
// shutdown() takes both locks: putters fail at once, getters once the ring is drained;
// shutdown(true) drops the items (each counts as task_done) and fails every getter.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <thread>
#include <utility>

#include "weft/runtime/detail/sanitizer.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/sync/detail/fatal.hpp"
#include "weft/sync/detail/queue_nodes.hpp"
#include "weft/sync/detail/waiter_list.hpp"
#include "weft/sync/queue_errors.hpp"

namespace weft::detail {

/// The queue. The operations are documented where users read them (queue.hpp); the comments
/// here say how they work. Items are moved under a spin lock, so T must be
/// nothrow-move-constructible (Queue checks it).
template <class T>
class FifoQueue {
  using PutNode = queue::PutNode<T>;
  using GetNode = queue::GetNode<T>;

  // kWouldWait: full (or empty), nothing changed. kLinked: the node waits (its owner must
  // not touch it once the locks are released). kRefused: a task's wait was refused because
  // a cancellation is pending (the node is not linked; node.cancelled is set).
  enum Outcome { kDone, kWouldWait, kShutDown, kLinked, kRefused };

  /// Both locks, in the one order in which they are ever held together.
  class BothLocks {
   public:
    explicit BothLocks(FifoQueue& q) noexcept : q_(q) {
      q_.tail_lock_.lock();
      q_.head_lock_.lock();
    }
    ~BothLocks() {
      q_.head_lock_.unlock();
      q_.tail_lock_.unlock();
    }
    BothLocks(const BothLocks&) = delete;
    BothLocks& operator=(const BothLocks&) = delete;

   private:
    FifoQueue& q_;
  };

 public:
  class PutAwaiter;
  class GetAwaiter;
  class JoinAwaiter;

  /// A queue of at most `maxsize` items; 0 means unbounded.
  explicit FifoQueue(std::size_t maxsize = 0) noexcept
      : maxsize_(maxsize), bound_(maxsize ? maxsize : SIZE_MAX) {}
  /// Aborts with a message if tasks or threads still wait on the queue.
  ~FifoQueue() {
    std::size_t n = 0;
    for (unsigned spins = 0;; ++spins) {
      {
        BothLocks both(*this);
        // Acquire: the serving call's last touch (its decrement) happens-before the frees.
        if (serving_.load(std::memory_order_acquire) == 0) {
          n = getters_.size() + putters_.size() + joiners_.size();
          break;
        }
      }
      // A call is still serving, and it needs both locks: let it have them.
      if (spins < 64) {
        TaskHeader::spin_pause();
      } else {
        std::this_thread::yield();
      }
    }
    if (n) fatal_destroyed_with_waiters("weft::Queue", n, "to put, get or join");
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    for (std::size_t h = head_.load(std::memory_order_relaxed); h != t; ++h) slot(h)->~T();
    if (slots_) std::allocator<T>().deallocate(slots_, capacity_);
  }
  FifoQueue(const FifoQueue&) = delete;
  FifoQueue& operator=(const FifoQueue&) = delete;

  // put_nowait and blocking_put take the public call's by-value parameter, which holds the
  // item until it is moved in (by a get, while blocking_put's thread waits).
  void put_nowait(T& v) {
    bool serve = false;
    Outcome o;
    {
      std::lock_guard lk(tail_lock_);
      o = try_push(v, /*head_locked=*/false);  // may throw (allocation): nothing put
      serve = o == kDone && getters_waiting_ && begin_serving();
    }
    if (o == kWouldWait) throw QueueFull();
    if (o == kShutDown) throw QueueShutDown();
    if (serve) serve_waiters();
  }
  T get_nowait() {
    std::optional<T> item;
    bool serve = false;
    Outcome o;
    {
      std::lock_guard lk(head_lock_);
      o = try_pop(item);
      serve = o == kDone && putters_waiting_ && begin_serving();
    }
    if (o == kWouldWait) throw QueueEmpty();
    if (o == kShutDown) throw QueueShutDown();
    if (serve) serve_waiters();
    return std::move(*item);
  }
  void blocking_put(T& v) {
    if (in_runtime()) throw UsageError("weft::Queue::blocking_put called on a worker thread");
    BlockingSignal signal;
    PutNode node;
    node.init_blocking(&signal, &tail_lock_, &putters_);
    node.value = &v;
    const Outcome o = put(v, node, nullptr, {}, /*site=*/{});
    if (o == kShutDown) throw QueueShutDown();
    if (o == kLinked) signal.wait();
    node.finish();
  }
  T blocking_get() {
    if (in_runtime()) throw UsageError("weft::Queue::blocking_get called on a worker thread");
    BlockingSignal signal;
    GetNode node;
    node.init_blocking(&signal, &head_lock_, &getters_);
    const Outcome o = get(node, nullptr, {}, /*site=*/{});
    if (o == kShutDown) throw QueueShutDown();
    if (o == kLinked) signal.wait();
    return node.finish();
  }

  void task_done() {
    WakeList woken;  // declared first: resumes the joiners after the unlock
    std::lock_guard lk(tail_lock_);
    const std::size_t put = tail_.load(std::memory_order_relaxed);
    if (done_ == put) {
      throw std::logic_error("weft::Queue::task_done: called more times than items were put");
    }
    if (++done_ == put) queue::claim_all(joiners_, woken);
  }

  void shutdown(bool immediate = false) noexcept {
    WakeList woken;
    {
      BothLocks both(*this);
      shut_down_ = true;
      if (immediate) {
        const std::size_t t = tail_.load(std::memory_order_relaxed);
        std::size_t h = head_.load(std::memory_order_relaxed);
        done_ += t - h;  // every item dropped counts as task_done
        for (; h != t; ++h) bury(slot(h));
        head_.store(h, std::memory_order_release);
        tail_seen_ = t;
        if (done_ == t) queue::claim_all(joiners_, woken);
      }
      while (auto* p = static_cast<PutNode*>(putters_.claim_front())) {
        p->shut_down = true;
        woken.push(p);
      }
      putters_waiting_ = false;
      fail_getters_if_drained(woken);
    }
    woken.wake_all();
  }

  std::size_t qsize() const noexcept {
    // head_ first: it never passes tail_, so the difference is never negative.
    const std::size_t h = head_.load(std::memory_order_acquire);
    return tail_.load(std::memory_order_acquire) - h;
  }
  bool empty() const noexcept { return qsize() == 0; }
  bool full() const noexcept { return maxsize_ > 0 && qsize() >= maxsize_; }
  std::size_t maxsize() const noexcept { return maxsize_; }

  /// Counts the getters' and the putters' waits from now on (weft/runtime/wait_stats.hpp).
  void track_waits() {
    WaitCounters* g = get_tracking_.make();
    WaitCounters* p = put_tracking_.make();
    BothLocks both(*this);
    getters_.count_waits(g);
    putters_.count_waits(p);
  }
  WaitStats get_wait_stats() const noexcept { return get_tracking_.snapshot(); }
  WaitStats put_wait_stats() const noexcept { return put_tracking_.snapshot(); }

 private:
  static constexpr std::size_t kFirstCapacity = 16;

  static constexpr bool kPoisonSlots = kAddressSanitized && sizeof(T) % kPoisonGranule == 0;

  T* slot(std::size_t i) const noexcept { return slots_ + (i & (capacity_ - 1)); }

  /// Destroys the item in `s`; under ASan the empty slot is poisoned (see the top of the file).
  static void bury(T* s) noexcept {
    s->~T();
    if constexpr (kPoisonSlots) poison_memory(s, sizeof(T));
  }
  /// Makes the empty slot `s` ready for an item to be constructed in it.
  static void revive(T* s) noexcept {
    if constexpr (kPoisonSlots) unpoison_memory(s, sizeof(T));
  }

  // ---- the producer side (under tail_lock_) ----

  /// Stores `v` at the tail if there is room. kWouldWait: full (nothing changed). May throw
  /// (allocation, when the ring grows): nothing changed then.
  Outcome try_push(T& v, bool head_locked) {
    if (shut_down_) return kShutDown;
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_seen_ >= bound_ || t - head_seen_ >= capacity_) {
      // Acquire: the get that moved head_ past a slot is done with it.
      head_seen_ = head_.load(std::memory_order_acquire);
      if (t - head_seen_ >= bound_) return kWouldWait;
      if (t - head_seen_ >= capacity_) {
        if (head_locked) {
          grow();
        } else {
          std::lock_guard hl(head_lock_);
          grow();
        }
      }
    }
    revive(slot(t));
    ::new (static_cast<void*>(slot(t))) T(std::move(v));
    tail_.store(t + 1, std::memory_order_release);  // publishes the item
    return kDone;
  }

  /// Doubles the ring, which is full and below the bound. Under both locks, so no get reads
  /// a slot meanwhile.
  void grow() {
    std::size_t cap = capacity_ ? 2 * capacity_ : kFirstCapacity;
    if (maxsize_ > 0 && maxsize_ <= (std::size_t{1} << 62)) {
      cap = std::min(cap, std::bit_ceil(maxsize_));
    }
    T* slots = std::allocator<T>().allocate(cap);
    if constexpr (kPoisonSlots) poison_memory(slots, cap * sizeof(T));
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    for (std::size_t i = head_.load(std::memory_order_relaxed); i != t; ++i) {
      T* from = slot(i);
      T* to = slots + (i & (cap - 1));
      revive(to);
      ::new (static_cast<void*>(to)) T(std::move(*from));
      from->~T();
    }
    if (slots_) std::allocator<T>().deallocate(slots_, capacity_);
    slots_ = slots;
    capacity_ = cap;
  }

  /// A put of `v`, with `node` (a task's, with its handle and wait site, or a blocking one)
  /// to wait in: kDone, kShutDown, kLinked or kRefused. May throw (allocation): nothing put.
  Outcome put(T& v, PutNode& node, TaskHeader* task, std::coroutine_handle<> h,
              const WaitSite& site) {
    return complete_or_wait(tail_lock_, putters_, putters_waiting_, getters_waiting_, node, task, h,
                            site, [&](bool both_locked) { return try_push(v, both_locked); });
  }

  // ---- the consumer side (under head_lock_) ----

  /// Takes the oldest item into `out`. kWouldWait: empty; kShutDown: empty and shut down.
  Outcome try_pop(std::optional<T>& out) noexcept {
    const std::size_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_seen_) {
      tail_seen_ = tail_.load(std::memory_order_acquire);  // and the items below it
      if (h == tail_seen_) return shut_down_ ? kShutDown : kWouldWait;
    }
    T* s = slot(h);
    out.emplace(std::move(*s));
    bury(s);
    head_.store(h + 1, std::memory_order_release);  // frees the slot
    return kDone;
  }

  /// A get into node.item, with `node` to wait in (see put()).
  Outcome get(GetNode& node, TaskHeader* task, std::coroutine_handle<> h,
              const WaitSite& site) noexcept {
    return complete_or_wait(head_lock_, getters_, getters_waiting_, putters_waiting_, node, task, h,
                            site, [&](bool) { return try_pop(node.item); });
  }

  /// Under head_lock_: once shut down and drained, every linked getter fails.
  void fail_getters_if_drained(WakeList& woken) noexcept {
    if (!shut_down_ ||
        tail_.load(std::memory_order_relaxed) != head_.load(std::memory_order_relaxed)) {
      return;
    }
    while (auto* g = static_cast<GetNode*>(getters_.claim_front())) {
      g->shut_down = true;
      woken.push(g);
    }
  }

  // ---- both ----

  /// Under both locks: hands the oldest items to waiting getters and moves waiting putters'
  /// items into the ring, while either can go on; then sets each flag to whether anyone is
  /// still linked on its side.
  void serve_locked(WakeList& woken) noexcept {
    for (bool progress = true; progress;) {
      progress = false;
      while (!getters_.empty() &&
             tail_.load(std::memory_order_relaxed) != head_.load(std::memory_order_relaxed)) {
        auto* g = static_cast<GetNode*>(getters_.claim_front());
        if (!g) break;
        try_pop(g->item);  // an item is there: kDone
        woken.push(g);
        progress = true;
      }
      while (!putters_.empty() &&
             tail_.load(std::memory_order_relaxed) - head_.load(std::memory_order_relaxed) <
                 bound_) {
        auto* p = static_cast<PutNode*>(putters_.claim_front());
        if (!p) break;
        try {
          // There is room, and putters are linked only before shutdown (which fails them
          // all): kDone, or it throws (allocation) and stores nothing.
          progress |= try_push(*p->value, /*head_locked=*/true) == kDone;
        } catch (...) {
          p->error = std::current_exception();
        }
        woken.push(p);
      }
    }
    fail_getters_if_drained(woken);
    getters_waiting_ = !getters_.empty();
    putters_waiting_ = !putters_.empty();
  }

  /// put() and get(), on the `own` side (its lock, waiter list and flag): `op(both_locked)`
  /// (try_push of the item, try_pop into the node) runs under `own_lock` alone, unless
  /// waiters are linked on this side (they go first). If it would wait, it runs again under
  /// both locks once whoever can be served is, and if it still would, `node` is linked and
  /// the flag set. If it completed while `other_waiting`, the other side's waiters are
  /// served. Returns kDone, kShutDown, kLinked or kRefused. Inlined into put() and get(): it
  /// is the fast path of every message, where a call and its spills are a measurable share
  /// of the work (bench/results/2026-12-06-sync-constants.md).
  template <class Op>
  [[gnu::always_inline]] Outcome complete_or_wait(SpinLock& own_lock, WaiterList& own,
                                                  bool& own_waiting, const bool& other_waiting,
                                                  SyncWaiter& node, TaskHeader* task,
                                                  std::coroutine_handle<> h, const WaitSite& site,
                                                  Op op) {
    bool serve = false;
    {
      std::lock_guard lk(own_lock);
      if (own.empty()) {
        const Outcome o = op(/*both_locked=*/false);
        if (o == kDone && other_waiting) {
          serve = begin_serving();
        } else if (o != kWouldWait) {
          return o;
        }
      }
    }
    if (serve) {
      serve_waiters();
      return kDone;
    }
    WakeList woken;  // resumed after the locks are released (also if op throws)
    Outcome o;
    {
      BothLocks both(*this);
      serve_locked(woken);  // whoever waits ahead of us first
      o = own.empty() ? op(/*both_locked=*/true) : kWouldWait;
      if (o == kDone) {
        serve_locked(woken);
      } else if (o == kWouldWait) {
        if (shut_down_) {
          o = kShutDown;  // no new waits: shutdown and serve_locked failed the linked ones
        } else {
          o = link(node, own, task, h, site);
          own_waiting = true;
        }
      }
    }
    woken.wake_all();
    return o;
  }

  /// Under the lock of the side that saw the other side's flag, before it lets go: the call
  /// is serving (the destructor waits for it). Always true.
  bool begin_serving() noexcept {
    serving_.fetch_add(1, std::memory_order_relaxed);  // ordered by the lock's release
    return true;
  }

  /// After begin_serving: serves the waiters under both locks and resumes them once it no
  /// longer touches the queue.
  void serve_waiters() noexcept {
    WakeList woken;
    {
      BothLocks both(*this);
      serve_locked(woken);
    }
    // Release: everything above happens-before a destructor that sees the count drop. The
    // last touch of the queue; the nodes are ours until woken.
    serving_.fetch_sub(1, std::memory_order_release);
    woken.wake_all();
  }

  /// Links a task's node (publishing its wait at `site`: kRefused if a cancellation is
  /// pending, which sets node.cancelled and leaves it unlinked) or a blocking node. kLinked
  /// otherwise.
  static Outcome link(SyncWaiter& node, WaiterList& list, TaskHeader* task,
                      std::coroutine_handle<> h, const WaitSite& site) noexcept {
    if (!task) {
      list.push_back(&node);
      return kLinked;
    }
    return queue::publish(node, h, site) ? kLinked : kRefused;
  }

  // Each lock on a line of its own (tasks on other cores poll it while they wait:
  // spin_lock.hpp), then what its holder touches.
  alignas(64) mutable SpinLock tail_lock_;
  alignas(64) std::atomic<std::size_t> tail_{0};  // written under tail_lock_
  std::size_t head_seen_ = 0;     // under tail_lock_: a value head_ had (a lower bound)
  std::size_t done_ = 0;          // under tail_lock_: task_done calls + items dropped
  WaiterList putters_;            // under tail_lock_
  WaiterList joiners_;            // under tail_lock_
  bool getters_waiting_ = false;  // written under both locks, read under either

  alignas(64) mutable SpinLock head_lock_;
  alignas(64) std::atomic<std::size_t> head_{0};  // written under head_lock_
  std::size_t tail_seen_ = 0;                     // under head_lock_: a value tail_ had
  WaiterList getters_;                            // under head_lock_
  bool putters_waiting_ = false;                  // written under both locks, read under either

  // Read by both sides, written only under both locks (or never).
  alignas(64) T* slots_ = nullptr;
  std::size_t capacity_ = 0;  // a power of two once slots_ is allocated
  bool shut_down_ = false;
  std::atomic<unsigned> serving_{0};  // calls between begin_serving and serve_waiters' end
  const std::size_t maxsize_;
  WaitTracking get_tracking_, put_tracking_;  // track_waits
  const std::size_t bound_;                   // maxsize_, or SIZE_MAX when unbounded

 public:
  /// The awaiter of put(); Queue derives its own PutAwaiter from it. Movable until it is
  /// awaited.
  class [[nodiscard]] PutAwaiter : PutNode {
   public:
    PutAwaiter(FifoQueue& q, T&& v) noexcept : q_(&q), v_(std::move(v)) {}
    PutAwaiter(PutAwaiter&& o) noexcept : PutNode(), q_(o.q_), v_(std::move(o.v_)) {}
    PutAwaiter& operator=(PutAwaiter&&) = delete;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current()) {
      TaskHeader* t = queue::task_for("weft::Queue::put");
      this->init(t, &q_->tail_lock_, &q_->putters_);
      this->value = &v_;
      // May throw (allocation): nothing put.
      switch (q_->put(v_, *this, t, h, {"queue put", where})) {
        case kLinked:
          return true;  // do not touch the frame
        case kShutDown:
          this->shut_down = true;
          return false;
        case kRefused:  // await_resume raises CancelledError
          return false;
        case kDone:
        case kWouldWait:  // not returned by put()
          break;
      }
      return queue::complete_at_once(t, h);
    }
    void await_resume() { this->finish(); }

   private:
    FifoQueue* q_;
    T v_;
  };

  /// The awaiter of get(); Queue derives its own GetAwaiter from it. Movable until it is
  /// awaited.
  class [[nodiscard]] GetAwaiter : GetNode {
   public:
    explicit GetAwaiter(FifoQueue& q) noexcept : q_(&q) {}
    GetAwaiter(GetAwaiter&& o) noexcept : GetNode(), q_(o.q_) {}
    GetAwaiter& operator=(GetAwaiter&&) = delete;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current()) {
      TaskHeader* t = queue::task_for("weft::Queue::get");
      this->init(t, &q_->head_lock_, &q_->getters_);
      switch (q_->get(*this, t, h, {"queue get", where})) {
        case kLinked:
          return true;  // do not touch the frame
        case kShutDown:
          this->shut_down = true;
          return false;
        case kRefused:
          return false;
        case kDone:
        case kWouldWait:
          break;
      }
      return queue::complete_at_once(t, h);  // the item is already ours, in this->item
    }
    T await_resume() { return this->finish(); }

   private:
    FifoQueue* q_;
  };

  /// The awaiter of join(); Queue derives its own JoinAwaiter from it. Movable until it is
  /// awaited.
  class [[nodiscard]] JoinAwaiter : SyncWaiter {
   public:
    explicit JoinAwaiter(FifoQueue& q) noexcept : q_(&q) {}
    JoinAwaiter(JoinAwaiter&& o) noexcept : SyncWaiter(), q_(o.q_) {}
    JoinAwaiter& operator=(JoinAwaiter&&) = delete;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current()) {
      TaskHeader* t = queue::task_for("weft::Queue::join");
      this->init(t, &q_->tail_lock_, &q_->joiners_);
      std::lock_guard lk(q_->tail_lock_);
      if (q_->done_ == q_->tail_.load(std::memory_order_relaxed)) return false;
      // Under the lock: the frame is ours.
      return link(*this, q_->joiners_, t, h, {"queue join", where}) == kLinked;
    }
    void await_resume() { queue::throw_if_cancelled(*this); }

   private:
    FifoQueue* q_;
  };
};

}  // namespace weft::detail
