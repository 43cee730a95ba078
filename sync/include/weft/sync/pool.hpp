// weft::Pool<T>: a pool of objects that are costly to make — connections, mostly — shared by
// tasks on any worker (asyncpg's Pool, aiohttp's connector limits, Rust's deadpool and bb8).
// The HTTP client keeps one per host, the PostgreSQL and MySQL clients one per database.
//
//   weft::Pool<Conn> pool({.create = [&]() -> weft::Task<Conn> { co_return co_await connect(); },
//                          .reset = [](Conn& c) -> weft::Task<> { co_await c.rollback(); }},
//                         {.name = "db", .max_size = 16, .acquire_timeout = 5s});
//   {
//     auto conn = co_await pool.acquire();  // a Lease: conn->query(...), *conn
//     ...
//   }                                        // back to the pool (reset first)
//   co_await pool.close(weft::now() + 10s);
//
// Hooks are a struct of std::functions (PoolHooks) rather than a manager type parameter:
// they run once per object made, checked or reset, each a coroutine of its own, so an
// indirect call is lost in the noise, and Pool<Conn> stays one type whatever makes the
// connections (a client keeps pools for hosts it learns at run time in one map).
//
// How objects, slots and waiters are handed around, and why a waiter that is cancelled or
// times out never loses or leaks an object: detail/pool_core.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "weft/runtime/cancel.hpp"
#include "weft/runtime/detail/context.hpp"
#include "weft/runtime/detail/wait_counters.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"
#include "weft/sync/detail/pool_core.hpp"
#include "weft/sync/pool_errors.hpp"
#include "weft/sync/pool_options.hpp"

namespace weft {

/// A pool of up to max_size objects of type T, made by the create hook on demand (and up to
/// min_size in the background), lent out as Leases in FIFO order of the acquirers, and aged
/// out by lifetime and idle time. Every member may be called from any worker; the
/// statistics from any thread. Not copyable or movable. Destroying the pool closes it
/// without waiting (see close()); leases still out stay valid and destroy their objects
/// when they end. T must be move-constructible: create's result is moved in once, and
/// the object stays where it is until it is destroyed.
template <class T>
class Pool {
  using Core = detail::PoolCore<T>;
  using Entry = detail::PoolEntry<T>;

