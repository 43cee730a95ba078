// The shared state of a weft::Pool<T> (its API: pool.hpp): the objects, the slots, the
// waiting acquirers, and the pool's own tasks (resets, maintenance).
//
// ## Slots and objects
// `size_` counts slots: objects idle, leased, being checked or reset, and objects being made
// (a slot is taken before create() runs, so max_size bounds the objects that exist at any
// moment, and a slot is freed only after its old object is destroyed). Idle objects sit in
// an intrusive list, most recently returned first (asyncpg's LIFO): the busy ones stay warm
// and the others age out under max_idle_time.
//
// ## Hand-off and fairness (the protocol of detail/waiter_list.hpp)
// One SpinLock guards the idle list, the counters and the FIFO of waiting acquirers; it is
// never held across a co_await or while T is made or destroyed. A returned object goes to
// the first waiter whose wait it can claim, else to the idle list; a freed slot goes to the
// first waiter (who then creates the object), else back to the count. So a claimable waiter
// never coexists with an idle object or a free slot, and a newcomer cannot take what a
// waiter was promised: waiters are served in arrival order. A claim lost to a cancellation
// or a timeout moves on to the next waiter or to the idle list, so a waiter that gives up
// never takes an object with it (DESIGN invariant 4). A claimed waiter owns what it was
// handed; its cancellation, if any, meets it at its next await, where its Lease unwinds and
// returns the object.
//
// ## Returning an object
// A Lease's destructor cannot wait, so returning is synchronous when the object needs no
// reset: the recycle decision, then the hand-off above. An object that needs its reset
// hook goes to a task the pool spawns (reset_then_return); until that returns the object
// counts as neither idle nor leased, and close() waits for it like for a lease. A lease
// dropped where no task can be spawned (a plain thread, a runtime shutting down) discards an
// object that needed a reset: an object in an unknown state is never handed out.
//
// ## Maintenance
// With min_size, max_idle_time or max_lifetime set, one task per pool (maintain) closes idle
// objects past their idle time (oldest first, down to min_size) or lifetime, and creates
// objects up to min_size. It sleeps until the earliest idle object's deadline; a return that
// brings an earlier deadline, a slot freed below min_size, and close() wake it (`wake_`).
// Objects it keeps for min_size although idle too long are looked at again max_idle_time
// later, so it never spins. A failed create is retried after kRefillRetry, not at once.
//
// ## Closing
// shut() marks the pool closed, fails every waiter with PoolClosed, destroys the idle objects
// and cancels the maintenance task; objects that come back later are destroyed on return.
// `drained_` is set once no slot is taken any more, for close() to wait on.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <utility>

#include "weft/runtime/cancel.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/join_handle.hpp"
#include "weft/runtime/time.hpp"
#include "weft/sync/detail/waiter_list.hpp"
#include "weft/sync/event.hpp"
#include "weft/sync/pool_errors.hpp"
#include "weft/sync/pool_options.hpp"

namespace weft::detail {

/// One pooled object and its ages. Allocated once per object; the pool passes the pointer
/// (idle list, waiter node, lease), never moves the object.
template <class T>
struct PoolEntry {
  PoolEntry(T&& v, TimePoint born) : value(std::move(v)), created(born), idle_since(born) {}

  T value;
  TimePoint created;
  TimePoint idle_since;       // when it last went idle; guarded by the pool's lock
  PoolEntry* prev = nullptr;  // the idle list's links, guarded by the pool's lock
  PoolEntry* next = nullptr;
};

/// The idle objects, most recently returned first. Guarded by the pool's lock.
template <class T>
class IdleList {
 public:
  using Entry = PoolEntry<T>;

  std::size_t size() const noexcept { return n_; }
  Entry* back() const noexcept { return tail_; }

