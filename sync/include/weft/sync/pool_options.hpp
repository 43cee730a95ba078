// What a weft::Pool<T> (pool.hpp) is built from: the hooks that make, check and reset its
// objects, and the options that size and age them.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft {

/// What happens to an object when its lease ends (PoolHooks::recycle).
enum class Recycle {
  Keep,     ///< back to the pool as it is
  Reset,    ///< run the reset hook first (in a task the pool spawns), then back to the pool
  Discard,  ///< destroy it and free its slot
};

/// How a Pool makes, checks and recycles its objects. Plain std::functions, so one Pool<T>
/// type serves every kind of T-maker (a host, a conninfo) chosen at run time. The pool calls
/// them from its tasks on any worker, possibly at the same time: they must be thread-safe.
/// A hook that is a capturing lambda coroutine is kept alive by the pool for as long as a
/// Task it made may run. An object is destroyed by T's destructor (closing a connection).
template <class T>
struct PoolHooks {
  /// Makes a new object. Required. Its exception reaches the acquire() that asked for the
  /// object (asyncpg's behaviour) and the slot is freed.
  std::function<Task<T>()> create{};
  /// Optional health check of an object that sat idle for PoolOptions::check_after_idle or
  /// longer, before it is handed out. False or an exception: the object is destroyed and
  /// the acquirer gets a new one.
  std::function<Task<bool>(T&)> check{};
  /// Optional: makes a returned object fit for the next user (roll back a transaction). The
  /// pool runs it in a task of its own, as a lease's destructor cannot wait. An exception
  /// destroys the object instead.
  std::function<Task<void>(T&)> reset{};
  /// Optional decision, without waiting, when a lease ends (an HTTP connection whose body was
  /// not read is discarded; a database connection outside a transaction needs no reset).
  /// An exception counts as Discard. Default: Reset when there is a reset hook, else Keep.
  std::function<Recycle(T&)> recycle{};
};

/// How many objects a Pool keeps and for how long (designated initializers:
/// `weft::Pool<Conn> pool(hooks, {.name = "db", .max_size = 16});`). A duration of
/// Duration::max() means no limit.
struct PoolOptions {
  /// Names the pool in its error messages.
  std::string name = "weft::Pool";
  /// Objects the pool keeps: it creates them in the background when it has fewer, and
  /// closes idle ones only down to this many. At most max_size.
  std::size_t min_size = 0;
  /// Objects at most, leased, idle and being made together. At least 1.
  std::size_t max_size = 10;
  /// How long acquire() may take in all (waiting, checking, creating) before it throws
  /// PoolTimeout.
  Duration acquire_timeout = Duration::max();
  /// An object older than this is destroyed when it is returned or found idle. Positive.
  Duration max_lifetime = Duration::max();
  /// An object idle this long is destroyed, as long as the pool keeps more than min_size.
  /// Positive.
  Duration max_idle_time = Duration::max();
  /// An object idle at least this long is checked (PoolHooks::check) before it is handed
  /// out; zero checks every object taken from the idle ones. Objects handed straight from a
  /// returning lease to a waiting acquirer are not checked.
  Duration check_after_idle = Duration::zero();
};

}  // namespace weft