 public:
  /// One object lent by the pool; move-only. When it ends (destroyed, assigned over, or
  /// release()) the object goes back: at once, or through the reset hook in a task the pool
  /// spawns, since a destructor cannot wait. The destructor never blocks and never throws.
  class [[nodiscard]] Lease {
   public:
    Lease() noexcept = default;
    Lease(Lease&& o) noexcept : core_(std::move(o.core_)), e_(std::exchange(o.e_, nullptr)) {}
    /// Returns what this lease held, then takes `o`'s object.
    Lease& operator=(Lease&& o) noexcept {
      if (this != &o) {
        end();
        core_ = std::move(o.core_);
        e_ = std::exchange(o.e_, nullptr);
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { end(); }

    /// The object. Throws UsageError on an empty lease (moved from, released, discarded).
    T& get() const {
      if (!e_) throw UsageError("weft::Pool::Lease: the lease holds no object");
      return e_->value;
    }
    T& operator*() const { return get(); }
    T* operator->() const { return &get(); }
    /// True while the lease holds an object.
    explicit operator bool() const noexcept { return e_ != nullptr; }

    /// Returns the object to the pool now, as the destructor would. Throws UsageError on an
    /// empty lease.
    void release() {
      if (!e_) throw UsageError("weft::Pool::Lease::release: the lease holds no object");
      end();
    }
    /// Marks the object broken: it is destroyed now instead of returned, and its slot is
    /// freed (a waiting acquirer creates a new one). Throws UsageError on an empty lease.
    void discard() {
      if (!e_) throw UsageError("weft::Pool::Lease::discard: the lease holds no object");
      std::shared_ptr<Core> core = std::move(core_);
      core->lease_ended();
      core->discard(std::exchange(e_, nullptr));
    }

   private:
    friend class Pool;
    Lease(std::shared_ptr<Core> core, Entry* e) noexcept : core_(std::move(core)), e_(e) {
      core_->lease_made();
    }
    void end() noexcept {
      if (!e_) return;
      std::shared_ptr<Core> core = std::move(core_);
      core->lease_ended();
      Core& c = *core;
      c.give_back(std::exchange(e_, nullptr), std::move(core));
    }

    std::shared_ptr<Core> core_;
    Entry* e_ = nullptr;
  };

  /// A pool made by `hooks` and shaped by `options`. Throws std::invalid_argument naming the
  /// pool for an empty create hook, max_size 0, min_size above max_size, a negative timeout
  /// or a lifetime or idle time that is not positive. On a worker it starts its maintenance
  /// task (if min_size, max_lifetime or max_idle_time needs one) at once, else at the first
  /// acquire.
  explicit Pool(PoolHooks<T> hooks, PoolOptions options = {})
      : core_((detail::validate_pool(hooks, options),
               std::make_shared<Core>(std::move(hooks), std::move(options)))) {
    if (detail::current_task()) core_->start_maintenance(core_);
  }
  /// Closes the pool without waiting: waiting acquirers get PoolClosed, idle objects are
  /// destroyed, and leases still out destroy their objects when they end.
  ~Pool() { core_->shut(); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// `co_await pool.acquire()` lends an object: an idle one (checked first if it sat idle
  /// for check_after_idle), else a new one from the create hook while the pool has fewer
  /// than max_size, else the next one returned, waiting in FIFO order. Bounded by
  /// options().acquire_timeout. Throws PoolTimeout, PoolClosed, what the create hook threw,
  /// or CancelledError (a cancellation point; nothing is taken from the pool then).
  Task<Lease> acquire() { return acquire_from(core_, core_->options().acquire_timeout); }
  /// acquire() bounded by `timeout` instead. Throws std::invalid_argument for a negative or
  /// NaN timeout.
  template <class Rep, class Period>
  Task<Lease> acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_from(core_, detail::checked_duration(timeout, "weft::Pool::acquire"));
  }

  /// Closes the pool: acquire() throws PoolClosed from now on, waiting acquirers get it at
  /// once, idle objects are destroyed. Then waits until every leased object has come back
  /// (and been destroyed), or until `deadline`. Returns the number of objects still out
  /// then (0: all closed); they are destroyed when their leases end. Idempotent. A
  /// cancellation point while it waits (the pool stays closed).
  Task<std::size_t> close(TimePoint deadline = TimePoint::max()) {
    return close_until(core_, deadline);
  }

  /// Objects in the pool: idle, leased, and being made, checked or reset. Any thread.
  std::size_t size() const noexcept { return core_->size(); }
  /// Objects ready to be lent. Any thread.
  std::size_t idle() const noexcept { return core_->idle(); }
  /// Objects lent out to leases. Any thread.
  std::size_t in_use() const noexcept { return core_->in_use(); }
  /// Tasks waiting in acquire() for an object. Any thread.
  std::size_t waiting() const noexcept { return core_->waiting(); }
  /// Counts the waits of acquire() from now on (weft/runtime/wait_stats.hpp: each wait then costs
  /// two clock reads). Any thread.
  void track_waits() { core_->track_waits(); }
  /// The acquire() waits counted since track_waits(). Any thread; a snapshot.
  WaitStats wait_stats() const noexcept { return core_->wait_stats(); }
  /// True once close() was called or the pool is being destroyed. Any thread.
  bool closed() const noexcept { return core_->closed(); }
  /// The options the pool was made with.
  const PoolOptions& options() const noexcept { return core_->options(); }

 private:
  // Static, holding the core: the coroutine does not depend on the Pool object outliving it.
  // One frame for the whole acquire: take an object or a slot (waiting if need be), check
  // an idle object, create one in a slot. Every exit without a lease gives back what it
  // took.
  static Task<Lease> acquire_from(std::shared_ptr<Core> c, Duration timeout) {
    c->start_maintenance(c);
    std::optional<detail::TimeoutScope> scope;
    if (timeout != Duration::max()) {
      scope.emplace(detail::require_task("weft::Pool::acquire"), detail::deadline_after(timeout));
    }
    try {
      typename Core::Taken t = co_await typename Core::TakeAwaiter(*c);
      if (t.entry && t.from_idle && c->needs_check(*t.entry)) {
        bool healthy = false;
        std::exception_ptr cancelled;
        try {
          healthy = co_await c->hooks().check(t.entry->value);
        } catch (const CancelledError&) {
          cancelled = std::current_exception();
        } catch (...) {
          // an exception is a failed check
        }
        if (!healthy) {
          delete std::exchange(t.entry, nullptr);  // its slot is ours: create in it
          if (cancelled) {
            c->free_slots(1);  // cut off: the object's state is unknown, and we give up
            std::rethrow_exception(cancelled);
          }
        }
      }
      if (!t.entry) {
        try {
          T v = co_await c->hooks().create();
          t.entry = c->make_entry(std::move(v));
        } catch (...) {
          c->free_slots(1);
          throw;
        }
      }
      if (c->closed()) {  // closed while this acquire checked or created
        c->discard(t.entry);
        throw PoolClosed(c->closed_message());
      }
      if (scope) scope->close();
      co_return Lease(std::move(c), t.entry);
    } catch (const CancelledError&) {
      if (!scope || !scope->close()) throw;  // not our deadline
    }
    throw PoolTimeout(c->timeout_message(timeout));
  }

  static Task<std::size_t> close_until(std::shared_ptr<Core> c, TimePoint deadline) {
    c->shut();
    if (c->size() > 0) {
      if (deadline == TimePoint::max()) {
        co_await c->drained().wait();
      } else {
        try {
          co_await timeout_at(deadline, c->drained().wait());
        } catch (const TimeoutError&) {
          // the deadline came first: the rest is destroyed as it comes back
        }
      }
    }
    co_return c->size();
  }

  std::shared_ptr<Core> core_;
};

}  // namespace weft