  void push_front(Entry* e) noexcept {
    e->prev = nullptr;
    e->next = head_;
    (head_ ? head_->prev : tail_) = e;
    head_ = e;
    ++n_;
  }
  Entry* pop_front() noexcept {
    Entry* e = head_;
    if (e) remove(e);
    return e;
  }
  void remove(Entry* e) noexcept {
    (e->prev ? e->prev->next : head_) = e->next;
    (e->next ? e->next->prev : tail_) = e->prev;
    e->prev = e->next = nullptr;
    --n_;
  }

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  std::size_t n_ = 0;
};

/// Entries taken out under the pool's lock, to destroy once it is released (closing a
/// connection is no work for a spin lock). Their slots stay taken until then.
template <class T>
class DeadEntries {
 public:
  DeadEntries() = default;
  DeadEntries(const DeadEntries&) = delete;
  DeadEntries& operator=(const DeadEntries&) = delete;
  ~DeadEntries() { destroy(); }

  void push(PoolEntry<T>* e) noexcept {
    e->next = head_;
    head_ = e;
    ++n_;
  }
  bool empty() const noexcept { return n_ == 0; }
  /// Destroys the entries now; returns how many there were.
  std::size_t destroy() noexcept {
    while (PoolEntry<T>* e = head_) {
      head_ = e->next;
      delete e;
    }
    return std::exchange(n_, 0);
  }

 private:
  PoolEntry<T>* head_ = nullptr;
  std::size_t n_ = 0;
};

/// `t + d`, saturating at TimePoint::max() (no limit stays no limit).
inline TimePoint pool_deadline(TimePoint t, Duration d) noexcept {
  return d >= TimePoint::max() - t ? TimePoint::max() : t + d;
}

/// A duration for a message: "250 ms", "1.5 s".
inline std::string describe_duration(Duration d) {
  char buf[48];
  double ms = std::chrono::duration<double, std::milli>(d).count();
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%g ms", ms);
  } else {
    std::snprintf(buf, sizeof buf, "%g s", ms / 1000);
  }
  return buf;
}

/// Throws std::invalid_argument naming the pool and the option if `options` or `hooks`
/// cannot make a pool.
template <class T>
void validate_pool(const PoolHooks<T>& hooks, const PoolOptions& options) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument("weft::Pool '" + options.name + "': " + what);
  };
  if (!hooks.create) fail("the create hook is empty");
  if (options.max_size == 0) fail("max_size is 0");
  if (options.min_size > options.max_size) {
    fail("min_size " + std::to_string(options.min_size) + " is above max_size " +
         std::to_string(options.max_size));
  }
  if (options.acquire_timeout < Duration::zero()) fail("acquire_timeout is negative");
  if (options.check_after_idle < Duration::zero()) fail("check_after_idle is negative");
  if (options.max_lifetime <= Duration::zero()) fail("max_lifetime is not positive");
  if (options.max_idle_time <= Duration::zero()) fail("max_idle_time is not positive");
}

/// The state a Pool, its leases, its waiting acquirers and its own tasks share (see the top
/// of this file). Held by shared_ptr: a lease or a reset task may outlive the Pool object.
template <class T>
class PoolCore {
 public:
  using Entry = PoolEntry<T>;

  /// How long the maintenance task waits before it tries again to create objects up to
  /// min_size after a create failed (the server may be down: no retry storm).
  static constexpr Duration kRefillRetry = std::chrono::seconds(1);

  /// What an acquirer got: an object (from the idle ones, or handed over by a return), or
  /// a slot to create one in (entry == nullptr).
  struct Taken {
    Entry* entry = nullptr;
    bool from_idle = false;
  };
  class TakeAwaiter;

  PoolCore(PoolHooks<T> hooks, PoolOptions options)
      : hooks_(std::move(hooks)),
        options_(std::move(options)),
        maintained_(options_.min_size > 0 || options_.max_lifetime != Duration::max() ||
                    options_.max_idle_time != Duration::max()),
        stamps_idle_(maintained_ ||
                     (hooks_.check && options_.check_after_idle > Duration::zero())) {}

  ~PoolCore() {
    DeadEntries<T> dead;
    while (Entry* e = idle_.pop_front()) dead.push(e);
  }
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  const PoolHooks<T>& hooks() const noexcept { return hooks_; }
  const PoolOptions& options() const noexcept { return options_; }

  // ---- statistics (snapshots, any thread) ----

  std::size_t size() const noexcept {
    std::lock_guard lk(lock_);
    return size_;
  }
  std::size_t idle() const noexcept {
    std::lock_guard lk(lock_);
    return idle_.size();
  }
  // Relaxed: a statistic, synchronising with nothing.
  std::size_t in_use() const noexcept { return leased_.load(std::memory_order_relaxed); }
  std::size_t waiting() const noexcept {
    std::lock_guard lk(lock_);
    return waiters_.size();
  }
  void track_waits() {
    WaitCounters* c = tracking_.make();
    std::lock_guard lk(lock_);
    waiters_.count_waits(c);
  }
  WaitStats wait_stats() const noexcept { return tracking_.snapshot(); }
  // Relaxed: a hint outside the lock (see closed_); decisions re-read it under lock_.
  bool closed() const noexcept { return closed_.load(std::memory_order_relaxed); }

  // ---- acquiring ----

  /// True if an object taken from the idle ones must pass the check hook first.
  bool needs_check(const Entry& e) const {
    if (!hooks_.check) return false;
    if (options_.check_after_idle == Duration::zero()) return true;
    return weft::now() - e.idle_since >= options_.check_after_idle;
  }

  /// A new object's entry. Throws what allocation throws (the caller frees the slot).
  Entry* make_entry(T&& v) { return new Entry(std::move(v), weft::now()); }

  /// Counts a lease made or ended (in_use()). Relaxed: a statistic.
  void lease_made() noexcept { leased_.fetch_add(1, std::memory_order_relaxed); }
  void lease_ended() noexcept { leased_.fetch_sub(1, std::memory_order_relaxed); }

  /// The message of PoolTimeout after waiting `timeout`.
  std::string timeout_message(Duration timeout) const {
    std::lock_guard lk(lock_);
    return "weft::Pool '" + options_.name + "': acquire timed out after " +
           describe_duration(timeout) + " (max_size " + std::to_string(options_.max_size) + ", " +
           std::to_string(size_ - idle_.size()) + " taken, " + std::to_string(waiters_.size()) +
           " waiting)";
  }
  /// The message of PoolClosed.
  std::string closed_message() const {
    return "weft::Pool '" + options_.name + "': acquire on a closed pool";
  }

  // ---- returning ----

  /// A lease ended with `e`: keep, reset or discard it as decided. `self` keeps the core
  /// alive for a reset task. Any thread; never throws.
  void give_back(Entry* e, std::shared_ptr<PoolCore> self) noexcept {
    switch (decide(*e)) {
      case Recycle::Keep:
        put_back(e);
        break;
      case Recycle::Discard:
        discard(e);
        break;
      case Recycle::Reset:
        start_reset(std::move(self), e);
        break;
    }
  }

  /// Hands `e` to the first waiter it can claim, else adds it to the idle ones; on a
  /// closed pool destroys it. Any thread.
  void put_back(Entry* e) noexcept {
    WakeList woken;
    bool closed = false;
    bool wake = false;
    TimePoint now = stamps_idle_ ? weft::now() : TimePoint{};
    {
      std::lock_guard lk(lock_);
      if (closed_.load(std::memory_order_relaxed)) {
        closed = true;
      } else if (auto* n = static_cast<Node*>(waiters_.claim_front())) {
        n->entry = e;
        woken.push(n);
      } else {
        e->idle_since = now;
        idle_.push_front(e);
        if (maintained_) {
          TimePoint due = std::min(pool_deadline(e->created, options_.max_lifetime),
                                   pool_deadline(now, options_.max_idle_time));
          if (due < sleep_until_) {
            sleep_until_ = due;
            wake = true;
          }
        }
      }
    }
    if (closed) {
      discard(e);
      return;
    }
    woken.wake_all();
    if (wake) wake_.set();
  }

  /// Destroys `e` (outside the lock), then frees its slot. Any thread.
  void discard(Entry* e) noexcept {
    delete e;
    free_slots(1);
  }

  /// Gives `count` slots whose objects are gone (or were never made) to the first waiters,
  /// who will create objects in them, the rest back to the count. `refill`: wake the
  /// maintenance task if the pool fell below min_size (not for its own failed create or
  /// reaping: it refills right after, or retries later).
  void free_slots(std::size_t count, bool refill = true) noexcept {
    WakeList woken;
    bool drained = false;
    bool wake = false;
    {
      std::lock_guard lk(lock_);
      const bool closed = closed_.load(std::memory_order_relaxed);
      for (; count > 0 && !closed; --count) {
        auto* n = static_cast<Node*>(waiters_.claim_front());
        if (!n) break;
        woken.push(n);  // n->entry stays null: a slot
      }
      size_ -= count;
      drained = closed && size_ == 0;
      wake = refill && count > 0 && maintained_ && !closed && size_ < options_.min_size;
    }
    woken.wake_all();
    if (drained) drained_.set();
    if (wake) wake_.set();
  }

  // ---- the maintenance task ----

  /// Spawns the maintenance task if the options need one and it is not running yet. Call on
  /// a worker (the first acquire, or the Pool's constructor there). Throws what spawn throws.
  void start_maintenance(const std::shared_ptr<PoolCore>& self) {
    // Relaxed: a once-flag; the handle itself is published under lock_.
    if (!maintained_ || started_.load(std::memory_order_relaxed)) return;
    if (started_.exchange(true, std::memory_order_relaxed)) return;
    JoinHandle<void> h;
    try {
      h = weft::spawn(maintain(self), "weft::Pool maintenance");
    } catch (...) {
      started_.store(false, std::memory_order_relaxed);
      throw;
    }
    {
      std::lock_guard lk(lock_);
      if (!closed_.load(std::memory_order_relaxed)) {
        maintenance_ = std::move(h);
        return;
      }
    }
    h.cancel();  // closed meanwhile
  }

  // ---- closing ----

  /// Closes the pool: fails the waiters, destroys the idle objects, cancels the maintenance
  /// task. Idempotent; any thread.
  void shut() noexcept {
    WakeList woken;
    DeadEntries<T> dead;
    JoinHandle<void> maintenance;
    bool drained = false;
    {
      std::lock_guard lk(lock_);
      closed_.store(true, std::memory_order_relaxed);
      while (auto* n = static_cast<Node*>(waiters_.claim_front())) {
        n->closed = true;
        woken.push(n);
      }
      while (Entry* e = idle_.pop_front()) dead.push(e);
      drained = size_ == 0;
      maintenance = std::move(maintenance_);
    }
    woken.wake_all();
    maintenance.cancel();
    if (std::size_t n = dead.destroy()) {
      free_slots(n);  // sets drained_ if they were the last
    } else if (drained) {
      drained_.set();
    }
  }

  /// Set once the pool is closed and every slot is free (close() waits for it).
  Event& drained() noexcept { return drained_; }

 private:
  /// A waiting acquirer, in its coroutine frame: a return hands it an object, a freed slot
  /// leaves `entry` null, shut() sets `closed`.
  struct Node : SyncWaiter {
    Entry* entry = nullptr;
    bool closed = false;
  };

  /// Under lock_: the most recently returned idle object, else a free slot. False: wait.
  /// Idle objects past their lifetime found on the way go to `dead` with their slots; the
  /// acquirer reuses one of those slots if it needs one, and frees the others once they are
  /// destroyed.
  bool take_locked(Node& n, bool& from_idle, DeadEntries<T>& dead, TimePoint now) noexcept {
    while (Entry* e = idle_.pop_front()) {
      if (now - e->created >= options_.max_lifetime) {
        dead.push(e);
        continue;
      }
      n.entry = e;
      from_idle = true;
      return true;
    }
    if (!dead.empty()) return true;  // a slot: one of the dead objects'
    if (size_ >= options_.max_size) return false;
    ++size_;  // a slot: the acquirer creates the object
    return true;
  }

  Recycle decide(T& v, const Entry& e) noexcept {
    if (closed_.load(std::memory_order_relaxed)) return Recycle::Discard;
    if (options_.max_lifetime != Duration::max() &&
        weft::now() - e.created >= options_.max_lifetime) {
      return Recycle::Discard;
    }
    Recycle r = hooks_.reset ? Recycle::Reset : Recycle::Keep;
    if (hooks_.recycle) {
      try {
        r = hooks_.recycle(v);
      } catch (...) {
        return Recycle::Discard;
      }
    }
    if (r == Recycle::Reset && !hooks_.reset) return Recycle::Keep;
    return r;
  }
  Recycle decide(Entry& e) noexcept { return decide(e.value, e); }

  /// An object on its way back through a reset task. Dropped while still holding it (the
  /// task never ran: spawn failed, or the runtime cancelled it before it started), it
  /// discards the object, so the slot is never lost.
  struct Returning {
    Returning(std::shared_ptr<PoolCore> c, Entry* e) noexcept : core(std::move(c)), entry(e) {}
    Returning(Returning&& o) noexcept
        : core(std::move(o.core)), entry(std::exchange(o.entry, nullptr)) {}
    Returning& operator=(Returning&&) = delete;
    ~Returning() {
      if (entry) core->discard(entry);
    }
    std::shared_ptr<PoolCore> core;
    Entry* entry;
  };

  static Task<void> reset_then_return(Returning r) {
    bool ok = true;
    try {
      co_await r.core->hooks_.reset(r.entry->value);
    } catch (...) {
      ok = false;  // an object whose reset failed (or was cancelled) is not handed out
    }
    Entry* e = std::exchange(r.entry, nullptr);
    if (ok) {
      r.core->put_back(e);
    } else {
      r.core->discard(e);
    }
  }

  void start_reset(std::shared_ptr<PoolCore> self, Entry* e) noexcept {
    if (!current_task()) {  // no runtime to run the reset on
      discard(e);
      return;
    }
    try {
      (void)weft::spawn(reset_then_return(Returning(std::move(self), e)), "weft::Pool reset");
    } catch (...) {
      // The Returning discarded the object as the unstarted task went.
    }
  }

  /// Closes idle objects past their lifetime, or past their idle time while the pool keeps
  /// more than min_size (the longest idle first). Returns when to look again.
  TimePoint reap() {
    DeadEntries<T> dead;
    TimePoint now = weft::now();
    TimePoint next = TimePoint::max();
    {
      std::lock_guard lk(lock_);
      next = reap_locked(now, dead);
    }
    if (std::size_t n = dead.destroy()) free_slots(n, /*refill=*/false);
    return next;
  }

  /// Under lock_: reap()'s choice of the idle objects to close, into `dead`.
  TimePoint reap_locked(TimePoint now, DeadEntries<T>& dead) noexcept {
    TimePoint next = TimePoint::max();
    std::size_t kept = size_;  // the slots that stay taken
    for (Entry* e = idle_.back(); e;) {
      Entry* newer = e->prev;
      bool old = now - e->created >= options_.max_lifetime;
      bool idle_long = now - e->idle_since >= options_.max_idle_time;
      if (old || (idle_long && kept > options_.min_size)) {
        idle_.remove(e);
        dead.push(e);
        --kept;
      } else {
        next = std::min(next, pool_deadline(e->created, options_.max_lifetime));
        // Kept for min_size although idle too long: look again an idle time from now.
        TimePoint idle_due = pool_deadline(idle_long ? now : e->idle_since, options_.max_idle_time);
        next = std::min(next, idle_due);
      }
      e = newer;
    }
    sleep_until_ = next;
    return next;
  }

  /// Under lock_: takes a slot for an object made to reach min_size.
  bool reserve_warm_slot() noexcept {
    std::lock_guard lk(lock_);
    if (closed_.load(std::memory_order_relaxed) || size_ >= options_.min_size) return false;
    ++size_;
    return true;
  }

  /// Creates objects up to min_size. False if a create failed.
  Task<bool> refill() {
    while (reserve_warm_slot()) {
      Entry* e = nullptr;
      bool failed = false;
      try {
        T v = co_await hooks_.create();
        e = make_entry(std::move(v));
      } catch (const CancelledError&) {
        free_slots(1, /*refill=*/false);
        throw;
      } catch (...) {
        failed = true;
      }
      if (failed) {
        free_slots(1, /*refill=*/false);
        co_return false;
      }
      put_back(e);
    }
    co_return true;
  }

  /// The maintenance task: reap, refill, sleep until the next deadline or a wake-up. Ends
  /// when cancelled (shut()).
  static Task<void> maintain(std::shared_ptr<PoolCore> self) {
    PoolCore& c = *self;
    try {
      while (!c.closed()) {
        c.wake_.clear();  // a wake-up from here on is seen by the wait below
        TimePoint next = c.reap();
        bool filled = co_await c.refill();
        if (!filled) next = std::min(next, deadline_after(kRefillRetry));
        if (next == TimePoint::max()) {
          co_await c.wake_.wait();
          continue;
        }
        try {
          co_await timeout_at(next, c.wake_.wait());
        } catch (const TimeoutError&) {
          // the next deadline came
        }
      }
    } catch (const CancelledError&) {
      // shut(), or the runtime shutting down
    }
  }

  const PoolHooks<T> hooks_;
  const PoolOptions options_;
  const bool maintained_;               // a maintenance task is needed
  const bool stamps_idle_;              // somebody reads idle_since (maintenance, check_after_idle)
  std::atomic<bool> started_{false};    // the maintenance task was spawned (a once-flag)
  std::atomic<std::size_t> leased_{0};  // statistics only
  Event wake_;                          // wakes the maintenance task
  Event drained_;                       // closed and every slot free

  // Other cores wait for the lock: it has a line of its own (spin_lock.hpp).
  alignas(64) mutable SpinLock lock_;
  alignas(64) std::size_t size_ = 0;          // guarded by lock_
  IdleList<T> idle_;                          // guarded by lock_
  WaiterList waiters_;                        // guarded by lock_
  WaitTracking tracking_;                     // track_waits
  TimePoint sleep_until_ = TimePoint::max();  // guarded by lock_: maintenance's wake-up
  JoinHandle<void> maintenance_;              // guarded by lock_
  // Written under lock_ (relaxed: the lock orders it for readers under lock_). Read outside
  // the lock only as a hint whose staleness costs nothing: a stale "open" is re-checked
  // under the lock, a stale "closed" cannot happen (it is never cleared).
  std::atomic<bool> closed_{false};

 public:
  /// The awaiter of one attempt to take an object or a slot; `co_await` gives a Taken or
  /// throws PoolClosed or CancelledError. Movable until it is awaited.
  class [[nodiscard]] TakeAwaiter : Node {
   public:
    explicit TakeAwaiter(PoolCore& c) noexcept : c_(&c) {}
    TakeAwaiter(TakeAwaiter&& o) noexcept : Node(), c_(o.c_) {}
    TakeAwaiter& operator=(TakeAwaiter&&) = delete;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h,
                       std::source_location where = std::source_location::current()) {
      TaskHeader* t = &require_task("weft::Pool::acquire");
      DeadEntries<T> dead;  // idle objects past their lifetime, destroyed after the unlock
      TimePoint now = c_->options_.max_lifetime != Duration::max() ? weft::now() : TimePoint{};
      {
        std::lock_guard lk(c_->lock_);
        if (c_->closed_.load(std::memory_order_relaxed)) {
          this->closed = true;
          return false;
        }
        if (!c_->take_locked(*this, from_idle_, dead, now)) {
          this->init(t, &c_->lock_, &c_->waiters_);
          // Published: the frame is not touched again.
          if (this->publish(h, {"pool acquire", where})) return true;
          this->cancelled = true;
          return false;
        }
      }
      if (std::size_t n = dead.destroy()) {  // not published: the frame is still ours
        if (!this->entry) --n;               // one of their slots is ours now
        c_->free_slots(n);
      }
      if (budget_spend()) return false;
      t->set_resume_point(h);  // out of budget: holding what it took, go behind the others
      schedule_yield(t);
      return true;
    }
    Taken await_resume() {
      if (this->cancelled) {
        this->task->take_cancel();
        throw CancelledError();
      }
      if (this->closed) throw PoolClosed(c_->closed_message());
      return Taken{this->entry, from_idle_};
    }

   private:
    PoolCore* c_;
    bool from_idle_ = false;
  };
};

}  // namespace weft::detail
